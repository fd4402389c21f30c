import { invalid, maxTimeout } from './validate.js';

/** How long a {@link Restarter} waits before each restart, and when it gives up. */
export interface BackoffOptions {
  /** The delay before the first restart, in ms. @default 100 */
  initialDelay?: number;
  /** The longest delay, in ms; jitter never exceeds it. @default 10_000 */
  maxDelay?: number;
  /** Each failure still inside the window multiplies the delay by this. @default 2 */
  factor?: number;
  /**
   * A fraction from 0 to 1: each delay is drawn uniformly from `[delay × (1 − jitter), delay]`,
   * so restarts of many services spread out without ever exceeding `maxDelay`. @default 0.2
   */
  jitter?: number;
  /** Restarts allowed within `window`; one more failure gives up. `Infinity`: never give up. @default 5 */
  maxRestarts?: number;
  /** How long a failure counts, in ms; `Infinity`: forever. @default 60_000 */
  window?: number;
}

export type BackoffSettings = Required<BackoffOptions>;

const defaults: BackoffSettings = Object.freeze({
  initialDelay: 100,
  maxDelay: 10_000,
  factor: 2,
  jitter: 0.2,
  maxRestarts: 5,
  window: 60_000,
});

/** The settings with defaults filled in. @throws {TypeError} naming `${prefix}.<option>` when one is malformed. */
export function backoffSettings(options: BackoffOptions, prefix: string): BackoffSettings {
  const settings = { ...defaults };
  for (const key of Object.keys(defaults) as (keyof BackoffSettings)[]) {
    const value = options[key];
    if (value !== undefined) settings[key] = value;
  }
  const { initialDelay, maxDelay, factor, jitter, maxRestarts, window } = settings;
  const name = (key: string) => `${prefix}.${key}`;
  if (!isBetween(initialDelay, 0, maxTimeout)) {
    invalid(name('initialDelay'), `a number of milliseconds from 0 to ${maxTimeout}`, initialDelay);
  }
  if (!isBetween(maxDelay, initialDelay, maxTimeout)) {
    invalid(
      name('maxDelay'),
      `a number of milliseconds from initialDelay (${initialDelay}) to ${maxTimeout}`,
      maxDelay,
    );
  }
  if (!isBetween(factor, 1, Number.MAX_VALUE)) invalid(name('factor'), 'a number >= 1', factor);
  if (!isBetween(jitter, 0, 1)) invalid(name('jitter'), 'a number from 0 to 1', jitter);
  if (!(Number.isInteger(maxRestarts) && maxRestarts >= 0) && maxRestarts !== Infinity) {
    invalid(name('maxRestarts'), 'an integer >= 0, or Infinity', maxRestarts);
  }
  if (!(isBetween(window, 0, Number.MAX_VALUE) && window > 0) && window !== Infinity) {
    invalid(name('window'), 'a number of milliseconds > 0, or Infinity', window);
  }
  return Object.freeze(settings);
}

function isBetween(value: unknown, low: number, high: number): value is number {
  return typeof value === 'number' && value >= low && value <= high;
}

/**
 * The failures of one run of a restarter that still count, and the delay each earns: failures
 * older than `window` are forgotten, so a service that fails now and then is restarted forever
 * (quickly), and one that keeps failing gives up.
 */
export class RestartBudget {
  readonly #settings: BackoffSettings;
  readonly #random: () => number;
  // When each failure still inside the window happened, oldest first.
  readonly #failures: number[] = [];

  constructor(settings: BackoffSettings, random: () => number) {
    this.#settings = settings;
    this.#random = random;
  }

  /** The failures that still count: the restarts made within the window. */
  get restarts(): number {
    return this.#failures.length;
  }

  /** Records a failure at `now`; returns the delay before the restart, or undefined to give up. */
  fail(now: number): number | undefined {
    const { window, maxRestarts } = this.#settings;
    while (this.#failures.length > 0 && now - (this.#failures[0] as number) >= window) {
      this.#failures.shift();
    }
    if (this.#failures.length >= maxRestarts) return undefined;
    this.#failures.push(now);
    return this.#delay(this.#failures.length);
  }

  /** The delay before restart number `count` within the window: finite, from 0 to maxDelay. */
  #delay(count: number): number {
    const { initialDelay, maxDelay, factor, jitter } = this.#settings;
    // factor ** (count - 1) overflows to Infinity, and 0 × Infinity is NaN.
    const delay = initialDelay === 0 ? 0 : Math.min(maxDelay, initialDelay * factor ** (count - 1));
    const jittered = Math.round(delay * (1 - jitter * unitInterval(this.#random())));
    // Rounding up can pass a maxDelay that is not a whole number.
    return Math.min(maxDelay, jittered);
  }
}

// The largest double below 1.
const belowOne = 1 - Number.EPSILON / 2;

/**
 * `value` clamped into [0, 1), so that a user's `random()` returning NaN, a negative number or
 * one >= 1 can neither lengthen a delay past maxDelay nor make it negative.
 */
function unitInterval(value: unknown): number {
  if (typeof value !== 'number' || !(value > 0)) return 0;
  return value < 1 ? value : belowOne;
}
