import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { silent } from './log.js';
import { assertClock, assertDuration, assertLogger, assertOptions } from './validate.js';

/** The default `hookTimeout`, in ms. */
export const defaultHookTimeout = 10_000;

/**
 * A lifecycle's logger, clock, hook timeout and start timeout, checked once. A group builds one for all its
 * children, so a pool of 100k services checks its options once, not once per child.
 */
export class LifecycleSettings {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly hookTimeout: number;
  /** Ms a run may stay `starting` before it is asked to stop (`Infinity`: no limit). */
  readonly startTimeout: number;

  constructor(logger: Logger, clock: Clock, hookTimeout: number, startTimeout = Infinity) {
    this.logger = logger;
    this.clock = clock;
    this.hookTimeout = hookTimeout;
    this.startTimeout = startTimeout;
    Object.freeze(this);
  }
}

/** The settings of a lifecycle built without options. */
export const defaultSettings = new LifecycleSettings(silent, systemClock, defaultHookTimeout);

const known = ['logger', 'clock', 'hookTimeout', 'startTimeout'] as const;

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
    startTimeout = Infinity,
  } = options as { logger?: Logger; clock?: Clock; hookTimeout?: number; startTimeout?: number };
  assertLogger(logger, `${argument}.logger`);
  assertClock(clock, `${argument}.clock`);
  assertDuration(hookTimeout, `${argument}.hookTimeout`);
  assertDuration(startTimeout, `${argument}.startTimeout`);
  const isDefault =
    logger === silent &&
    clock === systemClock &&
    hookTimeout === defaultHookTimeout &&
    startTimeout === Infinity;
  return isDefault
    ? defaultSettings
    : new LifecycleSettings(logger, clock, hookTimeout, startTimeout);
}
