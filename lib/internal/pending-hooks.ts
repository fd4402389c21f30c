import { HookTimeoutError } from '../errors.js';
import type { HookEvent } from '../lifecycle-events.js';
import type { Hooks } from './hook-dispatch.js';

/** One promise a hook returned. */
interface Entry {
  readonly event: HookEvent;
  /** When the hook returned it (clock time): `hookTimeout` counts from here. */
  readonly startedAt: number;
  /** Settled, or abandoned: either way no longer waited for. */
  done: boolean;
}

/**
 * The promises a run's hooks returned, which the run waits for before it settles (so a `stopped`
 * hook that flushes something has finished when `await lifecycle.stop()` returns), but never
 * longer than `hookTimeout` after each began, and never past the run's shutdown deadline: a
 * hook that never settles must not hold a stop forever.
 */
export class PendingHooks {
  readonly #hooks: Hooks;
  readonly #hookTimeout: number;
  readonly #entries: Entry[] = [];
  #pending = 0;
  #deadlinePassed = false;
  #timer: unknown;
  // Set once the run has ended: called when the last pending promise is done with.
  #onSettled: (() => void) | undefined;

  constructor(hooks: Hooks) {
    this.#hooks = hooks;
    this.#hookTimeout = hooks.hookTimeout;
  }

  /** Waits for `promise`; a rejection is reported as `'hookError'`. */
  add(promise: PromiseLike<unknown>, event: HookEvent): void {
    const entry: Entry = { event, startedAt: this.#hooks.clock.now(), done: false };
    this.#entries.push(entry);
    this.#pending++;
    Promise.resolve(promise).then(
      () => {
        this.#done(entry);
      },
      (error: unknown) => {
        if (!entry.done) this.#hooks.report(error, event);
        this.#done(entry);
      },
    );
    if (this.#deadlinePassed) this.#abandon(entry, 'before the shutdown deadline');
  }

  /** The event of the oldest hook still waited for, if any. */
  get holding(): HookEvent | undefined {
    return this.#entries.find((entry) => !entry.done)?.event;
  }

  /** The run has ended: calls `onSettled` once no promise is waited for any more. */
  finish(onSettled: () => void): void {
    this.#onSettled = onSettled;
    if (this.#pending === 0) onSettled();
    else this.#armTimer();
  }

  /** The run's shutdown deadline has passed: every promise still pending is abandoned. */
  deadlinePassed(): void {
    this.#deadlinePassed = true;
    for (const entry of this.#entries) this.#abandon(entry, 'before the shutdown deadline');
  }

  #armTimer(): void {
    if (this.#hookTimeout === Infinity || this.#timer !== undefined) return;
    const oldest = this.#entries.find((entry) => !entry.done);
    if (oldest === undefined) return;
    const { clock } = this.#hooks;
    const delay = Math.max(0, oldest.startedAt + this.#hookTimeout - clock.now());
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#abandonExpired();
    }, delay);
  }

  #abandonExpired(): void {
    const now = this.#hooks.clock.now();
    const why = `within its ${this.#hookTimeout} ms hookTimeout`;
    for (const entry of this.#entries) {
      if (entry.startedAt + this.#hookTimeout <= now) this.#abandon(entry, why);
    }
    if (this.#pending > 0) this.#armTimer();
  }

  #abandon(entry: Entry, why: string): void {
    if (entry.done) return;
    const { service } = this.#hooks;
    this.#hooks.report(new HookTimeoutError(service, entry.event, why), entry.event);
    this.#done(entry);
  }

  #done(entry: Entry): void {
    if (entry.done) return;
    entry.done = true;
    if (--this.#pending > 0 || this.#onSettled === undefined) return;
    if (this.#timer !== undefined) this.#hooks.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const onSettled = this.#onSettled;
    this.#onSettled = undefined;
    onSettled();
  }
}
