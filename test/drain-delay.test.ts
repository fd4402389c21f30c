import test from 'ava';
import {
  Lifecycle,
  Pool,
  Sequence,
  ServiceCrashedError,
  type Logger,
  type State,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { captureLogs } from './helpers/logs.js';
import { flush, runToEnd } from './helpers/pool.js';
import { reach, recordStates } from './helpers/record.js';
import { journalOf, JournaledService } from './helpers/sequence.js';
import { ControlledService, type Behaviour } from './helpers/service.js';
import { assertAbortError, fields } from './helpers/assertions.js';

/**
 * A pool named `app` with `drainDelay` and two {@link ControlledService}s `a` and `b`, its
 * lifecycle, and the fake clock both use. Nothing runs yet.
 */
function delayedPool(drainDelay: number | undefined, behaviour: Behaviour = {}, logger?: Logger) {
  const { clock, fake, pending } = fakeClock();
  const pool = new Pool({ name: 'app', clock, drainDelay, logger });
  const a = new ControlledService('a', behaviour);
  const b = new ControlledService('b', behaviour);
  const children = { a: pool.add(a), b: pool.add(b) };
  const lifecycle = new Lifecycle(pool, { clock });
  const states = recordStates(lifecycle);
  return { pool, lifecycle, states, a, b, children, fake, pending };
}

/** Whether any of `lifecycles` has been asked to stop or has reached its deadline. */
function anyAsked(...lifecycles: Lifecycle[]): boolean {
  return lifecycles.some((child) => child.signal.aborted || child.shutdownSignal.aborted);
}

// --- the delay ---

test('with drainDelay 500, the pool reports stopping as soon as it hears of stop() and stops the children 500 ms later', async (t) => {
  const { lifecycle, states, children, fake, pending } = delayedPool(500);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  await fake.tickAsync(1_000);

  const stopped = lifecycle.stop();
  await flush();
  t.is(lifecycle.state, 'stopping');
  t.is(lifecycle.since, 1_000);
  t.is(children.a.state, 'running');
  t.is(children.b.state, 'running');
  t.false(anyAsked(children.a, children.b));
  t.is(pending(), 1, 'the drain delay timer');

  await fake.tickAsync(499);
  t.is(lifecycle.state, 'stopping');
  t.is(children.a.state, 'running');
  t.is(children.b.state, 'running');
  t.false(anyAsked(children.a, children.b));

  await fake.tickAsync(1);
  t.true(children.a.signal.aborted);
  t.true(children.b.signal.aborted);
  t.false(children.a.shutdownSignal.aborted, 'no deadline was set');

  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(children.a.state, 'stopped');
  t.is(children.b.state, 'stopped');
  t.is(children.a.since, 1_500);
  t.is(lifecycle.since, 1_500);
  t.is(pending(), 0);
});

test('during the drain delay the snapshot shows the pool stopping and its children running', async (t) => {
  const { lifecycle, fake } = delayedPool(500);
  const done = lifecycle.run();
  await fake.tickAsync(100);
  const stopped = lifecycle.stop();
  await fake.tickAsync(200);
  t.deepEqual(lifecycle.snapshot(), {
    name: 'app',
    state: 'stopping',
    since: 100,
    startupMs: 0,
    children: [
      { name: 'a', state: 'running', since: 0, startupMs: 0, children: [] },
      { name: 'b', state: 'running', since: 0, startupMs: 0, children: [] },
    ],
  });
  await fake.tickAsync(300);
  t.is(await stopped, 'stopped');
  await done;
});

test("after the drain delay the children's signal.reason is the pool's stop reason", async (t) => {
  const { lifecycle, children, fake } = delayedPool(500);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop();
  await fake.tickAsync(500);
  t.is(children.a.signal.reason, lifecycle.signal.reason);
  t.is(children.b.signal.reason, lifecycle.signal.reason);
  assertAbortError(t, children.a.signal.reason, 'AbortError');
  t.is(await stopped, 'stopped');
  await done;
});

test('a pool with a drain delay passes the reason its parent stopped it with on to its children', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const inner = new Pool({ name: 'inner', clock, drainDelay: 500 });
  const x = inner.add(new ControlledService('x'));
  const quitter = new ControlledService('quitter');
  const root = new Pool({ name: 'root', clock });
  const innerLifecycle = root.add(inner);
  root.add(quitter);
  const lifecycle = new Lifecycle(root, { clock });
  const done = lifecycle.run();
  await lifecycle.whenRunning();

  const innerStopping = reach(innerLifecycle, 'stopping');
  quitter.finish(); // root drains: it stops inner, which waits 500 ms
  await innerStopping;
  t.is(lifecycle.state, 'stopping');
  t.is(x.state, 'running');
  t.false(x.signal.aborted);

  await fake.tickAsync(500);
  t.true(x.signal.aborted);
  t.is(x.signal.reason, innerLifecycle.signal.reason);
  assertAbortError(
    t,
    x.signal.reason,
    'AbortError',
    'pool "root" is stopping because "quitter" stopped on its own',
  );
  await done;
  t.is(lifecycle.state, 'stopped');
  t.is(innerLifecycle.state, 'stopped');
  t.is(pending(), 0);
});

