import type { HookEvent } from './lifecycle-events.js';
import { describe } from './internal/validate.js';

/** The stable codes of the errors overseer throws or rejects with; they are part of the API. */
export type ErrorCode =
  | 'ERR_OVERSEER_ALREADY_RUNNING'
  | 'ERR_OVERSEER_ADD_WHILE_RUNNING'
  | 'ERR_OVERSEER_SERVICE_CRASHED'
  | 'ERR_OVERSEER_SERVICES_CRASHED'
  | 'ERR_OVERSEER_NON_ERROR_THROWN'
  | 'ERR_OVERSEER_START_FAILED'
  | 'ERR_OVERSEER_RESTART_LIMIT'
  | 'ERR_OVERSEER_NOT_RUNNING'
  | 'ERR_OVERSEER_WAIT_TIMEOUT'
  | 'ERR_OVERSEER_WAIT_ABORTED'
  | 'ERR_OVERSEER_HOOK_TIMEOUT'
  | 'ERR_OVERSEER_START_TIMEOUT'
  | 'ERR_OVERSEER_POOL_STOPPING'
  | 'ERR_OVERSEER_DEPENDED_ON'
  | 'ERR_OVERSEER_RETURNED_BEFORE_RUNNING';

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

/** `add()` was called on a pool (or a sequence) while it was running. */
export class AddWhileRunningError extends OverseerError {
  override readonly name = 'AddWhileRunningError';
  readonly code = 'ERR_OVERSEER_ADD_WHILE_RUNNING';
  /** The name of the pool (or sequence). */
  readonly pool: string;
  /** The name of the service that could not be added. */
  readonly service: string;

  constructor(pool: string, service: string, kind: 'pool' | 'sequence' = 'pool') {
    super(
      `Cannot add service "${service}" to ${kind} "${pool}" while the ${kind} is running; add services before run() or after the ${kind} has stopped`,
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

/**
 * A child of a {@link Sequence} crashed, or ended on its own, before it reported `running`; the
 * sequence stopped the children it had started and crashed with this error. `cause` is the
 * child's own error when it crashed.
 */
export class StartFailedError extends OverseerError {
  override readonly name = 'StartFailedError';
  readonly code = 'ERR_OVERSEER_START_FAILED';
  /** The name of the child that did not start. */
  readonly service: string;

  constructor(group: string, service: string, cause: Error | undefined) {
    const how = cause === undefined ? 'stopped before it was running' : `crashed: ${cause.message}`;
    super(
      `Service "${service}" of "${group}" failed to start: it ${how}`,
      cause === undefined ? undefined : { cause },
    );
    this.service = service;
  }
}

/**
 * A {@link Restarter} gave up: its child failed more than `maxRestarts` times within `window`
 * ms. `cause` is the child's last error (absent when, with `restart: 'always'`, it last ended
 * without one).
 */
export class RestartLimitError extends OverseerError {
  override readonly name = 'RestartLimitError';
  readonly code = 'ERR_OVERSEER_RESTART_LIMIT';
  /** The name of the child that kept failing. */
  readonly service: string;
  /** How many times the child had been restarted within the window when it failed again. */
  readonly restarts: number;

  constructor(service: string, restarts: number, window: number, cause: Error | undefined) {
    const last = cause === undefined ? 'it ended on its own' : `last error: ${cause.message}`;
    super(
      `Service "${service}" failed again after ${restarts === 1 ? '1 restart' : `${restarts} restarts`} within ${window} ms; giving up (${last})`,
      cause === undefined ? undefined : { cause },
    );
    this.service = service;
    this.restarts = restarts;
  }
}

/**
 * `lifecycle.whenRunning()` gave up: the service began to stop, stopped or crashed before it
 * reported `running`. `cause` is the crash error when it crashed.
 */
export class NotRunningError extends OverseerError {
  override readonly name = 'NotRunningError';
  readonly code = 'ERR_OVERSEER_NOT_RUNNING';
  /** The name of the service. */
  readonly service: string;
  /** The state the service reached instead of `running`. */
  readonly state: 'stopping' | 'stopped' | 'crashed';

  constructor(service: string, state: 'stopping' | 'stopped' | 'crashed', cause?: Error) {
    const reached = state === 'stopping' ? 'began to stop' : state;
    super(
      `Service "${service}" ${reached} before it was running`,
      cause === undefined ? undefined : { cause },
    );
    this.service = service;
    this.state = state;
  }
}

/** A wait (`whenRunning({ timeout })`, `wait({ timeout })`) timed out. */
export class WaitTimeoutError extends OverseerError {
  override readonly name = 'WaitTimeoutError';
  readonly code = 'ERR_OVERSEER_WAIT_TIMEOUT';
  /** The name of the service waited for. */
  readonly service: string;
  /** The timeout, in ms. */
  readonly timeout: number;

  constructor(service: string, what: string, timeout: number) {
    super(`Timed out after ${timeout} ms waiting for service "${service}" ${what}`);
    this.service = service;
    this.timeout = timeout;
  }
}

/** A wait (`whenRunning({ signal })`, `wait({ signal })`) was aborted; `cause` is the signal's reason. */
export class WaitAbortedError extends OverseerError {
  override readonly name = 'WaitAbortedError';
  readonly code = 'ERR_OVERSEER_WAIT_ABORTED';
  /** The name of the service waited for. */
  readonly service: string;

  constructor(service: string, what: string, reason: unknown) {
    super(`Stopped waiting for service "${service}" ${what}: the signal aborted`, {
      cause: reason,
    });
    this.service = service;
  }
}

/**
 * A hook's promise had not settled when its `hookTimeout` passed, or when the run's shutdown
 * deadline passed: the lifecycle stopped waiting for it, reported it as `'hookError'` with this
 * error, and settled the run. The hook itself may still be running.
 */
export class HookTimeoutError extends OverseerError {
  override readonly name = 'HookTimeoutError';
  readonly code = 'ERR_OVERSEER_HOOK_TIMEOUT';
  /** The name of the service whose hook was abandoned. */
  readonly service: string;
  /** The event the hook was added for (`'stopped'` for an `onStopped` hook). */
  readonly event: HookEvent;

  constructor(service: string, event: HookEvent, why: string) {
    super(
      `The "${event}" hook of service "${service}" did not settle ${why}; no longer waiting for it`,
    );
    this.service = service;
    this.event = event;
  }
}

/**
 * A service did not report `running` within its `startTimeout`: it was asked to stop, and its run
 * ended `crashed` with this error once it had returned. For a group, the message names the
 * descendants that had not reported `running`.
 */
export class StartTimeoutError extends OverseerError {
  override readonly name = 'StartTimeoutError';
  readonly code = 'ERR_OVERSEER_START_TIMEOUT';
  /** The name of the service that did not start in time. */
  readonly service: string;
  /** The start timeout, in ms. */
  readonly timeout: number;

  constructor(service: string, timeout: number, detail?: string) {
    const still = detail === undefined ? '' : `; ${detail}`;
    super(`Service "${service}" did not report running within ${timeout} ms${still}`);
    this.service = service;
    this.timeout = timeout;
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
  const parts = errors.map((error) => {
    if (error instanceof ServiceCrashedError) return `"${error.service}" crashed`;
    return error instanceof StartFailedError ? `"${error.service}" failed to start` : error.message;
  });
  return `${errors.length} failures: ${parts.join(', ')}`;
}
