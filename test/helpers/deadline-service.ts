import { aborted } from './lifecycle.js';
import type { Clock, Lifecycle, Service } from '../../lib/index.js';
import { deferred } from './deferred.js';

/**
 * A service that keeps its shutdown signal: it reports running at once; asked to stop, it calls
 * `lifecycle.stopping()`, keeps the signal that returns in `shutdown` (and resolves `holding`
 * with it), and returns only once that very signal aborts, noting the clock's time in
 * `abortedAt`. A test holding `shutdown` sees which deadline reaches the signal the service has.
 */
export class DeadlineService implements Service {
  readonly name: string;
  readonly #clock: Clock;
  #holding = deferred<AbortSignal>();
  #held = false;
  /** The signal `stopping()` returned in the current run, once asked to stop. */
  shutdown: AbortSignal | undefined;
  /** The clock's time when `shutdown` aborted. */
  abortedAt: number | undefined;

  constructor(name: string, clock: Clock) {
    this.name = name;
    this.#clock = clock;
  }

  /** Resolves with the shutdown signal the current (or next) run holds, once asked to stop. */
  get holding(): Promise<AbortSignal> {
    return this.#holding.promise;
  }

  async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    this.shutdown = undefined;
    this.abortedAt = undefined;
    if (this.#held) {
      this.#holding = deferred<AbortSignal>();
      this.#held = false;
    }
    lifecycle.running();
    const { signal } = lifecycle;
    if (!signal.aborted) await aborted(signal);
    const shutdown = lifecycle.stopping();
    this.shutdown = shutdown;
    const ended = aborted(shutdown).then(() => {
      this.abortedAt = this.#clock.now();
    });
    this.#holding.resolve(shutdown);
    this.#held = true;
    await ended;
  }
}
