import { once } from 'node:events';
import test from 'ava';
import {
  HookTimeoutError,
  Lifecycle,
  Pool,
  Restarter,
  ServiceCrashedError,
  type Clock,
  type Dependency,
  type Logger,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { journaledPool, type JournaledService } from './helpers/dependencies.js';
import { captureLogs } from './helpers/logs.js';
import { allStarted, flush, runToEnd } from './helpers/pool.js';
import { reach } from './helpers/record.js';
import { journalOf } from './helpers/sequence.js';
import { ControlledService, type Behaviour } from './helpers/service.js';
import { fields, assertAbortError as assertDomException } from './helpers/assertions.js';

/**
 * The diamond of the brief: b and c depend on a, d depends on b and c (on b by its lifecycle, on
 * c by its service). Every child behaves as `behaviour` says.
 */
function diamond(
  behaviour: Behaviour = {},
  options: { name?: string; logger?: Logger; clock?: Clock } = {},
) {
  const fixture = journaledPool(options);
  const { pool, service } = fixture;
  const services = {
    a: service('a', behaviour),
    b: service('b', behaviour),
    c: service('c', behaviour),
    d: service('d', behaviour),
  };
  const a = pool.add(services.a);
  const b = pool.add(services.b, { dependsOn: [a] });
  const c = pool.add(services.c, { dependsOn: [a] });
  const d = pool.add(services.d, { dependsOn: [b, services.c] });
  return { ...fixture, services, children: { a, b, c, d } };
}

/** How many times each service's `runWithLifecycle` was called. */
function runCounts(...services: readonly JournaledService[]): number[] {
  return services.map((service) => service.runs.length);
}

// --- starting ---

test('a child starts only once the lifecycle it depends on reports running', async (t) => {
  const { pool, lifecycle, states, journal, service } = journaledPool();
  const a = service('a', { running: 'manually' });
  const b = service('b');
  const childA = pool.add(a);
  const childB = pool.add(b, { dependsOn: [childA] });
  const done = runToEnd(lifecycle);
  await a.started();
  t.deepEqual(journal, ['start a']);
  t.is(childB.state, 'stopped');
  t.is(lifecycle.state, 'starting');

  a.reportRunning();
  // The pool starts b in a microtask, not on the stack of a's running().
  t.deepEqual(journal, ['start a', 'running a']);
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['start a', 'running a', 'start b', 'running b']);
  t.is(childB.state, 'running');
  t.is(lifecycle.state, 'running');
  t.deepEqual(states, ['starting', 'running']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a child starts only once the service it depends on reports running', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool();
  const a = service('a', { running: 'manually' });
  const b = service('b');
  pool.add(a);
  const childB = pool.add(b, { dependsOn: [a] });
  const done = runToEnd(lifecycle);
  await a.started();
  t.deepEqual(journal, ['start a']);
  t.is(b.runs.length, 0);

  a.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['start a', 'running a', 'start b', 'running b']);
  t.is(childB.state, 'running');
  t.is(lifecycle.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a child with several dependencies starts only once every one of them reports running', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool();
  const a = service('a', { running: 'manually' });
  const b = service('b', { running: 'manually' });
  const c = service('c');
  const childA = pool.add(a);
  pool.add(b);
  pool.add(c, { dependsOn: [childA, b] });
  const done = runToEnd(lifecycle);
  await allStarted({ a, b });
  t.deepEqual(journal, ['start a', 'start b']);

  b.reportRunning();
  await flush();
  t.deepEqual(journal, ['start a', 'start b', 'running b']);
  t.is(c.runs.length, 0);
  a.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['start a', 'start b', 'running b', 'running a', 'start c', 'running c']);
  t.is(lifecycle.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a dependency named twice (by lifecycle and by service) is waited for once', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool();
  const a = service('a', { running: 'manually' });
  const b = service('b');
  const childA = pool.add(a);
  pool.add(b, { dependsOn: [childA, a, childA] });
  const done = runToEnd(lifecycle);
  await a.started();
  a.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['start a', 'running a', 'start b', 'running b']);
  t.is(lifecycle.state, 'running');

  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal.slice(4), ['asked b', 'stopped b', 'asked a', 'stopped a']);
});

