import { deadlinePassedReason } from './reasons.js';
import type { Clock } from '../clock.js';

/**
 * The shutdown deadline a caller set on one run: the earliest timeout, and the signals passed to
 * `stop({ signal })`. Built only when a caller sets one, which most runs never do.
 */
export class Deadline {
  readonly #clock: Clock;
  readonly #expire: (reason: unknown) => void;
  #at = Infinity;
  #timer: unknown;
  #signals: AbortSignal[] | undefined;

  /** @param expire called once the deadline passes, with the reason to abort with. */
  constructor(clock: Clock, expire: (reason: unknown) => void) {
    this.#clock = clock;
    this.#expire = expire;
  }

  /** Expires `ms` from now, unless an earlier expiry is already set; returns whether it set one. */
  expireIn(ms: number): boolean {
    const at = this.#clock.now() + ms;
    if (at >= this.#at) return false;
    this.#clearTimer();
    this.#at = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#expire(deadlinePassedReason());
    }, ms);
    return true;
  }

  /** Expires when `signal` (not yet aborted) aborts. */
  expireWith(signal: AbortSignal): void {
    signal.addEventListener('abort', this, { once: true });
    (this.#signals ??= []).push(signal);
  }

  /** A signal passed to `stop({ signal })` aborted. */
  handleEvent(event: Event): void {
    this.#expire((event.target as AbortSignal).reason);
  }

  /** The deadline has passed, one way or another: the timer has nothing left to do. */
  passed(): void {
    this.#clearTimer();
  }

  /** Drops the timer and every listener put on a caller's signal. */
  release(): void {
    this.#clearTimer();
    if (this.#signals === undefined) return;
    for (const signal of this.#signals) signal.removeEventListener('abort', this);
    this.#signals = undefined;
  }

  #clearTimer(): void {
    const timer = this.#timer;
    if (timer === undefined) return;
    this.#timer = undefined; // forgotten first: a clock that throws is not asked twice
    try {
      this.#clock.clearTimeout(timer);
    } catch (error) {
      // A timer that cannot be cleared will fire into a run that has moved on, which ignores it:
      // no reason to crash or hang the run. Reported, never swallowed silently.
      const detail = error instanceof Error ? error.message : String(error);
      process.emitWarning(`A clock given to overseer failed to clear a timer (${detail})`, {
        code: 'OVERSEER_CLOCK_FAILED',
      });
    }
  }
}
