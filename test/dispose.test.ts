import { once } from 'node:events';
import test from 'ava';
import { Lifecycle, Pool, type State } from '../lib/index.js';
import { endedRun } from './helpers/lifecycle.js';
import { runToEnd } from './helpers/pool.js';
import { recordStates } from './helpers/record.js';
import { ControlledService, serviceOf } from './helpers/service.js';

test('a lifecycle has a Symbol.asyncDispose method', (t) => {
  const lifecycle = new Lifecycle(new ControlledService());
  t.is(typeof lifecycle[Symbol.asyncDispose], 'function');
  t.is(typeof Lifecycle.prototype[Symbol.asyncDispose], 'function');
});

test('await using stops a running service at the end of the block', async (t) => {
  const seen: string[] = [];
  const service = serviceOf('svc', async (lifecycle) => {
    lifecycle.running();
    await once(lifecycle.signal, 'abort');
    seen.push('signal aborted');
    lifecycle.stopping();
  });
  let disposed: Lifecycle | undefined;
  let states: State[] = [];
  let done: Promise<Error | undefined> = Promise.resolve(undefined);
  {
    await using lifecycle = new Lifecycle(service);
    disposed = lifecycle;
    states = recordStates(lifecycle);
    done = runToEnd(lifecycle);
    await lifecycle.whenRunning();
    t.is(lifecycle.state, 'running');
    t.false(lifecycle.signal.aborted);
  }
  t.is(disposed.state, 'stopped');
  t.is(disposed.error, undefined);
  t.true(disposed.signal.aborted);
  t.deepEqual(seen, ['signal aborted']);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(await done, undefined);
});

test('await using stops a service that is still starting at the end of the block', async (t) => {
  const service = new ControlledService('svc', { running: 'manually' });
  let disposed: Lifecycle | undefined;
  let states: State[] = [];
  let done: Promise<Error | undefined> = Promise.resolve(undefined);
  {
    await using lifecycle = new Lifecycle(service);
    disposed = lifecycle;
    states = recordStates(lifecycle);
    done = runToEnd(lifecycle);
    t.is(lifecycle.state, 'starting');
  }
  t.is(disposed.state, 'stopped');
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.is(await done, undefined);
});

test('await using has awaited the async stopped hooks when the block ends', async (t) => {
  const service = new ControlledService('svc');
  const flushed: string[] = [];
  let done: Promise<Error | undefined> = Promise.resolve(undefined);
  {
    await using lifecycle = new Lifecycle(service).onStopped(async () => {
      await Promise.resolve();
      await Promise.resolve();
      flushed.push('flushed');
    });
    done = runToEnd(lifecycle);
  }
  t.deepEqual(flushed, ['flushed']);
  t.is(await done, undefined);
});

test('await using stops the service when the block throws, and the error propagates', async (t) => {
  const failure = new Error('block failed');
  const service = new ControlledService('svc');
  let disposed: Lifecycle | undefined;
  let done: Promise<Error | undefined> = Promise.resolve(undefined);
  const thrown = await t.throwsAsync(async () => {
    await using lifecycle = new Lifecycle(service);
    disposed = lifecycle;
    done = runToEnd(lifecycle);
    throw failure;
  });
  t.is(thrown, failure);
  t.is(disposed?.state, 'stopped');
  t.true(service.lifecycle.signal.aborted);
  t.is(await done, undefined);
});

test('disposing a lifecycle that never ran is harmless', async (t) => {
  const service = new ControlledService('svc');
  let disposed: Lifecycle | undefined;
  let states: State[] = [];
  await t.notThrowsAsync(async () => {
    await using lifecycle = new Lifecycle(service);
    disposed = lifecycle;
    states = recordStates(lifecycle);
  });
  t.is(disposed?.state, 'stopped');
  t.is(disposed?.error, undefined);
  t.deepEqual(states, []);
  t.is(service.runs.length, 0);
  t.false(disposed?.signal.aborted);
});

test('disposing a stopped lifecycle resolves and changes nothing', async (t) => {
  const { lifecycle, states } = await endedRun('stopped');
  const before = [...states];
  await t.notThrowsAsync(lifecycle[Symbol.asyncDispose]());
  t.is(lifecycle.state, 'stopped');
  t.deepEqual(states, before);
});

test('disposing a crashed lifecycle does not reject and keeps the crash error', async (t) => {
  const { service, lifecycle, states } = await endedRun('crashed');
  const before = [...states];
  await t.notThrowsAsync(lifecycle[Symbol.asyncDispose]());
  t.is(lifecycle.state, 'crashed');
  t.is(lifecycle.error, service.error);
  t.deepEqual(states, before);
});

test('a crash during the stop does not make disposal reject and leaves the lifecycle crashed', async (t) => {
  const service = new ControlledService('svc', { whenAsked: 'crash' });
  let disposed: Lifecycle | undefined;
  let states: State[] = [];
  let done: Promise<Error | undefined> = Promise.resolve(undefined);
  await t.notThrowsAsync(async () => {
    await using lifecycle = new Lifecycle(service);
    disposed = lifecycle;
    states = recordStates(lifecycle);
    done = runToEnd(lifecycle);
  });
  t.is(disposed?.state, 'crashed');
  t.is(disposed?.error, service.error);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
  t.is(await done, service.error);
});

test('a pool run through a disposed lifecycle stops all its children, nested ones included', async (t) => {
  const pool = new Pool({ name: 'root' });
  const inner = new Pool({ name: 'inner' });
  const services = {
    a: new ControlledService('a'),
    b: new ControlledService('b'),
    c: new ControlledService('c'),
  };
  const a = pool.add(services.a);
  const b = pool.add(services.b);
  const innerLifecycle = pool.add(inner);
  const c = inner.add(services.c);
  const children = [a, b, innerLifecycle, c];
  let disposed: Lifecycle | undefined;
  let done: Promise<Error | undefined> = Promise.resolve(undefined);
  {
    await using lifecycle = new Lifecycle(pool);
    disposed = lifecycle;
    done = runToEnd(lifecycle);
    await lifecycle.whenRunning();
    t.is(lifecycle.state, 'running');
    t.deepEqual(
      children.map((child) => child.state),
      ['running', 'running', 'running', 'running'],
    );
  }
  t.is(disposed.state, 'stopped');
  t.deepEqual(
    children.map((child) => child.state),
    ['stopped', 'stopped', 'stopped', 'stopped'],
  );
  t.deepEqual(
    Object.values(services).map((service) => service.lifecycle.signal.aborted),
    [true, true, true],
  );
  t.is(await done, undefined);
});
