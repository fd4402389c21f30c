import { once } from 'node:events';
import test from 'ava';
import {
  Lifecycle,
  NonErrorThrownError,
  Sequence,
  serviceFromFunction,
  StartFailedError,
  type State,
} from '../lib/index.js';
import { runToEnd } from './helpers/pool.js';
import { recordStates } from './helpers/record.js';

/** The body of a well-behaved service: runs until asked to stop. */
async function untilAsked(lifecycle: Lifecycle): Promise<void> {
  lifecycle.running();
  if (!lifecycle.signal.aborted) await once(lifecycle.signal, 'abort');
  lifecycle.stopping();
}

test('serviceFromFunction() returns a service with the given name whose run receives the lifecycle', async (t) => {
  const received: Lifecycle[] = [];
  const service = serviceFromFunction('ticker', (lifecycle) => {
    received.push(lifecycle);
  });
  t.is(service.name, 'ticker');
  t.is(typeof service.runWithLifecycle, 'function');
  t.deepEqual(Object.keys(service), ['name', 'runWithLifecycle']);
  const lifecycle = new Lifecycle(service);
  await lifecycle.run();
  t.is(received.length, 1);
  t.is(received[0], lifecycle);
});

test('a Lifecycle runs a function service through starting, running, stopping and stopped', async (t) => {
  const service = serviceFromFunction('ticker', untilAsked);
  const lifecycle = new Lifecycle(service);
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  t.is(lifecycle.state, 'starting');
  await lifecycle.whenRunning();
  t.is(lifecycle.state, 'running');
  const stopped = lifecycle.stop();
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(lifecycle.error, undefined);
});

test('a function that returns synchronously ends the run stopped', async (t) => {
  const lifecycle = new Lifecycle(serviceFromFunction('once', () => undefined));
  const states = recordStates(lifecycle);
  await lifecycle.run();
  t.deepEqual(states, ['starting', 'stopped']);
});

test('a function that rejects crashes the lifecycle with that very error', async (t) => {
  const failure = new Error('port in use');
  const service = serviceFromFunction('web', async (lifecycle) => {
    lifecycle.running();
    await Promise.resolve();
    throw failure;
  });
  const lifecycle = new Lifecycle(service);
  const states = recordStates(lifecycle);
  await t.throwsAsync(lifecycle.run(), { is: failure });
  t.deepEqual(states, ['starting', 'running', 'crashed']);
  t.is(lifecycle.state, 'crashed');
  t.is(lifecycle.error, failure);
  await t.throwsAsync(lifecycle.wait(), { is: failure });
});

test('a function that throws synchronously crashes the lifecycle with that error', async (t) => {
  const failure = new Error('bad config');
  const lifecycle = new Lifecycle(
    serviceFromFunction('config', () => {
      throw failure;
    }),
  );
  const states = recordStates(lifecycle);
  await t.throwsAsync(lifecycle.run(), { is: failure });
  t.deepEqual(states, ['starting', 'crashed']);
  t.is(lifecycle.error, failure);
});

test('a function that rejects with a non-Error crashes the lifecycle with NonErrorThrownError keeping the value', async (t) => {
  const lifecycle = new Lifecycle(
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what the test is about
    serviceFromFunction('legacy', () => Promise.reject('disk full')),
  );
  const error = await t.throwsAsync(lifecycle.run(), { instanceOf: NonErrorThrownError });
  t.is(error.code, 'ERR_OVERSEER_NON_ERROR_THROWN');
  t.is(error.cause, 'disk full');
  t.is(error.message, 'Service "legacy" failed with a value that is not an Error: disk full');
  t.is(lifecycle.error, error);
});

test('each run calls the function again, with the lifecycle of that run', async (t) => {
  const received: Lifecycle[] = [];
  const signals: AbortSignal[] = [];
  const service = serviceFromFunction('worker', async (lifecycle) => {
    received.push(lifecycle);
    signals.push(lifecycle.signal);
    await untilAsked(lifecycle);
  });
  const lifecycle = new Lifecycle(service);
  for (let run = 0; run < 2; run++) {
    const done = lifecycle.run();
    t.is(await lifecycle.stop(), 'stopped');
    await done;
  }
  t.deepEqual(received, [lifecycle, lifecycle]);
  t.is(signals.length, 2);
  t.not(signals[0], signals[1]);
});

test('`this` inside the function is undefined, not the service', async (t) => {
  const seen: unknown[] = [];
  const service = serviceFromFunction('probe', function (this: unknown) {
    seen.push(this);
  });
  // The lifecycle calls `service.runWithLifecycle(lifecycle)`, as a method of the service.
  await new Lifecycle(service).run();
  t.is(seen.length, 1);
  t.not(seen[0], service);
  t.is(seen[0], undefined);
});

test('the service serviceFromFunction() returns is frozen', (t) => {
  const service = serviceFromFunction('frozen', () => undefined);
  t.true(Object.isFrozen(service));
  // ESM modules are strict: writing to a frozen object throws.
  t.throws(
    () => {
      (service as { name: string }).name = 'other';
    },
    { instanceOf: TypeError },
  );
  t.throws(
    () => {
      (service as { runWithLifecycle: unknown }).runWithLifecycle = () => undefined;
    },
    { instanceOf: TypeError },
  );
  t.throws(
    () => {
      (service as unknown as Record<string, unknown>).extra = 1;
    },
    { instanceOf: TypeError },
  );
  t.is(service.name, 'frozen');
});

test('serviceFromFunction() throws a TypeError naming `name` for an empty or non-string name', (t) => {
  const bad: [unknown, string][] = [
    ['', 'Expected `name` to be a non-empty string, got `""` (string)'],
    [42, 'Expected `name` to be a non-empty string, got `42` (number)'],
    [undefined, 'Expected `name` to be a non-empty string, got `undefined` (undefined)'],
    [null, 'Expected `name` to be a non-empty string, got `null`'],
    [{ name: 'x' }, 'Expected `name` to be a non-empty string, got an object (Object)'],
  ];
  for (const [name, message] of bad) {
    t.throws(() => serviceFromFunction(name as string, () => undefined), {
      instanceOf: TypeError,
      message,
    });
  }
});

test('serviceFromFunction() throws a TypeError naming `run` for a value that is not a function', (t) => {
  const bad: [unknown, string][] = [
    [undefined, 'Expected `run` to be a function, got `undefined` (undefined)'],
    [null, 'Expected `run` to be a function, got `null`'],
    ['run', 'Expected `run` to be a function, got `"run"` (string)'],
    [{ runWithLifecycle() {} }, 'Expected `run` to be a function, got an object (Object)'],
  ];
  for (const [run, message] of bad) {
    t.throws(() => serviceFromFunction('svc', run as () => void), {
      instanceOf: TypeError,
      message,
    });
  }
});

test('a function service runs as a child of a sequence, and its rejection fails the start', async (t) => {
  const states: Record<string, State[]> = {};
  const failure = new Error('migration 42 failed');
  const sequence = new Sequence({ name: 'boot' });
  const database = sequence.add(serviceFromFunction('database', untilAsked));
  const migrations = sequence.add(serviceFromFunction('migrations', () => Promise.reject(failure)));
  states.database = recordStates(database);
  states.migrations = recordStates(migrations);
  const lifecycle = new Lifecycle(sequence);
  const error = await runToEnd(lifecycle);
  t.true(error instanceof StartFailedError);
  t.is((error as StartFailedError).service, 'migrations');
  t.is(error?.cause, failure);
  t.deepEqual(states, {
    database: ['starting', 'running', 'stopping', 'stopped'],
    migrations: ['starting', 'crashed'],
  });
});
