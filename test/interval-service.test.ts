import { getEventListeners } from 'node:events';
import test from 'ava';
import {
  AlreadyRunningError,
  Lifecycle,
  NonErrorThrownError,
  Pool,
  ServiceCrashedError,
} from '../lib/index.js';
// Imported from its module: the lead adds it to lib/index.ts.
import {
  IntervalService,
  type IntervalServiceOptions,
  type IntervalTask,
} from '../lib/interval-service.js';
import { fakeClock } from './helpers/clock.js';
import { nextImmediate, stillPending } from './helpers/lifecycle.js';
import { brokenLogger, captureLogs, spyOnWarnings } from './helpers/logs.js';
import { withoutFaults } from './helpers/property-run.js';
import { runToEnd } from './helpers/pool.js';
import { recordStates } from './helpers/record.js';

/** A promise a test settles by hand. */
interface Gate {
  promise: Promise<void>;
  open(): void;
  fail(error: unknown): void;
}

function gate(): Gate {
  let open!: () => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

/** An interval service on a fake clock, its lifecycle (same clock) and the states it goes through. */
function makeInterval(
  task: IntervalTask,
  options: Partial<IntervalServiceOptions> = {},
  time = fakeClock(),
) {
  const { clock, fake, pending } = time;
  const service = new IntervalService('ticker', task, { interval: 100, clock, ...options });
  const lifecycle = new Lifecycle(service, { clock });
  const states = recordStates(lifecycle);
  return { service, lifecycle, states, fake, pending, clock };
}

/** A task that records the fake time of each call (the clock is read through `now`). */
function recorder(now: () => number): { calls: number[]; task: IntervalTask } {
  const calls: number[] = [];
  return {
    calls,
    task: () => {
      calls.push(now());
    },
  };
}

/** A fixture whose task records its calls on the fixture's own clock. */
function recordingInterval(options: Partial<IntervalServiceOptions> = {}) {
  const time = fakeClock();
  const { calls, task } = recorder(() => time.clock.now());
  return { ...makeInterval(task, options, time), calls };
}

// --- starting and the rhythm of runs ---

test('the service reports running as soon as it starts and first runs the task interval ms later', async (t) => {
  const { lifecycle, states, fake, calls, service } = recordingInterval();
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  t.is(lifecycle.state, 'running');
  t.deepEqual(states, ['starting', 'running']);
  await fake.tickAsync(99);
  t.deepEqual(calls, []);
  t.is(service.runs, 0);
  await fake.tickAsync(1);
  t.deepEqual(calls, [100]);
  t.is(service.runs, 1);
  await lifecycle.stop();
  await done;
});

test('with runOnStart the task runs at once, then every interval', async (t) => {
  const { lifecycle, fake, calls } = recordingInterval({ runOnStart: true });
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  t.deepEqual(calls, [0]);
  await fake.tickAsync(99);
  t.deepEqual(calls, [0]);
  await fake.tickAsync(201);
  t.deepEqual(calls, [0, 100, 200, 300]);
  await lifecycle.stop();
  await done;
});

test('a quick task runs every interval ms', async (t) => {
  const { lifecycle, fake, calls, service } = recordingInterval({ interval: 250 });
  const done = lifecycle.run();
  await fake.tickAsync(1_000);
  t.deepEqual(calls, [250, 500, 750, 1_000]);
  t.is(service.runs, 4);
  t.is(service.interval, 250);
  await lifecycle.stop();
  await done;
});

test('runs never overlap: the next run starts interval ms after a slow run has finished', async (t) => {
  const time = fakeClock();
  const { clock } = time;
  const starts: number[] = [];
  const ends: number[] = [];
  let active = 0;
  let mostActive = 0;
  const task: IntervalTask = async () => {
    const now = () => clock.now();
    starts.push(now());
    active += 1;
    mostActive = Math.max(mostActive, active);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 30));
    active -= 1;
    ends.push(now());
  };
  const fixture = makeInterval(task, { interval: 100 }, time);
  const done = fixture.lifecycle.run();
  await fixture.fake.tickAsync(400);
  t.deepEqual(starts, [100, 230, 360]);
  t.deepEqual(ends, [130, 260, 390]);
  t.is(mostActive, 1);
  await fixture.lifecycle.stop();
  await done;
});

