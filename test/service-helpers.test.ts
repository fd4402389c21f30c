import test from 'ava';
import {
  Lifecycle,
  NonErrorThrownError,
  NotRunningError,
  Pool,
  ServiceCrashedError,
  serviceFromFunction,
  silentLogger,
  type LifecycleEvents,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { runManually, settlesAtOnce, stillPending } from './helpers/lifecycle.js';
import { brokenLogger, captureLogs } from './helpers/logs.js';
import { allStarted, runToEnd } from './helpers/pool.js';
import { ControlledService } from './helpers/service.js';
import { stopReason } from '../lib/internal/protocol.js';
import { stopReasonOf } from '../lib/internal/stop-reason.js';

/** Counts the AbortControllers the library builds while `body` runs (not the test runner's). */
async function countControllers(body: () => Promise<void>): Promise<number> {
  const Original = globalThis.AbortController;
  let built = 0;
  globalThis.AbortController = class extends Original {
    constructor() {
      super();
      if (new Error('where').stack?.includes('/lib/') === true) built++;
    }
  };
  try {
    await body();
  } finally {
    globalThis.AbortController = Original;
  }
  return built;
}

// --- whenStopRequested() ---

test('whenStopRequested() stays pending until a stop is requested, then resolves', async (t) => {
  const { lifecycle, service, done } = await runManually('running');
  const requested = lifecycle.whenStopRequested();
  t.true(await stillPending(requested));
  void lifecycle.stop();
  await requested;
  t.true(lifecycle.shouldStop());
  service.finish();
  await done;
});

test('whenStopRequested() resolves at once when a stop has already been requested', async (t) => {
  const { lifecycle, service, done } = await runManually('starting');
  void lifecycle.stop();
  const { settled } = await settlesAtOnce(() => lifecycle.whenStopRequested());
  t.true(settled);
  service.finish();
  await done;
});

test.serial(
  'a service that only awaits whenStopRequested() builds no AbortController',
  async (t) => {
    const built = await countControllers(async () => {
      const lifecycle = new Lifecycle(
        serviceFromFunction('waiter', async (lifecycle) => {
          lifecycle.running();
          await lifecycle.whenStopRequested();
          // No stopping(): it returns the shutdown signal, so it builds one.
        }),
      );
      const done = lifecycle.run();
      await lifecycle.whenRunning();
      t.is(await lifecycle.stop(), 'stopped');
      await done;
    });
    t.is(built, 0);
  },
);

test('whenStopRequested() resolves when the service returns without being asked to stop', async (t) => {
  const { lifecycle, service, done } = await runManually('running');
  const requested = lifecycle.whenStopRequested();
  service.finish();
  await done;
  await requested;
  t.false(lifecycle.shouldStop());
  t.pass();
});

test('whenStopRequested() on an idle lifecycle waits for the next run’s stop request', async (t) => {
  const service = new ControlledService('svc', { running: 'manually', whenAsked: 'ignore' });
  const lifecycle = new Lifecycle(service);
  const requested = lifecycle.whenStopRequested();
  const done = lifecycle.run();
  await service.started();
  t.true(await stillPending(requested));
  void lifecycle.stop();
  await requested;
  service.finish();
  await done;
  // A settled run is idle again: the next promise is the next run's.
  t.true(await stillPending(lifecycle.whenStopRequested()));
});

test('whenStopRequested() asked after the service returned resolves at once', async (t) => {
  const { lifecycle, service, done } = await runManually('running');
  lifecycle.onStopped(() => new Promise<void>(() => undefined)); // holds the run in `ending`
  service.finish();
  await new Promise((resolve) => setImmediate(resolve));
  const { settled } = await settlesAtOnce(() => lifecycle.whenStopRequested());
  t.true(settled);
  void done;
});

// --- whenDeadlinePassed() ---

test('whenDeadlinePassed() resolves when the stop deadline passes, not at the stop request', async (t) => {
  const { clock, fake } = fakeClock();
  const { lifecycle, service, done } = await runManually('running', { clock });
  const passed = lifecycle.whenDeadlinePassed();
  void lifecycle.stop({ timeout: 1_000 });
  await fake.tickAsync(999);
  t.true(await stillPending(passed));
  await fake.tickAsync(1);
  await passed;
  t.true(lifecycle.shutdownSignal.aborted);
  const { settled } = await settlesAtOnce(() => lifecycle.whenDeadlinePassed());
  t.true(settled);
  service.finish();
  await done;
});

test('whenDeadlinePassed() resolves when the run settles without a deadline', async (t) => {
  const { lifecycle, service, done } = await runManually('running');
  const passed = lifecycle.whenDeadlinePassed();
  void lifecycle.stop();
  t.true(await stillPending(passed));
  service.finish();
  await done;
  await passed;
  t.pass();
});

test.serial('whenDeadlinePassed() builds no AbortController', async (t) => {
  const { clock, fake } = fakeClock();
  const built = await countControllers(async () => {
    const lifecycle = new Lifecycle(
      serviceFromFunction('slow', async (lifecycle) => {
        lifecycle.running();
        await lifecycle.whenStopRequested();
        await lifecycle.whenDeadlinePassed();
      }),
      { clock },
    );
    const done = lifecycle.run();
    await lifecycle.whenRunning();
    const stopped = lifecycle.stop({ timeout: 10 });
    await fake.tickAsync(10);
    t.is(await stopped, 'stopped');
    await done;
  });
  t.is(built, 0);
});

test('whenDeadlinePassed() on an idle lifecycle waits for the next run’s deadline', async (t) => {
  const service = new ControlledService('svc', { running: 'manually', whenAsked: 'ignore' });
  const lifecycle = new Lifecycle(service);
  const passed = lifecycle.whenDeadlinePassed();
  const done = lifecycle.run();
  await service.started();
  t.true(await stillPending(passed));
  void lifecycle.stop({ timeout: 0 });
  await passed;
  service.finish();
  await done;
});

// --- sleep() ---

test('sleep(ms) resolves true after ms on the lifecycle’s clock and leaves no timer', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { lifecycle, service, done } = await runManually('running', { clock });
  const slept = lifecycle.sleep(500);
  await fake.tickAsync(499);
  t.true(await stillPending(slept));
  await fake.tickAsync(1);
  t.true(await slept);
  t.is(pending(), 0);
  service.finish();
  await done;
});