test('independent children start at once, in the order they were added, while dependents wait', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool();
  const x = service('x', { running: 'manually' });
  const y = service('y', { running: 'manually' });
  const z = service('z', { running: 'manually' });
  const w = service('w', { running: 'manually' });
  const childX = pool.add(x);
  pool.add(y, { dependsOn: [childX] });
  pool.add(z);
  pool.add(w);
  const done = runToEnd(lifecycle);
  await allStarted({ x, z, w });
  // None of them has reported running, yet every independent child was started.
  t.deepEqual(journal, ['start x', 'start z', 'start w']);
  t.deepEqual(runCounts(x, y, z, w), [1, 0, 1, 1]);

  x.reportRunning();
  await flush();
  t.deepEqual(journal, ['start x', 'start z', 'start w', 'running x', 'start y']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('in a diamond, b and c start together once a runs, d once both run, and the pool runs after d', async (t) => {
  const { lifecycle, states, journal, services, children } = diamond({ running: 'manually' });
  const done = runToEnd(lifecycle);
  await services.a.started();
  t.deepEqual(journal, ['start a']);
  t.deepEqual(runCounts(services.a, services.b, services.c, services.d), [1, 0, 0, 0]);

  services.a.reportRunning();
  await flush();
  t.deepEqual(journal, ['start a', 'running a', 'start b', 'start c']);
  services.c.reportRunning();
  await flush();
  t.deepEqual(journal.slice(4), ['running c']);
  t.is(children.d.state, 'stopped');
  services.b.reportRunning();
  await flush();
  t.deepEqual(journal.slice(4), ['running c', 'running b', 'start d']);
  t.is(lifecycle.state, 'starting');

  services.d.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual(journal.slice(7), ['running d']);
  t.is(lifecycle.state, 'running');
  t.deepEqual(states, ['starting', 'running']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a child may depend on a service added after it', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool();
  const later = service('later');
  const early = service('early');
  const childEarly = pool.add(early, { dependsOn: [later] });
  const childLater = pool.add(later);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['start later', 'running later', 'start early', 'running early']);
  t.deepEqual([childEarly.state, childLater.state], ['running', 'running']);
  t.is(lifecycle.state, 'running');

  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal.slice(4), ['asked early', 'stopped early', 'asked later', 'stopped later']);
});

// --- stopping ---

test('in a diamond, stop asks d first, then b and c together once d has ended, then a', async (t) => {
  const { lifecycle, states, journal, services, children } = diamond({ whenAsked: 'ignore' });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  journal.length = 0;

  const stopped = lifecycle.stop();
  await flush();
  t.is(lifecycle.state, 'stopping');
  t.deepEqual(journal, ['asked d']);
  t.deepEqual(
    [children.a, children.b, children.c].map((child) => child.signal.aborted),
    [false, false, false],
  );
  services.d.reportStopping();
  services.d.finish();
  await reach(children.d, 'stopped');
  t.deepEqual(journal, ['asked d', 'stopped d', 'asked b', 'asked c']);

  services.b.finish();
  await reach(children.b, 'stopped');
  // c still runs: a, which c depends on, is not asked yet.
  t.deepEqual(journal.slice(4), ['stopped b']);
  t.false(children.a.signal.aborted);
  services.c.finish();
  await reach(children.c, 'stopped');
  t.deepEqual(journal.slice(4), ['stopped b', 'stopped c', 'asked a']);

  services.a.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal.slice(7), ['stopped a']);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  // Every child got the pool's own stop reason.
  assertDomException(t, lifecycle.signal.reason, 'AbortError');
  for (const child of [children.a, children.b, children.c, children.d]) {
    t.is(child.signal.reason, lifecycle.signal.reason);
  }
});

test('a dependency is not asked to stop while a child depending on it is still stopping', async (t) => {
  const { clock, fake } = fakeClock();
  const { pool, lifecycle, journal, service } = journaledPool({ clock });
  const db = service('db', { whenAsked: 'ignore' });
  const web = service('web', { whenAsked: 'ignore' });
  const other = service('other', { whenAsked: 'ignore' });
  const childDb = pool.add(db);
  const childWeb = pool.add(web, { dependsOn: [childDb] });
  pool.add(other);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  journal.length = 0;

  const stopped = lifecycle.stop();
  await flush();
  // The independent child is asked together with web: parallel within a level.
  t.deepEqual(journal, ['asked web', 'asked other']);
  web.reportStopping();
  other.reportStopping();
  other.finish();
  await reach(pool.lifecycles[2]!, 'stopped');
  await fake.tickAsync(60_000);
  t.is(childWeb.state, 'stopping');
  t.is(childDb.state, 'running');
  t.false(childDb.signal.aborted);
  t.deepEqual(journal, ['asked web', 'asked other', 'stopped other']);

  web.finish();
  await reach(childWeb, 'stopped');
  t.deepEqual(journal.slice(3), ['stopped web', 'asked db']);
  db.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
});

test('a stop request while children wait for their dependencies never starts them and the pool ends stopped', async (t) => {
  const { pool, lifecycle, states, journal, service } = journaledPool();
  const a = service('a', { running: 'manually' });
  const b = service('b');
  const c = service('c');
  const childA = pool.add(a);
  const childB = pool.add(b, { dependsOn: [childA] });
  const childC = pool.add(c, { dependsOn: [childB] });
  const done = runToEnd(lifecycle);
  await a.started();

  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal, ['start a', 'asked a', 'stopped a']);
  t.deepEqual(runCounts(a, b, c), [1, 0, 0]);
  t.deepEqual([childA.state, childB.state, childC.state], ['stopped', 'stopped', 'stopped']);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
});