// --- deadlines ---

test('a shutdown deadline shorter than the drain delay stops the children at the deadline and reaches their shutdownSignal', async (t) => {
  const { logger, entries } = captureLogs();
  const { lifecycle, states, children, fake, pending } = delayedPool(
    500,
    { whenAsked: 'await-deadline' },
    logger,
  );
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop({ timeout: 100 });
  await flush();
  t.is(lifecycle.state, 'stopping');
  t.is(pending(), 2, 'the drain delay and the deadline');

  await fake.tickAsync(99);
  t.false(anyAsked(children.a, children.b));

  await fake.tickAsync(1);
  for (const child of [children.a, children.b]) {
    t.true(child.signal.aborted);
    t.is(child.signal.reason, lifecycle.signal.reason);
    t.true(child.shutdownSignal.aborted);
    assertAbortError(t, child.shutdownSignal.reason, 'TimeoutError');
  }
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(children.a.state, 'stopped');
  t.is(children.b.state, 'stopped');
  t.is(fake.now, 100);
  t.is(pending(), 0, 'the drain delay timer is cleared');

  const warnings = entries.filter((entry) => entry.level === 'warn');
  t.is(warnings.length, 1);
  t.deepEqual(fields(warnings[0]), {
    level: 'warn',
    message:
      'shutdown deadline passed with 2 services still stopping: "a" (running, asked to stop 0 ms ago), "b" (running, asked to stop 0 ms ago)',
    pool: 'app',
    services: [
      { service: 'a', state: 'running', stoppingMs: 0 },
      { service: 'b', state: 'running', stoppingMs: 0 },
    ],
  });
});

test('stop({ timeout: 0 }) skips the drain delay: the children are stopped as soon as the pool hears of it, with no timer left', async (t) => {
  const { lifecycle, children, fake, pending } = delayedPool(500, { whenAsked: 'await-deadline' });
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop({ timeout: 0 });
  // The pool hears of the stop and of the deadline in microtasks, not on the stack of stop().
  t.false(anyAsked(children.a, children.b));
  await flush();
  t.is(fake.now, 0);
  t.true(children.a.signal.aborted);
  t.true(children.b.signal.aborted);
  t.true(children.a.shutdownSignal.aborted);
  t.true(children.b.shutdownSignal.aborted);
  t.is(pending(), 0);
  t.is(await stopped, 'stopped');
  await done;
});

test("a parent's shutdown deadline cuts a child pool's drain delay short", async (t) => {
  const { clock, fake, pending } = fakeClock();
  const inner = new Pool({ name: 'inner', clock, drainDelay: 10_000 });
  const x = inner.add(new ControlledService('x', { whenAsked: 'await-deadline' }));
  const root = new Pool({ name: 'root', clock });
  const innerLifecycle = root.add(inner);
  const lifecycle = new Lifecycle(root, { clock });
  const done = lifecycle.run();
  await lifecycle.whenRunning();

  const stopped = lifecycle.stop({ timeout: 300 });
  await flush();
  t.is(innerLifecycle.state, 'stopping');
  await fake.tickAsync(299);
  t.false(anyAsked(x));

  await fake.tickAsync(1);
  t.true(x.signal.aborted);
  t.true(x.shutdownSignal.aborted);
  assertAbortError(t, x.shutdownSignal.reason, 'TimeoutError');
  t.is(await stopped, 'stopped');
  await done;
  t.is(x.state, 'stopped');
  t.is(pending(), 0);
});

