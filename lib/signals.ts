import { constants } from 'node:os';
import { systemClock, type Clock } from './clock.js';
import { Lifecycle } from './lifecycle.js';
import { silentLogger, type Logger } from './logger.js';
import type { State } from './state.js';
import { log } from './internal/log.js';
import { activeServices } from './internal/tree.js';
import {
  assertClock,
  assertDuration,
  assertFunction,
  assertLogger,
  assertOptions,
  invalid,
  withoutUndefined,
} from './internal/validate.js';

/** The exit codes {@link handleSignals} uses: a clean stop, a crash, and a forced exit. */
export const exitCodes = Object.freeze({ stopped: 0, crashed: 1, forced: 2 });

/** Options of {@link handleSignals}. */
export interface HandleSignalsOptions {
  /** The signals that start a stop. @default ['SIGINT', 'SIGTERM'] */
  signals?: readonly NodeJS.Signals[];
  /** The shutdown deadline given to `stop()`, in ms. @default 10_000 */
  timeout?: number;
  /** How long past `timeout` the stop may take before the exit is forced, in ms. @default 1_000 */
  grace?: number;
  /** Ends the process; replace it in tests. @default process.exit */
  exit?: (code: number) => void;
  /** Where the signal, the stop and a forced exit are logged. @default a silent logger */
  logger?: Logger;
  /** Timers for the forced exit. @default the real timers */
  clock?: Clock;
}

type Settings = Required<HandleSignalsOptions>;

// Every option, listed once; the compiler checks the list against HandleSignalsOptions.
const optionNames = Object.keys({
  signals: true,
  timeout: true,
  grace: true,
  exit: true,
  logger: true,
  clock: true,
} satisfies Record<keyof HandleSignalsOptions, true>);

/**
 * Stops `lifecycle` when the process receives SIGINT or SIGTERM, then exits: 0 after a clean
 * stop, 1 after a crash. A second signal, or the stop still unfinished `grace` ms after its
 * deadline, forces the exit with code 2 and logs the services that had not stopped.
 *
 * @returns a function that removes the signal listeners and cancels a pending forced exit; a
 * stop already under way goes on, but no longer ends the process.
 * @throws {TypeError} when an argument is of the wrong type, an option is unknown (a misspelling),
 * or `signals` names an unknown or uncatchable signal (SIGKILL, SIGSTOP).
 * @example
 * ```ts
 * const lifecycle = new Lifecycle(pool);
 * handleSignals(lifecycle, { timeout: 25_000, logger });
 * await lifecycle.run();
 * ```
 */
export function handleSignals(
  lifecycle: Lifecycle,
  options: HandleSignalsOptions = {},
): () => void {
  if (!(lifecycle instanceof Lifecycle)) invalid('lifecycle', 'a Lifecycle', lifecycle);
  return new SignalHandler(lifecycle, parseOptions(options)).listen();
}

function parseOptions(options: HandleSignalsOptions): Settings {
  assertOptions(options, 'options', optionNames);
  const settings: Settings = {
    signals: ['SIGINT', 'SIGTERM'],
    timeout: 10_000,
    grace: 1_000,
    exit: (code: number) => process.exit(code),
    logger: silentLogger,
    clock: systemClock,
    ...withoutUndefined(options),
  };
  assertSignals(settings.signals);
  assertDuration(settings.timeout, 'options.timeout');
  assertDuration(settings.grace, 'options.grace');
  assertFunction(settings.exit, 'options.exit');
  assertLogger(settings.logger, 'options.logger');
  assertClock(settings.clock, 'options.clock');
  return settings;
}

/** What happens to the process: nothing yet, a stop under way, or done (exited or removed). */
type Phase = 'waiting' | 'stopping' | 'done';

class SignalHandler {
  readonly #lifecycle: Lifecycle;
  readonly #settings: Settings;
  #phase: Phase = 'waiting';
  #forceTimer: unknown;

  constructor(lifecycle: Lifecycle, settings: Settings) {
    this.#lifecycle = lifecycle;
    this.#settings = settings;
  }

  /** Adds the listeners (all or none); returns the function that removes them. */
  listen(): () => void {
    const { signals } = this.#settings;
    const added: NodeJS.Signals[] = [];
    try {
      for (const signal of signals) {
        process.on(signal, this.#onSignal);
        added.push(signal);
      }
    } catch (error) {
      for (const signal of added) process.off(signal, this.#onSignal);
      throw error;
    }
    return () => {
      for (const signal of signals) process.off(signal, this.#onSignal);
      this.#end();
    };
  }

  readonly #onSignal = (signal: NodeJS.Signals): void => {
    if (this.#phase === 'stopping') this.#force(`received ${signal} again`);
    else if (this.#phase === 'waiting') this.#stop(signal);
  };

  #stop(signal: NodeJS.Signals): void {
    const { timeout, grace, logger, clock } = this.#settings;
    this.#phase = 'stopping';
    log(logger, 'info', 'received signal, stopping', {
      service: this.#lifecycle.name,
      signal,
      timeout,
    });
    if (timeout + grace !== Infinity) {
      this.#forceTimer = clock.setTimeout(() => {
        this.#forceTimer = undefined;
        this.#force(`the stop took longer than ${timeout} ms + ${grace} ms grace`);
      }, timeout + grace);
    }
    void this.#lifecycle
      .stop({ timeout })
      .then((state) => {
        this.#finish(state);
      })
      .catch((error: unknown) => {
        log(logger, 'error', 'exit failed', { service: this.#lifecycle.name, error });
      });
  }

  #finish(state: State): void {
    if (this.#phase !== 'stopping') return;
    const code = state === 'crashed' ? exitCodes.crashed : exitCodes.stopped;
    log(this.#settings.logger, 'info', 'exiting', { service: this.#lifecycle.name, state, code });
    this.#exit(code);
  }

  #force(reason: string): void {
    if (this.#phase !== 'stopping') return;
    const unstopped = activeServices(this.#lifecycle);
    log(this.#settings.logger, 'error', 'forcing exit', { reason, unstopped });
    this.#exit(exitCodes.forced);
  }

  #exit(code: number): void {
    this.#end();
    this.#settings.exit(code);
  }

  #end(): void {
    this.#phase = 'done';
    if (this.#forceTimer !== undefined) this.#settings.clock.clearTimeout(this.#forceTimer);
    this.#forceTimer = undefined;
  }
}

const uncatchable: ReadonlySet<string> = new Set(['SIGKILL', 'SIGSTOP']);

function assertSignals(signals: unknown): asserts signals is readonly NodeJS.Signals[] {
  const catchable = (value: unknown) =>
    typeof value === 'string' && value in constants.signals && !uncatchable.has(value);
  if (!Array.isArray(signals) || signals.length === 0 || !signals.every(catchable)) {
    invalid(
      'options.signals',
      'a non-empty array of catchable signal names such as SIGTERM',
      signals,
    );
  }
}