test('a stop request while a dependent is starting stops it before its dependency, and what waits never starts', async (t) => {
  const { pool, lifecycle, states, journal, service } = journaledPool();
  const a = service('a');
  const b = service('b', { running: 'manually', whenAsked: 'ignore' });
  const c = service('c');
  const childA = pool.add(a);
  const childB = pool.add(b, { dependsOn: [childA] });
  pool.add(c, { dependsOn: [childB] });
  const done = runToEnd(lifecycle);
  await b.started();
  t.deepEqual(journal, ['start a', 'running a', 'start b']);

  const stopped = lifecycle.stop();
  await flush();
  t.deepEqual(journal.slice(3), ['asked b']);
  t.false(childA.signal.aborted);
  b.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal.slice(3), ['asked b', 'stopped b', 'asked a', 'stopped a']);
  t.deepEqual(runCounts(a, b, c), [1, 1, 0]);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
});

// --- children ending on their own ---

test('a dependency that crashes before its dependent started: the dependent never starts and the pool crashes naming it', async (t) => {
  const { pool, lifecycle, states, journal, service } = journaledPool();
  const a = service('a', { running: 'manually' });
  const b = service('b');
  const other = service('other');
  const childA = pool.add(a);
  const childB = pool.add(b, { dependsOn: [childA] });
  const childOther = pool.add(other);
  const done = runToEnd(lifecycle);
  await allStarted({ a, other });
  a.crash(new Error('no connection'));

  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is((error as ServiceCrashedError).service, 'a');
  t.is(error?.message, 'Service "a" crashed: no connection');
  t.is(error?.cause, childA.error);
  t.is(lifecycle.error, error);
  t.deepEqual(states, ['starting', 'stopping', 'crashed']);
  t.deepEqual(runCounts(a, b, other), [1, 0, 1]);
  t.deepEqual([childA.state, childB.state, childOther.state], ['crashed', 'stopped', 'stopped']);
  t.deepEqual(journal, [
    'start a',
    'start other',
    'running other',
    'crashed a',
    'asked other',
    'stopped other',
  ]);
  assertDomException(
    t,
    childOther.signal.reason,
    'AbortError',
    'pool "app" is stopping because "a" crashed',
  );
});

test('a crashing dependent makes the pool stop the others in reverse dependency order', async (t) => {
  const { lifecycle, states, journal, services, children } = diamond();
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  journal.length = 0;

  services.b.crash();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is((error as ServiceCrashedError).service, 'b');
  t.is(error?.cause, services.b.error);
  t.deepEqual(journal, [
    'crashed b',
    'asked d',
    'stopped d',
    'asked c',
    'stopped c',
    'asked a',
    'stopped a',
  ]);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
  t.deepEqual(
    [children.a.state, children.b.state, children.c.state, children.d.state],
    ['stopped', 'crashed', 'stopped', 'stopped'],
  );
  assertDomException(
    t,
    children.d.signal.reason,
    'AbortError',
    'pool "app" is stopping because "b" crashed',
  );
  t.is(children.a.signal.reason, children.d.signal.reason);
});

test('a child in the middle of a chain crashing: the end of the chain is stopped before its start', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool();
  const services = { a: service('a'), b: service('b'), c: service('c', { whenAsked: 'ignore' }) };
  const a = pool.add(services.a);
  const b = pool.add(services.b, { dependsOn: [a] });
  const c = pool.add(services.c, { dependsOn: [b] });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  journal.length = 0;

  services.b.crash();
  await once(c.signal, 'abort');
  // c depends on b, which depends on a: a stays up while c, which needs it indirectly, runs.
  t.true(c.signal.aborted);
  t.false(a.signal.aborted);
  services.c.finish();
  const error = await done;
  t.is((error as ServiceCrashedError).service, 'b');
  t.deepEqual(journal, ['crashed b', 'asked c', 'stopped c', 'asked a', 'stopped a']);
});

