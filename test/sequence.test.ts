import { once } from 'node:events';
import test from 'ava';
import {
  AddWhileRunningError,
  AlreadyRunningError,
  Lifecycle,
  Pool,
  Restarter,
  Sequence,
  ServiceCrashedError,
  ServicesCrashedError,
  StartFailedError,
  type Service,
  type State,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { captureLogs } from './helpers/logs.js';
import { runToEnd } from './helpers/pool.js';
import { reach, recordStates } from './helpers/record.js';
import {
  aborted,
  assertInOrder,
  flush,
  journalOf,
  JournaledService,
  makeSequence,
} from './helpers/sequence.js';
import { ControlledService, serviceOf } from './helpers/service.js';
import { ReturnedBeforeRunningError } from '../lib/group-errors.js';
import { fields, assertAbortError } from './helpers/assertions.js';

// --- construction and add() ---

test('a sequence is named "sequence" unless given a name', (t) => {
  t.is(new Sequence().name, 'sequence');
  t.is(new Sequence({}).name, 'sequence');
  t.is(new Sequence({ name: 'boot' }).name, 'boot');
});

test('the Sequence constructor throws a TypeError naming the option for a bad name, logger, clock or options', (t) => {
  const bad: [unknown, RegExp][] = [
    [{ name: '' }, /^Expected `options\.name` to be a non-empty string, got `""` \(string\)$/],
    [{ name: 7 }, /^Expected `options\.name` to be a non-empty string, got `7` \(number\)$/],
    [{ logger: {} }, /^Expected `options\.logger` to be a logger with error, warn, info and debug/],
    [
      { clock: {} },
      /^Expected `options\.clock` to be a clock with now, setTimeout and clearTimeout/,
    ],
    [null, /^Expected `options` to be an object, got `null`$/],
    ['boot', /^Expected `options` to be an object/],
  ];
  for (const [options, message] of bad) {
    t.throws(() => new Sequence(options as ConstructorParameters<typeof Sequence>[0]), {
      instanceOf: TypeError,
      message,
    });
  }
});

test('add() returns the child lifecycle and lifecycles lists the children in the order added', (t) => {
  const sequence = new Sequence();
  const a = new ControlledService('a');
  const b = new ControlledService('b');
  t.deepEqual(sequence.lifecycles, []);
  const first = sequence.add(a);
  const second = sequence.add(b);
  t.true(first instanceof Lifecycle);
  t.is(first.service, a);
  t.is(second.service, b);
  t.is(first.state, 'stopped');
  t.is(sequence.lifecycles.length, 2);
  t.is(sequence.lifecycles[0], first);
  t.is(sequence.lifecycles[1], second);
  t.true(Object.isFrozen(sequence.lifecycles));
});

test('add() throws a TypeError naming `service` for a value that is not a service and adds nothing', (t) => {
  const sequence = new Sequence();
  const notServices: unknown[] = [
    undefined,
    null,
    'service',
    {},
    { name: 'x' },
    { name: '', runWithLifecycle() {} },
    { name: 'x', runWithLifecycle: 'run' },
  ];
  for (const value of notServices) {
    t.throws(() => sequence.add(value as Service), {
      instanceOf: TypeError,
      message: /^Expected `service` to be a Service/,
    });
  }
  t.is(sequence.lifecycles.length, 0);
});

test('add() throws a TypeError naming `options` or `options.restart` for bad options and adds nothing', (t) => {
  const sequence = new Sequence();
  const service = new ControlledService('a');
  t.throws(() => sequence.add(service, null as never), {
    instanceOf: TypeError,
    message: 'Expected `options` to be an object, got `null`',
  });
  t.throws(() => sequence.add(service, 'on-crash' as never), {
    instanceOf: TypeError,
    message: /^Expected `options` to be an object, got `"on-crash"` \(string\)$/,
  });
  t.throws(() => sequence.add(service, { restart: 'sometimes' as never }), {
    instanceOf: TypeError,
    message: /^Expected `options\.restart` to be/,
  });
  t.throws(() => sequence.add(service, { restart: { initialDelay: 500, maxDelay: 100 } }), {
    instanceOf: TypeError,
    message: /`options\.restart\.maxDelay`/,
  });
  t.is(sequence.lifecycles.length, 0);
});

test('add(service, { restart: "on-crash" }) returns the lifecycle of a Restarter running the service', (t) => {
  const sequence = new Sequence();
  const service = new ControlledService('queue');
  const lifecycle = sequence.add(service, { restart: 'on-crash' });
  t.true(lifecycle.service instanceof Restarter);
  t.is(lifecycle.service.name, 'queue');
  t.is(lifecycle.service.service, service);
  t.is(lifecycle.service.lifecycle.service, service);
  t.not(lifecycle.service.lifecycle, lifecycle);
  t.deepEqual(sequence.lifecycles, [lifecycle]);
});

test('a child added with a restart policy is restarted on the sequence clock while the sequence keeps running', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const journal: string[] = [];
  const sequence = new Sequence({ name: 'boot', clock });
  const queue = new JournaledService('queue', {}, journal);
  const restarter = sequence.add(queue, { restart: { random: () => 0 } });
  const web = new JournaledService('web', {}, journal);
  journalOf(sequence.add(web), journal);
  const lifecycle = new Lifecycle(sequence, { clock });
  const states = recordStates(lifecycle);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();

  queue.crash();
  await reach(restarter.service.lifecycle, 'crashed');
  await fake.tickAsync(99);
  t.is(queue.runs.length, 1);
  await fake.tickAsync(1);
  t.is(queue.runs.length, 2);
  t.is(restarter.service.lifecycle.state, 'running');
  t.is(restarter.state, 'running');
  t.is(lifecycle.state, 'running');
  t.deepEqual(journal, ['queue run', 'web run', 'web running', 'queue run']);

  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(pending(), 0);
});

