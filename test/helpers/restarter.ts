import type FakeTimers from '@sinonjs/fake-timers';
import {
  Lifecycle,
  Restarter,
  type Clock,
  type RestarterOptions,
  type State,
} from '../../lib/index.js';
import { fakeClock } from './clock.js';
import { captureLogs, type LogEntry } from './logs.js';
import { recordStates } from './record.js';
import { ControlledService, type Behaviour } from './service.js';

/** One `'restart'` event of a {@link Restarter}: its three arguments. */
export interface RestartEvent {
  attempt: number;
  error: Error | undefined;
  delay: number;
}

/** A restarter of a {@link ControlledService}, on a fake clock, with everything it did recorded. */
export interface RestarterFixture {
  service: ControlledService;
  restarter: Restarter<ControlledService>;
  /** The restarter's own lifecycle (on the fake clock); nothing runs yet. */
  lifecycle: Lifecycle<Restarter<ControlledService>>;
  /** Every state the restarter's lifecycle moved to. */
  states: State[];
  /** Every state the child's lifecycle (`restarter.lifecycle`) moved to, across restarts. */
  childStates: State[];
  /** Every `'restart'` event so far, in order. */
  restarts: RestartEvent[];
  /** What the restarter logged. */
  entries: LogEntry[];
  clock: Clock;
  fake: FakeTimers.Clock;
  /** How many timers are live on the fake clock. */
  pending: () => number;
}

/**
 * Builds a restarter of a {@link ControlledService} named `svc` (behaving as `behaviour` says)
 * with a fake clock, a capturing logger and `random: () => 0` (no jitter: delays are exactly
 * `initialDelay × factorⁿ`), unless `options` says otherwise.
 */
export function makeRestarter(
  behaviour: Behaviour = {},
  options: RestarterOptions = {},
): RestarterFixture {
  const { clock, fake, pending } = fakeClock();
  const { logger, entries } = captureLogs();
  const service = new ControlledService('svc', behaviour);
  const restarter = new Restarter(service, { clock, logger, random: () => 0, ...options });
  const restarts: RestartEvent[] = [];
  restarter.on('restart', (attempt, error, delay) => {
    restarts.push({ attempt, error, delay });
  });
  const lifecycle = new Lifecycle(restarter, { clock, logger });
  return {
    service,
    restarter,
    lifecycle,
    states: recordStates(lifecycle),
    childStates: recordStates(restarter.lifecycle),
    restarts,
    entries,
    clock,
    fake,
    pending,
  };
}

/** Resolves with the arguments of the next `'restart'` event `restarter` emits. */
export function nextRestart(restarter: Restarter): Promise<RestartEvent> {
  return new Promise((resolve) => {
    restarter.once('restart', (attempt, error, delay) => {
      resolve({ attempt, error, delay });
    });
  });
}

export { fields } from './assertions.js';
export { aborted, flush } from './sequence.js';
