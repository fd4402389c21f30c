import test from 'ava';
import {
  Lifecycle,
  NonErrorThrownError,
  Pool,
  ServiceCrashedError,
  type Logger,
} from '../lib/index.js';
import { captureLogs, spyOnWarnings } from './helpers/logs.js';
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

test.serial(
  'a logger that throws while reporting a hook failure changes nothing: the other hooks run, hookError is emitted and one warning is reported',
  async (t) => {
    const warnings = spyOnWarnings(t);
    const service = new ControlledService('worker');
    const lifecycle = new Lifecycle(service, {
      logger: loggerFailingOnError(new Error('log transport down')),
    });
    const states = recordStates(lifecycle);
    const hookFailure = new Error('hook failed');
    const seen: unknown[] = [];
    lifecycle
      .onRunning(() => {
        throw hookFailure;
      })
      .onRunning(() => {
        seen.push('second running hook');
      })
      .on('hookError', (error, event) => {
        seen.push([error, event]);
      });

    const run = lifecycle.run();
    await service.started();
    t.is(lifecycle.state, 'running');
    t.is(await lifecycle.stop(), 'stopped');
    await run;

    t.deepEqual(seen, [[hookFailure, 'running'], 'second running hook']);
    t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
    t.deepEqual(warnings, [
      {
        message: 'A logger given to overseer failed (log transport down); its calls are ignored',
        code: 'OVERSEER_LOGGER_FAILED',
      },
    ]);
  },
);

test('a hookError listener that throws is logged and does not stop the other hooks', async (t) => {
  const { logger, entries } = captureLogs();
  const lifecycle = new Lifecycle(new ControlledService('worker'), { logger });
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
  // The root logs each of its transitions once its hooks have run.
  const transition = (state: string) => ({
    level: 'info',
    message: `service ${state}`,
    event: undefined,
    error: undefined,
  });
  t.deepEqual(
    entries.map(({ level, message, event, error }) => ({ level, message, event, error })),
    [
      transition('starting'),
      { level: 'error', message: 'lifecycle hook failed', event: 'running', error: hookFailure },
      {
        level: 'error',
        message: 'hookError listener failed',
        event: 'hookError',
        error: listenerFailure,
      },
      transition('running'),
      transition('stopping'),
      transition('stopped'),
    ],
  );
});

test('an async hookError listener that rejects is logged, never an unhandled rejection', async (t) => {
  const { logger, entries } = captureLogs();
  const lifecycle = new Lifecycle(new ControlledService('worker'), { logger });
  const listenerFailure = new Error('alerting is down');
  let reported!: () => void;
  const listenerFailed = new Promise<void>((resolve) => (reported = resolve));
  lifecycle
    .onRunning(() => {
      throw new Error('hook failed');
    })
    .on('hookError', async () => {
      await Promise.resolve();
      queueMicrotask(reported);
      throw listenerFailure;
    });

  const run = lifecycle.run();
  await listenerFailed;
  await lifecycle.stop();
  await run;

  const failures = entries.filter(({ level }) => level === 'error');
  t.deepEqual(
    failures.map(({ message, error }) => [message, error]),
    [
      ['lifecycle hook failed', failures[0]?.error],
      ['hookError listener failed', listenerFailure],
    ],
  );
});

test.serial(
  'a pool whose logger throws while logging a crash crashes with the crash alone, stops its other children and reports the logger once as a warning',
  async (t) => {
    const warnings = spyOnWarnings(t);
    const failure = new Error('log transport down');
    const pool = new Pool({ name: 'app', logger: loggerFailingOnError(failure) });
    const broken = new ControlledService('broken');
    const healthy = new ControlledService('healthy');
    pool.add(broken);
    pool.add(healthy);
    const lifecycle = new Lifecycle(pool);
    const states = recordStates(lifecycle);
    const ended = lifecycle.run().then(
      () => undefined,
      (error: unknown) => error,
    );

    await broken.started();
    broken.crash();
    const error = await ended;

    t.true(error instanceof ServiceCrashedError);
    const crash = error as ServiceCrashedError;
    t.is(crash.message, 'Service "broken" crashed: broken failed');
    t.is(crash.cause, broken.error);
    t.is(lifecycle.error, crash);
    t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
    t.is(healthy.lifecycle.state, 'stopped');
    t.deepEqual(warnings, [
      {
        message: 'A logger given to overseer failed (log transport down); its calls are ignored',
        code: 'OVERSEER_LOGGER_FAILED',
      },
    ]);
  },
);

test('a service that throws a value String() cannot convert still crashes with NonErrorThrownError', async (t) => {
  const value: unknown = Object.create(null);
  const lifecycle = new Lifecycle({
    name: 'odd',
    runWithLifecycle: () => {
      throw value;
    },
  });

  const error = await t.throwsAsync(lifecycle.run(), { instanceOf: NonErrorThrownError });

  t.is(error.message, 'Service "odd" failed with a value that is not an Error: an object (Object)');
  t.is(error.cause, value);
  t.is(lifecycle.state, 'crashed');
});

test('stop() rejects a timeout longer than setTimeout can wait with a TypeError', async (t) => {
  const lifecycle = new Lifecycle(new ControlledService('worker'));
  const run = lifecycle.run();

  t.throws(() => lifecycle.stop({ timeout: 2 ** 31 }), {
    instanceOf: TypeError,
    message:
      'Expected `options.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `2147483648` (number)',
  });
  t.false(lifecycle.signal.aborted, 'the rejected call changed nothing');

  await lifecycle.stop({ timeout: 2 ** 31 - 1 });
  await run;
});

test('pool.lifecycles is a frozen snapshot: the children change only through add()', (t) => {
  const pool = new Pool();
  const first = pool.add(new ControlledService('first'));
  const before = pool.lifecycles;

  t.true(Object.isFrozen(before));
  t.throws(() => (before as Lifecycle[]).push(first), { instanceOf: TypeError });

  const second = pool.add(new ControlledService('second'));
  t.deepEqual(before, [first]);
  t.deepEqual(pool.lifecycles, [first, second]);
  t.is(pool.lifecycles, pool.lifecycles, 'the snapshot is reused until the next add()');
});
