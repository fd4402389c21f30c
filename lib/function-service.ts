import type { Lifecycle } from './lifecycle.js';
import type { Service } from './service.js';
import { assertFunction, assertName } from './internal/validate.js';

/**
 * A {@link Service} from a plain function: `run` receives the lifecycle and does what
 * `runWithLifecycle` would (report `running()`, wait for `whenStopRequested()`, report
 * `stopping()`, return).
 *
 * @param name the service's name, in logs, errors and health reports.
 * @param run the body of the service; its promise resolves when it has stopped.
 * @returns a frozen service object.
 * @throws {TypeError} when `name` is not a non-empty string or `run` is not a function.
 * @example
 * ```ts
 * const ticker = serviceFromFunction('ticker', async (lifecycle) => {
 *   lifecycle.running();
 *   // sleep() resolves false as soon as a stop is requested, even one made during start
 *   while (await lifecycle.sleep(1_000)) {
 *     try {
 *       await tick();
 *     } catch (error) {
 *       lifecycle.reportError(error); // logged, counted, in the snapshot; the ticker goes on
 *     }
 *   }
 *   lifecycle.stopping();
 * });
 * pool.add(ticker);
 * ```
 */
export function serviceFromFunction(
  name: string,
  run: (lifecycle: Lifecycle) => Promise<void> | void,
): Service {
  assertName(name, 'name');
  assertFunction(run, 'run');
  return Object.freeze({
    name,
    // Called as a plain function, so `run` never sees the service object as `this`.
    runWithLifecycle: (lifecycle: Lifecycle) => run(lifecycle),
  });
}