// --- starting ---

test('children start one after another: each is run only once the one before reports running', async (t) => {
  const { lifecycle, states, services, journal } = makeSequence({
    a: { running: 'manually' },
    b: { running: 'manually' },
    c: { running: 'manually' },
  });
  lifecycle.onRunning(() => journal.push('sequence running'));
  const done = runToEnd(lifecycle);
  t.deepEqual(journal, [], 'run() runs no service before it returns');
  await flush();
  t.deepEqual(journal, ['a run']);
  t.deepEqual([services.b.runs.length, services.c.runs.length], [0, 0]);
  t.is(lifecycle.state, 'starting');

  services.a.reportRunning();
  t.deepEqual(journal, ['a run', 'a running'], 'b starts after running() has returned');
  await flush();
  t.deepEqual(journal, ['a run', 'a running', 'b run']);
  t.is(services.c.runs.length, 0);
  t.is(lifecycle.state, 'starting');

  services.b.reportRunning();
  await flush();
  t.deepEqual(journal, ['a run', 'a running', 'b run', 'b running', 'c run']);
  t.is(lifecycle.state, 'starting');

  services.c.reportRunning();
  t.is(lifecycle.state, 'starting', 'the sequence hears c run after running() has returned');
  await flush();
  t.deepEqual(journal, [
    'a run',
    'a running',
    'b run',
    'b running',
    'c run',
    'c running',
    'sequence running',
  ]);
  t.deepEqual(states, ['starting', 'running']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('the sequence stays starting while its last child starts, and reports running once it runs', async (t) => {
  const { lifecycle, states, services, children } = makeSequence({
    a: {},
    b: {},
    c: { running: 'manually' },
  });
  const done = runToEnd(lifecycle);
  await services.c.started();
  t.deepEqual(
    [children.a.state, children.b.state, children.c.state],
    ['running', 'running', 'starting'],
  );
  t.is(lifecycle.state, 'starting');
  services.c.reportRunning();
  t.is(lifecycle.state, 'starting', 'the sequence hears c run after running() has returned');
  await lifecycle.whenRunning();
  t.deepEqual(states, ['starting', 'running']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a sequence of children that report running at once starts them in turn and reports running with no other step', async (t) => {
  const { lifecycle, children, journal } = makeSequence({ a: {}, b: {}, c: {} });
  const done = runToEnd(lifecycle);
  t.is(lifecycle.state, 'starting');
  t.deepEqual(journal, [], 'run() runs no service before it returns');
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['a run', 'a running', 'b run', 'b running', 'c run', 'c running']);
  t.deepEqual(
    [children.a.state, children.b.state, children.c.state],
    ['running', 'running', 'running'],
  );
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('an empty sequence reports running as soon as it is run, and stops when asked', async (t) => {
  const { lifecycle, states } = makeSequence({});
  const done = runToEnd(lifecycle);
  t.is(lifecycle.state, 'starting');
  await flush();
  t.is(lifecycle.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

// --- stopping ---

test('a stop request stops the children in reverse order, each ended before the one before it is asked', async (t) => {
  const { lifecycle, states, services, children, journal } = makeSequence({
    a: { whenAsked: 'ignore' },
    b: { whenAsked: 'ignore' },
    c: { whenAsked: 'ignore' },
  });
  // What the earlier children's signals said while the later child ended.
  const seen: string[] = [];
  children.c.onStopped(() => seen.push(`c stopped: b asked ${children.b.signal.aborted}`));
  children.b.onStopped(() => seen.push(`b stopped: a asked ${children.a.signal.aborted}`));
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  journal.length = 0;

  const stopped = lifecycle.stop();
  t.true(lifecycle.signal.aborted);
  t.false(children.c.signal.aborted, 'the sequence passes the stop on after stop() has returned');
  await aborted(children.c.signal);
  t.is(lifecycle.state, 'stopping');
  t.false(children.b.signal.aborted);
  t.false(children.a.signal.aborted);
  assertAbortError(t, children.c.signal.reason, 'AbortError');
  t.is(children.c.signal.reason, lifecycle.signal.reason);

  services.c.reportStopping();
  await flush();
  t.false(children.b.signal.aborted, 'c is stopping, not stopped');
  services.c.finish();
  await aborted(children.b.signal);
  t.is(children.c.state, 'stopped');
  t.false(children.a.signal.aborted);
  t.is(children.b.signal.reason, lifecycle.signal.reason);

  services.b.finish();
  await reach(children.b, 'stopped');
  t.is(lifecycle.state, 'stopping');
  services.a.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.deepEqual(seen, ['c stopped: b asked false', 'b stopped: a asked false']);
  t.deepEqual(journal, [
    'c asked',
    'c stopping',
    'c stopped',
    'b asked',
    'b stopped',
    'a asked',
    'a stopped',
  ]);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('a child whose onStopped hook returns a slow promise keeps the child before it running until it settles', async (t) => {
  const { clock, fake } = fakeClock();
  const { lifecycle, children } = makeSequence({ a: {}, b: {} }, { clock });
  children.b.onStopped(
    () =>
      new Promise<void>((resolve) => {
        fake.setTimeout(() => {
          resolve();
        }, 500);
      }),
  );
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop();
  await reach(children.b, 'stopped');
  await fake.tickAsync(499);
  t.is(children.a.state, 'running');
  t.false(children.a.signal.aborted);
  await fake.tickAsync(1);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(children.a.state, 'stopped');
});

test('a stop request while the second of three children starts never starts the third, stops the second then the first, and ends stopped', async (t) => {
  const { lifecycle, states, services, children, journal } = makeSequence(
    { a: {}, b: { running: 'manually' }, c: {} },
    { name: 'boot' },
  );
  const done = runToEnd(lifecycle);
  await services.b.started();
  t.is(children.b.state, 'starting');
  const stopped = lifecycle.stop();
  await aborted(children.b.signal);
  t.false(children.a.signal.aborted);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(lifecycle.error, undefined);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.is(services.c.runs.length, 0);
  t.deepEqual(
    [children.a.state, children.b.state, children.c.state],
    ['stopped', 'stopped', 'stopped'],
  );
  t.deepEqual(journal, [
    'a run',
    'a running',
    'b run',
    'b asked',
    'b stopping',
    'b stopped',
    'a asked',
    'a stopping',
    'a stopped',
  ]);
});

test('a child that reports running after the stop request does not start the next one', async (t) => {
  const { lifecycle, states, services, children } = makeSequence({
    a: {},
    b: { running: 'manually', whenAsked: 'ignore' },
    c: {},
  });
  const done = runToEnd(lifecycle);
  await services.b.started();
  const stopped = lifecycle.stop();
  await aborted(children.b.signal);
  services.b.reportRunning();
  t.is(children.b.state, 'running');
  await flush();
  t.is(services.c.runs.length, 0);
  t.is(lifecycle.state, 'stopping');
  t.false(children.a.signal.aborted);
  services.b.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(services.c.runs.length, 0);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
});

test('a child that crashes when asked to stop during the start makes the sequence crash with ServiceCrashedError, not StartFailedError', async (t) => {
  const { lifecycle, states, services, children } = makeSequence({
    a: {},
    b: { running: 'manually', whenAsked: 'crash' },
  });
  const done = runToEnd(lifecycle);
  await services.b.started();
  t.is(await lifecycle.stop(), 'crashed');
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is((error as ServiceCrashedError).service, 'b');
  t.is(error?.cause, services.b.error);
  t.deepEqual(states, ['starting', 'stopping', 'crashed']);
  t.deepEqual([children.a.state, children.b.state], ['stopped', 'crashed']);
});

test('a stop requested in an onStarting hook of the sequence starts no child and ends stopped', async (t) => {
  const { lifecycle, states, services } = makeSequence({ a: {}, b: {} });
  lifecycle.onStarting((_sequence, own) => {
    void own.stop();
  });
  t.is(await runToEnd(lifecycle), undefined);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.deepEqual([services.a.runs.length, services.b.runs.length], [0, 0]);
});

test('a stop deadline reaches the child stopping, and the children asked later get an already aborted shutdownSignal', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { logger, entries } = captureLogs();
  const { lifecycle, states, children, journal } = makeSequence(
    {
      a: { whenAsked: 'await-deadline' },
      b: { whenAsked: 'await-deadline' },
      c: { whenAsked: 'await-deadline' },
    },
    { name: 'boot', clock, logger },
  );
  const atStopping: Record<string, boolean> = {};
  for (const child of [children.a, children.b, children.c]) {
    child.onStopping((service, _lifecycle, shutdown) => {
      atStopping[service.name] = shutdown.aborted;
    });
  }
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  journal.length = 0;
  const stopped = lifecycle.stop({ timeout: 1000 });
  await reach(children.c, 'stopping');
  await fake.tickAsync(999);
  t.is(children.c.state, 'stopping');
  t.false(children.c.shutdownSignal.aborted);
  t.false(children.b.signal.aborted);

  await fake.tickAsync(1);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  assertAbortError(t, lifecycle.shutdownSignal.reason, 'TimeoutError');
  for (const child of [children.a, children.b, children.c]) {
    t.is(child.shutdownSignal.reason, lifecycle.shutdownSignal.reason);
  }
  t.deepEqual(atStopping, { c: false, b: true, a: true });
  t.deepEqual(journal, [
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
  t.is(fake.now, 1000);
  t.is(pending(), 0);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.deepEqual(entries.filter((entry) => entry.level === 'warn').map(fields), [
    {
      level: 'warn',
      message:
        'shutdown deadline passed with 3 services still stopping: "a" (running, not yet asked to stop), "b" (running, not yet asked to stop), "c" (stopping, asked to stop 1000 ms ago)',
      sequence: 'boot',
      services: [
        { service: 'a', state: 'running', stoppingMs: undefined },
        { service: 'b', state: 'running', stoppingMs: undefined },
        { service: 'c', state: 'stopping', stoppingMs: 1000 },
      ],
    },
  ]);
});

// --- a child fails to start ---

test('a child that crashes before it runs stops the earlier ones in reverse, never starts the later ones, and fails the start', async (t) => {
  const { lifecycle, states, services, children, journal } = makeSequence(
    { a: {}, b: {}, c: { running: 'manually' }, d: {} },
    { name: 'boot' },
  );
  const done = runToEnd(lifecycle);
  await services.c.started();
  const failure = new Error('port in use');
  services.c.crash(failure);
  const error = await done;

  t.true(error instanceof StartFailedError);
  const startFailed = error as StartFailedError;
  t.is(startFailed.name, 'StartFailedError');
  t.is(startFailed.code, 'ERR_OVERSEER_START_FAILED');
  t.is(startFailed.service, 'c');
  t.is(startFailed.message, 'Service "c" of "boot" failed to start: it crashed: port in use');
  t.is(startFailed.cause, failure);
  t.is(lifecycle.error, error);
  t.deepEqual(states, ['starting', 'stopping', 'crashed']);
  t.is(services.d.runs.length, 0);
  t.deepEqual(
    [children.a.state, children.b.state, children.c.state, children.d.state],
    ['stopped', 'stopped', 'crashed', 'stopped'],
  );
  t.deepEqual(journal, [
    'a run',
    'a running',
    'b run',
    'b running',
    'c run',
    'c crashed',
    'b asked',
    'b stopping',
    'b stopped',
    'a asked',
    'a stopping',
    'a stopped',
  ]);
  assertAbortError(
    t,
    children.b.signal.reason,
    'AbortError',
    'sequence "boot" is stopping because "c" crashed',
  );
  t.is(children.a.signal.reason, children.b.signal.reason);
  await t.throwsAsync(lifecycle.wait(), { is: startFailed });
});

test('a first child that crashes before it runs fails the start without starting any other', async (t) => {
  const { lifecycle, states, services } = makeSequence({ a: { running: 'manually' }, b: {} });
  const done = runToEnd(lifecycle);
  await services.a.started();
  services.a.crash();
  const error = await done;
  t.true(error instanceof StartFailedError);
  t.is((error as StartFailedError).service, 'a');
  t.is(error?.message, 'Service "a" of "sequence" failed to start: it crashed: a failed');
  t.is(error?.cause, services.a.error);
  t.is(services.b.runs.length, 0);
  t.deepEqual(states, ['starting', 'stopping', 'crashed']);
});

test('a child that returns before it runs fails the start with a StartFailedError whose cause is a ReturnedBeforeRunningError', async (t) => {
  const { lifecycle, states, services, children, journal } = makeSequence(
    { a: {}, b: { running: 'manually' }, c: {} },
    { name: 'boot' },
  );
  const done = runToEnd(lifecycle);
  await services.b.started();
  services.b.finish();
  const error = await done;
  t.true(error instanceof StartFailedError);
  const startFailed = error as StartFailedError;
  t.is(startFailed.code, 'ERR_OVERSEER_START_FAILED');
  t.is(startFailed.service, 'b');
  t.is(
    startFailed.message,
    'Service "b" of "boot" failed to start: it stopped before it was running',
  );
  t.true(startFailed.cause instanceof ReturnedBeforeRunningError);
  const cause = startFailed.cause as ReturnedBeforeRunningError;
  t.is(cause.code, 'ERR_OVERSEER_RETURNED_BEFORE_RUNNING');
  t.is(cause.service, 'b');
  t.is(cause.message, 'Service "b" returned before it reported running');
  t.deepEqual(states, ['starting', 'stopping', 'crashed']);
  t.is(services.c.runs.length, 0);
  t.deepEqual([children.a.state, children.b.state], ['stopped', 'stopped']);
  t.deepEqual(journal.slice(-4), ['b stopped', 'a asked', 'a stopping', 'a stopped']);
  assertAbortError(
    t,
    children.a.signal.reason,
    'AbortError',
    'sequence "boot" is stopping because "b" stopped on its own',
  );
});

test('a starting child stopped directly with child.stop() fails the start of the sequence', async (t) => {
  const { lifecycle, services, children } = makeSequence({ a: {}, b: { running: 'manually' } });
  const done = runToEnd(lifecycle);
  await services.b.started();
  t.is(await children.b.stop(), 'stopped');
  const error = await done;
  t.true(error instanceof StartFailedError);
  t.is((error as StartFailedError).service, 'b');
  t.true(error?.cause instanceof ReturnedBeforeRunningError);
  t.is(children.a.state, 'stopped');
  t.is(services.a.runs.length, 1);
});

test('errors of the children stopped after a failed start are all reported with the start failure', async (t) => {
  const { lifecycle, states, services, children } = makeSequence(
    { a: { whenAsked: 'crash' }, b: { whenAsked: 'crash' }, c: { running: 'manually' } },
    { name: 'boot' },
  );
  const done = runToEnd(lifecycle);
  await services.c.started();
  services.c.crash();
  const error = await done;
  t.true(error instanceof ServicesCrashedError);
  t.true(error instanceof AggregateError);
  const crashed = error as ServicesCrashedError;
  t.is(crashed.code, 'ERR_OVERSEER_SERVICES_CRASHED');
  t.is(crashed.message, '3 failures: "c" failed to start, "b" crashed, "a" crashed');
  t.is(crashed.errors.length, 3);
  const [first, second, third] = crashed.errors;
  t.true(first instanceof StartFailedError);
  t.is((first as StartFailedError).service, 'c');
  t.is(first?.cause, services.c.error);
  t.true(second instanceof ServiceCrashedError);
  t.is((second as ServiceCrashedError).service, 'b');
  t.is(second?.cause, services.b.error);
  t.true(third instanceof ServiceCrashedError);
  t.is((third as ServiceCrashedError).service, 'a');
  t.is(third?.cause, services.a.error);
  t.deepEqual(states, ['starting', 'stopping', 'crashed']);
  t.deepEqual(
    [children.a.state, children.b.state, children.c.state],
    ['crashed', 'crashed', 'crashed'],
  );
});

// --- a child ends after the sequence runs ---

test('a child that crashes after it ran, while a later one starts, drains in reverse and crashes the sequence with ServiceCrashedError', async (t) => {
  const { lifecycle, states, services, children, journal } = makeSequence({
    a: {},
    b: {},
    c: { running: 'manually' },
  });
  const done = runToEnd(lifecycle);
  await services.c.started();
  journal.length = 0;
  services.a.crash();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is((error as ServiceCrashedError).service, 'a');
  t.is(error?.cause, services.a.error);
  t.deepEqual(states, ['starting', 'stopping', 'crashed']);
  t.deepEqual(
    [children.a.state, children.b.state, children.c.state],
    ['crashed', 'stopped', 'stopped'],
  );
  t.deepEqual(journal, [
    'a crashed',
    'c asked',
    'c stopping',
    'c stopped',
    'b asked',
    'b stopping',
    'b stopped',
  ]);
});

test('the last child crashing after the sequence runs stops the others in reverse and crashes the sequence with ServiceCrashedError', async (t) => {
  const { lifecycle, states, services, children, journal } = makeSequence(
    { a: {}, b: {}, c: {} },
    { name: 'boot' },
  );
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  journal.length = 0;
  services.c.crash(new Error('out of memory'));
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  const crashed = error as ServiceCrashedError;
  t.is(crashed.code, 'ERR_OVERSEER_SERVICE_CRASHED');
  t.is(crashed.service, 'c');
  t.is(crashed.message, 'Service "c" crashed: out of memory');
  t.is((crashed.cause as Error).message, 'out of memory');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
  t.deepEqual(journal, [
    'c crashed',
    'b asked',
    'b stopping',
    'b stopped',
    'a asked',
    'a stopping',
    'a stopped',
  ]);
  assertAbortError(
    t,
    children.b.signal.reason,
    'AbortError',
    'sequence "boot" is stopping because "c" crashed',
  );
});

test('a middle child crashing after the sequence runs makes the later children stop before the earlier ones', async (t) => {
  const { lifecycle, states, services, children, journal } = makeSequence({
    a: {},
    b: {},
    c: { whenAsked: 'ignore' },
  });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  journal.length = 0;
  services.b.crash();
  await once(children.c.signal, 'abort');
  // c, started after b (and so after a), still runs: a must wait until it has ended.
  t.true(children.c.signal.aborted);
  t.false(children.a.signal.aborted);
  services.c.finish();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is((error as ServiceCrashedError).service, 'b');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
  t.deepEqual(journal, [
    'b crashed',
    'c asked',
    'c stopped', // finish() returns without reporting stopping
    'a asked',
    'a stopping',
    'a stopped',
  ]);
});

test('a child that stops on its own after the sequence runs stops the others in reverse and the sequence ends stopped', async (t) => {
  const { lifecycle, states, services, children, journal } = makeSequence(
    { a: {}, b: {}, c: {} },
    { name: 'boot' },
  );
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  journal.length = 0;
  services.c.finish();
  t.is(await done, undefined);
  t.is(lifecycle.error, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.deepEqual(journal, [
    'c stopped',
    'b asked',
    'b stopping',
    'b stopped',
    'a asked',
    'a stopping',
    'a stopped',
  ]);
  assertAbortError(
    t,
    children.a.signal.reason,
    'AbortError',
    'sequence "boot" is stopping because "c" stopped on its own',
  );
});

test('several children crashing during the drain make the sequence crash with a ServicesCrashedError of all of them', async (t) => {
  const { lifecycle, services } = makeSequence({
    a: { whenAsked: 'crash' },
    b: { whenAsked: 'crash' },
    c: {},
  });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  services.c.crash();
  const error = await done;
  t.true(error instanceof ServicesCrashedError);
  const crashed = error as ServicesCrashedError;
  t.is(crashed.message, '3 services crashed: "c", "b", "a"');
  t.deepEqual(
    crashed.errors.map((each) => [(each as ServiceCrashedError).service, each.cause]),
    [
      ['c', services.c.error],
      ['b', services.b.error],
      ['a', services.a.error],
    ],
  );
});

test('children crashing when asked to stop make stop() resolve crashed with a ServicesCrashedError of all of them', async (t) => {
  const { lifecycle, states, services } = makeSequence({
    a: { whenAsked: 'crash' },
    b: {},
    c: { whenAsked: 'crash' },
  });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(await lifecycle.stop(), 'crashed');
  const error = await done;
  t.true(error instanceof ServicesCrashedError);
  const crashed = error as ServicesCrashedError;
  t.is(crashed.message, '2 services crashed: "c", "a"');
  t.deepEqual(
    crashed.errors.map((each) => each.cause),
    [services.c.error, services.a.error],
  );
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
});

// --- add() during a run, running twice ---

for (const state of ['starting', 'running', 'stopping'] as const) {
  test(`add() while the sequence is ${state} throws AddWhileRunningError saying "sequence" and changes nothing`, async (t) => {
    const { sequence, lifecycle, services } = makeSequence(
      { a: { running: state === 'starting' ? 'manually' : 'immediately', whenAsked: 'ignore' } },
      { name: 'boot' },
    );
    const done = runToEnd(lifecycle);
    await services.a.started();
    if (state !== 'starting') await lifecycle.whenRunning();
    if (state === 'stopping') {
      void lifecycle.stop();
      await reach(lifecycle, 'stopping');
    }
    t.is(lifecycle.state, state);
    const late = new ControlledService('late');
    const error = t.throws(() => sequence.add(late), { instanceOf: AddWhileRunningError });
    t.is(error.code, 'ERR_OVERSEER_ADD_WHILE_RUNNING');
    t.is(error.pool, 'boot');
    t.is(error.service, 'late');
    t.is(
      error.message,
      'Cannot add service "late" to sequence "boot" while the sequence is running; add services before run() or after the sequence has stopped',
    );
    t.throws(() => sequence.add(late, { restart: 'always' }), {
      instanceOf: AddWhileRunningError,
    });
    t.is(sequence.lifecycles.length, 1);
    services.a.finish();
    await done;
    t.is(late.runs.length, 0);
    t.is(sequence.lifecycles.length, 1);
  });
}

test('add() after the sequence has stopped adds a child that starts last with the next run', async (t) => {
  const { sequence, lifecycle, journal } = makeSequence({ a: {}, b: {} });
  const first = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await lifecycle.stop();
  t.is(await first, undefined);
  const late = new JournaledService('late', {}, journal);
  sequence.add(late);
  journal.length = 0;
  const second = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.deepEqual(
    journal.filter((entry) => entry.endsWith(' run')),
    ['a run', 'b run', 'late run'],
  );
  await lifecycle.stop();
  t.is(await second, undefined);
});

test('a sequence runs again after a failed start, and its children start from scratch', async (t) => {
  const { lifecycle, states, services, children } = makeSequence({
    a: {},
    b: { running: 'manually' },
  });
  const first = runToEnd(lifecycle);
  await services.b.started();
  services.b.crash();
  t.true((await first) instanceof StartFailedError);
  const restarted = services.b.started();
  const second = runToEnd(lifecycle);
  t.is(lifecycle.error, undefined);
  await restarted;
  services.b.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual([services.a.runs.length, services.b.runs.length], [2, 2]);
  t.false(children.a.signal.aborted);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await second, undefined);
  t.deepEqual(states, [
    'starting',
    'stopping',
    'crashed',
    'starting',
    'running',
    'stopping',
    'stopped',
  ]);
});

test('run() on a running sequence lifecycle rejects with AlreadyRunningError and changes nothing', async (t) => {
  const { lifecycle, services } = makeSequence({ a: {} }, { name: 'boot' });
  const done = runToEnd(lifecycle);
  const error = await t.throwsAsync(lifecycle.run(), { instanceOf: AlreadyRunningError });
  t.is(error.code, 'ERR_OVERSEER_ALREADY_RUNNING');
  t.is(error.service, 'boot');
  t.is(lifecycle.state, 'running');
  t.is(services.a.runs.length, 1);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('the same sequence run by two lifecycles at once crashes the second with AlreadyRunningError', async (t) => {
  const { sequence, lifecycle, services } = makeSequence({ a: {} }, { name: 'boot' });
  const first = runToEnd(lifecycle);
  const other = new Lifecycle(sequence);
  const otherStates = recordStates(other);
  const error = await runToEnd(other);
  t.true(error instanceof AlreadyRunningError);
  t.is((error as AlreadyRunningError).code, 'ERR_OVERSEER_ALREADY_RUNNING');
  t.is((error as AlreadyRunningError).service, 'boot');
  t.deepEqual(otherStates, ['starting', 'crashed']);
  t.is(lifecycle.state, 'running');
  t.is(services.a.runs.length, 1);
  t.false(services.a.lifecycle.signal.aborted);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await first, undefined);
});

// --- nesting ---

test('a pool inside a sequence starts after the child before it, and the child after it waits for the whole pool', async (t) => {
  const journal: string[] = [];
  const sequence = new Sequence({ name: 'boot' });
  const db = new JournaledService('db', { running: 'manually' }, journal);
  journalOf(sequence.add(db), journal);
  const pool = new Pool({ name: 'workers' });
  const w1 = new JournaledService('w1', { running: 'manually' }, journal);
  const w2 = new JournaledService('w2', { running: 'manually' }, journal);
  journalOf(pool.add(w1), journal);
  journalOf(pool.add(w2), journal);
  journalOf(sequence.add(pool), journal);
  const web = new JournaledService('web', {}, journal);
  journalOf(sequence.add(web), journal);
  const lifecycle = new Lifecycle(sequence);
  const states = recordStates(lifecycle);
  const done = runToEnd(lifecycle);

  await flush();
  t.deepEqual(journal, ['db run']);
  db.reportRunning();
  await flush();
  t.deepEqual(journal, ['db run', 'db running', 'w1 run', 'w2 run']);
  w2.reportRunning();
  await flush();
  t.is(web.runs.length, 0);
  w1.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual(journal.slice(4), [
    'w2 running',
    'w1 running',
    'workers running',
    'web run',
    'web running',
  ]);
  t.is(lifecycle.state, 'running');

  journal.length = 0;
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  assertInOrder(t, journal, [
    'web asked',
    'web stopped',
    'workers asked',
    'w1 asked',
    'w1 stopped',
    'workers stopped',
    'db asked',
    'db stopped',
  ]);
  // The pool stops its own children in parallel.
  assertInOrder(t, journal, ['workers asked', 'w2 asked', 'w1 stopped']);
  assertInOrder(t, journal, ['w2 stopped', 'workers stopped']);
});

test('a sequence inside a pool starts its children one after another and stops them in reverse', async (t) => {
  const journal: string[] = [];
  const pool = new Pool({ name: 'app' });
  const cache = new JournaledService('cache', {}, journal);
  journalOf(pool.add(cache), journal);
  const sequence = new Sequence({ name: 'boot' });
  const db = new JournaledService('db', { running: 'manually' }, journal);
  const web = new JournaledService('web', { running: 'manually' }, journal);
  journalOf(sequence.add(db), journal);
  journalOf(sequence.add(web), journal);
  const boot = pool.add(sequence);
  journalOf(boot, journal);
  const lifecycle = new Lifecycle(pool);
  const states = recordStates(lifecycle);
  const done = runToEnd(lifecycle);

  await flush();
  t.deepEqual(journal, ['cache run', 'cache running', 'db run']);
  t.is(boot.state, 'starting');
  t.is(lifecycle.state, 'starting');
  db.reportRunning();
  await flush();
  t.deepEqual(journal.slice(3), ['db running', 'web run']);
  t.is(lifecycle.state, 'starting');
  web.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual(journal.slice(5), ['web running', 'boot running']);
  t.is(lifecycle.state, 'running');

  journal.length = 0;
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  assertInOrder(t, journal, [
    'boot asked',
    'web asked',
    'web stopped',
    'db asked',
    'db stopped',
    'boot stopped',
  ]);
  // The pool asks both of its children at once.
  assertInOrder(t, journal, ['cache asked', 'web stopped']);
});

test('a crash inside a pool inside a sequence fails the start of the sequence with the pool error as cause', async (t) => {
  const sequence = new Sequence({ name: 'boot' });
  const db = sequence.add(new ControlledService('db'));
  const pool = new Pool({ name: 'workers' });
  const worker = new ControlledService('worker', { running: 'manually' });
  pool.add(worker);
  sequence.add(pool);
  const web = new ControlledService('web');
  sequence.add(web);
  const lifecycle = new Lifecycle(sequence);
  const done = runToEnd(lifecycle);
  await worker.started();
  worker.crash();
  const error = await done;
  t.true(error instanceof StartFailedError);
  t.is((error as StartFailedError).service, 'workers');
  t.true(error?.cause instanceof ServiceCrashedError);
  t.is((error?.cause as ServiceCrashedError).cause, worker.error);
  t.is(db.state, 'stopped');
  t.is(web.runs.length, 0);
});

// --- logging ---

test('the sequence logs every child transition at info with service, sequence and state', async (t) => {
  const { logger, entries } = captureLogs();
  const { lifecycle } = makeSequence({ a: {}, b: {} }, { name: 'boot', logger });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await lifecycle.stop();
  t.is(await done, undefined);
  const line = (service: string, state: State) => ({
    level: 'info',
    message: `service ${state}`,
    service,
    sequence: 'boot',
    state,
    ...(state === 'stopping' ? { reason: 'The service was asked to stop' } : {}),
  });
  t.deepEqual(entries.map(fields), [
    line('a', 'starting'),
    line('a', 'running'),
    line('b', 'starting'),
    line('b', 'running'),
    line('b', 'stopping'),
    line('b', 'stopped'),
    line('a', 'stopping'),
    line('a', 'stopped'),
  ]);
});

test('the sequence logs a child crash at error level with the sequence field and the error', async (t) => {
  const { logger, entries } = captureLogs();
  const { lifecycle, services } = makeSequence({ a: {}, b: {} }, { name: 'boot', logger });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  services.b.crash();
  t.true((await done) instanceof ServiceCrashedError);
  t.deepEqual(entries.filter((entry) => entry.level === 'error').map(fields), [
    {
      level: 'error',
      message: 'service crashed',
      service: 'b',
      sequence: 'boot',
      state: 'crashed',
      error: services.b.error,
    },
  ]);
  t.false(entries.some((entry) => 'pool' in entry));
});

test('child lifecycles created by add() log hook failures to the sequence logger', async (t) => {
  const { logger, entries } = captureLogs('error');
  const sequence = new Sequence({ name: 'boot', logger });
  const failure = new Error('hook broke');
  sequence.add(new ControlledService('a')).onRunning(() => {
    throw failure;
  });
  const lifecycle = new Lifecycle(sequence);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await lifecycle.stop();
  t.is(await done, undefined);
  t.deepEqual(entries.map(fields), [
    {
      level: 'error',
      message: 'lifecycle hook failed',
      service: 'a',
      event: 'running',
      error: failure,
    },
  ]);
});

// --- scale ---

test('a sequence of 10,000 children starts them in order and stops them in reverse without overflowing the stack', async (t) => {
  const count = 10_000;
  const started: number[] = [];
  const stopped: number[] = [];
  const sequence = new Sequence({ name: 'many' });
  for (let index = 0; index < count; index++) {
    sequence.add(
      serviceOf(`s${index}`, async (lifecycle) => {
        started.push(index);
        lifecycle.running();
        if (!lifecycle.signal.aborted) await once(lifecycle.signal, 'abort');
        lifecycle.stopping();
        stopped.push(index);
      }),
    );
  }
  const lifecycle = new Lifecycle(sequence);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(started.length, count);
  t.true(started.every((value, index) => value === index));
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.is(stopped.length, count);
  t.true(stopped.every((value, index) => value === count - 1 - index));
  t.true(sequence.lifecycles.every((child) => child.state === 'stopped'));
});
