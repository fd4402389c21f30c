import test from 'ava';
import { Lifecycle, Pool, ServicesCrashedError, type Logger } from '../lib/index.js';
import { captureLogs } from './helpers/logs.js';
import { recordStates } from './helpers/record.js';
import { ControlledService } from './helpers/service.js';

/** A logger whose error() throws `failure`; the other levels work. */
function loggerFailingOnError(failure: Error): Logger {
  const ignore = () => undefined;
  return {
    error: () => {
      throw failure;
    },
    warn: ignore,
    info: ignore,
    debug: ignore,
  };
}

test('a logger that throws while reporting a hook failure crashes the lifecycle with that error instead of leaving it stuck', async (t) => {
  const failure = new Error('log transport down');
  const service = new ControlledService('worker');
  const lifecycle = new Lifecycle(service, { logger: loggerFailingOnError(failure) });
  const states = recordStates(lifecycle);
  lifecycle.onRunning(() => {
    throw new Error('hook failed');
  });

  const error = await t.throwsAsync(lifecycle.run());

  t.is(error, failure);
  t.is(lifecycle.state, 'crashed');
  t.is(lifecycle.error, failure);
  t.deepEqual(states, ['starting', 'running', 'crashed']);
  t.true(lifecycle.signal.aborted, 'the service is told to stop');
  t.true(lifecycle.shutdownSignal.aborted, 'and to abandon its work at once');
});

test('a crashed lifecycle ignores the late end of the service it gave up on', async (t) => {
  const failure = new Error('log transport down');
  const service = new ControlledService('worker', { whenAsked: 'ignore' });
  const lifecycle = new Lifecycle(service, { logger: loggerFailingOnError(failure) });
  lifecycle.onRunning(() => {
    throw new Error('hook failed');
  });
  const states = recordStates(lifecycle);

  await t.throwsAsync(lifecycle.run(), { is: failure });
  service.finish();
  await Promise.resolve();

  t.is(await lifecycle.stop(), 'crashed');
  t.deepEqual(states, ['starting', 'running', 'crashed']);
});

test('a hookError listener that throws is logged and does not stop the other hooks', async (t) => {
  const { logger, entries } = captureLogs();
  const service = new ControlledService('worker');
  const lifecycle = new Lifecycle(service, { logger });
  const calls: string[] = [];
  const hookFailure = new Error('hook failed');
  const listenerFailure = new Error('hookError listener failed');
  lifecycle
    .onRunning(() => {
      throw hookFailure;
    })
    .onRunning(() => {
      calls.push('second running hook');
    })
    .on('hookError', () => {
      throw listenerFailure;
    });

  const run = lifecycle.run();
  await lifecycle.stop();
  await run;

  t.deepEqual(calls, ['second running hook']);
  t.deepEqual(
    entries.map(({ level, message, event, error }) => ({ level, message, event, error })),
    [
      { level: 'error', message: 'lifecycle hook failed', event: 'running', error: hookFailure },
      {
        level: 'error',
        message: 'hookError listener failed',
        event: 'hookError',
        error: listenerFailure,
      },
    ],
  );
});

test('a pool whose child lifecycle fails internally crashes with that error and stops its other children', async (t) => {
  const failure = new Error('log transport down');
  const pool = new Pool({ name: 'app', logger: loggerFailingOnError(failure) });
  const broken = pool.add(new ControlledService('broken'));
  const healthy = new ControlledService('healthy');
  pool.add(healthy);
  broken.onRunning(() => {
    throw new Error('hook failed');
  });
  const lifecycle = new Lifecycle(pool);

  const error = await t.throwsAsync(lifecycle.run(), { instanceOf: ServicesCrashedError });

  // The pool's own logging of the crash hits the broken logger too: both failures are reported.
  t.is(error.message, '2 failures: log transport down, "broken" crashed');
  t.deepEqual(
    error.errors.map((each) => [each.message, each.cause]),
    [
      ['log transport down', undefined],
      ['Service "broken" crashed: log transport down', failure],
    ],
  );
  t.is(healthy.lifecycle.state, 'stopped');
});