test('a dependent that stops on its own makes the pool stop the others in reverse dependency order and end stopped', async (t) => {
  const { lifecycle, states, journal, services } = diamond();
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  journal.length = 0;

  services.c.finish();
  t.is(await done, undefined);
  t.deepEqual(journal, [
    'stopped c',
    'asked d',
    'stopped d',
    'asked b',
    'stopped b',
    'asked a',
    'stopped a',
  ]);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

// --- deadlines ---

test('at the deadline, children already asked to stop get shutdownSignal aborted; a dependency asked later gets it already aborted', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { pool, lifecycle, journal, service } = journaledPool({ clock });
  const db = service('db', { whenAsked: 'ignore' });
  const web = service('web', { whenAsked: 'await-deadline' });
  const childDb = pool.add(db);
  const childWeb = pool.add(web, { dependsOn: [childDb] });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  journal.length = 0;

  const stopped = lifecycle.stop({ timeout: 1000 });
  await fake.tickAsync(999);
  t.is(childWeb.state, 'stopping');
  t.false(childWeb.shutdownSignal.aborted);
  t.false(childDb.signal.aborted);

  const webStopped = reach(childWeb, 'stopped');
  await fake.tickAsync(1);
  assertDomException(t, lifecycle.shutdownSignal.reason, 'TimeoutError');
  t.is(childWeb.shutdownSignal.reason, lifecycle.shutdownSignal.reason);
  await webStopped;
  t.deepEqual(journal, ['asked web', 'stopped web', 'asked db']);
  t.is(childDb.state, 'running');
  // db is asked only now, past the deadline: the shutdown signal it gets has already expired.
  const shutdown = db.reportStopping();
  t.true(shutdown.aborted);
  t.is(shutdown.reason, lifecycle.shutdownSignal.reason);
  db.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(fake.now, 1000);
  t.is(pending(), 0);
});

test('in a diamond, only d has its shutdownSignal aborted at the deadline; b and c get it when they are asked', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { lifecycle, services, children } = diamond({ whenAsked: 'ignore' }, { clock });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop({ timeout: 500 });
  await fake.tickAsync(500);
  t.true(children.d.shutdownSignal.aborted);
  t.deepEqual(
    [children.a, children.b, children.c].map((child) => child.shutdownSignal.aborted),
    [false, false, false],
  );
  services.d.finish();
  await reach(children.d, 'stopped');
  t.deepEqual(
    [children.b, children.c].map((child) => [child.signal.aborted, child.shutdownSignal.aborted]),
    [
      [true, true],
      [true, true],
    ],
  );
  t.false(children.a.signal.aborted);
  t.false(children.a.shutdownSignal.aborted);
  const bStopped = reach(children.b, 'stopped');
  const cStopped = reach(children.c, 'stopped');
  services.b.finish();
  services.c.finish();
  await Promise.all([bStopped, cStopped]);
  t.true(children.a.signal.aborted);
  t.true(children.a.shutdownSignal.aborted);
  t.is(children.a.shutdownSignal.reason, lifecycle.shutdownSignal.reason);
  services.a.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(pending(), 0);
});

// --- the log at a missed deadline ---

test('at the deadline the pool logs one warn line naming the children still active, with state and stoppingMs', async (t) => {
  const { clock, fake } = fakeClock();
  const { logger, entries } = captureLogs('warn');
  const { pool, lifecycle, journal, service } = journaledPool({ clock, logger });
  const a = service('a', { whenAsked: 'ignore' });
  const b = service('b', { whenAsked: 'ignore' });
  const c = service('c', { whenAsked: 'ignore' });
  const childA = pool.add(a);
  const childB = pool.add(b, { dependsOn: [childA] });
  const childC = pool.add(c, { dependsOn: [b] });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await fake.tickAsync(5000);
  journal.length = 0;

  const stopped = lifecycle.stop({ timeout: 1000 });
  await flush();
  t.deepEqual(journal, ['asked c']);
  await fake.tickAsync(300);
  c.finish();
  await reach(childC, 'stopped');
  t.deepEqual(journal, ['asked c', 'stopped c', 'asked b']);
  b.reportStopping();
  await fake.tickAsync(699);
  t.deepEqual(entries, []);

  await fake.tickAsync(1);
  t.deepEqual(entries.map(fields), [
    {
      level: 'warn',
      message:
        'shutdown deadline passed with 2 services still stopping: "a" (running, not yet asked to stop), "b" (stopping, asked to stop 700 ms ago)',
      pool: 'app',
      services: [
        { service: 'a', state: 'running', stoppingMs: undefined },
        { service: 'b', state: 'stopping', stoppingMs: 700 },
      ],
    },
  ]);
  t.true(childB.shutdownSignal.aborted);
  t.false(childA.signal.aborted);

  // The stragglers finish late: stop() still resolves, with 'stopped', and nothing more is logged.
  await fake.tickAsync(2000);
  b.finish();
  await reach(childB, 'stopped');
  t.deepEqual(journal.slice(3), ['stopped b', 'asked a']);
  t.true(childA.shutdownSignal.aborted);
  a.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(entries.length, 1);
});