test('drainDelay Infinity keeps the children running until the shutdown deadline', async (t) => {
  const { lifecycle, states, children, fake, pending } = delayedPool(Infinity);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const first = lifecycle.stop();
  await flush();
  t.is(lifecycle.state, 'stopping');
  t.is(pending(), 0, 'no timer for an infinite delay');

  await fake.tickAsync(3_600_000);
  t.is(children.a.state, 'running');
  t.is(children.b.state, 'running');
  t.false(anyAsked(children.a, children.b));

  const second = lifecycle.stop({ timeout: 2_000 });
  t.is(second, first);
  await fake.tickAsync(1_999);
  t.false(anyAsked(children.a, children.b));

  await fake.tickAsync(1);
  t.true(children.a.signal.aborted);
  t.true(children.b.signal.aborted);
  t.is(await first, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(pending(), 0);
});

test("drainDelay Infinity ends when the stop's signal aborts", async (t) => {
  const { lifecycle, children, pending } = delayedPool(Infinity);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const controller = new AbortController();
  const stopped = lifecycle.stop({ signal: controller.signal });
  await flush();
  t.is(lifecycle.state, 'stopping');
  t.false(anyAsked(children.a, children.b));
  const reason = new Error('give up');
  controller.abort(reason);
  await flush();
  t.true(children.a.signal.aborted);
  t.true(children.b.signal.aborted);
  t.is(children.a.shutdownSignal.reason, reason);
  t.is(await stopped, 'stopped');
  await done;
  t.is(pending(), 0);
});

// --- children ending during the delay ---

test('a child that crashes during the drain delay makes the pool drain at once and crash', async (t) => {
  const { lifecycle, states, a, b, children, fake, pending } = delayedPool(500);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop();
  await fake.tickAsync(200);

  b.crash();
  t.is(await stopped, 'crashed');
  t.is(fake.now, 200, 'no time passed: the pool did not wait for the rest of the delay');
  t.is(pending(), 0, 'the drain delay timer is cleared');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
  t.is(children.a.state, 'stopped');
  t.is(children.a.since, 200);
  assertAbortError(
    t,
    children.a.signal.reason,
    'AbortError',
    'pool "app" is stopping because "b" crashed',
  );

  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is(error?.message, 'Service "b" crashed: b failed');
  t.is(error?.cause, b.error);
  t.is(lifecycle.error, error);
  t.is(a.runs.length, 1);
});

test('a child that stops on its own during the drain delay makes the pool drain at once and stop', async (t) => {
  const { lifecycle, states, b, children, fake, pending } = delayedPool(500);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop();
  await fake.tickAsync(200);

  b.finish();
  t.is(await stopped, 'stopped');
  await done;
  t.is(fake.now, 200);
  t.is(pending(), 0);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(children.a.state, 'stopped');
  assertAbortError(
    t,
    children.a.signal.reason,
    'AbortError',
    'pool "app" is stopping because "b" stopped on its own',
  );
});

test('a second stop() without a deadline during the drain delay changes nothing', async (t) => {
  const { lifecycle, states, children, fake, pending } = delayedPool(500);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const first = lifecycle.stop();
  await fake.tickAsync(300);

  const second = lifecycle.stop();
  t.is(second, first);
  t.is(lifecycle.state, 'stopping');
  t.is(pending(), 1);
  t.false(anyAsked(children.a, children.b));

  await fake.tickAsync(199);
  t.false(anyAsked(children.a, children.b));
  await fake.tickAsync(1); // 500 ms after the first stop(), not after the second
  t.true(children.a.signal.aborted);
  t.true(children.b.signal.aborted);
  t.is(await first, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(pending(), 0);
});

test('a pool asked to stop before it starts its children skips the drain delay and ends stopped', async (t) => {
  const { lifecycle, states, a, b, pending } = delayedPool(500);
  lifecycle.onStarting((_service, own) => {
    void own.stop();
  });
  await lifecycle.run();
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.is(a.runs.length, 0);
  t.is(b.runs.length, 0);
  t.is(pending(), 0);
});

// --- drainDelay 0 and validation ---

test('drainDelay 0, the default, stops the children as soon as the pool hears of stop(), without a timer', async (t) => {
  for (const drainDelay of [0, undefined]) {
    const { lifecycle, states, children, pending } = delayedPool(drainDelay);
    const done = lifecycle.run();
    await lifecycle.whenRunning();
    const stopped = lifecycle.stop();
    // The pool hears of the stop in a microtask, not on the stack of stop().
    t.false(anyAsked(children.a, children.b));
    await flush();
    // The fake clock never moved, so no timer fired: the children were asked at once.
    t.true(children.a.signal.aborted);
    t.true(children.b.signal.aborted);
    t.is(children.a.signal.reason, lifecycle.signal.reason);
    t.is(pending(), 0);
    t.is(await stopped, 'stopped');
    await done;
    t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  }
});

test('the Pool and Sequence constructors throw a TypeError naming options.drainDelay for a bad value', (t) => {
  const bad: [unknown, string][] = [
    [-1, '`-1` (number)'],
    ['x', '`"x"` (string)'],
    [NaN, '`NaN` (number)'],
    [2_147_483_648, '`2147483648` (number)'],
    [null, '`null`'],
  ];
  for (const [drainDelay, got] of bad) {
    const message = `Expected \`options.drainDelay\` to be a number of milliseconds from 0 to 2147483647, or Infinity, got ${got}`;
    const options = { drainDelay } as unknown as { drainDelay: number };
    t.throws(() => new Pool(options), { instanceOf: TypeError, message });
    t.throws(() => new Sequence(options), { instanceOf: TypeError, message });
  }
  t.notThrows(() => new Pool({ drainDelay: 2_147_483_647 }));
  t.notThrows(() => new Sequence({ drainDelay: Infinity }));
});

// --- sequences ---

/** A sequence `seq` with `drainDelay` and journaled children a, b, c; its lifecycle. */
function delayedSequence(
  drainDelay: number,
  behaviours: Partial<Record<'a' | 'b' | 'c', Behaviour>> = {},
) {
  const { clock, fake, pending } = fakeClock();
  const sequence = new Sequence({ name: 'seq', clock, drainDelay });
  const journal: string[] = [];
  const services = {} as Record<'a' | 'b' | 'c', JournaledService>;
  const children = {} as Record<'a' | 'b' | 'c', Lifecycle>;
  for (const name of ['a', 'b', 'c'] as const) {
    services[name] = new JournaledService(name, behaviours[name] ?? {}, journal);
    children[name] = sequence.add(services[name]);
    journalOf(children[name], journal);
  }
  const lifecycle = new Lifecycle(sequence, { clock });
  const states: State[] = recordStates(lifecycle);
  return { sequence, lifecycle, states, services, children, journal, fake, pending };
}

test('a sequence with a drain delay stops its children in reverse order once the delay has passed', async (t) => {
  const { lifecycle, states, journal, fake, pending } = delayedSequence(500);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const started = [...journal];
  t.deepEqual(started, ['a run', 'a running', 'b run', 'b running', 'c run', 'c running']);

  const stopped = lifecycle.stop();
  await flush();
  t.is(lifecycle.state, 'stopping');
  await fake.tickAsync(499);
  t.deepEqual(journal, started);

  await fake.tickAsync(1);
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(journal.slice(started.length), [
    'c asked',
    'c stopping',
    'c stopped',
    'b asked',
    'b stopping',
    'b stopped',
    'a asked',
    'a stopping',
    'a stopped',
  ]);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(pending(), 0);
});

test('a deadline during a sequence drain delay still stops the children in reverse order', async (t) => {
  const { lifecycle, journal, children, fake, pending } = delayedSequence(500, {
    a: { whenAsked: 'await-deadline' },
    b: { whenAsked: 'await-deadline' },
    c: { whenAsked: 'await-deadline' },
  });
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const started = journal.length;
  const stopped = lifecycle.stop({ timeout: 100 });
  await fake.tickAsync(99);
  t.is(journal.length, started);

  await fake.tickAsync(1);
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(journal.slice(started), [
    'c asked',
    'c stopping',
    'c stopped',
    'b asked',
    'b stopping',
    'b stopped',
    'a asked',
    'a stopping',
    'a stopped',
  ]);
  for (const child of [children.a, children.b, children.c]) {
    assertAbortError(t, child.shutdownSignal.reason, 'TimeoutError');
  }
  t.is(pending(), 0);
});

test('a sequence with a drain delay asked to stop while starting starts no further child', async (t) => {
  const { lifecycle, services, journal, fake, pending } = delayedSequence(500, {
    a: { running: 'manually' },
  });
  const done = lifecycle.run();
  await services.a.started();
  t.deepEqual(journal, ['a run']);
  const stopped = lifecycle.stop();
  await flush();
  t.is(lifecycle.state, 'stopping');

  services.a.reportRunning(); // during the delay
  await flush();
  t.is(services.b.runs.length, 0, 'b is not started after the stop request');
  t.is(services.c.runs.length, 0);

  await fake.tickAsync(500);
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(journal, ['a run', 'a running', 'a asked', 'a stopping', 'a stopped']);
  t.is(services.b.runs.length, 0);
  t.is(services.c.runs.length, 0);
  t.is(pending(), 0);
});

test('a pool with a drain delay asked to stop while starting starts no child still waiting for a dependency', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const pool = new Pool({ name: 'app', clock, drainDelay: 500 });
  const db = new ControlledService('db', { running: 'manually' });
  const api = new ControlledService('api');
  const dbLifecycle = pool.add(db);
  pool.add(api, { dependsOn: [dbLifecycle] });
  const lifecycle = new Lifecycle(pool, { clock });
  const done = lifecycle.run();
  await db.started();
  const stopped = lifecycle.stop();
  await flush();
  t.is(lifecycle.state, 'stopping');

  db.reportRunning(); // during the delay
  await flush();
  t.is(api.runs.length, 0, 'api is not started after the stop request');

  await fake.tickAsync(500);
  t.is(await stopped, 'stopped');
  await done;
  t.is(api.runs.length, 0);
  t.is(dbLifecycle.state, 'stopped');
  t.is(pending(), 0);
});
