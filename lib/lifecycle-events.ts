import type { Lifecycle } from './lifecycle.js';
import type { Service } from './service.js';
import type { State } from './state.js';

/**
 * The events a lifecycle's hooks are added for, each with an `on…` method: its transitions, and
 * `'serviceError'` (`lifecycle.reportError()`).
 */
export type HookEvent = 'stateChange' | State | 'serviceError';

/** The listener signature of every lifecycle event. */
export interface LifecycleEvents<S extends Service = Service> {
  stateChange: (service: S, lifecycle: Lifecycle<S>, state: State) => unknown;
  starting: (service: S, lifecycle: Lifecycle<S>) => unknown;
  running: (service: S, lifecycle: Lifecycle<S>) => unknown;
  stopping: (service: S, lifecycle: Lifecycle<S>, shutdownSignal: AbortSignal) => unknown;
  stopped: (service: S, lifecycle: Lifecycle<S>) => unknown;
  crashed: (service: S, lifecycle: Lifecycle<S>, error: Error) => unknown;
  /**
   * The service reported a non-fatal error with `lifecycle.reportError(error)`; the state does
   * not change.
   */
  serviceError: (service: S, lifecycle: Lifecycle<S>, error: Error) => unknown;
  /**
   * A hook threw or rejected, or its promise was abandoned (`HookTimeoutError`): `error` is what
   * it threw, `event` the event it was hooked to.
   */
  hookError: (error: unknown, event: HookEvent) => unknown;
}