test('when every child stopped before the deadline but a hook still holds one, the deadline line names that hook and the hook is abandoned', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { logger, entries } = captureLogs('warn');
  const { pool, lifecycle, service } = journaledPool({ clock, logger });
  const childA = pool.add(service('a'));
  pool.add(service('b'), { dependsOn: [childA] });
  // A slow onStopped hook would keep the pool stopping past its deadline, after both children
  // ended; the deadline bounds it.
  childA.onStopped(
    () =>
      new Promise<void>((resolve) => {
        fake.setTimeout(() => {
          resolve();
        }, 2000);
      }),
  );
  const hookErrors: unknown[] = [];
  childA.on('hookError', (error) => hookErrors.push(error));
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop({ timeout: 1000 });
  await reach(childA, 'stopped');
  await fake.tickAsync(999);
  t.is(lifecycle.state, 'stopping');
  t.deepEqual(hookErrors, []);
  await fake.tickAsync(1);
  t.true(lifecycle.shutdownSignal.aborted);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(fake.now, 1000);
  t.is(hookErrors.length, 1);
  t.true(hookErrors[0] instanceof HookTimeoutError);
  t.like(hookErrors[0], { service: 'a', event: 'stopped' });
  // The deadline line names the hook that holds the stop; then the abandoned hook is logged as a
  // hook failure, at error level.
  t.deepEqual(
    entries.map(({ level, message }) => [level, message]),
    [
      ['error', 'lifecycle hook failed'],
      [
        'warn',
        'shutdown deadline passed with 1 service still stopping: "a" (stopped, waiting for its "stopped" hook)',
      ],
    ],
  );
  await fake.tickAsync(1000);
  t.is(pending(), 0);
});

test('the deadline line names at most 10 children, then says how many more', async (t) => {
  const { clock, fake } = fakeClock();
  const { logger, entries } = captureLogs('warn');
  const { pool, lifecycle, service } = journaledPool({ clock, logger });
  const base = service('s1', { whenAsked: 'ignore' });
  const dependents = Array.from({ length: 11 }, (_, index) =>
    service(`s${index + 2}`, { whenAsked: 'ignore' }),
  );
  const childBase = pool.add(base);
  const children = dependents.map((dependent) => pool.add(dependent, { dependsOn: [childBase] }));
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop({ timeout: 250 });
  await fake.tickAsync(250);

  const named = ['s2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10'].map(
    (name) => `"${name}" (running, asked to stop 250 ms ago)`,
  );
  t.is(entries.length, 1);
  t.is(
    entries[0]?.message,
    `shutdown deadline passed with 12 services still stopping: "s1" (running, not yet asked to stop), ${named.join(', ')} and 2 more`,
  );
  t.deepEqual(
    (entries[0]?.services as { service: string }[]).map(({ service: name }) => name),
    ['s1', ...dependents.map((dependent) => dependent.name)],
  );

  const ended = Promise.all(children.map((child) => reach(child, 'stopped')));
  for (const dependent of dependents) dependent.finish();
  await ended;
  t.true(childBase.signal.aborted);
  base.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
});

// --- bad dependencies ---

test('add() throws a TypeError naming `options.dependsOn` when it is not an array, and adds nothing', (t) => {
  const pool = new Pool({ name: 'app' });
  const first = pool.add(new ControlledService('a'));
  const bad: [unknown, string][] = [
    [first, 'an object (Lifecycle)'],
    ['a', '`"a"` (string)'],
    [null, '`null`'],
    [{ length: 1, 0: first }, 'an object (Object)'],
  ];
  for (const [dependsOn, got] of bad) {
    t.throws(() => pool.add(new ControlledService('b'), { dependsOn: dependsOn as Dependency[] }), {
      instanceOf: TypeError,
      message: `Expected \`options.dependsOn\` to be an array of lifecycles or services, got ${got}`,
    });
  }
  t.is(pool.lifecycles.length, 1);
});

test('add() throws a TypeError naming `options.dependsOn[i]` for an element that is neither a Lifecycle nor a Service, and adds nothing', (t) => {
  const pool = new Pool({ name: 'app' });
  const first = pool.add(new ControlledService('a'));
  const bad: [unknown, string][] = [
    ['a', '`"a"` (string)'],
    [undefined, '`undefined` (undefined)'],
    [{ name: 'x' }, 'an object (Object)'],
    [{ name: '', runWithLifecycle() {} }, 'an object (Object)'],
  ];
  for (const [element, got] of bad) {
    t.throws(
      () => pool.add(new ControlledService('b'), { dependsOn: [first, element as Dependency] }),
      {
        instanceOf: TypeError,
        message: `Expected \`options.dependsOn[1]\` to be a Lifecycle or a Service, got ${got}`,
      },
    );
  }
  t.is(pool.lifecycles.length, 1);
});

