import type { Clock } from '../clock.js';
import { NotRunningError, WaitAbortedError, WaitTimeoutError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { State } from '../state.js';
import { assertAbortSignal, assertDuration, assertOptions } from './validate.js';

/** Options of {@link Lifecycle.whenRunning} and {@link Lifecycle.wait}. */
export interface WaitOptions {
  /** Give up after this many ms (`ERR_OVERSEER_WAIT_TIMEOUT`). @default no timeout */
  timeout?: number;
  /** Give up when this signal aborts (`ERR_OVERSEER_WAIT_ABORTED`, at once if it already has). */
  signal?: AbortSignal;
}

/** The default of the wait methods' options: one shared object rather than a new one per call. */
export const noWaitOptions: WaitOptions = Object.freeze({});

/** Throws a `TypeError` unless `options` are well-formed {@link WaitOptions}. */
export function assertWaitOptions(options: unknown): asserts options is WaitOptions {
  assertOptions(options, 'options', ['timeout', 'signal']);
  const { timeout, signal } = options as WaitOptions;
  if (timeout !== undefined) assertDuration(timeout, 'options.timeout');
  if (signal !== undefined) assertAbortSignal(signal, 'options.signal');
}

/** Called once with the outcome of what is waited for: nothing, or the error to reject with. */
export type Finish = (error?: Error) => void;

/**
 * Starts listening for the outcome, calls `finish` when it comes (possibly at once), and returns
 * how to stop listening (nothing when there is nothing to remove).
 */
export type Listen = (finish: Finish) => (() => void) | undefined;

/**
 * Waits for what `listen` hears, unless the timeout passes or the signal aborts first. Whatever
 * settles the wait removes the timer, the abort listener and `listen`'s own listener, so a
 * settled wait leaves nothing behind.
 * @param what the end of "waiting for service "x" …", for error messages.
 */
export function waitWithin(
  service: string,
  what: string,
  options: WaitOptions,
  clock: Clock,
  listen: Listen,
): Promise<void> {
  const { signal } = options;
  // Like Node's own APIs: an aborted signal rejects at once, whatever else is known.
  if (signal?.aborted) return Promise.reject(new WaitAbortedError(service, what, signal.reason));
  return new Promise((resolve, reject) => {
    new Wait(service, what, options, clock, resolve, reject).begin(listen);
  });
}

/** One wait in progress: what it listens to, its timer and its abort listener. */
class Wait {
  readonly #service: string;
  readonly #what: string;
  readonly #options: WaitOptions;
  readonly #clock: Clock;
  readonly #resolve: () => void;
  readonly #reject: (error: Error) => void;
  #settled = false;
  #timer: unknown;
  #stopListening: (() => void) | undefined;

  constructor(
    service: string,
    what: string,
    options: WaitOptions,
    clock: Clock,
    resolve: () => void,
    reject: (error: Error) => void,
  ) {
    this.#service = service;
    this.#what = what;
    this.#options = options;
    this.#clock = clock;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  begin(listen: Listen): void {
    const stopListening = listen(this.#finish);
    // listen() may have finished the wait at once, before its remover was known.
    if (this.#settled) {
      stopListening?.();
      return;
    }
    this.#stopListening = stopListening;
    const { timeout, signal } = this.#options;
    if (timeout !== undefined && timeout !== Infinity) {
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        this.#finish(new WaitTimeoutError(this.#service, this.#what, timeout));
      }, timeout);
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  readonly #onAbort = (): void => {
    this.#finish(new WaitAbortedError(this.#service, this.#what, this.#options.signal?.reason));
  };

  readonly #finish: Finish = (error) => {
    if (this.#settled) return;
    this.#settled = true;
    this.#stopListening?.();
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    if (error === undefined) this.#resolve();
    else this.#reject(error);
  };
}

/**
 * Listens for `lifecycle` to reach `running`: at once if it runs; a rejection if it is stopping
 * (this run will not run again) or, later, if it begins to stop, stops or crashes first. A run
 * that stops while `failing()` (it stops on its own, or with an error already due) is heard to
 * its end, so the rejection carries the crash error as its `cause`. An idle lifecycle is waited
 * for through its next run.
 */
export function listenForRunning(lifecycle: Lifecycle, failing: () => boolean): Listen {
  return (finish) => {
    const now = lifecycle.state;
    if (now === 'running') {
      finish();
      return undefined;
    }
    if (now === 'stopping' && !failing()) {
      finish(new NotRunningError(lifecycle.name, 'stopping'));
      return undefined;
    }
    const onStateChange = (_service: unknown, _lifecycle: unknown, state: State): void => {
      if (state === 'running') finish();
      else if (state === 'stopping') {
        if (!failing()) finish(new NotRunningError(lifecycle.name, 'stopping'));
      } else if (state !== 'starting') {
        finish(new NotRunningError(lifecycle.name, state, lifecycle.error));
      }
    };
    lifecycle.on('stateChange', onStateChange);
    return () => {
      lifecycle.off('stateChange', onStateChange);
    };
  };
}

/**
 * Listens for a run's end: the promise `outcome()` returns resolves when it stopped and rejects
 * with the crash error. Asked for only once the wait begins, so a wait that is over before it
 * begins leaves no rejected promise unhandled.
 */
export function listenForEnd(outcome: () => Promise<void>): Listen {
  return (finish) => {
    outcome().then(
      () => {
        finish();
      },
      (error: unknown) => {
        finish(error as Error);
      },
    );
    return undefined;
  };
}
