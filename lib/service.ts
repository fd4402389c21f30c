import type { Lifecycle } from './lifecycle.js';
import { invalid } from './internal/validate.js';

/**
 * Something long-lived that overseer runs: an HTTP server, a queue consumer, a timer, a pool of
 * other services.
 *
 * Inside `runWithLifecycle` a service:
 * 1. initialises, then calls `lifecycle.running()` once it can do its job;
 * 2. waits for the stop request: `await lifecycle.whenStopRequested()` (or `lifecycle.sleep(ms)`
 *    in a loop, `lifecycle.signal` for APIs that take one, `lifecycle.shouldStop()` to poll) —
 *    all of them see a stop requested before they were asked;
 * 3. when told to stop, calls `lifecycle.stopping()`, which returns the shutdown-deadline
 *    signal: it finishes in-flight work, and abandons it once that signal aborts
 *    (`lifecycle.whenDeadlinePassed()` resolves then too);
 * 4. returns (resolves) when stopped, throws (rejects) when it failed; `lifecycle.reportError()`
 *    reports a failure that does not end it, and `lifecycle.logger` logs with its name.
 *
 * @example
 * ```ts
 * const ticker: Service = {
 *   name: 'ticker',
 *   async runWithLifecycle(lifecycle) {
 *     const timer = setInterval(() => lifecycle.logger.info('tick'), 1_000);
 *     lifecycle.running();
 *     await lifecycle.whenStopRequested(); // at once if the stop came during start
 *     lifecycle.stopping();
 *     clearInterval(timer);
 *   },
 * };
 * ```
 */
export interface Service {
  /** Stable, human-readable name; used in logs, errors and health reports. */
  readonly name: string;
  /** Runs the service until it is told to stop. */
  runWithLifecycle(lifecycle: Lifecycle): Promise<void> | void;
  /**
   * Optional readiness check: says, beyond its state, whether the service can serve now — its
   * dependencies answer (a database ping). Asked by `health()` and `/readyz` while the service
   * runs; a throw, a rejection or a timeout makes it (and the tree) not ready, never not live:
   * restarting the process would not bring the database back.
   */
  healthCheck?(): Promise<void> | void;
  /**
   * Optional liveness check: says whether the service itself is stuck (a loop that stopped
   * turning, a consumer that stopped consuming), which only a restart fixes. Asked by `health()`
   * and `/livez` while the service runs; a throw, a rejection or a timeout makes the tree not
   * live, so Kubernetes restarts the pod. Keep it local and cheap: never check a dependency here.
   * @example
   * ```ts
   * livenessCheck() {
   *   if (Date.now() - this.lastTick > 30_000) throw new Error('the loop has not turned for 30 s');
   * }
   * ```
   */
  livenessCheck?(): Promise<void> | void;
}

/** Whether `value` has a non-empty string `name` and a `runWithLifecycle` method. */
export function isService(value: unknown): value is Service {
  const candidate = value as Partial<Service> | null | undefined;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.name === 'string' &&
    candidate.name.length > 0 &&
    typeof candidate.runWithLifecycle === 'function'
  );
}

/** Throws a `TypeError` unless `value` is a {@link Service}. */
export function assertService(value: unknown, argument: string): asserts value is Service {
  if (!isService(value)) {
    invalid(
      argument,
      'a Service (an object with a non-empty string `name` and a `runWithLifecycle` method)',
      value,
    );
  }
}