test('add() throws a TypeError naming the pool for a lifecycle that is not one of its children, and adds nothing', (t) => {
  const pool = new Pool({ name: 'app' });
  pool.add(new ControlledService('a'));
  const otherPool = new Pool({ name: 'other' });
  const foreign = otherPool.add(new ControlledService('db'));
  const standalone = new Lifecycle(new ControlledService('cache'));
  t.throws(() => pool.add(new ControlledService('b'), { dependsOn: [foreign] }), {
    instanceOf: TypeError,
    message:
      'Expected `options.dependsOn[0]` to be a child of pool "app", got the lifecycle of "db", which is not in it',
  });
  t.throws(
    () => pool.add(new ControlledService('b'), { dependsOn: [pool.lifecycles[0]!, standalone] }),
    {
      instanceOf: TypeError,
      message:
        'Expected `options.dependsOn[1]` to be a child of pool "app", got the lifecycle of "cache", which is not in it',
    },
  );
  t.is(pool.lifecycles.length, 1);
  t.is(otherPool.lifecycles.length, 1);
});

test('a service that depends on itself is refused at add() with a TypeError, and nothing is added', (t) => {
  const pool = new Pool({ name: 'app' });
  const x = new ControlledService('x');
  t.throws(() => pool.add(x, { dependsOn: [x] }), {
    instanceOf: TypeError,
    message: 'Service "x" cannot depend on itself in pool "app": that makes a cycle ("x" → "x")',
  });
  t.is(pool.lifecycles.length, 0);
});

test('a dependency closing a cycle of two is refused at the add() that closes it, and nothing is added', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool({ name: 'p' });
  const x = service('x');
  const y = service('y');
  const childX = pool.add(x, { dependsOn: [y] });
  t.throws(() => pool.add(y, { dependsOn: [childX] }), {
    instanceOf: TypeError,
    message: 'Service "y" cannot depend on "x" in pool "p": that makes a cycle ("y" → "x" → "y")',
  });
  t.deepEqual(pool.lifecycles, [childX]);

  // The refused add() left no trace: y added without the dependency runs first.
  pool.add(y);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['start y', 'running y', 'start x', 'running x']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a dependency closing a cycle of three is refused at the add() that closes it, listing the cycle, and nothing is added', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool({ name: 'p' });
  const x = service('x');
  const y = service('y');
  const z = service('z');
  const childX = pool.add(x, { dependsOn: [y] });
  const childY = pool.add(y, { dependsOn: [z] });
  t.throws(() => pool.add(z, { dependsOn: [childX] }), {
    instanceOf: TypeError,
    message:
      'Service "z" cannot depend on "x" in pool "p": that makes a cycle ("z" → "x" → "y" → "z")',
  });
  t.deepEqual(pool.lifecycles, [childX, childY]);

  pool.add(z);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['start z', 'running z', 'start y', 'running y', 'start x', 'running x']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal.slice(6), [
    'asked x',
    'stopped x',
    'asked y',
    'stopped y',
    'asked z',
    'stopped z',
  ]);
});

test('a dependency on a service never added makes run() reject with a TypeError naming both services and the pool', async (t) => {
  const { pool, lifecycle, states, service } = journaledPool({ name: 'p' });
  const a = service('a');
  const z = service('z');
  const ghost = service('ghost');
  pool.add(a);
  const childZ = pool.add(z, { dependsOn: [ghost] });
  const error = await runToEnd(lifecycle);
  t.true(error instanceof TypeError);
  t.is(
    error?.message,
    'Service "z" of pool "p" depends on "ghost", which was never added to the pool',
  );
  t.is(lifecycle.state, 'crashed');
  t.is(lifecycle.error, error);
  t.deepEqual(states, ['starting', 'crashed']);
  t.deepEqual(runCounts(a, z, ghost), [0, 0, 0]);
  t.is(childZ.state, 'stopped');
});

test('once the missing service is added, the pool that refused to run runs in dependency order', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool({ name: 'p' });
  const z = service('z');
  const ghost = service('ghost');
  pool.add(z, { dependsOn: [ghost] });
  t.true((await runToEnd(lifecycle)) instanceof TypeError);

  pool.add(ghost);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['start ghost', 'running ghost', 'start z', 'running z']);
  t.is(lifecycle.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a dependency by service on a service added twice makes run() reject with a TypeError saying it was added more than once', async (t) => {
  const { pool, lifecycle, service } = journaledPool({ name: 'p' });
  const a = service('a');
  const b = service('b');
  pool.add(a);
  pool.add(a);
  pool.add(b, { dependsOn: [a] });
  const error = await runToEnd(lifecycle);
  t.true(error instanceof TypeError);
  t.is(
    error?.message,
    'Service "b" of pool "p" depends on "a", which was added to the pool more than once; depend on the lifecycle add() returned instead',
  );
  t.is(lifecycle.state, 'crashed');
  t.deepEqual(runCounts(a, b), [0, 0]);
});

