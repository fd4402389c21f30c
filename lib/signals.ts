import { constants } from 'node:os';
import { systemClock, type Clock } from './clock.js';
import { Lifecycle } from './lifecycle.js';
import { silentLogger, type Logger } from './logger.js';
import type { State } from './state.js';
import { activeServices } from './tree.js';
import {
  assertClock,
  assertDuration,
  assertFunction,
  assertLogger,
  assertObject,
  invalid,
} from './validate.js';

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

type Phase = 'waiting' | 'stopping' | 'exited';

/**
 * Stops `lifecycle` when the process receives SIGINT or SIGTERM, then exits: 0 after a clean
 * stop, 1 after a crash. A second signal, or the stop still unfinished `grace` ms after its
 * deadline, forces the exit with code 2 and logs the services that had not stopped.
 *
 * @returns a function that removes the signal listeners.
 * @throws {TypeError} when an argument is of the wrong type or names an unknown signal.
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
  assertObject(options, 'options');
  const {
    signals = ['SIGINT', 'SIGTERM'],
    timeout = 10_000,
    grace = 1_000,
    exit = (code: number) => process.exit(code),
    logger = silentLogger,
    clock = systemClock,
  } = options;
  assertSignals(signals);
  assertDuration(timeout, 'options.timeout');
  assertDuration(grace, 'options.grace');
  assertFunction(exit, 'options.exit');
  assertLogger(logger, 'options.logger');
  assertClock(clock, 'options.clock');

  let phase: Phase = 'waiting';
  let forceTimer: unknown;

  const leave = (code: number): void => {
    phase = 'exited';
    if (forceTimer !== undefined) clock.clearTimeout(forceTimer);
    exit(code);
  };

  const force = (why: string): void => {
    if (phase !== 'stopping') return;
    logger.error('forcing exit', { reason: why, unstopped: activeServices(lifecycle) });
    leave(exitCodes.forced);
  };

  const finish = (state: State): void => {
    if (phase !== 'stopping') return;
    const code = state === 'crashed' ? exitCodes.crashed : exitCodes.stopped;
    logger.info('exiting', { service: lifecycle.name, state, code });
    leave(code);
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (phase === 'stopping') {
      force(`received ${signal} again`);
      return;
    }
    if (phase === 'exited') return;
    phase = 'stopping';
    logger.info('received signal, stopping', { service: lifecycle.name, signal, timeout });
    if (timeout + grace !== Infinity) {
      forceTimer = clock.setTimeout(() => {
        forceTimer = undefined;
        force(`the stop took longer than ${timeout} ms + ${grace} ms grace`);
      }, timeout + grace);
    }
    void lifecycle.stop(timeout === Infinity ? {} : { timeout }).then(finish);
  };

  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

function assertSignals(signals: unknown): asserts signals is readonly NodeJS.Signals[] {
  const known = (value: unknown) => typeof value === 'string' && value in constants.signals;
  if (!Array.isArray(signals) || signals.length === 0 || !signals.every(known)) {
    invalid('options.signals', 'a non-empty array of signal names such as SIGTERM', signals);
  }
}
