import type { Clock } from '../clock.js';
import type { Lifecycle } from '../lifecycle.js';
import type { HookEvent } from '../lifecycle-events.js';
import type { Logger } from '../logger.js';
import type { HookSink, Hooks } from './hook-dispatch.js';
import { log } from './log.js';
import { reportStopping } from './protocol.js';
import type { Run } from './run.js';

/** How many reported errors a lifecycle keeps for its snapshot. */
export const recentErrorsKept = 10;

/** A non-fatal error a service reported with `lifecycle.reportError()`. */
export interface ReportedError {
  readonly error: Error;
  /** When it was reported: the lifecycle's clock time (ms since the Unix epoch). */
  readonly at: number;
}

/**
 * The errors a lifecycle's service reported, over the lifecycle's whole life (not reset by a new
 * run, so a restarted service's count adds up like a counter): how many, and the last few.
 */
export class ServiceErrors {
  count = 0;
  readonly #recent: ReportedError[] = [];

  add(error: Error, at: number): void {
    this.count++;
    this.#recent.push(Object.freeze({ error, at }));
    if (this.#recent.length > recentErrorsKept) this.#recent.shift();
  }

  /** The last {@link recentErrorsKept} reports, oldest first (a copy). */
  recent(): readonly ReportedError[] {
    return this.#recent.slice();
  }
}

/** `lifecycle[reportedErrors]()`: the errors its service reported, if any. */
export const reportedErrors: unique symbol = Symbol('overseer.reportedErrors');

/** A lifecycle's reported errors; made on first use when `create`. */
export function reportedErrorsOf(lifecycle: Lifecycle, create = false): ServiceErrors | undefined {
  type Holder = Record<typeof reportedErrors, (create: boolean) => ServiceErrors | undefined>;
  return (lifecycle as unknown as Holder)[reportedErrors](create);
}

/**
 * Where the promises of `'serviceError'` hooks go when no run is in progress to wait for them:
 * nowhere, but a rejection is still reported as `'hookError'`.
 */
export const unheldHooks: HookSink = {
  hookReturned(promise: PromiseLike<unknown>, event: HookEvent, hooks: Hooks): void {
    Promise.resolve(promise).then(undefined, (error: unknown) => {
      hooks.report(error, event);
    });
  },
};

/**
 * `lifecycle.reportError(error)`: counts and keeps the error, logs it at `warn` and emits
 * `'serviceError'`; a transition a hook asks for is made once the hooks are done.
 */
export function reportServiceError(
  lifecycle: Lifecycle,
  error: Error,
  logger: Logger,
  clock: Clock,
  hooks: Hooks | undefined,
  run: Run | undefined,
): void {
  reportedErrorsOf(lifecycle, true)?.add(error, clock.now());
  log(logger, 'warn', 'service reported an error', { service: lifecycle.name, error });
  if (!hooks?.listens('serviceError')) return;
  const sink = run !== undefined && run.phase !== 'settled' ? run : unheldHooks;
  hooks.emit(sink, 'serviceError', lifecycle.service, lifecycle, error);
  // Inside another event's hooks, that event's transition makes the requested ones after it.
  if (hooks.emitting !== undefined) return;
  for (let next = hooks.requested.shift(); next !== undefined; next = hooks.requested.shift()) {
    if (next === 'running') lifecycle.running();
    else lifecycle[reportStopping]();
  }
}
