import { describe } from './validate.js';

/** The stable codes of the errors overseer throws or rejects with; they are part of the API. */
export type ErrorCode =
  | 'ERR_OVERSEER_ALREADY_RUNNING'
  | 'ERR_OVERSEER_ADD_WHILE_RUNNING'
  | 'ERR_OVERSEER_SERVICE_CRASHED'
  | 'ERR_OVERSEER_SERVICES_CRASHED'
  | 'ERR_OVERSEER_NON_ERROR_THROWN';

/**
 * Base class of every error overseer creates for a failure (bad arguments are `TypeError`s).
 * `error instanceof OverseerError` is also true for {@link ServicesCrashedError}, which must
 * extend `AggregateError`, so one check catches every overseer failure.
 */
export abstract class OverseerError extends Error {
  /** A stable, machine-readable code; see {@link ErrorCode}. */
  abstract readonly code: ErrorCode;

  static override [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses inherit this method: they keep the ordinary prototype check.
    if (this !== OverseerError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return value instanceof ServicesCrashedError || isPrototypeOf(OverseerError.prototype, value);
  }
}

/**
 * `run()` was called while a run is in progress; or a pool was run by two lifecycles at once, or
 * found a child already running when it started.
 */
export class AlreadyRunningError extends OverseerError {
  override readonly name = 'AlreadyRunningError';
  readonly code = 'ERR_OVERSEER_ALREADY_RUNNING';
  /** The name of the service that is already running. */
  readonly service: string;

  constructor(service: string) {
    super(`Service "${service}" is already running; stop it or wait for it to end first`);
    this.service = service;
  }
}

/** `pool.add()` was called while the pool was running. */
export class AddWhileRunningError extends OverseerError {
  override readonly name = 'AddWhileRunningError';
  readonly code = 'ERR_OVERSEER_ADD_WHILE_RUNNING';
  /** The name of the pool. */
  readonly pool: string;
  /** The name of the service that could not be added. */
  readonly service: string;

  constructor(pool: string, service: string) {
    super(
      `Cannot add service "${service}" to pool "${pool}" while the pool is running; add services before run() or after the pool has stopped`,
    );
    this.pool = pool;
    this.service = service;
  }
}

/** A child of a pool crashed; `cause` is the child's own error. */
export class ServiceCrashedError extends OverseerError {
  override readonly name = 'ServiceCrashedError';
  readonly code = 'ERR_OVERSEER_SERVICE_CRASHED';
  /** The name of the child that crashed. */
  readonly service: string;

  constructor(service: string, cause: Error) {
    super(`Service "${service}" crashed: ${cause.message}`, { cause });
    this.service = service;
  }
}

/**
 * Several children of a pool crashed; `errors` holds one {@link ServiceCrashedError} for each,
 * in the order they ended.
 */
export class ServicesCrashedError extends AggregateError {
  override readonly name = 'ServicesCrashedError';
  readonly code = 'ERR_OVERSEER_SERVICES_CRASHED';
  declare readonly errors: Error[];

  constructor(errors: readonly Error[]) {
    super(errors, summarize(errors));
  }
}

/** A service threw or rejected with something that is not an `Error`; `cause` is that value. */
export class NonErrorThrownError extends OverseerError {
  override readonly name = 'NonErrorThrownError';
  readonly code = 'ERR_OVERSEER_NON_ERROR_THROWN';

  constructor(service: string, value: unknown) {
    super(`Service "${service}" failed with a value that is not an Error: ${display(value)}`, {
      cause: value,
    });
  }
}

// String() throws for some values (Object.create(null), a throwing toString): never let the
// wrapping of a failure fail.
function display(value: unknown): string {
  try {
    return String(value);
  } catch {
    return describe(value);
  }
}

/** Returns `value` when it is an `Error`, otherwise wraps it so that `cause` keeps it. */
export function toError(service: string, value: unknown): Error {
  return value instanceof Error ? value : new NonErrorThrownError(service, value);
}

function isPrototypeOf(prototype: object, value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.prototype.isPrototypeOf.call(prototype, value)
  );
}

// '2 services crashed: "web", "db"'; with a failure of the pool's own (a logger that threw):
// '2 failures: "web" crashed, log transport down'.
function summarize(errors: readonly Error[]): string {
  if (errors.every((error) => error instanceof ServiceCrashedError)) {
    return `${errors.length} services crashed: ${errors.map((error) => `"${error.service}"`).join(', ')}`;
  }
  const parts = errors.map((error) =>
    error instanceof ServiceCrashedError ? `"${error.service}" crashed` : error.message,
  );
  return `${errors.length} failures: ${parts.join(', ')}`;
}
