import { once } from 'node:events';
import test, { type ExecutionContext } from 'ava';
import { PoolStoppingError } from '../lib/group-errors.js';
import {
  AlreadyRunningError,
  Lifecycle,
  NonErrorThrownError,
  Pool,
  Sequence,
  ServiceCrashedError,
  ServicesCrashedError,
  type State,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { captureLogs } from './helpers/logs.js';
import { allStarted, flush, makePool, runToEnd } from './helpers/pool.js';
import { settlesAtOnce } from './helpers/lifecycle.js';
import { reach, recordStates } from './helpers/record.js';
import { ControlledService } from './helpers/service.js';
import { fields, assertAbortError } from './helpers/assertions.js';

// --- construction and add() ---

test('a pool is named "pool" unless given a name', (t) => {
  t.is(new Pool().name, 'pool');
  t.is(new Pool({}).name, 'pool');
  t.is(new Pool({ name: 'app' }).name, 'app');
});

test('the Pool constructor throws a TypeError naming the option for a bad name, logger or options', (t) => {
  const bad: [unknown, RegExp][] = [
    [{ name: '' }, /^Expected `options\.name` to be a non-empty string, got `""` \(string\)$/],
    [{ name: 42 }, /^Expected `options\.name` to be a non-empty string, got `42` \(number\)$/],
    [{ logger: {} }, /^Expected `options\.logger` to be a logger with error, warn, info and debug/],
    [{ logger: { info() {} } }, /^Expected `options\.logger` to be a logger/],
    [{ logger: null }, /^Expected `options\.logger` to be a logger/],
    [null, /^Expected `options` to be an object, got `null`$/],
    ['app', /^Expected `options` to be an object/],
  ];
  for (const [options, message] of bad) {
    t.throws(() => new Pool(options as ConstructorParameters<typeof Pool>[0]), {
      instanceOf: TypeError,
      message,
    });
  }
});

test('add() returns the child lifecycle and lifecycles lists the children in the order added', (t) => {
  const pool = new Pool();
  const a = new ControlledService('a');
  const b = new ControlledService('b');
  t.deepEqual(pool.lifecycles, []);
  const first = pool.add(a);
  const second = pool.add(b);
  t.true(first instanceof Lifecycle);
  t.is(first.service, a);
  t.is(second.service, b);
  t.is(first.state, 'stopped');
  t.is(pool.lifecycles.length, 2);
  t.is(pool.lifecycles[0], first);
  t.is(pool.lifecycles[1], second);
});

test('add() throws a TypeError naming `service` for a value that is not a service and adds nothing', (t) => {
  const pool = new Pool();
  const notServices: unknown[] = [
    undefined,
    null,
    'service',
    {},
    { name: 'x' },
    { name: '', runWithLifecycle() {} },
    { name: 7, runWithLifecycle() {} },
    { name: 'x', runWithLifecycle: 'run' },
  ];
  for (const value of notServices) {
    t.throws(() => pool.add(value as ControlledService), {
      instanceOf: TypeError,
      message: /^Expected `service` to be a Service/,
    });
  }
  t.is(pool.lifecycles.length, 0);
});

test('hooks on the lifecycle add() returns fire as the pool runs and stops the child', async (t) => {
  const pool = new Pool();
  const seen: string[] = [];
  pool
    .add(new ControlledService('a'))
    .onStateChange((service, _lifecycle, state) => seen.push(`${service.name} ${state}`))
    .onStarting(() => seen.push('onStarting'))
    .onRunning(() => seen.push('onRunning'))
    .onStopping((_service, _lifecycle, shutdown) => seen.push(`onStopping ${shutdown.aborted}`))
    .onStopped(() => seen.push('onStopped'));
  const lifecycle = new Lifecycle(pool);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.deepEqual(seen, [
    'a starting',
    'onStarting',
    'a running',
    'onRunning',
    'a stopping',
    'onStopping false',
    'a stopped',
    'onStopped',
  ]);
});

test('child lifecycles created by add() log hook failures to the pool logger', async (t) => {
  const { logger, entries } = captureLogs();
  const pool = new Pool({ name: 'app', logger });
  const failure = new Error('hook broke');
  pool.add(new ControlledService('a')).onRunning(() => {
    throw failure;
  });
  const lifecycle = new Lifecycle(pool);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  await lifecycle.stop();
  await done;
  const hookFailures = entries.filter((entry) => entry.message === 'lifecycle hook failed');
  t.is(hookFailures.length, 1);
  t.like(hookFailures[0], { level: 'error', service: 'a', event: 'running' });
  t.is(hookFailures[0]?.error, failure);
});

// --- starting ---

test('running the pool runs every child at once, in the order they were added', async (t) => {
  const { lifecycle, services, children } = makePool({
    a: { running: 'manually' },
    b: { running: 'manually' },
    c: { running: 'manually' },
  });
  const order: string[] = [];
  for (const child of [children.a, children.b, children.c]) {
    child.onStarting((service) => order.push(service.name));
  }
  const done = runToEnd(lifecycle);
  await allStarted(services);
  // None of them has reported running, yet all of them were started.
  t.deepEqual(order, ['a', 'b', 'c']);
  t.deepEqual(
    [services.a, services.b, services.c].map((service) => service.runs.length),
    [1, 1, 1],
  );
  t.deepEqual(
    [children.a, children.b, children.c].map((child) => child.state),
    ['starting', 'starting', 'starting'],
  );
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('the pool reports running only once every child runs', async (t) => {
  const { lifecycle, states, services } = makePool({
    a: { running: 'manually' },
    b: { running: 'manually' },
    c: { running: 'manually' },
  });
  const done = runToEnd(lifecycle);
  await allStarted(services);
  t.is(lifecycle.state, 'starting');
  services.b.reportRunning();
  await flush();
  t.is(lifecycle.state, 'starting');
  services.a.reportRunning();
  await flush();
  t.is(lifecycle.state, 'starting');
  services.c.reportRunning();
  // The pool hears of it in a microtask, not on the stack of running().
  t.is(lifecycle.state, 'starting');
  await flush();
  t.is(lifecycle.state, 'running');
  t.deepEqual(states, ['starting', 'running']);
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('a pool of children that report running at once is starting when run() returns, and running before the next turn of the event loop', async (t) => {
  const { lifecycle, services, children } = makePool({ a: {}, b: {} });
  const done = runToEnd(lifecycle);
  // run() calls no user code: the children have not even started yet.
  t.is(lifecycle.state, 'starting');
  t.deepEqual([children.a.state, children.b.state], ['stopped', 'stopped']);
  t.deepEqual([services.a.runs.length, services.b.runs.length], [0, 0]);
  const { settled } = await settlesAtOnce(() => lifecycle.whenRunning());
  t.true(settled);
  t.is(lifecycle.state, 'running');
  t.deepEqual([children.a.state, children.b.state], ['running', 'running']);
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('an empty pool is starting when run() returns, reports running in a microtask and stops when asked', async (t) => {
  const { lifecycle, states } = makePool({});
  const done = runToEnd(lifecycle);
  t.is(lifecycle.state, 'starting');
  const { settled } = await settlesAtOnce(() => lifecycle.whenRunning());
  t.true(settled);
  t.is(lifecycle.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

// --- a stop requested of the pool ---

test('a stop request makes the pool report stopping, stop every child with its reason and wait for all', async (t) => {
  const { lifecycle, states, services, children } = makePool({
    a: { whenAsked: 'ignore' },
    b: { whenAsked: 'ignore' },
  });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop();
  // The pool's own signal aborts at once; the pool reacts, and its children hear of it, later.
  t.true(lifecycle.signal.aborted);
  t.false(children.a.signal.aborted);
  await flush();
  t.is(lifecycle.state, 'stopping');
  t.true(children.a.signal.aborted);
  t.true(children.b.signal.aborted);
  assertAbortError(t, lifecycle.signal.reason, 'AbortError');
  t.is(children.a.signal.reason, lifecycle.signal.reason);
  t.is(children.b.signal.reason, lifecycle.signal.reason);
  t.false(children.a.shutdownSignal.aborted);

  services.b.finish();
  await reach(children.b, 'stopped');
  t.is(lifecycle.state, 'stopping');
  services.a.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.deepEqual([children.a.state, children.b.state], ['stopped', 'stopped']);
});

test('a stop request while children are starting stops them all and the pool ends stopped', async (t) => {
  const { lifecycle, states, children } = makePool({
    a: { running: 'manually' },
    b: { running: 'manually' },
  });
  const done = runToEnd(lifecycle);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.deepEqual([children.a.state, children.b.state], ['stopped', 'stopped']);
});

test('children are stopped with the pool deadline: they end exactly when the pool timeout passes', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { lifecycle, states, children } = makePool(
    { a: { whenAsked: 'await-deadline' }, b: { whenAsked: 'await-deadline' } },
    { clock },
  );
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop({ timeout: 1000 });
  await fake.tickAsync(999);
  t.is(lifecycle.state, 'stopping');
  t.deepEqual([children.a.state, children.b.state], ['stopping', 'stopping']);
  t.false(children.a.shutdownSignal.aborted);
  t.false(children.b.shutdownSignal.aborted);

  await fake.tickAsync(1);
  assertAbortError(t, lifecycle.shutdownSignal.reason, 'TimeoutError');
  t.is(children.a.shutdownSignal.reason, lifecycle.shutdownSignal.reason);
  t.is(children.b.shutdownSignal.reason, lifecycle.shutdownSignal.reason);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(fake.now, 1000);
  t.is(pending(), 0);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('stop({ timeout: 0 }) on the pool aborts its shutdownSignal before it returns, and every child shutdownSignal in a microtask', async (t) => {
  const { lifecycle, children } = makePool({
    a: { whenAsked: 'await-deadline' },
    b: { whenAsked: 'await-deadline' },
  });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop({ timeout: 0 });
  assertAbortError(t, lifecycle.shutdownSignal.reason, 'TimeoutError');
  t.false(children.a.shutdownSignal.aborted);
  const { settled } = await settlesAtOnce(() => once(children.b.shutdownSignal, 'abort'));
  t.true(settled);
  t.true(children.a.shutdownSignal.aborted);
  t.true(children.b.shutdownSignal.aborted);
  t.is(children.a.shutdownSignal.reason, lifecycle.shutdownSignal.reason);
  t.is(children.b.shutdownSignal.reason, lifecycle.shutdownSignal.reason);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
});

test('stop({ signal }) on the pool passes that signal reason to the children shutdownSignal', async (t) => {
  const { lifecycle, children } = makePool({
    a: { whenAsked: 'await-deadline' },
    b: { whenAsked: 'await-deadline' },
  });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const controller = new AbortController();
  const stopped = lifecycle.stop({ signal: controller.signal });
  await reach(children.b, 'stopping');
  t.false(children.a.shutdownSignal.aborted);
  const reason = new Error('out of time');
  controller.abort(reason);
  t.is(lifecycle.shutdownSignal.reason, reason);
  await flush();
  t.is(children.a.shutdownSignal.reason, reason);
  t.is(children.b.shutdownSignal.reason, reason);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
});

test('a stop requested in an onStarting hook of the pool starts no child and ends stopped', async (t) => {
  const { lifecycle, states, services, children } = makePool({ a: {}, b: {} });
  lifecycle.onStarting((_pool, own) => {
    void own.stop();
  });
  t.is(await runToEnd(lifecycle), undefined);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.deepEqual([services.a.runs.length, services.b.runs.length], [0, 0]);
  t.deepEqual([children.a.state, children.b.state], ['stopped', 'stopped']);
});

// --- a child ends on its own ---

test('a child crash while the pool starts makes the pool report stopping, stop the others and end crashed', async (t) => {
  const { lifecycle, states, services, children } = makePool({
    a: { running: 'manually' },
    b: {},
    c: {},
  });
  const done = runToEnd(lifecycle);
  await allStarted(services);
  t.is(lifecycle.state, 'starting');
  services.a.crash();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is(error?.cause, services.a.error);
  t.deepEqual(states, ['starting', 'stopping', 'crashed']);
  t.deepEqual(
    [children.a.state, children.b.state, children.c.state],
    ['crashed', 'stopped', 'stopped'],
  );
  assertAbortError(
    t,
    children.b.signal.reason,
    'AbortError',
    'pool "pool" is stopping because "a" crashed',
  );
  t.is(children.c.signal.reason, children.b.signal.reason);
});

test('a child crash after the pool runs makes the pool report stopping, stop the others and end crashed', async (t) => {
  const { lifecycle, states, services, children } = makePool({ a: {}, b: {}, c: {} });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  services.b.crash();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is(error?.cause, services.b.error);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
  t.is(lifecycle.state, 'crashed');
  t.is(lifecycle.error, error);
  t.deepEqual(
    [children.a.state, children.b.state, children.c.state],
    ['stopped', 'crashed', 'stopped'],
  );
  t.false(children.a.shutdownSignal.aborted);
  t.false(children.c.shutdownSignal.aborted);
});

test('the pool crash error is a ServiceCrashedError naming the child, with its error as cause', async (t) => {
  const { lifecycle, services } = makePool({ web: {}, db: {} }, { name: 'app' });
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  services.db.crash(new Error('connection refused'));
  const error = await t.throwsAsync(done, {
    instanceOf: ServiceCrashedError,
    message: 'Service "db" crashed: connection refused',
  });
  t.is(error.name, 'ServiceCrashedError');
  t.is(error.code, 'ERR_OVERSEER_SERVICE_CRASHED');
  t.is(error.service, 'db');
  t.true(error.cause instanceof Error);
  t.is((error.cause as Error).message, 'connection refused');
  t.is(lifecycle.error, error);
  await t.throwsAsync(lifecycle.wait(), { is: error });
});

test('a child that throws a non-Error makes the pool crash with that value kept as the cause of the cause', async (t) => {
  const { lifecycle, services } = makePool({ a: {} });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  services.a.crash('disk full');
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  const cause = error?.cause;
  t.true(cause instanceof NonErrorThrownError);
  t.is((cause as NonErrorThrownError).cause, 'disk full');
  t.is(
    error?.message,
    'Service "a" crashed: Service "a" failed with a value that is not an Error: disk full',
  );
});

test('several crashed children make the pool crash with a ServicesCrashedError of their errors, in the order they ended', async (t) => {
  const { lifecycle, states, services, children } = makePool(
    { a: {}, b: { whenAsked: 'crash' }, c: {} },
    { name: 'app' },
  );
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  services.a.crash();
  const error = await done;
  t.true(error instanceof ServicesCrashedError);
  t.true(error instanceof AggregateError);
  const crashed = error as ServicesCrashedError;
  t.is(crashed.name, 'ServicesCrashedError');
  t.is(crashed.code, 'ERR_OVERSEER_SERVICES_CRASHED');
  t.is(crashed.message, '2 services crashed: "a", "b"');
  t.is(crashed.errors.length, 2);
  const [first, second] = crashed.errors as ServiceCrashedError[];
  t.true(first instanceof ServiceCrashedError);
  t.true(second instanceof ServiceCrashedError);
  t.is(first?.service, 'a');
  t.is(first?.cause, services.a.error);
  t.is(second?.service, 'b');
  t.is(second?.cause, services.b.error);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
  t.deepEqual(
    [children.a.state, children.b.state, children.c.state],
    ['crashed', 'crashed', 'stopped'],
  );
});

test('after a child crash the others get no deadline until the pool is stopped with one, which still reaches them', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { lifecycle, states, services, children } = makePool(
    { a: {}, b: { whenAsked: 'await-deadline' } },
    { clock },
  );
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  services.a.crash();
  await reach(children.b, 'stopping');
  // Much time passes: without a deadline of its own, the pool lets b take as long as it needs.
  await fake.tickAsync(3_600_000);
  t.is(lifecycle.state, 'stopping');
  t.is(children.b.state, 'stopping');
  t.false(children.b.shutdownSignal.aborted);

  const stopped = lifecycle.stop({ timeout: 500 });
  await fake.tickAsync(499);
  t.is(lifecycle.state, 'stopping');
  t.false(children.b.shutdownSignal.aborted);
  await fake.tickAsync(1);
  assertAbortError(t, children.b.shutdownSignal.reason, 'TimeoutError');
  // The child that already ended gets nothing.
  t.false(children.a.shutdownSignal.aborted);
  t.is(await stopped, 'crashed');
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is((error as ServiceCrashedError).service, 'a');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
  t.deepEqual([children.a.state, children.b.state], ['crashed', 'stopped']);
  t.is(pending(), 0);
});

test('a child that stops without being asked makes the pool stop the others and end stopped', async (t) => {
  const { lifecycle, states, services, children } = makePool({ a: {}, b: {}, c: {} });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  services.a.finish();
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.deepEqual(
    [children.a.state, children.b.state, children.c.state],
    ['stopped', 'stopped', 'stopped'],
  );
  assertAbortError(
    t,
    children.b.signal.reason,
    'AbortError',
    'pool "pool" is stopping because "a" stopped on its own',
  );
  t.false(children.b.shutdownSignal.aborted);
});

test('a child that stops without being asked while the pool starts makes the pool end stopped', async (t) => {
  const { lifecycle, states, services, children } = makePool({
    a: { running: 'manually' },
    b: { running: 'manually' },
  });
  const done = runToEnd(lifecycle);
  await allStarted(services);
  services.b.finish();
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.deepEqual([children.a.state, children.b.state], ['stopped', 'stopped']);
});

test('a child stopped directly with child.stop() leaves the pool, which keeps running', async (t) => {
  const { pool, lifecycle, states, children } = makePool({ a: {}, b: {} }, { name: 'app' });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(await children.a.stop(), 'stopped');
  await flush();
  t.deepEqual(pool.lifecycles, [children.b]);
  t.is(lifecycle.state, 'running');
  t.is(children.b.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('a child onStopped hook returning a slow promise keeps the pool stopping until it settles', async (t) => {
  const { clock, fake } = fakeClock();
  const { lifecycle, children } = makePool({ a: {}, b: {} }, { clock });
  const order: string[] = [];
  children.a.onStopped(
    () =>
      new Promise<void>((resolve) => {
        fake.setTimeout(() => {
          order.push('flushed');
          resolve();
        }, 500);
      }),
  );
  lifecycle.onStopped(() => order.push('pool stopped'));
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop();
  await reach(children.a, 'stopped');
  await fake.tickAsync(499);
  t.is(children.b.state, 'stopped');
  t.is(lifecycle.state, 'stopping');
  t.deepEqual(order, []);
  await fake.tickAsync(1);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.deepEqual(order, ['flushed', 'pool stopped']);
});

// --- add() during a run ---

test('add() while the pool is stopping throws PoolStoppingError and changes nothing', async (t) => {
  const { pool, lifecycle, services } = makePool({ a: { whenAsked: 'ignore' } }, { name: 'app' });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  void lifecycle.stop();
  await flush();
  t.is(lifecycle.state, 'stopping');
  const late = new ControlledService('late');
  const error = t.throws(() => pool.add(late), { instanceOf: PoolStoppingError });
  t.is(error.name, 'PoolStoppingError');
  t.is(error.code, 'ERR_OVERSEER_POOL_STOPPING');
  t.is(error.pool, 'app');
  t.is(error.service, 'late');
  t.is(error.message, 'Cannot add service "late" to pool "app": the pool is stopping');
  t.is(pool.lifecycles.length, 1);
  t.is(late.runs.length, 0);
  services.a.finish();
  t.is(await done, undefined);
});

test('add() after the pool has stopped adds a child that runs with the next run', async (t) => {
  const { pool, lifecycle, services } = makePool({ a: {} });
  const first = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await lifecycle.stop();
  t.is(await first, undefined);
  const late = new ControlledService('late');
  const child = pool.add(late);
  t.is(pool.lifecycles.length, 2);
  const second = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(child.state, 'running');
  t.is(lifecycle.state, 'running');
  t.deepEqual([services.a.runs.length, late.runs.length], [2, 1]);
  await lifecycle.stop();
  t.is(await second, undefined);
});

// --- running again ---

test('a pool runs again after it stopped, and its children start from scratch', async (t) => {
  const { lifecycle, states, services, children } = makePool({ a: {}, b: {} });
  const first = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await lifecycle.stop({ timeout: 0 });
  t.is(await first, undefined);
  const firstSignal = children.a.signal;
  t.true(firstSignal.aborted);

  const second = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(lifecycle.state, 'running');
  t.deepEqual([services.a.runs.length, services.b.runs.length], [2, 2]);
  t.deepEqual([children.a.state, children.b.state], ['running', 'running']);
  t.not(children.a.signal, firstSignal);
  t.false(children.a.signal.aborted);
  t.false(children.a.shutdownSignal.aborted);
  t.false(lifecycle.signal.aborted);
  await lifecycle.stop();
  t.is(await second, undefined);
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
});

test('a pool runs again after it crashed, and its children start from scratch', async (t) => {
  const { lifecycle, states, services, children } = makePool({ a: {}, b: {} });
  const first = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  services.a.crash();
  t.true((await first) instanceof ServiceCrashedError);
  t.is(children.a.state, 'crashed');
  t.is(children.a.error, services.a.error);

  const second = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(lifecycle.state, 'running');
  t.is(lifecycle.error, undefined);
  t.deepEqual([children.a.state, children.b.state], ['running', 'running']);
  t.is(children.a.error, undefined);
  t.false(children.b.signal.aborted);
  t.deepEqual([services.a.runs.length, services.b.runs.length], [2, 2]);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await second, undefined);
  t.deepEqual(states, [
    'starting',
    'running',
    'stopping',
    'crashed',
    'starting',
    'running',
    'stopping',
    'stopped',
  ]);
});

// --- already running ---

test('the same pool run by two lifecycles at once crashes the second with AlreadyRunningError', async (t) => {
  const { pool, lifecycle, services } = makePool({ a: {} }, { name: 'app' });
  const first = runToEnd(lifecycle);
  const other = new Lifecycle(pool);
  const otherStates = recordStates(other);
  const error = await runToEnd(other);
  t.true(error instanceof AlreadyRunningError);
  t.is((error as AlreadyRunningError).code, 'ERR_OVERSEER_ALREADY_RUNNING');
  t.is((error as AlreadyRunningError).service, 'app');
  t.deepEqual(otherStates, ['starting', 'crashed']);
  t.is(other.error, error);
  // The first run goes on untouched.
  t.is(lifecycle.state, 'running');
  t.is(services.a.runs.length, 1);
  t.false(services.a.lifecycle.signal.aborted);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await first, undefined);
});

test('a child already running when the pool starts makes the pool crash with AlreadyRunningError', async (t) => {
  const { lifecycle, states, services, children } = makePool({ x: {}, y: {}, z: {} });
  const own = runToEnd(children.y);
  const error = await runToEnd(lifecycle);
  t.true(error instanceof AlreadyRunningError);
  t.is((error as AlreadyRunningError).code, 'ERR_OVERSEER_ALREADY_RUNNING');
  t.is((error as AlreadyRunningError).service, 'y');
  t.deepEqual(states, ['starting', 'stopping', 'crashed']);
  // x, started before y was found running, is stopped; z is never started.
  t.is(services.x.runs.length, 1);
  t.is(children.x.state, 'stopped');
  t.is(services.z.runs.length, 0);
  t.is(services.y.runs.length, 1);
  await children.y.stop();
  t.is(await own, undefined);
});

// --- logging ---

test('the pool logs every child transition at info with service, pool and state', async (t) => {
  const { logger, entries } = captureLogs();
  const { lifecycle } = makePool({ a: {}, b: {} }, { name: 'app', logger });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await lifecycle.stop();
  t.is(await done, undefined);
  const expected = (service: string) =>
    (['starting', 'running', 'stopping', 'stopped'] as State[]).map((state) => ({
      level: 'info',
      message: `service ${state}`,
      service,
      pool: 'app',
      state,
      ...(state === 'stopping' ? { reason: 'The service was asked to stop' } : {}),
    }));
  t.is(entries.length, 8);
  for (const service of ['a', 'b']) {
    t.deepEqual(
      entries.filter((entry) => entry.service === service).map(fields),
      expected(service),
    );
  }
});

test('the pool logs a child crash at error level with the error', async (t) => {
  const { logger, entries } = captureLogs();
  const { lifecycle, services } = makePool({ a: {}, b: {} }, { name: 'app', logger });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  services.a.crash();
  t.true((await done) instanceof ServiceCrashedError);
  t.deepEqual(entries.filter((entry) => entry.service === 'a').map(fields), [
    { level: 'info', message: 'service starting', service: 'a', pool: 'app', state: 'starting' },
    { level: 'info', message: 'service running', service: 'a', pool: 'app', state: 'running' },
    {
      level: 'error',
      message: 'service crashed',
      service: 'a',
      pool: 'app',
      state: 'crashed',
      error: services.a.error,
    },
  ]);
  t.deepEqual(
    entries.filter((entry) => entry.service === 'b').map((entry) => entry.message),
    ['service starting', 'service running', 'service stopping', 'service stopped'],
  );
});

test('a pool logger below info level gets no child transitions but still gets crashes', async (t) => {
  const { logger, entries } = captureLogs('error');
  const { lifecycle, services } = makePool({ a: {}, b: {} }, { name: 'app', logger });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  services.b.crash();
  await done;
  t.deepEqual(entries.map(fields), [
    {
      level: 'error',
      message: 'service crashed',
      service: 'b',
      pool: 'app',
      state: 'crashed',
      error: services.b.error,
    },
  ]);
});

test('a pool whose logger turns info on while its children start reports running once, after the last child', async (t) => {
  const { logger, entries } = captureLogs('error');
  const { lifecycle, states, services } = makePool(
    { a: { running: 'manually' }, b: { running: 'manually' }, c: { running: 'manually' } },
    { name: 'app', logger },
  );
  const done = runToEnd(lifecycle);
  await allStarted(services);
  // Silent: the pool counts `a` without a step of its own. It hears of each child in a
  // microtask, so each level change waits until the pool has heard of the child before it.
  services.a.reportRunning();
  await flush();
  logger.level = 'info';
  services.b.reportRunning();
  await flush();
  t.is(lifecycle.state, 'starting');
  logger.level = 'error';
  services.c.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual(states, ['starting', 'running']);
  t.deepEqual(
    entries.map(({ message, service }) => [message, service]),
    [['service running', 'b']],
  );
  await lifecycle.stop();
  t.is(await done, undefined);
});

/** The process warnings emitted from now on (until the test ends) whose message contains `text`. */
function captureWarnings(t: ExecutionContext, text: string): Error[] {
  const warnings: Error[] = [];
  const listener = (warning: Error) => {
    if (warning.message.includes(text)) warnings.push(warning);
  };
  process.on('warning', listener);
  t.teardown(() => process.off('warning', listener));
  return warnings;
}

test('a logger whose info() throws changes nothing: the pool runs and stops as usual, and one OVERSEER_LOGGER_FAILED warning is emitted', async (t) => {
  const failure = new Error('log transport down');
  const logger = {
    error() {},
    warn() {},
    debug() {},
    info() {
      throw failure;
    },
  };
  const warnings = captureWarnings(t, 'log transport down');
  const { lifecycle, states, services, children } = makePool(
    { a: {}, b: {} },
    { name: 'app', logger },
  );
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.is(lifecycle.error, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.deepEqual([children.a.state, children.b.state], ['stopped', 'stopped']);
  t.deepEqual([services.a.runs.length, services.b.runs.length], [1, 1]);
  await flush(); // process.emitWarning emits on the next tick
  t.is(warnings.length, 1, 'one warning for the logger, however many of its calls failed');
  t.is((warnings[0] as Error & { code?: string }).code, 'OVERSEER_LOGGER_FAILED');
});

test('a logger whose info() throws once misses only that line: the pool logs every other transition and stops as usual', async (t) => {
  const failure = new Error('log transport hiccup');
  let thrown = false;
  const lines: [unknown, string][] = [];
  const logger = {
    error() {},
    warn() {},
    debug() {},
    info(message: string, meta?: Record<string, unknown>) {
      if (!thrown) {
        thrown = true;
        throw failure;
      }
      lines.push([meta?.service, message]);
    },
  };
  const warnings = captureWarnings(t, 'log transport hiccup');
  const { lifecycle, states, children } = makePool({ a: {}, b: {} }, { logger });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.deepEqual([children.a.state, children.b.state], ['stopped', 'stopped']);
  // The first line (a starting) is the one that threw.
  const messagesOf = (service: string) =>
    lines.filter(([name]) => name === service).map(([, message]) => message);
  t.deepEqual(messagesOf('a'), ['service running', 'service stopping', 'service stopped']);
  t.deepEqual(messagesOf('b'), [
    'service starting',
    'service running',
    'service stopping',
    'service stopped',
  ]);
  await flush();
  t.is(warnings.length, 1);
});

test('the pool clock times a child own stop deadline', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const pool = new Pool({ name: 'app', clock });
  const child = pool.add(new ControlledService('slow', { whenAsked: 'await-deadline' }));
  pool.add(new ControlledService('other'));
  const lifecycle = new Lifecycle(pool);
  const ended = runToEnd(lifecycle);
  await lifecycle.whenRunning();

  const stopped = child.stop({ timeout: 500 });
  await fake.tickAsync(499);
  t.false(child.shutdownSignal.aborted);
  t.is(pending(), 1);
  await fake.tickAsync(1);

  t.is(await stopped, 'stopped');
  t.is(pending(), 0);
  t.is(lifecycle.state, 'running', 'a child stopped by its own stop() leaves the pool running');
  await lifecycle.stop();
  t.is(await ended, undefined);
});

test('new Pool() rejects a clock without timer functions', (t) => {
  t.throws(() => new Pool({ clock: {} as never }), {
    instanceOf: TypeError,
    message:
      'Expected `options.clock` to be a clock with now, setTimeout and clearTimeout methods, got an object (Object)',
  });
});

test('stop({ reason }) on the pool passes the same AbortError on to every child it stops', async (t) => {
  const { lifecycle, children } = makePool({ a: {}, b: {} });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop({ reason: 'SIGTERM' });
  const reason = lifecycle.signal.reason as DOMException;
  t.is(reason.message, 'stop requested: SIGTERM');
  await flush();
  t.is(children.a.signal.reason, reason);
  t.is(children.b.signal.reason, reason);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
});

// --- startTimeout ---

/** The settings a child's lifecycle was built with (white box: the timer is the lifecycle's). */
function startTimeoutOf(lifecycle: Lifecycle): number {
  return (lifecycle as unknown as { settings: { startTimeout: number } }).settings.startTimeout;
}

test('a pool startTimeout is the default of its children, and add() startTimeout sets one child own', (t) => {
  const pool = new Pool({ startTimeout: 5000 });
  const plain = pool.add(new ControlledService('plain'));
  const own = pool.add(new ControlledService('own'), { startTimeout: 200 });
  const restarted = pool.add(new ControlledService('restarted'), { restart: 'on-crash' });
  t.is(startTimeoutOf(plain), 5000);
  t.is(startTimeoutOf(own), 200);
  t.is(startTimeoutOf(restarted), 5000);
  t.is(startTimeoutOf(new Pool().add(new ControlledService('default'))), Infinity);
});

test('a sequence startTimeout is the default of its children, and add() startTimeout overrides it', (t) => {
  const sequence = new Sequence({ startTimeout: 1000 });
  t.is(startTimeoutOf(sequence.add(new ControlledService('a'))), 1000);
  t.is(startTimeoutOf(sequence.add(new ControlledService('b'), { startTimeout: 10 })), 10);
});

test('a malformed startTimeout throws a TypeError naming the option', (t) => {
  t.throws(() => new Pool({ startTimeout: -1 }), {
    instanceOf: TypeError,
    message: /^Expected `options\.startTimeout`/,
  });
  t.throws(() => new Pool().add(new ControlledService('a'), { startTimeout: 'soon' as never }), {
    instanceOf: TypeError,
    message: /^Expected `options\.startTimeout`/,
  });
});
