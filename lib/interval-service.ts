import { systemClock, type Clock } from './clock.js';
import { AlreadyRunningError, toError } from './errors.js';
import type { Lifecycle } from './lifecycle.js';
import { silentLogger, type Logger } from './logger.js';
import { log } from './internal/log.js';
import type { Service } from './service.js';
import {
  assertClock,
  assertFunction,
  assertLogger,
  assertName,
  assertOptions,
  invalid,
  maxTimeout,
} from './internal/validate.js';

/**
 * The work an {@link IntervalService} repeats. It receives the lifecycle's `signal`, which aborts
 * when a stop is requested. It may be synchronous or return a promise, which is awaited; what it
 * returns or resolves with is ignored.
 */
export type IntervalTask = (signal: AbortSignal) => unknown;

/** What an {@link IntervalService} does when its task throws or rejects. */
export type IntervalErrorMode = 'crash' | 'log';

/** Options of the {@link IntervalService} constructor. */
export interface IntervalServiceOptions {
  /**
   * Milliseconds from the end of one run of the task to the start of the next (and, without
   * `runOnStart`, before the first run): from 1 to 2,147,483,647.
   */
  interval: number;
  /** Runs the task as soon as the service starts, rather than after the first `interval`. @default false */
  runOnStart?: boolean;
  /**
   * `'crash'`: a task that throws or rejects crashes the service with that error. `'log'`: the
   * error is logged (`error('interval task failed', { service, error })`) and the loop goes on.
   * @default 'crash'
   */
  onError?: IntervalErrorMode;
  /** Where task failures are logged with `onError: 'log'`. @default a silent logger */
  logger?: Logger;
  /** Timers for the waits between runs; inject a fake clock in tests. @default the real timers */
  clock?: Clock;
}

/** How one run of the task ended. */
type Outcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'abandoned' };

const done: Outcome = Object.freeze({ kind: 'done' });
const abandoned: Outcome = Object.freeze({ kind: 'abandoned' });
const errorModes: readonly IntervalErrorMode[] = ['crash', 'log'];
// Every option, listed once; the compiler checks the list against IntervalServiceOptions.
const optionNames = Object.keys({
  interval: true,
  runOnStart: true,
  onError: true,
  logger: true,
  clock: true,
} satisfies Record<keyof IntervalServiceOptions, true>);

/**
 * A service that runs `task` every `interval` ms, never two runs at once: the next wait begins
 * when a run has finished. It reports `running` at once. A stop request ends a wait at once; during
 * a run it reports `stopping`, aborts the task's signal and waits for the run to finish, or until
 * the shutdown deadline passes: then the task is abandoned (its promise's later rejection is
 * ignored; it may still be running if the service is run again) and the service ends. No timer
 * or listener outlives a run.
 *
 * @example
 * ```ts
 * const cleanup = new IntervalService(
 *   'session-cleanup',
 *   (signal) => sessions.deleteExpired({ signal }),
 *   { interval: 60_000, runOnStart: true, onError: 'log', logger },
 * );
 * pool.add(cleanup);
 * ```
 */
export class IntervalService implements Service {
  /** The service's name, in logs, errors and health reports. */
  readonly name: string;
  /** Milliseconds from the end of one run of the task to the start of the next. */
  readonly interval: number;
  readonly #task: IntervalTask;
  readonly #runOnStart: boolean;
  readonly #onError: IntervalErrorMode;
  readonly #logger: Logger;
  readonly #clock: Clock;
  #runs = 0;
  #active = false;

  /**
   * A service repeating `task`; run it with a {@link Lifecycle} or add it to a pool.
   * @throws {TypeError} when `name` is not a non-empty string, `task` is not a function, or an
   * option is missing, unknown or malformed (the message names it: `options.interval`, …).
   */
  constructor(name: string, task: IntervalTask, options: IntervalServiceOptions) {
    assertName(name, 'name');
    assertFunction(task, 'task');
    assertOptions(options, 'options', optionNames);
    const { interval, runOnStart = false, onError = 'crash' } = options;
    const { logger = silentLogger, clock = systemClock } = options;
    if (typeof interval !== 'number' || !(interval >= 1 && interval <= maxTimeout)) {
      invalid('options.interval', `a number of milliseconds from 1 to ${maxTimeout}`, interval);
    }
    if (typeof runOnStart !== 'boolean') invalid('options.runOnStart', 'a boolean', runOnStart);
    if (!errorModes.includes(onError)) invalid('options.onError', "'crash' or 'log'", onError);
    assertLogger(logger, 'options.logger');
    assertClock(clock, 'options.clock');
    this.name = name;
    this.interval = interval;
    this.#task = task;
    this.#runOnStart = runOnStart;
    this.#onError = onError;
    this.#logger = logger;
    this.#clock = clock;
  }

