import type { Clock } from '../clock.js';

const resolved: Promise<void> = Promise.resolve();

/**
 * One moment of a run that services wait for (its stop request, its deadline): one shared promise
 * for every `await`, and removable callbacks for sleeps, so a service that sleeps in a loop adds
 * nothing per sleep that outlives it. Nothing here builds an `AbortController`.
 */
export class Moment {
  #happened = false;
  #promise: Promise<void> | undefined;
  #resolve: (() => void) | undefined;
  #callbacks: Set<() => void> | undefined;

  /** A moment still to come, or one that has already come. */
  constructor(happened = false) {
    this.#happened = happened;
  }

  /** Whether the moment has come. */
  get happened(): boolean {
    return this.#happened;
  }

  /** Resolves when the moment comes (at once if it has); never rejects. */
  promise(): Promise<void> {
    if (this.#happened) return resolved;
    this.#promise ??= new Promise((resolve) => {
      this.#resolve = resolve;
    });
    return this.#promise;
  }

  /** Calls `callback` when the moment comes, unless {@link Moment.forget} removes it first. */
  listen(callback: () => void): void {
    (this.#callbacks ??= new Set()).add(callback);
  }

  forget(callback: () => void): void {
    this.#callbacks?.delete(callback);
  }

  /** The moment comes (once): the promise resolves, the callbacks are called and dropped. */
  happen(): void {
    if (this.#happened) return;
    this.#happened = true;
    this.#resolve?.();
    this.#resolve = undefined;
    this.#promise = undefined;
    const callbacks = this.#callbacks;
    this.#callbacks = undefined;
    callbacks?.forEach((callback) => {
      callback();
    });
  }
}

/**
 * `true` after `ms` on `clock`, `false` as soon as `moment` comes (at once if it has); whichever
 * comes first removes the other, so no timer and no callback survive it.
 */
export function sleepUntil(moment: Moment, clock: Clock, ms: number): Promise<boolean> {
  if (moment.happened) return Promise.resolve(false);
  return new Promise((resolve) => {
    if (ms === Infinity) {
      moment.listen(() => {
        resolve(false);
      });
      return;
    }
    const onMoment = (): void => {
      clock.clearTimeout(timer);
      resolve(false);
    };
    const timer = clock.setTimeout(() => {
      moment.forget(onMoment);
      resolve(true);
    }, ms);
    moment.listen(onMoment);
  });
}