test('add() with dependsOn while the pool runs starts the child in a reaction, once its dependency runs', async (t) => {
  const { pool, lifecycle, service, journal } = journaledPool();
  const a = service('a');
  const childA = pool.add(a);
  journalOf(childA, journal);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const late = service('late');
  const child = pool.add(late, { dependsOn: [childA] });
  journalOf(child, journal);
  t.is(child.state, 'stopped', "not started on add()'s stack");
  await reach(child, 'running');
  t.is(pool.lifecycles.length, 2);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  const own = journal.filter((line) => /^(a|late) (running|stopped)$/.test(line));
  t.deepEqual(own, ['a running', 'late running', 'late stopped', 'a stopped']);
});

// --- without dependencies ---

for (const [title, options] of [
  ['without dependsOn', undefined],
  ['with empty dependsOn lists', { dependsOn: [] }],
] as const) {
  test(`a pool ${title} starts every child at once and asks every child to stop at once`, async (t) => {
    const { pool, lifecycle, states, journal, service } = journaledPool();
    const services = ['a', 'b', 'c'].map((name) =>
      service(name, { running: 'manually', whenAsked: 'ignore' }),
    );
    for (const child of services) pool.add(child, options);
    const done = runToEnd(lifecycle);
    await Promise.all(services.map((child) => child.started()));
    t.deepEqual(journal, ['start a', 'start b', 'start c']);
    for (const child of services) child.reportRunning();
    await lifecycle.whenRunning();
    journal.length = 0;

    const stopped = lifecycle.stop();
    await flush();
    t.deepEqual(journal, ['asked a', 'asked b', 'asked c']);
    for (const child of services) child.finish();
    t.is(await stopped, 'stopped');
    t.is(await done, undefined);
    t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  });
}

// --- runs again; restarters ---

test('a pool with dependencies keeps its order when it runs again', async (t) => {
  const { lifecycle, journal, services } = diamond();
  const first = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await lifecycle.stop();
  t.is(await first, undefined);
  const once = [...journal];
  journal.length = 0;

  const second = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await lifecycle.stop();
  t.is(await second, undefined);
  t.deepEqual(journal, once);
  t.deepEqual(once, [
    'start a',
    'running a',
    'start b',
    'running b',
    'start c',
    'running c',
    'start d',
    'running d',
    'asked d',
    'stopped d',
    'asked b',
    'asked c',
    'stopped b',
    'stopped c',
    'asked a',
    'stopped a',
  ]);
  t.deepEqual(runCounts(services.a, services.b, services.c, services.d), [2, 2, 2, 2]);
});

test('depending on a service added with restart resolves to its restarter child', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool();
  const db = service('db', { running: 'manually' });
  const web = service('web');
  const worker = service('worker');
  const childDb = pool.add(db, { restart: 'on-crash' });
  t.true(childDb.service instanceof Restarter);
  const childWeb = pool.add(web, { dependsOn: [db] });
  const childWorker = pool.add(worker, { dependsOn: [childDb.service] });
  const done = runToEnd(lifecycle);
  await db.started();
  t.deepEqual(journal, ['start db']);
  t.is(childDb.state, 'starting');

  db.reportRunning();
  await lifecycle.whenRunning();
  t.is(childDb.state, 'running');
  t.deepEqual(journal, [
    'start db',
    'running db',
    'start web',
    'running web',
    'start worker',
    'running worker',
  ]);
  t.is(lifecycle.state, 'running');
  t.deepEqual([childWeb.state, childWorker.state], ['running', 'running']);

  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal.slice(6), [
    'asked web',
    'asked worker',
    'stopped web',
    'stopped worker',
    'asked db',
    'stopped db',
  ]);
});

test("depending on a restarter's inner lifecycle resolves to the restarter child", async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool();
  const db = service('db', { running: 'manually' });
  const childDb = pool.add(db, { restart: 'on-crash' });
  pool.add(service('web'), { dependsOn: [childDb.service.lifecycle] });
  const done = runToEnd(lifecycle);
  await db.started();
  t.deepEqual(journal, ['start db']);
  db.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['start db', 'running db', 'start web', 'running web']);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal.slice(4), ['asked web', 'stopped web', 'asked db', 'stopped db']);
});

test('a restarted dependency does not start its dependents twice', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { pool, lifecycle, journal, service } = journaledPool({ clock });
  const db = service('db');
  const web = service('web');
  const childDb = pool.add(db, { restart: { initialDelay: 100, jitter: 0 } });
  pool.add(web, { dependsOn: [childDb] });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['start db', 'running db', 'start web', 'running web']);

  db.crash();
  await reach(childDb.service.lifecycle, 'crashed');
  await fake.tickAsync(100);
  t.deepEqual(journal.slice(4), ['crashed db', 'start db', 'running db']);
  t.is(web.runs.length, 1);
  t.is(lifecycle.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal.slice(7), ['asked web', 'stopped web', 'asked db', 'stopped db']);
  t.is(pending(), 0);
});