test('sleep(ms) resolves false as soon as a stop is requested and clears its timer', async (t) => {
  const { clock, pending } = fakeClock();
  const { lifecycle, service, done } = await runManually('running', { clock });
  const slept = lifecycle.sleep(60_000);
  t.is(pending(), 1);
  void lifecycle.stop();
  t.false(await slept);
  t.is(pending(), 0);
  service.finish();
  await done;
});

test('sleep(ms) resolves false at once when a stop was already requested, with no timer', async (t) => {
  const { clock, pending } = fakeClock();
  const { lifecycle, service, done } = await runManually('running', { clock });
  void lifecycle.stop();
  const { settled, promise } = await settlesAtOnce(() => lifecycle.sleep(1_000));
  t.true(settled);
  t.false(await promise);
  t.is(pending(), 0);
  service.finish();
  await done;
});

test('sleep(Infinity) sets no timer and resolves false at the stop request', async (t) => {
  const { clock, pending } = fakeClock();
  const { lifecycle, service, done } = await runManually('running', { clock });
  const slept = lifecycle.sleep(Infinity);
  t.is(pending(), 0);
  void lifecycle.stop();
  t.false(await slept);
  service.finish();
  await done;
});

test('a sleep still pending when the service returns resolves false and its timer is cleared', async (t) => {
  const { clock, pending } = fakeClock();
  const { lifecycle, service, done } = await runManually('running', { clock });
  const slept = lifecycle.sleep(5_000);
  service.finish();
  await done;
  t.false(await slept);
  t.is(pending(), 0);
});

test('a loop of sleeps ends with the stop request and leaves no timer', async (t) => {
  const { clock, fake, pending } = fakeClock();
  let ticks = 0;
  const lifecycle = new Lifecycle(
    serviceFromFunction('poller', async (lifecycle) => {
      lifecycle.running();
      while (await lifecycle.sleep(100)) ticks++;
      lifecycle.stopping();
    }),
    { clock },
  );
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  await fake.tickAsync(1_000);
  t.is(ticks, 10);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.is(pending(), 0);
});

test('sleep() throws a TypeError naming ms for a bad duration', (t) => {
  const lifecycle = new Lifecycle(new ControlledService());
  for (const ms of [-1, Number.NaN, '10', undefined]) {
    t.throws(() => lifecycle.sleep(ms as number), { instanceOf: TypeError, message: /ms/ });
  }
});

// --- logger ---

