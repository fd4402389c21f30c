import test from 'ava';
import {
  Lifecycle,
  NotRunningError,
  Pool,
  StartTimeoutError,
  serviceFromFunction,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { runManually, stillPending } from './helpers/lifecycle.js';
import { runToEnd } from './helpers/pool.js';
import { ControlledService } from './helpers/service.js';

test('a service that does not report running within startTimeout is asked to stop, with a reason saying so', async (t) => {
  const { clock, fake } = fakeClock();
  const { lifecycle, service, done } = await runManually('starting', { clock, startTimeout: 100 });
  await fake.tickAsync(99);
  t.false(lifecycle.shouldStop());
  await fake.tickAsync(1);
  t.true(lifecycle.shouldStop());
  const reason = lifecycle.signal.reason as DOMException;
  t.is(reason.name, 'AbortError');
  t.is(reason.message, 'stop requested: Service "svc" did not report running within 100 ms');
  t.true((reason as { cause?: unknown }).cause instanceof StartTimeoutError);
  service.finish();
  await t.throwsAsync(done, { instanceOf: StartTimeoutError });
});

test('a timed-out run ends crashed with StartTimeoutError even when the service returns cleanly', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { lifecycle, service, done } = await runManually('starting', { clock, startTimeout: 50 });
  await fake.tickAsync(50);
  service.finish();
  const error = await t.throwsAsync(done, {
    instanceOf: StartTimeoutError,
    code: 'ERR_OVERSEER_START_TIMEOUT',
    message: 'Service "svc" did not report running within 50 ms',
  });
  t.is(error.service, 'svc');
  t.is(error.timeout, 50);
  t.is(lifecycle.state, 'crashed');
  t.is(lifecycle.error, error);
  t.is(pending(), 0);
});

test('StartTimeoutError wins over what a timed-out service throws', async (t) => {
  const { clock, fake } = fakeClock();
  const { service, done } = await runManually('starting', { clock, startTimeout: 10 });
  await fake.tickAsync(10);
  service.crash(new Error('interrupted'));
  await t.throwsAsync(done, { instanceOf: StartTimeoutError });
});

test('reporting running in time clears the start timer', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { lifecycle, service, done } = await runManually('starting', { clock, startTimeout: 100 });
  t.is(pending(), 1);
  service.reportRunning();
  t.is(pending(), 0);
  await fake.tickAsync(1_000);
  t.false(lifecycle.shouldStop());
  service.finish();
  await done;
  t.is(lifecycle.state, 'stopped');
});

test('a run that ends before its start timeout clears the timer', async (t) => {
  const { clock, pending } = fakeClock();
  const { service, done } = await runManually('starting', { clock, startTimeout: 100 });
  service.finish();
  await done;
  t.is(pending(), 0);
});

test('a run asked to stop while starting is not failed by its start timeout', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { lifecycle, service, done } = await runManually('starting', { clock, startTimeout: 100 });
  void lifecycle.stop();
  service.reportStopping();
  t.is(pending(), 0);
  await fake.tickAsync(200);
  service.finish();
  await done;
  t.is(lifecycle.state, 'stopped');
});

test('every run gets its own start timeout', async (t) => {
  const { clock, fake } = fakeClock();
  const service = new ControlledService('svc', { running: 'manually', whenAsked: 'ignore' });
  const lifecycle = new Lifecycle(service, { clock, startTimeout: 100 });
  let done = lifecycle.run();
  await service.started();
  service.reportRunning();
  service.finish();
  await done;
  done = lifecycle.run();
  await service.started();
  await fake.tickAsync(100);
  t.true(lifecycle.shouldStop());
  service.finish();
  await t.throwsAsync(done, { instanceOf: StartTimeoutError });
});

test('whenRunning() rejects with NotRunningError whose cause is the StartTimeoutError', async (t) => {
  const { clock, fake } = fakeClock();
  const lifecycle = new Lifecycle(
    serviceFromFunction('stuck', async (lifecycle) => {
      await lifecycle.whenStopRequested();
      lifecycle.stopping();
    }),
    { clock, startTimeout: 30 },
  );
  const done = runToEnd(lifecycle);
  const waiting = lifecycle.whenRunning();
  await fake.tickAsync(30);
  const error = await t.throwsAsync(waiting, { instanceOf: NotRunningError });
  t.is(error.state, 'crashed');
  t.true(error.cause instanceof StartTimeoutError);
  t.is(await done, error.cause as Error);
});

test('a group’s StartTimeoutError names the deepest descendants still starting, with their paths', async (t) => {
  const { clock, fake } = fakeClock();
  const app = new Pool({ name: 'app', clock });
  const workers = new Pool({ name: 'workers', clock });
  const db = new ControlledService('db', { running: 'manually' });
  const queue = new ControlledService('queue');
  const cache = new ControlledService('cache', { running: 'manually' });
  const web = new ControlledService('web');
  workers.add(db);
  workers.add(queue);
  app.add(workers);
  app.add(cache);
  app.add(web);
  const lifecycle = new Lifecycle(app, { clock, startTimeout: 1_000 });
  const done = runToEnd(lifecycle);
  await Promise.all([db.started(), cache.started()]);
  t.true(await stillPending(done));
  await fake.tickAsync(1_000);
  const error = await done;
  t.true(error instanceof StartTimeoutError);
  t.is(
    error?.message,
    'Service "app" did not report running within 1000 ms; not running yet: app/workers/db, app/cache',
  );
});

test('a group’s StartTimeoutError names at most 10 paths', async (t) => {
  const { clock, fake } = fakeClock();
  const pool = new Pool({ name: 'many', clock });
  const services = Array.from(
    { length: 12 },
    (_, index) => new ControlledService(`s${index}`, { running: 'manually' }),
  );
  for (const service of services) pool.add(service);
  const lifecycle = new Lifecycle(pool, { clock, startTimeout: 5 });
  const done = runToEnd(lifecycle);
  await Promise.all(services.map((service) => service.started()));
  await fake.tickAsync(5);
  const error = await done;
  t.regex(error?.message ?? '', /not running yet: many\/s0, .*many\/s9 and 2 more$/);
});

test('startTimeout is checked: a TypeError names the option', (t) => {
  t.throws(() => new Lifecycle(new ControlledService(), { startTimeout: -1 }), {
    instanceOf: TypeError,
    message: /options\.startTimeout/,
  });
});

test('a pool child that times out starting crashes the pool: the pool drains and ends crashed, naming it', async (t) => {
  const { clock, fake } = fakeClock();
  const pool = new Pool({ name: 'app', clock });
  pool.add(new ControlledService('slow', { running: 'manually' }), { startTimeout: 100 });
  pool.add(new ControlledService('fast'));
  const lifecycle = new Lifecycle(pool, { clock });
  const done = runToEnd(lifecycle);
  await fake.tickAsync(100);
  const error = await done;
  t.is(lifecycle.state, 'crashed');
  t.true(error instanceof Error);
  t.regex((error as Error).message, /"slow"/);
  t.true((error as Error).cause instanceof StartTimeoutError);
  t.deepEqual(
    pool.lifecycles.map((child) => child.name),
    ['slow', 'fast'],
  );
});
