import { once } from 'node:events';
import test from 'ava';
import {
  AlreadyRunningError,
  Lifecycle,
  OverseerError,
  Pool,
  Restarter,
  RestartLimitError,
  Sequence,
  ServiceCrashedError,
  type RestarterOptions,
  type Service,
  type State,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { settlesAtOnce } from './helpers/lifecycle.js';
import { captureLogs } from './helpers/logs.js';
import { runToEnd } from './helpers/pool.js';
import { recordStates } from './helpers/record.js';
import {
  aborted,
  fields,
  makeRestarter,
  nextRestart,
  type RestarterFixture,
  type RestartEvent,
} from './helpers/restarter.js';
import { ControlledService, serviceOf, type Behaviour } from './helpers/service.js';
import { health } from '../lib/health.js';
import { activeServices } from '../lib/internal/tree.js';
import { assertAbortError } from './helpers/assertions.js';

/**
 * Crashes the child (or ends it, with `how: 'finish'`), waits for the restart event, lets the
 * delay pass, and waits until the child runs again (the restarter starts it in a microtask).
 */
async function failThenRestart(
  fixture: RestarterFixture,
  error?: Error,
  how: 'crash' | 'finish' = 'crash',
): Promise<RestartEvent> {
  const restarted = nextRestart(fixture.restarter);
  if (how === 'crash') fixture.service.crash(error);
  else fixture.service.finish();
  const event = await restarted;
  const started = fixture.service.started();
  await fixture.fake.tickAsync(event.delay);
  await started;
  return event;
}

/** A {@link ControlledService} with its own `healthCheck()` and `livenessCheck()`, counting calls. */
class CheckedService extends ControlledService {
  readonly calls = { health: 0, liveness: 0 };
  failure: Error | undefined;

  constructor(name: string, behaviour: Behaviour = {}) {
    super(name, behaviour);
  }

  healthCheck(): Promise<void> {
    this.calls.health++;
    return this.failure ? Promise.reject(this.failure) : Promise.resolve();
  }

  livenessCheck(): void {
    this.calls.liveness++;
    if (this.failure) throw this.failure;
  }
}

// --- construction ---

test('a restarter is named after its child unless given a name', (t) => {
  const service = new ControlledService('worker');
  t.is(new Restarter(service).name, 'worker');
  t.is(new Restarter(service, {}).name, 'worker');
  t.is(new Restarter(service, { name: 'worker guard' }).name, 'worker guard');
});

test('a restarter exposes its child, the child lifecycle and a one-element frozen lifecycles', (t) => {
  const service = new ControlledService('worker');
  const restarter = new Restarter(service);
  t.is(restarter.service, service);
  t.true(restarter.lifecycle instanceof Lifecycle);
  t.is(restarter.lifecycle.service, service);
  t.is(restarter.lifecycle.state, 'stopped');
  t.is(restarter.lifecycles.length, 1);
  t.is(restarter.lifecycles[0], restarter.lifecycle);
  t.true(Object.isFrozen(restarter.lifecycles));
});

test('the Restarter constructor throws a TypeError naming the argument or option', (t) => {
  const service = new ControlledService('svc');
  t.throws(() => new Restarter(undefined as unknown as ControlledService), {
    instanceOf: TypeError,
    message: /^Expected `service` to be a Service/,
  });
  t.throws(() => new Restarter({ name: 'x' } as unknown as ControlledService), {
    instanceOf: TypeError,
    message: /^Expected `service` to be a Service/,
  });
  const bad: [unknown, string | RegExp][] = [
    [null, 'Expected `options` to be an object, got `null`'],
    [
      { restart: 'sometimes' },
      "Expected `options.restart` to be 'on-crash' or 'always', got `\"sometimes\"` (string)",
    ],
    [{ random: 5 }, 'Expected `options.random` to be a function, got `5` (number)'],
    [{ random: null }, 'Expected `options.random` to be a function, got `null`'],
    [{ name: '' }, 'Expected `options.name` to be a non-empty string, got `""` (string)'],
    [{ logger: {} }, /^Expected `options\.logger` to be a logger/],
    [{ clock: { now: () => 0 } }, /^Expected `options\.clock` to be a clock/],
    [{ initialDelay: -1 }, /^Expected `options\.initialDelay` to be /],
    [{ maxDelay: 50 }, /^Expected `options\.maxDelay` to be .* from initialDelay \(100\)/],
    [{ factor: 0.5 }, /^Expected `options\.factor` to be a number >= 1/],
    [{ jitter: 2 }, /^Expected `options\.jitter` to be a number from 0 to 1/],
    [{ maxRestarts: 1.5 }, /^Expected `options\.maxRestarts` to be an integer >= 0, or Infinity/],
    [{ window: 0 }, /^Expected `options\.window` to be a number of milliseconds > 0, or Infinity/],
  ];
  for (const [options, message] of bad) {
    t.throws(() => new Restarter(service, options as RestarterOptions), {
      instanceOf: TypeError,
      message,
    });
  }
});

test('runWithLifecycle throws a TypeError for something that is not a Lifecycle', (t) => {
  const restarter = new Restarter(new ControlledService('svc'));
  t.throws(() => restarter.runWithLifecycle({} as Lifecycle), {
    instanceOf: TypeError,
    message: /^Expected `lifecycle` to be a Lifecycle/,
  });
});

// --- running and restarting ---

test('the restarter reports running when its child first runs', async (t) => {
  const { service, lifecycle, states, childStates } = makeRestarter({ running: 'manually' });
  const done = runToEnd(lifecycle);
  await service.started();
  t.is(lifecycle.state, 'starting');
  t.deepEqual(childStates, ['starting']);
  service.reportRunning();
  t.is(
    lifecycle.state,
    'starting',
    'the restarter hears its child run after running() has returned',
  );
  await lifecycle.whenRunning();
  t.deepEqual(states, ['starting', 'running']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('the restarter stays running, with no other transition, while its child restarts', async (t) => {
  const fixture = makeRestarter({ running: 'manually' });
  const { service, restarter, lifecycle, states, childStates, fake } = fixture;
  const done = runToEnd(lifecycle);
  await service.started();
  service.reportRunning();
  for (let round = 0; round < 3; round += 1) {
    const restarted = nextRestart(restarter);
    service.crash();
    await restarted;
    t.is(lifecycle.state, 'running');
    const started = service.started();
    await fake.tickAsync(10_000);
    await started;
    // The child was started again, and has not reported running yet.
    t.is(restarter.lifecycle.state, 'starting');
    t.is(lifecycle.state, 'running');
    service.reportRunning();
  }
  t.deepEqual(states, ['starting', 'running']);
  t.deepEqual(childStates, [
    ...['starting', 'running', 'crashed'],
    ...['starting', 'running', 'crashed'],
    ...['starting', 'running', 'crashed'],
    ...['starting', 'running'],
  ]);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('the child lifecycle is the same object across restarts, and its hooks see every run', async (t) => {
  const fixture = makeRestarter();
  const { service, restarter, lifecycle } = fixture;
  const starts: number[] = [];
  restarter.lifecycle.onStarting(() => starts.push(service.runs.length));
  const done = runToEnd(lifecycle);
  await service.started();
  await failThenRestart(fixture);
  await failThenRestart(fixture);
  t.is(service.runs.length, 3);
  for (const run of service.runs) t.is(run, restarter.lifecycle);
  t.deepEqual(restarter.lifecycles, [restarter.lifecycle]);
  t.deepEqual(starts, [0, 1, 2]);
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('a crash restarts the child after the computed delay, and not a moment before', async (t) => {
  // Default jitter 0.2; a random of 0.5 takes 10 % off the 100 ms.
  const { service, restarter, lifecycle, fake, pending } = makeRestarter({}, { random: () => 0.5 });
  const done = runToEnd(lifecycle);
  await service.started();
  const restarted = nextRestart(restarter);
  service.crash();
  t.deepEqual(await restarted, { attempt: 1, error: service.error, delay: 90 });
  t.is(pending(), 1);
  t.is(restarter.lifecycle.state, 'crashed');

  await fake.tickAsync(89);
  t.is(service.runs.length, 1);
  t.is(restarter.lifecycle.state, 'crashed');

  await fake.tickAsync(1);
  t.is(service.runs.length, 2);
  t.is(restarter.lifecycle.state, 'running');
  t.is(fake.now, 90);
  t.is(pending(), 0);
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('a random() outside [0, 1) is clamped: the child is still restarted, after a delay within bounds', async (t) => {
  for (const [value, delay] of [
    [5, 50],
    [-3, 100],
    [NaN, 100],
  ] as const) {
    const fixture = makeRestarter({}, { jitter: 0.5, random: () => value });
    const done = runToEnd(fixture.lifecycle);
    await fixture.service.started();
    t.like(await failThenRestart(fixture), { attempt: 1, delay }, `random() = ${value}`);
    t.is(fixture.service.runs.length, 2);
    t.is(fixture.restarter.lifecycle.state, 'running');
    await fixture.lifecycle.stop();
    t.is(await done, undefined);
  }
});

test('initialDelay 0 with a huge factor restarts at once every time, never after NaN ms', async (t) => {
  const fixture = makeRestarter({}, { initialDelay: 0, factor: 1e308, maxRestarts: 4 });
  const done = runToEnd(fixture.lifecycle);
  await fixture.service.started();
  for (let attempt = 0; attempt < 4; attempt++) await failThenRestart(fixture);
  t.deepEqual(
    fixture.restarts.map((event) => event.delay),
    [0, 0, 0, 0],
  );
  t.is(fixture.service.runs.length, 5);
  await fixture.lifecycle.stop();
  t.is(await done, undefined);
});

test("'restart' events count the attempts and carry the child's error and the delay", async (t) => {
  const fixture = makeRestarter({}, { name: 'guard' });
  const { lifecycle, restarts, entries } = fixture;
  const done = runToEnd(lifecycle);
  await fixture.service.started();
  const errors = [new Error('first'), new Error('second'), new Error('third')];
  for (const error of errors) await failThenRestart(fixture, error);
  t.deepEqual(restarts, [
    { attempt: 1, error: errors[0], delay: 100 },
    { attempt: 2, error: errors[1], delay: 200 },
    { attempt: 3, error: errors[2], delay: 400 },
  ]);
  restarts.forEach((event, index) => t.is(event.error, errors[index]));
  const logged = entries.filter((entry) => entry.message === 'service failed, restarting');
  t.deepEqual(logged.map(fields), [
    {
      level: 'warn',
      message: 'service failed, restarting',
      service: 'svc',
      restarter: 'guard',
      attempt: 1,
      delay: 100,
      error: errors[0],
    },
    {
      level: 'warn',
      message: 'service failed, restarting',
      service: 'svc',
      restarter: 'guard',
      attempt: 2,
      delay: 200,
      error: errors[1],
    },
    {
      level: 'warn',
      message: 'service failed, restarting',
      service: 'svc',
      restarter: 'guard',
      attempt: 3,
      delay: 400,
      error: errors[2],
    },
  ]);
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('a restart listener that throws is logged at error level and changes nothing', async (t) => {
  const { service, restarter, lifecycle, states, entries, fake, pending } = makeRestarter();
  const failure = new Error('listener broke');
  const restarted = nextRestart(restarter);
  restarter.on('restart', () => {
    throw failure;
  });
  const done = runToEnd(lifecycle);
  await service.started();
  service.crash();
  t.deepEqual(await restarted, { attempt: 1, error: service.error, delay: 100 });
  // The first two lines are the root's (the restarter's own lifecycle) own transitions.
  t.deepEqual(
    entries.map((entry) => entry.message),
    [
      'service starting',
      'service running',
      'service failed, restarting',
      'restart listener failed',
    ],
  );
  t.deepEqual(fields(entries[3]), {
    level: 'error',
    message: 'restart listener failed',
    service: 'svc',
    restarter: 'svc',
    error: failure,
  });
  t.is(pending(), 1);
  await fake.tickAsync(100);
  t.is(service.runs.length, 2);
  t.is(restarter.lifecycle.state, 'running');
  t.deepEqual(states, ['starting', 'running']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('within the window the delay keeps growing, and falls back once the earlier failures have left it', async (t) => {
  const fixture = makeRestarter({}, { window: 1000, maxRestarts: 5 });
  const done = runToEnd(fixture.lifecycle);
  await fixture.service.started();
  t.like(await failThenRestart(fixture), { attempt: 1, delay: 100 });
  t.like(await failThenRestart(fixture), { attempt: 2, delay: 200 });
  await fixture.fake.tickAsync(1000);
  // The failures at 0 and 100 ms are more than 1000 ms old at 1300 ms.
  t.like(await failThenRestart(fixture), { attempt: 3, delay: 100 });
  t.like(await failThenRestart(fixture), { attempt: 4, delay: 200 });
  await fixture.lifecycle.stop();
  t.is(await done, undefined);
});

// --- giving up ---

test('after maxRestarts failures within the window the next one makes the restarter crash with RestartLimitError', async (t) => {
  const fixture = makeRestarter({}, { maxRestarts: 2, name: 'guard' });
  const { service, lifecycle, states, restarts, entries, pending } = fixture;
  const done = runToEnd(lifecycle);
  await service.started();
  await failThenRestart(fixture, new Error('first'));
  await failThenRestart(fixture, new Error('second'));
  const last = new Error('third');
  service.crash(last);
  const error = await done;

  t.true(error instanceof RestartLimitError);
  t.true(error instanceof OverseerError);
  const limit = error as RestartLimitError;
  t.is(limit.name, 'RestartLimitError');
  t.is(limit.code, 'ERR_OVERSEER_RESTART_LIMIT');
  t.is(limit.restarts, 2);
  t.is(limit.service, 'svc');
  t.is(limit.cause, last);
  t.is(
    limit.message,
    'Service "svc" failed again after 2 restarts within 60000 ms; giving up (last error: third)',
  );
  t.is(lifecycle.state, 'crashed');
  t.is(lifecycle.error, error);
  t.deepEqual(states, ['starting', 'running', 'crashed']);
  t.is(service.runs.length, 3);
  t.deepEqual(
    restarts.map(({ attempt, delay }) => [attempt, delay]),
    [
      [1, 100],
      [2, 200],
    ],
  );
  t.deepEqual(fields(entries.at(-2)), {
    level: 'error',
    message: 'service failed too often, giving up',
    service: 'svc',
    restarter: 'guard',
    restarts: 2,
    error: last,
  });
  // The root, the restarter's own lifecycle, logs its crash with the RestartLimitError.
  t.deepEqual(fields(entries.at(-1)), {
    level: 'error',
    message: 'service crashed',
    service: 'guard',
    state: 'crashed',
    error: limit,
  });
  t.is(pending(), 0);
});

test('maxRestarts 0 makes the first crash give up at once', async (t) => {
  const { service, lifecycle, restarts, pending } = makeRestarter({}, { maxRestarts: 0 });
  const done = runToEnd(lifecycle);
  await service.started();
  service.crash();
  const error = await done;
  t.true(error instanceof RestartLimitError);
  t.is((error as RestartLimitError).restarts, 0);
  t.is(error?.cause, service.error);
  t.deepEqual(restarts, []);
  t.is(service.runs.length, 1);
  t.is(pending(), 0);
});

test('failures spaced wider than the window never make the restarter give up', async (t) => {
  const fixture = makeRestarter({}, { window: 1000, maxRestarts: 1 });
  const { lifecycle, states, service } = fixture;
  const done = runToEnd(lifecycle);
  await service.started();
  for (let attempt = 1; attempt <= 10; attempt += 1) {
    t.deepEqual(await failThenRestart(fixture), { attempt, error: service.error, delay: 100 });
    await fixture.fake.tickAsync(1000);
  }
  t.is(service.runs.length, 11);
  t.is(lifecycle.state, 'running');
  t.deepEqual(states, ['starting', 'running']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a restarter run again after it ended starts with a fresh budget', async (t) => {
  const fixture = makeRestarter({}, { maxRestarts: 1 });
  const { service, lifecycle, states, restarts, fake } = fixture;
  const first = runToEnd(lifecycle);
  await service.started();
  await failThenRestart(fixture);
  service.crash();
  t.true((await first) instanceof RestartLimitError);

  // Same moment, same window: only a fresh budget lets it restart again.
  const second = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(service.runs.length, 3);
  t.deepEqual(await failThenRestart(fixture), { attempt: 1, error: service.error, delay: 100 });
  t.is(service.runs.length, 4);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await second, undefined);

  const third = runToEnd(lifecycle);
  await service.started();
  t.deepEqual(await failThenRestart(fixture), { attempt: 1, error: service.error, delay: 100 });
  await lifecycle.stop();
  t.is(await third, undefined);
  t.is(restarts.length, 3);
  t.is(fake.now, 300);
  t.deepEqual(states, [
    ...['starting', 'running', 'crashed'],
    ...['starting', 'running', 'stopping', 'stopped'],
    ...['starting', 'running', 'stopping', 'stopped'],
  ]);
});

// --- on-crash and always ---

test("with restart 'on-crash', a child that ends on its own ends the restarter stopped", async (t) => {
  const { service, lifecycle, states, childStates, restarts, pending } = makeRestarter();
  const done = runToEnd(lifecycle);
  await service.started();
  service.finish();
  t.is(await done, undefined);
  t.is(lifecycle.state, 'stopped');
  t.deepEqual(states, ['starting', 'running', 'stopped']);
  t.deepEqual(childStates, ['starting', 'running', 'stopped']);
  t.deepEqual(restarts, []);
  t.is(service.runs.length, 1);
  t.is(pending(), 0);
});

test("with restart 'always', a child that ends on its own is restarted, and the event's error is undefined", async (t) => {
  const fixture = makeRestarter({}, { restart: 'always' });
  const { service, lifecycle, states, entries } = fixture;
  const done = runToEnd(lifecycle);
  await service.started();
  t.deepEqual(await failThenRestart(fixture, undefined, 'finish'), {
    attempt: 1,
    error: undefined,
    delay: 100,
  });
  t.is(service.runs.length, 2);
  // After the root's own 'service starting' and 'service running'.
  t.deepEqual(fields(entries[2]), {
    level: 'warn',
    message: 'service failed, restarting',
    service: 'svc',
    restarter: 'svc',
    attempt: 1,
    delay: 100,
    error: undefined,
  });
  // A crash is restarted too.
  t.deepEqual(await failThenRestart(fixture), { attempt: 2, error: service.error, delay: 200 });
  t.deepEqual(states, ['starting', 'running']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test("with restart 'always', giving up after a clean end is a RestartLimitError without a cause", async (t) => {
  const fixture = makeRestarter({}, { restart: 'always', maxRestarts: 1 });
  const { service, lifecycle } = fixture;
  const done = runToEnd(lifecycle);
  await service.started();
  await failThenRestart(fixture, undefined, 'finish');
  service.finish();
  const error = await done;
  t.true(error instanceof RestartLimitError);
  t.false('cause' in (error as Error));
  t.is(
    error?.message,
    'Service "svc" failed again after 1 restart within 60000 ms; giving up (it ended on its own)',
  );
});

// --- stopping ---

test('a stop request while the child runs stops the child with the same reason and ends the restarter stopped', async (t) => {
  const { service, restarter, lifecycle, states, childStates, pending } = makeRestarter();
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop();
  t.true(lifecycle.signal.aborted);
  t.false(
    restarter.lifecycle.signal.aborted,
    'the restarter passes the stop on after stop() has returned',
  );
  await aborted(restarter.lifecycle.signal);
  t.is(lifecycle.state, 'stopping');
  t.is(restarter.lifecycle.signal.reason, lifecycle.signal.reason);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.deepEqual(childStates, ['starting', 'running', 'stopping', 'stopped']);
  t.is(service.runs.length, 1);
  t.is(pending(), 0);
});

test('a stop request after a restart stops the current run of the child', async (t) => {
  const fixture = makeRestarter();
  const { service, lifecycle, states, childStates } = fixture;
  const done = runToEnd(lifecycle);
  await service.started();
  await failThenRestart(fixture);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.deepEqual(childStates, [
    ...['starting', 'running', 'crashed'],
    ...['starting', 'running', 'stopping', 'stopped'],
  ]);
  t.is(service.runs.length, 2);
});

test('a stop request while the child starts stops it and ends the restarter stopped', async (t) => {
  const { service, lifecycle, states, childStates } = makeRestarter({ running: 'manually' });
  const done = runToEnd(lifecycle);
  await service.started();
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.deepEqual(childStates, ['starting', 'stopping', 'stopped']);
});

test('a stop request during the backoff delay ends the restarter stopped at once, leaving no timer and no further run', async (t) => {
  const { service, restarter, lifecycle, states, childStates, fake, pending } = makeRestarter();
  const done = runToEnd(lifecycle);
  await service.started();
  const restarted = nextRestart(restarter);
  service.crash();
  await restarted;
  t.is(pending(), 1);
  const { settled, promise } = await settlesAtOnce(() => lifecycle.stop());
  t.true(settled);
  t.is(await promise, 'stopped');
  t.is(pending(), 0);
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);

  await fake.tickAsync(60_000);
  t.is(service.runs.length, 1);
  t.deepEqual(childStates, ['starting', 'running', 'crashed']);
  t.is(lifecycle.state, 'stopped');
});

test('the timer is cleared as soon as the restarter hears the stop request, before it has ended', async (t) => {
  const { service, restarter, lifecycle, pending } = makeRestarter();
  const timersWhenStopped: number[] = [];
  lifecycle.onStopped(() => timersWhenStopped.push(pending()));
  const done = runToEnd(lifecycle);
  await service.started();
  const restarted = nextRestart(restarter);
  service.crash();
  await restarted;
  const stopped = lifecycle.stop();
  t.is(pending(), 1, 'the restarter hears the stop after stop() has returned');
  t.is(await stopped, 'stopped');
  t.deepEqual(timersWhenStopped, [0]);
  t.is(await done, undefined);
});

test("a child that crashes while being stopped makes the restarter crash with the child's own error", async (t) => {
  const { service, lifecycle, states, restarts, pending } = makeRestarter({ whenAsked: 'crash' });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(await lifecycle.stop(), 'crashed');
  const error = await done;
  t.is(error, service.error);
  t.is(lifecycle.error, service.error);
  t.false(error instanceof RestartLimitError);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
  t.deepEqual(restarts, []);
  t.is(service.runs.length, 1);
  t.is(pending(), 0);
});

test("the restarter's stop deadline reaches the child's shutdownSignal, and the child still stopping is logged", async (t) => {
  const { restarter, lifecycle, states, entries, fake, pending } = makeRestarter(
    { whenAsked: 'await-deadline' },
    { name: 'guard' },
  );
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop({ timeout: 1000 });
  await fake.tickAsync(999);
  t.is(restarter.lifecycle.state, 'stopping');
  t.false(restarter.lifecycle.shutdownSignal.aborted);
  // Only the root's own transitions so far: nothing about the child.
  const transition = (state: State) => ({
    level: 'info',
    message: `service ${state}`,
    service: 'guard',
    state,
  });
  t.deepEqual(entries.map(fields), [
    transition('starting'),
    transition('running'),
    { ...transition('stopping'), reason: 'The service was asked to stop' },
  ]);

  await fake.tickAsync(1);
  t.true(restarter.lifecycle.shutdownSignal.aborted);
  assertAbortError(t, restarter.lifecycle.shutdownSignal.reason, 'TimeoutError');
  t.is(restarter.lifecycle.shutdownSignal.reason, lifecycle.shutdownSignal.reason);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.deepEqual(entries.map(fields).slice(3), [
    {
      level: 'warn',
      message:
        'shutdown deadline passed with 1 service still stopping: "svc" (stopping, asked to stop 1000 ms ago)',
      restarter: 'guard',
      services: [{ service: 'svc', state: 'stopping', stoppingMs: 1000 }],
    },
    transition('stopped'),
  ]);
  t.is(fake.now, 1000);
  t.is(pending(), 0);
});

test('the deadline also reaches a child that took its own shutdownSignal before the stop', async (t) => {
  const { clock, fake, pending } = fakeClock();
  let shutdown: AbortSignal | undefined;
  const service = serviceOf('svc', async (lifecycle) => {
    const own = lifecycle.shutdownSignal;
    shutdown = own;
    lifecycle.running();
    if (!lifecycle.signal.aborted) await once(lifecycle.signal, 'abort');
    lifecycle.stopping();
    if (!own.aborted) await once(own, 'abort');
  });
  const restarter = new Restarter(service, { clock });
  const lifecycle = new Lifecycle(restarter, { clock });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop({ timeout: 500 });
  await fake.tickAsync(499);
  t.false(shutdown?.aborted);
  t.is(restarter.lifecycle.state, 'stopping');
  await fake.tickAsync(1);
  t.true(shutdown?.aborted);
  assertAbortError(t, shutdown?.reason, 'TimeoutError');
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(pending(), 0);
});

test('a stop requested in an onStarting hook of the restarter never runs the child and ends stopped', async (t) => {
  const { service, lifecycle, states, childStates } = makeRestarter();
  lifecycle.onStarting((_restarter, own) => {
    void own.stop();
  });
  t.is(await runToEnd(lifecycle), undefined);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.deepEqual(childStates, []);
  t.is(service.runs.length, 0);
});

// --- a child that never ran ---

test('a child that crashes before it ever runs is restarted, and the restarter stays starting until it runs', async (t) => {
  const fixture = makeRestarter({ running: 'manually' });
  const { service, lifecycle, states, childStates } = fixture;
  const done = runToEnd(lifecycle);
  await service.started();
  t.deepEqual(await failThenRestart(fixture), { attempt: 1, error: service.error, delay: 100 });
  t.is(lifecycle.state, 'starting');
  t.deepEqual(await failThenRestart(fixture), { attempt: 2, error: service.error, delay: 200 });
  t.is(lifecycle.state, 'starting');
  t.is(service.runs.length, 3);
  service.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual(states, ['starting', 'running']);
  t.deepEqual(childStates, [
    ...['starting', 'crashed'],
    ...['starting', 'crashed'],
    ...['starting', 'running'],
  ]);
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('a child that never runs makes the restarter give up while still starting', async (t) => {
  const fixture = makeRestarter({ running: 'manually' }, { maxRestarts: 1 });
  const { service, lifecycle, states } = fixture;
  const done = runToEnd(lifecycle);
  await service.started();
  await failThenRestart(fixture);
  service.crash();
  const error = await done;
  t.true(error instanceof RestartLimitError);
  t.is(error?.cause, service.error);
  t.deepEqual(states, ['starting', 'crashed']);
});

// --- running twice ---

test('running a restarter from two lifecycles at once rejects the second with AlreadyRunningError', async (t) => {
  const service = new ControlledService('svc');
  const restarter = new Restarter(service, { name: 'guard' });
  const first = new Lifecycle(restarter);
  const second = new Lifecycle(restarter);
  const firstDone = runToEnd(first);
  const error = await runToEnd(second);
  t.true(error instanceof AlreadyRunningError);
  t.is((error as AlreadyRunningError).code, 'ERR_OVERSEER_ALREADY_RUNNING');
  t.is((error as AlreadyRunningError).service, 'guard');
  t.is(second.state, 'crashed');
  t.is(first.state, 'running');
  t.is(service.runs.length, 1);
  t.is(await first.stop(), 'stopped');
  t.is(await firstDone, undefined);
});

test('a restarter whose child lifecycle is already running crashes with AlreadyRunningError and leaves that run alone', async (t) => {
  const { service, restarter, lifecycle, states } = makeRestarter();
  const byHand = runToEnd(restarter.lifecycle);
  const error = await runToEnd(lifecycle);
  t.true(error instanceof AlreadyRunningError);
  t.is((error as AlreadyRunningError).service, 'svc');
  t.is(states[0], 'starting');
  t.is(states.at(-1), 'crashed');
  t.is(restarter.lifecycle.state, 'running');
  t.false(restarter.lifecycle.shouldStop());
  t.is(service.runs.length, 1);
  t.is(await restarter.lifecycle.stop(), 'stopped');
  t.is(await byHand, undefined);
});

// --- in a pool ---

test("pool.add(s, { restart: 'always' }) wraps s in a Restarter that uses the pool's clock and logger", async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { logger, entries } = captureLogs();
  const pool = new Pool({ name: 'app', clock, logger });
  const service = new ControlledService('svc');
  const child = pool.add(service, { restart: 'always' });
  t.is(pool.lifecycles[0], child);
  t.true(child.service instanceof Restarter);
  const restarter = child.service;
  t.is(restarter.name, 'svc');
  t.is(restarter.service, service);
  t.is(restarter.lifecycle.service, service);

  const lifecycle = new Lifecycle(pool, { clock });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(child.state, 'running');
  t.is(restarter.lifecycle.state, 'running');
  const restarted = nextRestart(restarter);
  service.finish();
  const event = await restarted;
  t.is(event.attempt, 1);
  t.is(event.error, undefined);
  // The default jitter (0.2) draws from [80, 100].
  t.true(event.delay >= 80 && event.delay <= 100, `delay ${event.delay}`);
  t.is(pending(), 1);
  const warning = entries.find((entry) => entry.message === 'service failed, restarting');
  t.like(warning, {
    level: 'warn',
    service: 'svc',
    restarter: 'svc',
    attempt: 1,
    delay: event.delay,
  });

  await fake.tickAsync(event.delay - 1);
  t.is(service.runs.length, 1);
  await fake.tickAsync(1);
  t.is(service.runs.length, 2);
  t.is(lifecycle.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.is(pending(), 0);
});

test('pool.add(s, { restart: { … } }) applies the policy, and the pool crashes with the RestartLimitError when it gives up', async (t) => {
  const { clock, fake } = fakeClock();
  const pool = new Pool({ name: 'app', clock });
  const service = new ControlledService('svc');
  const child = pool.add(service, {
    restart: { maxRestarts: 1, initialDelay: 5, random: () => 0 },
  });
  const restarter = child.service;
  t.true(restarter instanceof Restarter);
  t.is(restarter.lifecycle.service, service);
  const lifecycle = new Lifecycle(pool, { clock });
  const states = recordStates(lifecycle);
  const done = runToEnd(lifecycle);
  await service.started();

  const restarted = nextRestart(restarter);
  service.crash();
  t.deepEqual(await restarted, { attempt: 1, error: service.error, delay: 5 });
  const started = service.started();
  await fake.tickAsync(5);
  await started;
  t.is(service.runs.length, 2);
  service.crash();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is((error as ServiceCrashedError).service, 'svc');
  const cause = error?.cause;
  t.true(cause instanceof RestartLimitError);
  t.is((cause as RestartLimitError).restarts, 1);
  t.is((cause as RestartLimitError).cause, service.error);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
});

test("pool.add(s, { restart: 'on-crash' }): a child that ends on its own ends its restarter, and the pool drains stopped", async (t) => {
  const pool = new Pool({ name: 'app' });
  const service = new ControlledService('svc');
  const child = pool.add(service, { restart: 'on-crash' });
  t.true(child.service instanceof Restarter);
  const other = pool.add(new ControlledService('other'));
  const lifecycle = new Lifecycle(pool);
  const states = recordStates(lifecycle);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  service.finish();
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(child.state, 'stopped');
  t.is(other.state, 'stopped');
  t.is(service.runs.length, 1);
});

test("a restart policy's own clock and logger win over the pool's", async (t) => {
  const poolClock = fakeClock();
  const own = fakeClock();
  const poolLogs = captureLogs();
  const ownLogs = captureLogs();
  const pool = new Pool({ clock: poolClock.clock, logger: poolLogs.logger });
  const service = new ControlledService('svc');
  const child = pool.add(service, {
    restart: { clock: own.clock, logger: ownLogs.logger, random: () => 0 },
  });
  const lifecycle = new Lifecycle(pool, { clock: poolClock.clock });
  const done = runToEnd(lifecycle);
  await service.started();
  const restarted = nextRestart(child.service);
  service.crash();
  await restarted;
  t.is(own.pending(), 1);
  t.is(poolClock.pending(), 0);
  t.deepEqual(
    ownLogs.entries.map((entry) => entry.message),
    ['service failed, restarting'],
  );
  t.false(poolLogs.entries.some((entry) => entry.message === 'service failed, restarting'));
  await own.fake.tickAsync(100);
  t.is(service.runs.length, 2);
  await lifecycle.stop();
  t.is(await done, undefined);
});

test("a restart policy's options left undefined keep the pool's clock and logger", async (t) => {
  const { clock, pending } = fakeClock();
  const { logger, entries } = captureLogs();
  const pool = new Pool({ clock, logger });
  const service = new ControlledService('svc');
  const child = pool.add(service, {
    restart: { clock: undefined, logger: undefined, random: () => 0 },
  });
  const lifecycle = new Lifecycle(pool, { clock });
  const done = runToEnd(lifecycle);
  await service.started();
  const restarted = nextRestart(child.service);
  service.crash();
  await restarted;
  t.is(pending(), 1);
  t.true(entries.some((entry) => entry.message === 'service failed, restarting'));
  await lifecycle.stop();
  t.is(await done, undefined);
  t.is(pending(), 0);
});

test('pool.add with a malformed restart policy throws a TypeError naming options.restart and adds nothing', (t) => {
  const pool = new Pool();
  const service = new ControlledService('svc');
  const bad: [unknown, string | RegExp][] = [
    [
      'sometimes',
      "Expected `options.restart` to be 'on-crash', 'always' or an object, got `\"sometimes\"` (string)",
    ],
    [null, 'Expected `options.restart` to be an object, got `null`'],
    [42, 'Expected `options.restart` to be an object, got `42` (number)'],
    [
      { initialDelay: 5, maxDelay: 1 },
      'Expected `options.restart.maxDelay` to be a number of milliseconds from initialDelay (5) to 2147483647, got `1` (number)',
    ],
    [{ window: 0 }, /^Expected `options\.restart\.window` to be /],
    [{ restart: 'never' }, /^Expected `options\.restart\.restart` to be 'on-crash' or 'always'/],
    [{ random: 1 }, 'Expected `options.restart.random` to be a function, got `1` (number)'],
    [{ name: '' }, /^Expected `options\.restart\.name` to be a non-empty string/],
  ];
  for (const [restart, message] of bad) {
    t.throws(() => pool.add(service, { restart: restart as 'always' }), {
      instanceOf: TypeError,
      message,
    });
  }
  t.is(pool.lifecycles.length, 0);
});

test('a Restarter inside a pool keeps the pool running across restarts, and the pool crashes when it gives up', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { logger, entries } = captureLogs();
  const pool = new Pool({ name: 'app', clock, logger });
  const service = new ControlledService('svc');
  const restarter = new Restarter(service, { clock, random: () => 0, maxRestarts: 2 });
  const child = pool.add(restarter);
  const other = pool.add(new ControlledService('other'));
  const lifecycle = new Lifecycle(pool, { clock });
  const states = recordStates(lifecycle);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();

  for (const delay of [100, 200]) {
    const restarted = nextRestart(restarter);
    service.crash();
    t.is((await restarted).delay, delay);
    t.is(lifecycle.state, 'running');
    t.is(child.state, 'running');
    const started = service.started();
    await fake.tickAsync(delay);
    await started;
  }
  t.is(service.runs.length, 3);
  t.deepEqual(states, ['starting', 'running']);

  service.crash();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  const crashed = error as ServiceCrashedError;
  t.is(crashed.service, 'svc');
  t.true(crashed.cause instanceof RestartLimitError);
  const limit = crashed.cause as RestartLimitError;
  t.is(limit.restarts, 2);
  t.is(limit.cause, service.error);
  t.is(
    crashed.message,
    'Service "svc" crashed: Service "svc" failed again after 2 restarts within 60000 ms; giving up (last error: svc failed)',
  );
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
  t.is(child.state, 'crashed');
  t.is(other.state, 'stopped');
  t.deepEqual(
    entries.filter((entry) => entry.service === 'svc').map((entry) => entry.message),
    ['service starting', 'service running', 'service crashed'],
  );
  t.is(entries.find((entry) => entry.message === 'service crashed')?.error, error?.cause);
  t.is(pending(), 0);
});

// --- in the tree: the restarter stands for its service ---

/** A pool running `db` in a restarter, and its root lifecycle, running. */
async function restartedInPool(db: Service) {
  const { clock } = fakeClock();
  const pool = new Pool({ name: 'app', clock });
  pool.add(db, { restart: 'on-crash' });
  const root = new Lifecycle(pool, { clock });
  const done = root.run();
  await root.whenRunning();
  return { root, clock, done };
}

test("health() runs the restarted service's healthCheck on the restarter's node, the service's only node", async (t) => {
  const db = new CheckedService('db');
  const { root, clock, done } = await restartedInPool(db);

  const report = await health(root, { clock });
  t.true(report.ready);
  t.is(report.tree.children.length, 1, 'one node for the restarter and its service');
  const node = report.tree.children[0];
  t.is(node?.name, 'db');
  t.is(node?.state, 'running');
  t.true(node?.ready);
  t.deepEqual(node?.check, { ok: true, durationMs: 0 });
  t.deepEqual(node?.children, []);
  t.is(db.calls.health, 1);

  t.is(await root.stop(), 'stopped');
  await done;
});

test("a failing healthCheck of a restarted service makes the restarter's node not ready", async (t) => {
  const db = new CheckedService('db');
  db.failure = new Error('db unreachable');
  const { root, clock, done } = await restartedInPool(db);

  const report = await health(root, { clock });
  t.false(report.ready);
  t.false(report.tree.children[0]?.ready);
  t.deepEqual(report.tree.children[0]?.check, { ok: false, error: db.failure, durationMs: 0 });
  t.is(db.calls.health, 1);

  t.is(await root.stop(), 'stopped');
  await done;
});

test('a restarter has no healthCheck or livenessCheck while it runs a service that has none', async (t) => {
  const fixture = makeRestarter();
  t.is(fixture.restarter.healthCheck, undefined);
  t.is(fixture.restarter.livenessCheck, undefined);
  const done = fixture.lifecycle.run();
  await fixture.lifecycle.whenRunning();
  t.is(fixture.restarter.healthCheck, undefined);
  t.is(fixture.restarter.livenessCheck, undefined);

  const report = await health(fixture.lifecycle, { clock: fixture.clock });
  t.true(report.ready);
  t.false('check' in report.tree);

  await fixture.lifecycle.stop();
  await done;
});

test("the restarter forwards its service's livenessCheck while the service runs", async (t) => {
  const service = new CheckedService('db');
  const restarter = new Restarter(service);
  const lifecycle = new Lifecycle(restarter);
  const done = lifecycle.run();
  await lifecycle.whenRunning();

  t.is(await restarter.livenessCheck?.(), undefined);
  t.is(service.calls.liveness, 1);
  service.failure = new Error('stuck');
  t.throws(() => restarter.livenessCheck?.(), { is: service.failure });
  t.is(service.calls.liveness, 2);

  await lifecycle.stop();
  await done;
});

test('while a restart is pending the restarter is not ready: its healthCheck fails naming the service, with the crash as cause', async (t) => {
  const fixture = makeRestarter({}, { initialDelay: 1_000 });
  const { restarter, service, lifecycle, clock, fake } = fixture;
  const done = lifecycle.run();
  await lifecycle.whenRunning();

  const restarted = nextRestart(restarter);
  service.crash();
  await restarted;
  t.is(lifecycle.state, 'running');
  t.is(restarter.livenessCheck, undefined, 'a restart in progress is not stuck');
  const report = await health(lifecycle, { clock });
  t.false(report.ready);
  const check = report.tree.check;
  t.false(check?.ok);
  t.is(check?.error?.message, 'Service "svc" is restarting');
  t.is(check?.error?.cause, service.error);

  const started = service.started();
  await fake.tickAsync(1_000);
  await started;
  t.is(restarter.healthCheck, undefined, 'running again: back to the service, which has none');
  t.true((await health(lifecycle, { clock })).ready);

  await lifecycle.stop();
  await done;
});

test("a pending restart fails the check without calling the service's own", async (t) => {
  const service = new CheckedService('db');
  const { clock, fake } = fakeClock();
  const restarter = new Restarter(service, { clock, restart: 'always', initialDelay: 50 });
  const lifecycle = new Lifecycle(restarter, { clock });
  const done = lifecycle.run();
  await lifecycle.whenRunning();

  const restarted = nextRestart(restarter);
  service.finish(); // ends on its own: restarted too, with no error
  await restarted;
  const error = await t.throwsAsync(async () => restarter.healthCheck?.(), {
    message: 'Service "db" is restarting',
  });
  t.is(error.cause, undefined);
  t.is(service.calls.health, 0);

  await fake.tickAsync(50);
  await lifecycle.stop();
  await done;
});

test("a stopped restarter's healthCheck is its service's", async (t) => {
  const service = new CheckedService('db');
  const restarter = new Restarter(service);
  await restarter.healthCheck?.();
  t.is(service.calls.health, 1);
});

test('the services still active list a restarted service once', async (t) => {
  const workers = new Pool({ name: 'workers' });
  workers.add(new ControlledService('jobs', { whenAsked: 'ignore' }), { restart: 'on-crash' });
  const root = new Lifecycle(workers);
  const done = root.run();
  await root.whenRunning();
  t.deepEqual(activeServices(root), ['workers', 'workers/jobs']);
  const stopped = root.stop();
  t.deepEqual(activeServices(root), ['workers', 'workers/jobs']);
  const jobs = (workers.lifecycles[0]?.service as Restarter<ControlledService>).service;
  jobs.finish();
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(activeServices(root), []);
});

// --- a group-wide restart policy ---

test('new Pool({ restart }) restarts every child added without its own restart option', async (t) => {
  const { clock, fake } = fakeClock();
  const pool = new Pool({ clock, restart: { initialDelay: 50, jitter: 0 } });
  const worker = new ControlledService('worker');
  const child = pool.add(worker);
  t.true(child.service instanceof Restarter);
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  worker.crash();
  const again = worker.started();
  await fake.tickAsync(50);
  await again;
  t.is(worker.runs.length, 2);
  t.is(lifecycle.state, 'running');
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('add() with restart: false opts one child out of the pool restart policy: its crash drains the pool', async (t) => {
  const pool = new Pool({ restart: 'on-crash' });
  const fragile = new ControlledService('fragile');
  const child = pool.add(fragile, { restart: false });
  t.is(child.service, fragile);
  pool.add(new ControlledService('other'));
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  fragile.crash();
  t.is(((await done) as Error & { service?: string }).service, 'fragile');
});

test('add() with its own restart option wins over the group policy', (t) => {
  const sequence = new Sequence({ restart: 'always' });
  const child = sequence.add(new ControlledService('a'), { restart: { maxRestarts: 1 } });
  t.true(child.service instanceof Restarter);
});

test('new Sequence({ restart }) restarts a crashed child while the sequence keeps running', async (t) => {
  const { clock, fake } = fakeClock();
  const sequence = new Sequence({ clock, restart: { initialDelay: 10, jitter: 0 } });
  const first = new ControlledService('first');
  sequence.add(first);
  sequence.add(new ControlledService('second'));
  const lifecycle = new Lifecycle(sequence);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  first.crash();
  const again = first.started();
  await fake.tickAsync(10);
  await again;
  t.is(lifecycle.state, 'running');
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('the Pool and Sequence constructors throw a TypeError naming options.restart for a bad policy', (t) => {
  t.throws(() => new Pool({ restart: 'sometimes' as never }), {
    instanceOf: TypeError,
    message: /^Expected `options\.restart` to be 'on-crash', 'always' or an object/,
  });
  t.throws(() => new Sequence({ restart: { maxRestarts: -1 } }), {
    instanceOf: TypeError,
    message: /^Expected `options\.restart\.maxRestarts`/,
  });
});