test('lifecycle.logger adds the service’s name to every line, merged with the call’s metadata', (t) => {
  const { logger, entries } = captureLogs();
  const lifecycle = new Lifecycle(new ControlledService('db'), { logger });
  lifecycle.logger.info('connected', { host: 'h1' });
  lifecycle.logger.warn('slow');
  lifecycle.logger.error('lost', { service: 'other' });
  lifecycle.logger.debug('detail');
  t.like(entries[0], { level: 'info', message: 'connected', host: 'h1', service: 'db' });
  t.like(entries[1], { level: 'warn', message: 'slow', service: 'db' });
  t.like(entries[2], { level: 'error', message: 'lost', service: 'db' });
  t.like(entries[3], { level: 'debug', message: 'detail', service: 'db' });
  t.is(lifecycle.logger, lifecycle.logger);
  t.true(lifecycle.logger.isLevelEnabled?.('debug'));
});

test('lifecycle.logger never throws into the service when the logger fails', (t) => {
  const { logger } = brokenLogger('throw');
  const lifecycle = new Lifecycle(new ControlledService('db'), { logger });
  t.notThrows(() => {
    lifecycle.logger.info('connected');
  });
});

test('a pool child’s lifecycle.logger writes to the pool’s logger with the child’s name', async (t) => {
  const { logger, entries } = captureLogs();
  const pool = new Pool({ name: 'app', logger });
  const service = new ControlledService('worker');
  const child = pool.add(service);
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  child.logger.info('job done', { job: 7 });
  t.like(
    entries.find((entry) => entry.message === 'job done'),
    { service: 'worker', job: 7 },
  );
  await lifecycle.stop();
  t.is(await done, undefined);
});

// --- reportError() ---

test('reportError() logs at warn, emits serviceError, counts and keeps the error, and leaves the state', async (t) => {
  const { logger, entries } = captureLogs();
  const { clock, fake } = fakeClock();
  const { lifecycle, service, done } = await runManually('running', { logger, clock });
  const heard: unknown[][] = [];
  lifecycle.onServiceError((...args) => heard.push(args));
  const error = new Error('cache miss storm');
  await fake.tickAsync(42);
  lifecycle.reportError(error);
  t.is(lifecycle.state, 'running');
  t.deepEqual(heard, [[service, lifecycle, error]]);
  t.like(
    entries.find((entry) => entry.level === 'warn'),
    { message: 'service reported an error', service: 'svc' },
  );
  const snapshot = lifecycle.snapshot();
  t.is(snapshot.errorCount, 1);
  t.deepEqual(snapshot.recentErrors, [{ error, at: 42 }]);
  service.finish();
  await done;
});

test('a snapshot keeps the last 10 reported errors and counts them all, across runs', async (t) => {
  const { lifecycle, service, done } = await runManually('running');
  for (let index = 0; index < 12; index++) lifecycle.reportError(new Error(`e${index}`));
  service.finish();
  await done;
  const again = lifecycle.run();
  await service.started();
  lifecycle.reportError(new Error('e12'));
  const snapshot = lifecycle.snapshot();
  t.is(snapshot.errorCount, 13);
  t.deepEqual(
    snapshot.recentErrors?.map(({ error }) => error.message),
    ['e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9', 'e10', 'e11', 'e12'],
  );
  service.finish();
  await again;
});

test('a snapshot of a service that reported nothing has no error fields', async (t) => {
  const { lifecycle, service, done } = await runManually('running');
  const snapshot = lifecycle.snapshot();
  t.false('errorCount' in snapshot);
  t.false('recentErrors' in snapshot);
  service.finish();
  await done;
});

test('reportError() wraps a value that is not an Error', (t) => {
  const lifecycle = new Lifecycle(new ControlledService('svc'));
  let heard: Error | undefined;
  lifecycle.on('serviceError', (_service, _lifecycle, error) => {
    heard = error;
  });
  lifecycle.reportError('oops');
  t.true(heard instanceof NonErrorThrownError);
  t.is(lifecycle.snapshot().errorCount, 1);
});

test('a serviceError hook that throws is reported as hookError with the event', (t) => {
  const lifecycle = new Lifecycle(new ControlledService('svc'));
  const failure = new Error('hook broke');
  const heard: unknown[][] = [];
  lifecycle.onServiceError(() => {
    throw failure;
  });
  lifecycle.on('hookError', (error, event) => heard.push([error, event]));
  lifecycle.reportError(new Error('x'));
  t.deepEqual(heard, [[failure, 'serviceError']]);
  t.is(lifecycle.listenerCount('serviceError'), 1);
});