test('a child may depend on a service added later with restart', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool();
  const db = service('db', { running: 'manually' });
  const web = service('web');
  pool.add(web, { dependsOn: [db] });
  const childDb = pool.add(db, { restart: 'always' });
  const done = runToEnd(lifecycle);
  await db.started();
  t.deepEqual(journal, ['start db']);
  db.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual(journal, ['start db', 'running db', 'start web', 'running web']);
  t.is(childDb.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal.slice(4), ['asked web', 'stopped web', 'asked db', 'stopped db']);
});

test('a cycle through a service added with restart is refused at add()', (t) => {
  const pool = new Pool({ name: 'p' });
  const db = new ControlledService('db');
  const x = pool.add(new ControlledService('x'), { dependsOn: [db] });
  t.throws(() => pool.add(db, { restart: 'on-crash', dependsOn: [x] }), {
    instanceOf: TypeError,
    message:
      'Service "db" cannot depend on "x" in pool "p": that makes a cycle ("db" → "x" → "db")',
  });
  t.deepEqual(pool.lifecycles, [x]);
});

test('a nested pool as a dependency: its dependent starts once the inner pool runs, and is stopped before it', async (t) => {
  const { pool, lifecycle, journal, service } = journaledPool();
  const inner = new Pool({ name: 'inner' });
  const a = service('a', { running: 'manually' });
  const b = service('b');
  inner.add(a);
  inner.add(b);
  const childInner = pool.add(inner);
  const web = service('web');
  pool.add(web, { dependsOn: [childInner] });
  const done = runToEnd(lifecycle);
  await allStarted({ a, b });
  t.deepEqual(journal, ['start a', 'start b', 'running b']);
  t.is(childInner.state, 'starting');

  a.reportRunning();
  await lifecycle.whenRunning();
  t.deepEqual(journal.slice(3), ['running a', 'start web', 'running web']);
  t.is(lifecycle.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal.slice(6), [
    'asked web',
    'stopped web',
    'asked a',
    'asked b',
    'stopped a',
    'stopped b',
  ]);
});

test('a deadline the pool gets while it drains after a crash reaches only the children already asked; the others get it when asked', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { lifecycle, services, children } = diamond({ whenAsked: 'ignore' }, { clock });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  services.b.crash();
  await reach(children.b, 'crashed');
  t.true(children.d.signal.aborted);
  t.false(children.c.signal.aborted);
  await fake.tickAsync(3_600_000);
  t.false(children.d.shutdownSignal.aborted);

  const stopped = lifecycle.stop({ timeout: 500 });
  await fake.tickAsync(500);
  assertDomException(t, children.d.shutdownSignal.reason, 'TimeoutError');
  t.false(children.c.shutdownSignal.aborted);
  t.false(children.a.shutdownSignal.aborted);
  services.d.finish();
  await reach(children.d, 'stopped');
  t.true(children.c.signal.aborted);
  t.is(children.c.shutdownSignal.reason, children.d.shutdownSignal.reason);
  t.false(children.a.signal.aborted);
  services.c.finish();
  await reach(children.c, 'stopped');
  t.is(children.a.shutdownSignal.reason, children.d.shutdownSignal.reason);
  services.a.finish();
  t.is(await stopped, 'crashed');
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is((error as ServiceCrashedError).service, 'b');
  t.is(pending(), 0);
});

test('stop({ timeout: 0 }) aborts the shutdownSignal of the children asked first once the pool passes it on, and of the others as they are asked', async (t) => {
  const { lifecycle, services, children } = diamond({ whenAsked: 'ignore' });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stopped = lifecycle.stop({ timeout: 0 });
  // The pool's own signal aborts at once; the pool passes the deadline on in a microtask.
  assertDomException(t, lifecycle.shutdownSignal.reason, 'TimeoutError');
  t.false(children.d.shutdownSignal.aborted);
  await flush();
  assertDomException(t, children.d.shutdownSignal.reason, 'TimeoutError');
  t.is(children.d.shutdownSignal.reason, lifecycle.shutdownSignal.reason);
  t.deepEqual(
    [children.a, children.b, children.c].map((child) => child.shutdownSignal.aborted),
    [false, false, false],
  );
  const ended = Promise.all([reach(children.b, 'stopped'), reach(children.c, 'stopped')]);
  services.d.finish();
  await reach(children.d, 'stopped');
  const reason: unknown = children.d.shutdownSignal.reason;
  t.is(children.b.shutdownSignal.reason, reason);
  t.is(children.c.shutdownSignal.reason, reason);
  services.b.finish();
  services.c.finish();
  await ended;
  t.is(children.a.shutdownSignal.reason, children.d.shutdownSignal.reason);
  services.a.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
});