test('a task that outlasts the interval is not started again until it has finished', async (t) => {
  const running = gate();
  let calls = 0;
  const { lifecycle, fake } = makeInterval(() => {
    calls += 1;
    return calls === 1 ? running.promise : undefined;
  });
  const done = lifecycle.run();
  await fake.tickAsync(1_000);
  t.is(calls, 1);
  running.open();
  await fake.tickAsync(99);
  t.is(calls, 1);
  await fake.tickAsync(1);
  t.is(calls, 2);
  await lifecycle.stop();
  await done;
});

test('what the task returns or resolves with is ignored', async (t) => {
  let calls = 0;
  const { lifecycle, fake, service } = makeInterval(async () => {
    calls += 1;
    return calls;
  });
  const done = lifecycle.run();
  await fake.tickAsync(200);
  t.is(service.runs, 2);
  t.is(lifecycle.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

// --- the task's signal ---

test("the task receives the lifecycle's signal, which aborts when a stop is requested", async (t) => {
  const running = gate();
  const received: AbortSignal[] = [];
  const { lifecycle, fake } = makeInterval((signal) => {
    received.push(signal);
    return running.promise;
  });
  const done = lifecycle.run();
  await fake.tickAsync(100);
  t.is(received.length, 1);
  t.is(received[0], lifecycle.signal);
  t.false(received[0]!.aborted);
  const stopped = lifecycle.stop();
  t.true(received[0]!.aborted);
  t.is((received[0]!.reason as DOMException).name, 'AbortError');
  running.open();
  t.is(await stopped, 'stopped');
  await done;
});

// --- stopping ---

test('a stop during the wait ends the run at once and clears the timer', async (t) => {
  const { lifecycle, states, fake, pending, calls } = recordingInterval();
  const done = lifecycle.run();
  await fake.tickAsync(150);
  t.is(pending(), 1);
  const stopped = lifecycle.stop();
  t.is(pending(), 0);
  t.false(await stillPending(stopped));
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  await fake.tickAsync(1_000);
  t.deepEqual(calls, [100]);
});

test('a stop before the first run ends the run without calling the task', async (t) => {
  const { lifecycle, states, fake, pending, calls } = recordingInterval();
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop();
  t.is(pending(), 0);
  t.is(await stopped, 'stopped');
  await done;
  await fake.tickAsync(1_000);
  t.deepEqual(calls, []);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('a stop requested before the service starts ends it without running, even with runOnStart', async (t) => {
  const { lifecycle, states, pending, calls } = recordingInterval({ runOnStart: true });
  lifecycle.onStarting((_service, own) => {
    void own.stop();
  });
  await lifecycle.run();
  t.deepEqual(calls, []);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.is(pending(), 0);
});

test('a stop during a run reports stopping at once, waits for the run, and no run follows', async (t) => {
  const running = gate();
  const { lifecycle, states, fake, pending, service } = makeInterval(() => running.promise);
  const done = lifecycle.run();
  await fake.tickAsync(100);
  t.is(service.runs, 1);
  const stopped = lifecycle.stop();
  t.is(lifecycle.state, 'stopping');
  t.true(await stillPending(stopped));
  running.open();
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(pending(), 0);
  await fake.tickAsync(1_000);
  t.is(service.runs, 1);
});

test('no abort listener is left on the signals after runs and a stop during a run', async (t) => {
  const running = gate();
  let calls = 0;
  const { lifecycle, fake } = makeInterval(() => {
    calls += 1;
    return calls === 3 ? running.promise : Promise.resolve();
  });
  const done = lifecycle.run();
  await fake.tickAsync(250);
  t.is(calls, 2);
  // Only the wait's own listener, not one per run so far.
  t.is(getEventListeners(lifecycle.signal, 'abort').length, 1);
  await fake.tickAsync(50);
  t.is(calls, 3);
  t.is(getEventListeners(lifecycle.signal, 'abort').length, 1);
  const stopped = lifecycle.stop({ timeout: 1_000 });
  t.is(getEventListeners(lifecycle.shutdownSignal, 'abort').length, 1);
  running.open();
  t.is(await stopped, 'stopped');
  await done;
  t.is(getEventListeners(lifecycle.signal, 'abort').length, 0);
  t.is(getEventListeners(lifecycle.shutdownSignal, 'abort').length, 0);
});

test.serial(
  'at the shutdown deadline the service abandons a running task, and its later rejection is not unhandled',
  async (t) => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const running = gate();
      const { lifecycle, states, fake, pending, service } = makeInterval(() => running.promise);
      const done = runToEnd(lifecycle);
      await fake.tickAsync(100);
      const stopped = lifecycle.stop({ timeout: 50 });
      await fake.tickAsync(49);
      t.true(await stillPending(stopped));
      await fake.tickAsync(1);
      t.is(await stopped, 'stopped');
      t.is(await done, undefined);
      t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
      t.is(pending(), 0);
      running.fail(new Error('late failure'));
      await nextImmediate();
      await nextImmediate();
      t.deepEqual(unhandled, []);
      t.is(lifecycle.state, 'stopped');
      t.is(service.runs, 1);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  },
);

test('a stop with a deadline already passed ends a running task at once', async (t) => {
  const running = gate();
  const { lifecycle, states, fake, pending } = makeInterval(() => running.promise);
  const done = lifecycle.run();
  await fake.tickAsync(100);
  const stopped = lifecycle.stop({ timeout: 0 });
  t.false(await stillPending(stopped));
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(pending(), 0);
  running.open();
});

// --- failures ---

test("a task that throws crashes the service with that error under onError: 'crash'", async (t) => {
  const failure = new Error('disk full');
  const { lifecycle, states, fake, pending } = makeInterval(() => {
    throw failure;
  });
  const done = runToEnd(lifecycle);
  await fake.tickAsync(100);
  t.is(await done, failure);
  t.is(lifecycle.state, 'crashed');
  t.is(lifecycle.error, failure);
  t.deepEqual(states, ['starting', 'running', 'crashed']);
  t.is(pending(), 0);
});

test('a task that rejects crashes the service with that error by default', async (t) => {
  const failure = new Error('upstream down');
  const { lifecycle, states, fake, pending, service } = makeInterval(async () => {
    await Promise.resolve();
    throw failure;
  });
  const done = runToEnd(lifecycle);
  await fake.tickAsync(100);
  t.is(await done, failure);
  t.deepEqual(states, ['starting', 'running', 'crashed']);
  t.is(pending(), 0);
  await fake.tickAsync(1_000);
  t.is(service.runs, 1);
});

test('a task that throws at once with runOnStart crashes the service', async (t) => {
  const failure = new Error('bad config');
  const { lifecycle, states } = makeInterval(
    () => {
      throw failure;
    },
    { runOnStart: true },
  );
  await t.throwsAsync(lifecycle.run(), { is: failure });
  t.deepEqual(states, ['starting', 'running', 'crashed']);
});

test('a task that throws a value that is not an Error crashes the service with NonErrorThrownError', async (t) => {
  const { lifecycle, fake } = makeInterval(() => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the case under test
    throw 'boom';
  });
  const done = runToEnd(lifecycle);
  await fake.tickAsync(100);
  const error = await done;
  t.true(error instanceof NonErrorThrownError);
  t.is((error as NonErrorThrownError).code, 'ERR_OVERSEER_NON_ERROR_THROWN');
  t.is(error?.cause, 'boom');
  t.is(error?.message, 'Service "ticker" failed with a value that is not an Error: boom');
});

test("under onError: 'log' a failing task is logged and the next run happens", async (t) => {
  const failure = new Error('flaky');
  const { logger, entries } = captureLogs();
  let calls = 0;
  const { lifecycle, fake } = makeInterval(
    () => {
      calls += 1;
      if (calls === 1) throw failure;
      return Promise.reject(failure);
    },
    { onError: 'log', logger },
  );
  const done = lifecycle.run();
  await fake.tickAsync(100);
  t.is(entries.length, 1);
  t.like(entries[0], { level: 'error', message: 'interval task failed', service: 'ticker' });
  t.is(entries[0]?.error, failure);
  t.is(lifecycle.state, 'running');
  await fake.tickAsync(100);
  t.is(calls, 2);
  t.is(entries.length, 2);
  t.is(entries[1]?.error, failure);
  await fake.tickAsync(100);
  t.is(calls, 3);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

test("under onError: 'log' a value that is not an Error is logged as a NonErrorThrownError", async (t) => {
  const { logger, entries } = captureLogs();
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the case under test
  const { lifecycle, fake } = makeInterval(() => Promise.reject(new Map()), {
    onError: 'log',
    logger,
  });
  const done = lifecycle.run();
  await fake.tickAsync(100);
  const error = entries[0]?.error;
  t.true(error instanceof NonErrorThrownError);
  t.true((error as Error).cause instanceof Map);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

for (const how of ['throw', 'reject'] as const) {
  const broken = how === 'throw' ? 'throws' : 'returns a rejected promise';
  test.serial(
    `under onError: 'log' with a logger whose every call ${broken}, the loop goes on and nothing is left unhandled`,
    async (t) => {
      const warnings = spyOnWarnings(t);
      const { logger, calls: logged } = brokenLogger(how);
      let calls = 0;
      await withoutFaults(t, async () => {
        const { lifecycle, fake } = makeInterval(
          () => {
            calls += 1;
            throw new Error('flaky');
          },
          { onError: 'log', logger },
        );
        const done = lifecycle.run();
        await fake.tickAsync(300);
        t.is(calls, 3);
        t.is(lifecycle.state, 'running');
        t.is(await lifecycle.stop(), 'stopped');
        await done;
        await nextImmediate();
      });
      t.deepEqual(
        logged,
        Array.from({ length: 3 }, () => 'error: interval task failed'),
      );
      t.deepEqual(
        warnings.map((warning) => warning.code),
        ['OVERSEER_LOGGER_FAILED'],
      );
    },
  );
}

test("a task that rejects after a stop request crashes the service under onError: 'crash'", async (t) => {
  const running = gate();
  const failure = new Error('aborted mid-write');
  const { lifecycle, states, fake, pending } = makeInterval(() => running.promise);
  const done = runToEnd(lifecycle);
  await fake.tickAsync(100);
  const stopped = lifecycle.stop();
  running.fail(failure);
  t.is(await stopped, 'crashed');
  t.is(await done, failure);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
  t.is(pending(), 0);
});

test("a task that rejects after a stop request is logged and the service stops under onError: 'log'", async (t) => {
  const running = gate();
  const failure = new Error('aborted mid-write');
  const { logger, entries } = captureLogs();
  const { lifecycle, states, fake } = makeInterval(() => running.promise, {
    onError: 'log',
    logger,
  });
  const done = lifecycle.run();
  await fake.tickAsync(100);
  const stopped = lifecycle.stop();
  running.fail(failure);
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(entries.length, 1);
  t.is(entries[0]?.error, failure);
});

// --- arguments ---

test('the constructor throws a TypeError naming each bad argument', (t) => {
  const task = () => undefined;
  const build = (name: unknown, fn: unknown, options: unknown) => () =>
    new IntervalService(name as string, fn as IntervalTask, options as IntervalServiceOptions);
  const cases: [unknown, unknown, unknown, string][] = [
    ['', task, { interval: 1 }, '`name`'],
    [42, task, { interval: 1 }, '`name`'],
    ['job', 'task', { interval: 1 }, '`task`'],
    ['job', task, undefined, '`options`'],
    ['job', task, null, '`options`'],
    ['job', task, {}, '`options.interval`'],
    ['job', task, { interval: 0 }, '`options.interval`'],
    ['job', task, { interval: -5 }, '`options.interval`'],
    ['job', task, { interval: Number.NaN }, '`options.interval`'],
    ['job', task, { interval: Infinity }, '`options.interval`'],
    ['job', task, { interval: 2_147_483_648 }, '`options.interval`'],
    ['job', task, { interval: '100' }, '`options.interval`'],
    ['job', task, { interval: 1, runOnStart: 'yes' }, '`options.runOnStart`'],
    ['job', task, { interval: 1, onError: 'ignore' }, '`options.onError`'],
    ['job', task, { interval: 1, logger: {} }, '`options.logger`'],
    ['job', task, { interval: 1, clock: { now: () => 0 } }, '`options.clock`'],
  ];
  for (const [name, fn, options, argument] of cases) {
    const error = t.throws(build(name, fn, options), { instanceOf: TypeError });
    t.true(error.message.startsWith(`Expected ${argument} to be `), error.message);
  }
});

test('the constructor rejects an unknown option with a TypeError naming it', (t) => {
  const options = { interval: 100, runOnstart: true } as IntervalServiceOptions;
  const error = t.throws(() => new IntervalService('job', () => undefined, options), {
    instanceOf: TypeError,
    message:
      'Unknown option `options.runOnstart`; the known options are `interval`, `runOnStart`, `onError`, `logger`, `clock`',
  });
  t.true(error.message.includes('runOnstart') && error.message.includes('`runOnStart`'));
});

test('the constructor takes a known option set to undefined as its default', async (t) => {
  const failure = new Error('broken');
  let calls = 0;
  const { lifecycle, fake } = makeInterval(
    () => {
      calls += 1;
      throw failure;
    },
    { runOnStart: undefined, onError: undefined, logger: undefined },
  );
  const done = runToEnd(lifecycle);
  // runOnStart false: the first run waits an interval; onError 'crash': its failure ends the run.
  await fake.tickAsync(99);
  t.is(calls, 0);
  await fake.tickAsync(1);
  t.is(calls, 1);
  t.is(await done, failure);
  t.is(lifecycle.state, 'crashed');
});

test('the TypeError for a bad interval says what was expected and what came', (t) => {
  t.throws(() => new IntervalService('job', () => undefined, { interval: -1 }), {
    instanceOf: TypeError,
    message:
      'Expected `options.interval` to be a number of milliseconds from 1 to 2147483647, got `-1` (number)',
  });
});

test('an interval of 1 ms and of 2,147,483,647 ms are accepted', (t) => {
  t.is(new IntervalService('job', () => undefined, { interval: 1 }).interval, 1);
  t.is(
    new IntervalService('job', () => undefined, { interval: 2_147_483_647 }).interval,
    2_147_483_647,
  );
});

// --- runs, concurrency and composition ---

test('the service can be run again after it stopped, with a new signal', async (t) => {
  const received: AbortSignal[] = [];
  const { lifecycle, states, fake, pending, service } = makeInterval((signal) => {
    received.push(signal);
  });
  const first = lifecycle.run();
  await fake.tickAsync(100);
  await lifecycle.stop();
  await first;
  const second = lifecycle.run();
  await lifecycle.whenRunning();
  t.is(lifecycle.state, 'running');
  await fake.tickAsync(200);
  t.is(service.runs, 3);
  t.is(received.length, 3);
  t.true(received[0]!.aborted);
  t.false(received[1]!.aborted);
  t.not(received[1], received[0]);
  t.is(await lifecycle.stop(), 'stopped');
  await second;
  t.deepEqual(states, [
    'starting',
    'running',
    'stopping',
    'stopped',
    'starting',
    'running',
    'stopping',
    'stopped',
  ]);
  t.is(pending(), 0);
});

test('a second lifecycle running the same service crashes with AlreadyRunningError', async (t) => {
  const { lifecycle, service, fake } = makeInterval(() => undefined);
  const done = lifecycle.run();
  const other = new Lifecycle(service);
  const error = await runToEnd(other);
  t.true(error instanceof AlreadyRunningError);
  t.is((error as AlreadyRunningError).code, 'ERR_OVERSEER_ALREADY_RUNNING');
  t.is(lifecycle.state, 'running');
  await fake.tickAsync(100);
  t.is(service.runs, 1);
  await lifecycle.stop();
  await done;
});

test('inside a Pool the service runs with the pool and stops with it', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { calls, task } = recorder(() => clock.now());
  const service = new IntervalService('cleanup', task, { interval: 100, clock });
  const pool = new Pool({ name: 'app' });
  const child = pool.add(service);
  const lifecycle = new Lifecycle(pool, { clock });
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  t.is(lifecycle.state, 'running');
  await fake.tickAsync(300);
  t.deepEqual(calls, [100, 200, 300]);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.is(child.state, 'stopped');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(pending(), 0);
});

test('inside a Pool a crashing task crashes the pool, naming the service', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const failure = new Error('disk full');
  const service = new IntervalService(
    'cleanup',
    () => {
      throw failure;
    },
    { interval: 100, clock },
  );
  const pool = new Pool({ name: 'app' });
  pool.add(service);
  const lifecycle = new Lifecycle(pool, { clock });
  const done = runToEnd(lifecycle);
  await fake.tickAsync(100);
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is(error?.cause, failure);
  t.regex(error?.message ?? '', /"cleanup"/);
  t.is(pending(), 0);
});
