import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { silent } from './log.js';
import { assertClock, assertDuration, assertLogger, assertOptions } from './validate.js';

/** The default `hookTimeout`, in ms. */
export const defaultHookTimeout = 10_000;

/**
 * A lifecycle's logger, clock and hook timeout, checked once. A group builds one for all its
 * children, so a pool of 100k services checks its options once, not once per child.
 */
export class LifecycleSettings {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly hookTimeout: number;

  constructor(logger: Logger, clock: Clock, hookTimeout: number) {
    this.logger = logger;
    this.clock = clock;
    this.hookTimeout = hookTimeout;
    Object.freeze(this);
  }
}

/** The settings of a lifecycle built without options. */
export const defaultSettings = new LifecycleSettings(silent, systemClock, defaultHookTimeout);

const known = ['logger', 'clock', 'hookTimeout'] as const;

/**
 * Checks the options of a lifecycle (or of a group, for its children) and fills in defaults.
 * @throws {TypeError} naming `${argument}.<option>` when one is malformed or unknown.
 */
export function settingsOf(options: unknown, argument = 'options'): LifecycleSettings {
  if (options instanceof LifecycleSettings) return options;
  assertOptions(options, argument, known);
  const {
    logger = silent,
    clock = systemClock,
    hookTimeout = defaultHookTimeout,
  } = options as { logger?: Logger; clock?: Clock; hookTimeout?: number };
  assertLogger(logger, `${argument}.logger`);
  assertClock(clock, `${argument}.clock`);
  assertDuration(hookTimeout, `${argument}.hookTimeout`);
  if (logger === silent && clock === systemClock && hookTimeout === defaultHookTimeout) {
    return defaultSettings;
  }
  return new LifecycleSettings(logger, clock, hookTimeout);
}