test('a serviceError hook’s rejection while idle is reported as hookError', async (t) => {
  const lifecycle = new Lifecycle(new ControlledService('svc'));
  const failure = new Error('async hook broke');
  const heard = new Promise((resolve) => {
    lifecycle.on('hookError', (error, event) => {
      resolve([error, event]);
    });
  });
  lifecycle.onServiceError(() => Promise.reject(failure));
  lifecycle.reportError(new Error('x'));
  t.deepEqual(await heard, [failure, 'serviceError']);
});

test('the run waits for a serviceError hook’s promise before it settles', async (t) => {
  const { lifecycle, service, done } = await runManually('running');
  let release!: () => void;
  lifecycle.onServiceError(() => new Promise<void>((resolve) => (release = resolve)));
  lifecycle.reportError(new Error('x'));
  service.finish();
  t.true(await stillPending(done));
  release();
  await done;
  t.pass();
});

test('a transition a serviceError hook asks for is made once the hooks are done', async (t) => {
  const { lifecycle, service, done } = await runManually('starting');
  const order: string[] = [];
  const hook: LifecycleEvents['serviceError'] = (_service, lifecycle) => {
    lifecycle.running();
    order.push(`hook saw ${lifecycle.state}`);
  };
  lifecycle.onServiceError(hook);
  lifecycle.reportError(new Error('x'));
  t.deepEqual(order, ['hook saw starting']);
  t.is(lifecycle.state, 'running');
  lifecycle.off('serviceError');
  lifecycle.onServiceError((_service, lifecycle) => {
    lifecycle.stopping();
  });
  lifecycle.reportError(new Error('y'));
  t.is(lifecycle.state, 'stopping');
  service.finish();
  await done;
});

// --- whenRunning() explains a pool's failed start ---

test('a pool’s whenRunning() rejects with NotRunningError whose cause names the child that crashed', async (t) => {
  const pool = new Pool({ name: 'app' });
  const db = new ControlledService('db', { running: 'manually' });
  const web = new ControlledService('web', { running: 'manually' });
  pool.add(db);
  pool.add(web);
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  const waiting = lifecycle.whenRunning();
  await allStarted({ db, web });
  db.crash();
  const error = await t.throwsAsync(waiting, { instanceOf: NotRunningError });
  t.is(error.state, 'crashed');
  t.true(error.cause instanceof ServiceCrashedError);
  t.is((error.cause as ServiceCrashedError).service, 'db');
  t.is((error.cause as ServiceCrashedError).cause, db.error);
  t.is(await done, error.cause as Error);
});

test('whenRunning() still rejects at once when a stop is requested before running', async (t) => {
  const { lifecycle, service, done } = await runManually('starting');
  const waiting = lifecycle.whenRunning();
  void lifecycle.stop();
  service.reportStopping();
  const error = await t.throwsAsync(waiting, { instanceOf: NotRunningError });
  t.is(error.state, 'stopping');
  t.is(lifecycle.state, 'stopping');
  service.finish();
  await done;
});

// --- why a stop was requested, for log lines ---

test('stopReasonOf() gives the message of the current run’s stop reason without building its signal', async (t) => {
  const { lifecycle, service, done } = await runManually('running');
  t.is(stopReasonOf(lifecycle), undefined);
  void lifecycle.stop({ reason: 'SIGTERM' });
  t.is(stopReasonOf(lifecycle), 'stop requested: SIGTERM');
  service.finish();
  await done;
  t.is(stopReasonOf(lifecycle), undefined);
});

test('stopReasonOf() never throws, even for something that is not a lifecycle', (t) => {
  t.is(stopReasonOf({} as unknown as Lifecycle), undefined);
});

test('stopReasonOf() gives a string reason as it is, and leaves out any other value', (t) => {
  const holder = (reason: unknown) => ({ [stopReason]: () => reason }) as unknown as Lifecycle;
  t.is(stopReasonOf(holder('drain')), 'drain');
  t.is(stopReasonOf(holder(42)), undefined);
});

test('lifecycle.logger of a lifecycle without a logger is the silent logger', (t) => {
  const lifecycle = new Lifecycle(new ControlledService('svc'));
  t.is(lifecycle.logger, silentLogger);
});

test('reportError() inside another event’s hook leaves that event’s requested transition to it', async (t) => {
  const { lifecycle, service, done } = await runManually('starting');
  const states: string[] = [];
  lifecycle.onServiceError((_service, lifecycle) => {
    lifecycle.stopping();
  });
  lifecycle.onRunning((_service, lifecycle) => {
    lifecycle.reportError(new Error('degraded'));
    states.push(lifecycle.state);
  });
  service.reportRunning();
  t.deepEqual(states, ['running']);
  t.is(lifecycle.state, 'stopping');
  service.finish();
  await done;
});
