import { constants } from 'node:os';
import { systemClock, type Clock } from './clock.js';
import { Lifecycle } from './lifecycle.js';
import { silentLogger, type Logger } from './logger.js';
import { SignalHandler, type SignalSettings } from './internal/signal-handler.js';
import {
  assertClock,
  assertDuration,
  assertFunction,
  assertLogger,
  assertOptions,
  invalid,
  withoutUndefined,
} from './internal/validate.js';

export { exitCodes } from './internal/signal-handler.js';

/** Options of {@link handleSignals}. */
export interface HandleSignalsOptions {
  /**
   * The signals that start a stop, each listed once. The same signal again less than 250 ms
   * after the first is the same request (a terminal and a wrapper such as npm or tsx each deliver
   * one Ctrl+C); another signal, or the same one later, forces the exit.
   * @default ['SIGINT', 'SIGTERM']
   */
  signals?: readonly NodeJS.Signals[];
  /** The shutdown deadline given to `stop()`, in ms. @default 10_000 */
  timeout?: number;
  /** How long past `timeout` the stop may take before the exit is forced, in ms. @default 1_000 */
  grace?: number;
  /** Ends the process; replace it in tests. @default process.exit */
  exit?: (code: number) => void;
  /**
   * Where the signal, a fault, the stop and the exit are logged. Before exiting, handleSignals
   * waits (`flushTimeout` at most) for it to write its lines: a winston logger is ended and
   * each of its transports waited for; another logger's `flush()` method, if it has one, is
   * called (synchronous, returning a promise, or calling back as pino's `flush(cb)` does).
   * @default a silent logger (faults are then written to stderr, as Node would have)
   */
  logger?: Logger;
  /**
   * Timers for the forced exit and the flush bound, and the time of the 250 ms signal window.
   * @default the real timers
   */
  clock?: Clock;
  /**
   * Whether an uncaught exception or unhandled rejection stops the lifecycle as a signal would
   * (logged with its error, same deadline, the fault as the stop's reason) and exits 1; a second
   * fault or a signal while stopping forces the exit. `false` leaves faults to Node, which ends
   * the process at once with no cleanup.
   * @default true
   */
  faults?: boolean;
  /**
   * The longest handleSignals waits, after its last log line, for the logger to write its lines
   * before it exits, in ms (0: exit at once).
   * @default 2_000
   */
  flushTimeout?: number;
}

// Every option, listed once; the compiler checks the list against HandleSignalsOptions.
const optionNames = Object.keys({
  signals: true,
  timeout: true,
  grace: true,
  exit: true,
  logger: true,
  clock: true,
  faults: true,
  flushTimeout: true,
} satisfies Record<keyof HandleSignalsOptions, true>);

/**
 * Stops `lifecycle` when the process receives SIGINT or SIGTERM (the signal's name is the stop's
 * reason), or when an uncaught exception or unhandled rejection happens (see `faults`), then
 * exits once the logger has written its lines: 0 after a clean stop, 1 after a crash or a fault.
 * A second signal or fault, or the stop still unfinished `grace` ms after its deadline, forces the
 * exit with code 2 and logs the services that had not stopped. While the lifecycle runs, the
 * process stays alive (one ref'd handle, released when the run ends), even if its services only
 * await their signal.
 *
 * @returns a function that removes the listeners, releases the process and cancels a pending
 * forced exit; a stop already under way goes on, but no longer ends the process.
 * @throws {TypeError} when an argument is of the wrong type, an option is unknown (a misspelling),
 * or `signals` names an unknown or uncatchable signal (SIGKILL, SIGSTOP) or one signal twice.
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

function parseOptions(options: HandleSignalsOptions): SignalSettings {
  assertOptions(options, 'options', optionNames);
  const given = withoutUndefined(options);
  const settings: SignalSettings = {
    signals: ['SIGINT', 'SIGTERM'],
    timeout: 10_000,
    grace: 1_000,
    exit: (code: number) => process.exit(code),
    logger: silentLogger,
    clock: systemClock,
    faults: true,
    flushTimeout: 2_000,
    ...given,
    printFaults: given.logger === undefined,
  };
  assertSignals(settings.signals);
  assertDuration(settings.timeout, 'options.timeout');
  assertDuration(settings.grace, 'options.grace');
  assertFunction(settings.exit, 'options.exit');
  assertLogger(settings.logger, 'options.logger');
  assertClock(settings.clock, 'options.clock');
  if (typeof settings.faults !== 'boolean') invalid('options.faults', 'a boolean', settings.faults);
  assertDuration(settings.flushTimeout, 'options.flushTimeout');
  return settings;
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
  // Listed twice, a signal would run two listeners: every first signal would force the exit.
  const names = signals as readonly string[];
  const twice = names.find((signal, index) => names.indexOf(signal) !== index);
  if (twice !== undefined) {
    throw new TypeError(
      `Expected \`options.signals\` to list each signal once, got ${twice} twice`,
    );
  }
}
