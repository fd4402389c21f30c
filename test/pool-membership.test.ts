import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { Lifecycle, Pool, type State } from '../lib/index.js';
import { DependedOnError } from '../lib/group-errors.js';
import { fakeClock } from './helpers/clock.js';
import { captureLogs } from './helpers/logs.js';
import { flush, makePool, runToEnd } from './helpers/pool.js';
import { reach, recordStates } from './helpers/record.js';
import { ControlledService } from './helpers/service.js';
import { fields, assertAbortError } from './helpers/assertions.js';

// --- add() while the pool runs ---

test('add() while the pool runs starts the child in a reaction, never on add() stack, and the pool keeps running', async (t) => {
  const { pool, lifecycle, states } = makePool({ a: {} }, { name: 'app' });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const late = new ControlledService('late');
  const child = pool.add(late);
  t.is(child.state, 'stopped');
  t.is(late.runs.length, 0);
  t.deepEqual(
    pool.lifecycles.map((member) => member.name),
    ['a', 'late'],
  );
  await reach(child, 'running');
  t.is(late.runs.length, 1);
  t.is(lifecycle.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(child.state, 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('add() while the pool is starting makes the pool wait for the new child before it reports running', async (t) => {
  const { pool, lifecycle, services } = makePool({ a: { running: 'manually' } });
  const done = runToEnd(lifecycle);
  await services.a.started();
  const late = new ControlledService('late', { running: 'manually' });
  const child = pool.add(late);
  await late.started();
  services.a.reportRunning();
  await flush();
  t.is(lifecycle.state, 'starting');
  late.reportRunning();
  await reach(lifecycle, 'running');
  t.is(child.state, 'running');
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('add() between run() and the pool runWithLifecycle adds a child that starts with the run', async (t) => {
  const pool = new Pool();
  pool.add(new ControlledService('a'));
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  const late = new ControlledService('late');
  const child = pool.add(late);
  await lifecycle.whenRunning();
  t.is(child.state, 'running');
  t.is(late.runs.length, 1);
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('add() right after the pool began its run, before it started its children, starts the child once', async (t) => {
  const pool = new Pool();
  pool.add(new ControlledService('a'));
  const lifecycle = new Lifecycle(pool);
  const late = new ControlledService('late');
  const first = new ControlledService('first');
  let child: Lifecycle | undefined;
  // onStarting runs as the pool's run begins; its children start in a later reaction.
  lifecycle.onStarting(() => {
    queueMicrotask(() => {
      child = pool.add(late);
    });
  });
  pool.add(first);
  const done = runToEnd(lifecycle);
  await late.started();
  await flush();
  await lifecycle.whenRunning();
  t.is(late.runs.length, 1);
  t.is(child?.state, 'running');
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('add() with dependsOn on a member still starting waits until that member runs', async (t) => {
  const { pool, lifecycle, services, children } = makePool({ a: {}, b: { running: 'manually' } });
  const done = runToEnd(lifecycle);
  await services.b.started();
  const late = new ControlledService('late');
  const child = pool.add(late, { dependsOn: [children.b] });
  await flush();
  t.is(late.runs.length, 0);
  services.b.reportRunning();
  await child.whenRunning();
  await lifecycle.whenRunning();
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('add() while the pool runs throws a TypeError for a dependsOn service that is not in the pool', async (t) => {
  const { pool, lifecycle } = makePool({ a: {} }, { name: 'app' });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const stranger = new ControlledService('stranger');
  t.throws(() => pool.add(new ControlledService('late'), { dependsOn: [stranger] }), {
    instanceOf: TypeError,
    message:
      'Service "late" of pool "app" depends on "stranger", which was never added to the pool',
  });
  t.is(pool.lifecycles.length, 1);
  await lifecycle.stop();
  t.is(await done, undefined);
});

// --- remove() ---

test('remove() stops a running child deliberately, takes it out of lifecycles and resolves with its final state; the pool keeps running', async (t) => {
  const { pool, lifecycle, states, children } = makePool({ a: {}, b: {} });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const removed = pool.remove(children.a);
  t.deepEqual(pool.lifecycles, [children.b]);
  t.is(await removed, 'stopped');
  await flush();
  t.is(lifecycle.state, 'running');
  t.is(children.b.state, 'running');
  t.false(children.b.shouldStop());
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('remove() accepts the child service and passes the stop options on: reason and timeout', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const pool = new Pool({ clock });
  const slow = new ControlledService('slow', { whenAsked: 'await-deadline' });
  const child = pool.add(slow);
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const removed = pool.remove(slow, { reason: 'tenant gone', timeout: 300 });
  assertAbortError(t, child.signal.reason, 'AbortError', 'stop requested: tenant gone');
  await fake.tickAsync(299);
  t.false(child.shutdownSignal.aborted);
  await fake.tickAsync(1);
  t.is(await removed, 'stopped');
  t.is(pending(), 0);
  t.is(lifecycle.state, 'running');
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('remove() of a child that crashes during its stop resolves crashed, logs the crash and does not crash the pool', async (t) => {
  const { logger, entries } = captureLogs();
  const pool = new Pool({ name: 'app', logger });
  const child = pool.add(new ControlledService('flaky', { whenAsked: 'crash' }));
  pool.add(new ControlledService('steady'));
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(await pool.remove(child), 'crashed');
  await flush();
  t.is(lifecycle.state, 'running');
  const left = entries.filter((entry) => entry.message === 'service crashed while leaving');
  t.is(left.length, 1);
  t.like(fields(left[0]), { level: 'error', service: 'flaky', pool: 'app', state: 'crashed' });
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

test('remove() refuses with DependedOnError while other members depend on the child, and changes nothing', async (t) => {
  const pool = new Pool({ name: 'app' });
  const db = pool.add(new ControlledService('db'));
  const web = pool.add(new ControlledService('web'), { dependsOn: [db] });
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const error = t.throws(() => pool.remove(db), { instanceOf: DependedOnError });
  t.is(error.code, 'ERR_OVERSEER_DEPENDED_ON');
  t.is(error.pool, 'app');
  t.is(error.service, 'db');
  t.deepEqual(error.dependents, ['web']);
  t.is(
    error.message,
    'Cannot remove service "db" from pool "app": "web" depends on it; remove it first',
  );
  t.is(db.state, 'running');
  t.is(await pool.remove(web), 'stopped');
  t.is(await pool.remove(db), 'stopped');
  t.deepEqual(pool.lifecycles, []);
  t.is(lifecycle.state, 'running');
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('DependedOnError names every member that depends on the child', (t) => {
  const pool = new Pool({ name: 'app' });
  const db = pool.add(new ControlledService('db'));
  pool.add(new ControlledService('web'), { dependsOn: [db] });
  pool.add(new ControlledService('jobs'), { dependsOn: [db] });
  const error = t.throws(() => pool.remove(db), { instanceOf: DependedOnError });
  t.deepEqual(error.dependents, ['web', 'jobs']);
  t.is(
    error.message,
    'Cannot remove service "db" from pool "app": "web", "jobs" depend on it; remove them first',
  );
  t.is(pool.lifecycles.length, 3);
});

test('remove() while the pool is not running takes the child out and it no longer runs with the pool', async (t) => {
  const pool = new Pool();
  const a = new ControlledService('a');
  const child = pool.add(a);
  pool.add(new ControlledService('b'));
  t.is(await pool.remove(child), 'stopped');
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(a.runs.length, 0);
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('remove() throws a TypeError for something that is not a child of the pool', (t) => {
  const pool = new Pool({ name: 'app' });
  const service = new ControlledService('twice');
  pool.add(service);
  pool.add(service);
  t.throws(() => pool.remove(new ControlledService('x')), {
    instanceOf: TypeError,
    message: /^Expected `child` to be a child of pool "app" \(its lifecycle or service\)/,
  });
  t.throws(() => pool.remove(new Lifecycle(new ControlledService('y'))), { instanceOf: TypeError });
  t.throws(() => pool.remove(service), {
    instanceOf: TypeError,
    message: /which was added more than once; pass the lifecycle add\(\) returned instead$/,
  });
  t.throws(() => pool.remove(pool.lifecycles[0] as Lifecycle, { timeout: -1 }), {
    instanceOf: TypeError,
  });
  t.is(pool.lifecycles.length, 2);
});

test('remove() of a child still waiting for its dependencies means it never starts', async (t) => {
  const pool = new Pool();
  const slow = new ControlledService('slow', { running: 'manually' });
  const db = pool.add(slow);
  const webService = new ControlledService('web');
  const web = pool.add(webService, { dependsOn: [db] });
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await slow.started();
  t.is(await pool.remove(web), 'stopped');
  slow.reportRunning();
  await reach(lifecycle, 'running');
  t.is(webService.runs.length, 0);
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('remove() of the only child still starting lets the pool report running', async (t) => {
  const { pool, lifecycle, children } = makePool({ a: {}, b: { running: 'manually' } });
  const done = runToEnd(lifecycle);
  await flush();
  t.is(lifecycle.state, 'starting');
  await pool.remove(children.b);
  await lifecycle.whenRunning();
  t.is(lifecycle.state, 'running');
  await lifecycle.stop();
  t.is(await done, undefined);
});

// --- a child's own stop() ---

test('a child stopped by its own stop() leaves the pool and is not started by the next run', async (t) => {
  const { pool, lifecycle, services, children } = makePool({ a: {}, b: {} });
  const first = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await children.a.stop();
  await flush();
  t.deepEqual(pool.lifecycles, [children.b]);
  await lifecycle.stop();
  t.is(await first, undefined);
  const second = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(services.a.runs.length, 1);
  t.is(services.b.runs.length, 2);
  await lifecycle.stop();
  t.is(await second, undefined);
});

test('a child that others depend on, stopped by its own stop(), drains the pool as before', async (t) => {
  const pool = new Pool({ name: 'app' });
  const db = pool.add(new ControlledService('db'));
  const web = pool.add(new ControlledService('web'), { dependsOn: [db] });
  const lifecycle = new Lifecycle(pool);
  const states = recordStates(lifecycle);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  // The pool stops web first; db has been asked already, so it ends after web.
  void db.stop();
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  assertAbortError(
    t,
    web.signal.reason,
    'AbortError',
    'pool "app" is stopping because "db" stopped on its own',
  );
  t.deepEqual(pool.lifecycles, [db, web]);
});

// --- why a stop was requested ---

test('the pool log line of a child stopping carries the reason the pool passed down', async (t) => {
  const { logger, entries } = captureLogs();
  const pool = new Pool({ name: 'app', logger });
  pool.add(new ControlledService('a'));
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await lifecycle.stop({ reason: 'SIGTERM' });
  t.is(await done, undefined);
  const stopping = entries.find((entry) => entry.message === 'service stopping');
  t.like(fields(stopping), { service: 'a', pool: 'app', reason: 'stop requested: SIGTERM' });
});

test('the pool log line of a removed child stopping carries the reason given to remove()', async (t) => {
  const { logger, entries } = captureLogs();
  const pool = new Pool({ name: 'app', logger });
  const child = pool.add(new ControlledService('tenant-7'));
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  const state: State = await pool.remove(child, { reason: 'tenant deleted' });
  t.is(state, 'stopped');
  const stopping = entries.find((entry) => entry.message === 'service stopping');
  t.like(fields(stopping), { service: 'tenant-7', reason: 'stop requested: tenant deleted' });
  const left = entries.find((entry) => entry.message === 'service left');
  t.like(fields(left), { level: 'info', service: 'tenant-7', pool: 'app', state: 'stopped' });
  await lifecycle.stop();
  t.is(await done, undefined);
});

// --- property: children come and go at random while the pool runs ---

type Op =
  | { op: 'add'; job: boolean; dependency: number | undefined }
  | { op: 'remove'; index: number }
  | { op: 'stopChild'; index: number }
  | { op: 'finishJob'; index: number };

interface Member {
  readonly service: ControlledService;
  readonly lifecycle: Lifecycle;
  readonly job: boolean;
  readonly dependency: Member | undefined;
}

const ops: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    fc.record({
      op: fc.constant('add' as const),
      job: fc.boolean(),
      dependency: fc.option(fc.nat(20), { nil: undefined }),
    }),
    fc.record({ op: fc.constant('remove' as const), index: fc.nat(20) }),
    fc.record({ op: fc.constant('stopChild' as const), index: fc.nat(20) }),
    fc.record({ op: fc.constant('finishJob' as const), index: fc.nat(20) }),
  ),
  { maxLength: 25 },
);

/** Plays one op on the running pool and the model; returns nothing, fails through `t`. */
async function play(t: ExecutionContext, pool: Pool, members: Member[], step: Op): Promise<void> {
  const dependents = (member: Member) => members.filter((other) => other.dependency === member);
  const pick = (index: number) => members[index % Math.max(members.length, 1)];
  if (step.op === 'add') {
    const dependency = step.dependency === undefined ? undefined : pick(step.dependency);
    const service = new ControlledService(`s${members.length}`, {
      running: step.job ? 'manually' : 'immediately',
    });
    const options = dependency
      ? { job: step.job, dependsOn: [dependency.lifecycle] }
      : { job: step.job };
    members.push({ service, lifecycle: pool.add(service, options), job: step.job, dependency });
    return;
  }
  const member = pick(step.index);
  if (member === undefined) return;
  if (step.op === 'finishJob') {
    if (member.job) member.service.finish();
    return;
  }
  if (dependents(member).length > 0) {
    if (step.op === 'remove')
      t.throws(() => pool.remove(member.lifecycle), { instanceOf: DependedOnError });
    return; // its own stop() would drain the pool: not a membership change
  }
  // stop() of a child with no run in progress (still waiting, or a finished job) does nothing.
  const idle = member.lifecycle.state === 'stopped' || member.lifecycle.state === 'crashed';
  if (step.op === 'stopChild' && idle) return;
  members.splice(members.indexOf(member), 1);
  const state =
    step.op === 'remove' ? await pool.remove(member.lifecycle) : await member.lifecycle.stop();
  t.is(state, 'stopped');
}

/** After every step: the pool runs, its members are the model's, and no dependent ran early. */
function check(t: ExecutionContext, pool: Pool, lifecycle: Lifecycle, members: Member[]): void {
  t.is(lifecycle.state, 'running');
  t.deepEqual(
    pool.lifecycles,
    members.map((member) => member.lifecycle),
  );
  for (const { service, dependency } of members) {
    if (service.runs.length === 0 || dependency === undefined) continue;
    const ready = dependency.job
      ? dependency.lifecycle.state === 'stopped' && dependency.service.runs.length > 0
      : dependency.service.runs.length > 0;
    t.true(ready, `${service.name} started before ${dependency.service.name} was ready`);
  }
}

test('children added, removed, stopped and finished at random while the pool runs never change its state, and dependents wait for their dependencies', async (t) => {
  await fc.assert(
    fc.asyncProperty(ops, async (steps) => {
      const pool = new Pool({ name: 'app' });
      const lifecycle = new Lifecycle(pool);
      const done = runToEnd(lifecycle);
      await lifecycle.whenRunning();
      const members: Member[] = [];
      for (const step of steps) {
        await play(t, pool, members, step);
        await flush();
        check(t, pool, lifecycle, members);
      }
      t.is(await lifecycle.stop(), 'stopped');
      t.is(await done, undefined);
      for (const { lifecycle: child } of members) t.is(child.state, 'stopped');
    }),
    { numRuns: 100 },
  );
});
