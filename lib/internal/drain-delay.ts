import type { Clock } from '../clock.js';
import { schedule, type Reactor } from './scheduler.js';

/** What a drain delay ends: the group run that waits it out. */
export interface Delayed extends Reactor {
  /** The delay has passed: drain with `reason`. A reaction. */
  drainAfterDelay(reason: unknown): void;
}

/**
 * A group's `drainDelay` under way: its timer (none for `Infinity`: until the deadline) and the
 * stop reason it will pass on.
 */
export class DrainDelay {
  /** Whether the delay is under way. */
  active = false;
  /** The reason the group was asked to stop with. */
  reason: unknown;
  #timer: unknown;

  /** Starts the delay of `ms` for `run`, which hears when it has passed. */
  begin(run: Delayed, clock: Clock, ms: number, reason: unknown): void {
    this.active = true;
    this.reason = reason;
    if (ms === Infinity) return;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      schedule(passed, run, this, undefined);
    }, ms);
  }

  /** Ends the delay, and its timer if any. */
  cancel(clock: Clock): void {
    this.active = false;
    const timer = this.#timer;
    if (timer === undefined) return;
    this.#timer = undefined;
    clock.clearTimeout(timer);
  }
}

function passed(run: Delayed, delay: DrainDelay): void {
  if (delay.active) run.drainAfterDelay(delay.reason);
}