  /** How many times the task has been called, over every run of the service. */
  get runs(): number {
    return this.#runs;
  }

  /**
   * Repeats the task until a stop is requested; called by the service's lifecycle.
   * @returns a promise that resolves once stopped, and rejects with the task's error (with
   * `onError: 'crash'`), or with `AlreadyRunningError` (`ERR_OVERSEER_ALREADY_RUNNING`) when
   * another lifecycle runs this service.
   */
  async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    // Two lifecycles running one service would run its task in parallel.
    if (this.#active) throw new AlreadyRunningError(this.name);
    this.#active = true;
    try {
      await this.#loop(lifecycle);
    } finally {
      this.#active = false;
    }
  }

  async #loop(lifecycle: Lifecycle): Promise<void> {
    const { signal } = lifecycle;
    if (!signal.aborted) lifecycle.running();
    let due = this.#runOnStart || (await this.#pause(signal));
    // The signal is checked again: a stop may come between the timer and this line.
    while (due && !signal.aborted) {
      const outcome = await this.#runTask(lifecycle);
      if (outcome.kind === 'abandoned') return;
      if (outcome.kind === 'failed') this.#failed(outcome.error);
      due = await this.#pause(signal);
    }
    lifecycle.stopping();
  }

  /** Calls the task and waits for it to finish, or for the deadline once a stop is requested. */
  #runTask(lifecycle: Lifecycle): Promise<Outcome> {
    this.#runs += 1;
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(this.#task(lifecycle.signal));
    } catch (error) {
      return Promise.resolve({ kind: 'failed', error });
    }
    return outcomeOf(result, lifecycle);
  }

  #failed(error: unknown): void {
    // Rethrown as is: the lifecycle wraps a value that is not an Error (NonErrorThrownError).
    if (this.#onError === 'crash') throw error;
    log(this.#logger, 'error', 'interval task failed', {
      service: this.name,
      error: toError(this.name, error),
    });
  }

  /** Resolves true after `interval` ms, or false as soon as `signal` aborts (the timer cleared). */
  #pause(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    const clock = this.#clock;
    return new Promise((resolve) => {
      const onStop = () => {
        clock.clearTimeout(timer);
        resolve(false);
      };
      const timer = clock.setTimeout(() => {
        signal.removeEventListener('abort', onStop);
        resolve(true);
      }, this.interval);
      signal.addEventListener('abort', onStop, { once: true });
    });
  }
}

/**
 * Settles with how `task` ended. Once a stop is requested the service reports `stopping` at
 * once and gives the task until the shutdown deadline; past it, the task is abandoned. The
 * handlers stay on `task`, so its later rejection is never unhandled.
 */
function outcomeOf(task: Promise<unknown>, lifecycle: Lifecycle): Promise<Outcome> {
  const { signal } = lifecycle;
  return new Promise((resolve) => {
    let shutdown: AbortSignal | undefined;
    const end = (outcome: Outcome) => {
      signal.removeEventListener('abort', onStop);
      shutdown?.removeEventListener('abort', onDeadline);
      resolve(outcome);
    };
    const onDeadline = () => {
      end(abandoned);
    };
    const onStop = () => {
      shutdown = lifecycle.stopping();
      if (shutdown.aborted) onDeadline();
      else shutdown.addEventListener('abort', onDeadline, { once: true });
    };
    task.then(
      () => {
        end(done);
      },
      (error: unknown) => {
        end({ kind: 'failed', error });
      },
    );
    if (signal.aborted) onStop();
    else signal.addEventListener('abort', onStop, { once: true });
  });
}
