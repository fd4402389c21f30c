import FakeTimers from '@sinonjs/fake-timers';
import type { Clock } from '../../lib/index.js';

/** A fake clock for deadlines: pass `clock` to the library, advance time with `fake.tickAsync`. */
export function fakeClock(): { clock: Clock; fake: FakeTimers.Clock; pending: () => number } {
  const fake = FakeTimers.createClock();
  const clock: Clock = {
    now: () => fake.now,
    setTimeout: (callback, ms) => fake.setTimeout(callback, ms),
    clearTimeout: (handle) => {
      fake.clearTimeout(handle as FakeTimers.TimerId);
    },
  };
  return { clock, fake, pending: () => fake.countTimers() };
}
