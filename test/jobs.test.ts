import test from 'ava';
import {
  Lifecycle,
  Pool,
  Sequence,
  ServiceCrashedError,
  StartFailedError,
  health,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { flush, runToEnd } from './helpers/pool.js';
import { recordStates } from './helpers/record.js';
import { ControlledService } from './helpers/service.js';

/** A job that reports nothing and returns when the test calls `finish()`. */
function job(name: string): ControlledService {
  return new ControlledService(name, { running: 'manually' });
}

test('a pool reports running only once its job has finished, and the job clean end does not stop the pool', async (t) => {
  const pool = new Pool({ name: 'app' });
  const migrations = job('migrations');
  const migrate = pool.add(migrations, { job: true });
  const server = pool.add(new ControlledService('server'));
  const lifecycle = new Lifecycle(pool);
  const states = recordStates(lifecycle);
  const done = runToEnd(lifecycle);
  await migrations.started();
  await flush();
  t.is(server.state, 'running');
  t.is(lifecycle.state, 'starting');
  migrations.finish();
  await lifecycle.whenRunning();
  t.is(migrate.state, 'stopped');
  t.deepEqual(
    pool.lifecycles.map((child) => child.name),
    ['migrations', 'server'],
  );
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(migrations.runs.length, 1);
});

test('what dependsOn a job starts only once the job has finished, even if the job reported running', async (t) => {
  const pool = new Pool();
  const warmUp = job('warm-up');
  const cache = pool.add(warmUp, { job: true });
  const web = new ControlledService('web');
  pool.add(web, { dependsOn: [cache] });
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await warmUp.started();
  warmUp.reportRunning();
  await flush();
  t.is(web.runs.length, 0);
  t.is(lifecycle.state, 'starting');
  warmUp.finish();
  await lifecycle.whenRunning();
  t.is(web.runs.length, 1);
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('a job that crashes drains the pool, which crashes with ServiceCrashedError; its dependents never start', async (t) => {
  const pool = new Pool({ name: 'app' });
  const migrations = job('migrations');
  const migrate = pool.add(migrations, { job: true });
  const web = new ControlledService('web');
  pool.add(web, { dependsOn: [migrate] });
  const other = pool.add(new ControlledService('other'));
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await migrations.started();
  migrations.crash();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is((error as ServiceCrashedError).service, 'migrations');
  t.is(error?.cause, migrations.error);
  t.is(web.runs.length, 0);
  t.is(other.state, 'stopped');
});

test('a job with a restart policy is retried after a crash, and then counts as done', async (t) => {
  const { clock, fake } = fakeClock();
  const pool = new Pool({ clock });
  const migrations = job('migrations');
  pool.add(migrations, { job: true, restart: { initialDelay: 100, jitter: 0 } });
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await migrations.started();
  migrations.crash();
  await flush();
  const again = migrations.started();
  await fake.tickAsync(100);
  await again;
  t.is(migrations.runs.length, 2);
  migrations.finish();
  await lifecycle.whenRunning();
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('a job still running when the pool stops is stopped like any child', async (t) => {
  const pool = new Pool();
  const slow = new ControlledService('slow-job', { running: 'manually' });
  const child = pool.add(slow, { job: true });
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await slow.started();
  t.is(await lifecycle.stop(), 'stopped');
  t.true(child.shouldStop());
  t.is(child.state, 'stopped');
  t.is(await done, undefined);
});

test('in a sequence, the child after a job starts once the job has finished, and the stop skips the finished job', async (t) => {
  const sequence = new Sequence({ name: 'boot' });
  const db = new ControlledService('db');
  const migrations = job('migrations');
  const server = new ControlledService('server');
  const order: string[] = [];
  sequence.add(db).onStopped(() => void order.push('db'));
  sequence.add(migrations, { job: true });
  sequence.add(server).onStopped(() => void order.push('server'));
  const lifecycle = new Lifecycle(sequence);
  const done = runToEnd(lifecycle);
  await migrations.started();
  await flush();
  t.is(server.runs.length, 0);
  migrations.finish();
  await lifecycle.whenRunning();
  t.is(server.runs.length, 1);
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(order, ['server', 'db']);
});

test('a job of a sequence that crashes fails the start with StartFailedError', async (t) => {
  const sequence = new Sequence({ name: 'boot' });
  const migrations = job('migrations');
  sequence.add(migrations, { job: true });
  const lifecycle = new Lifecycle(sequence);
  const done = runToEnd(lifecycle);
  await migrations.started();
  migrations.crash();
  const error = await done;
  t.true(error instanceof StartFailedError);
  t.is(error?.cause, migrations.error);
});

test('a finished job shows as stopped in snapshots, and health counts it as done: live and ready', async (t) => {
  const pool = new Pool({ name: 'app' });
  const migrations = job('migrations');
  pool.add(migrations, { job: true });
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await migrations.started();
  migrations.finish();
  await lifecycle.whenRunning();
  const tree = lifecycle.snapshot();
  t.is(tree.children[0]?.state, 'stopped');
  t.is(tree.state, 'running');
  const report = await health(lifecycle);
  t.true(report.live);
  t.true(report.ready);
  t.like(report.tree.children[0], {
    name: 'migrations',
    state: 'stopped',
    live: true,
    ready: true,
  });
  await lifecycle.stop();
  t.is(await done, undefined);
});

test('add() throws a TypeError naming options.job when it is not a boolean', (t) => {
  t.throws(() => new Pool().add(new ControlledService('a'), { job: 'yes' as never }), {
    instanceOf: TypeError,
    message: /^Expected `options\.job` to be a boolean/,
  });
  t.throws(() => new Sequence().add(new ControlledService('a'), { job: 1 as never }), {
    instanceOf: TypeError,
    message: /^Expected `options\.job` to be a boolean/,
  });
});

test('a job added while running that depends on a finished job does not keep what that job depended on from stopping', async (t) => {
  const pool = new Pool({ name: 'app' });
  const database = new ControlledService('database');
  const migrations = job('migrations');
  const db = pool.add(database);
  const migrate = pool.add(migrations, { job: true, dependsOn: [db] });
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await migrations.started();
  migrations.finish();
  await lifecycle.whenRunning();
  const seed = job('seed');
  pool.add(seed, { job: true, dependsOn: [migrate] });
  await seed.started();
  seed.finish();
  await flush();
  // Both jobs are done: the database is the last child running, and a stop reaches it.
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.is(db.state, 'stopped');
});
