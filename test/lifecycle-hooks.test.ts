import test from 'ava';
import { defer } from '../lib/internal/deferred.js';
import { Lifecycle, type HookEvent, type State } from '../lib/index.js';
import { nextImmediate, runManually, stillPending } from './helpers/lifecycle.js';
import { captureLogs, type LogEntry } from './helpers/logs.js';
import { recordStates } from './helpers/record.js';
import { ControlledService } from './helpers/service.js';

const stateEvents = ['starting', 'running', 'stopping', 'stopped', 'crashed'] as const;

/** The hook-failure lines of a captured log, reduced to the fields the lifecycle writes. */
function hookFailures(entries: LogEntry[]) {
  return entries
    .filter((entry) => entry.message === 'lifecycle hook failed')
    .map(({ level, message, service, event, error }) => ({
      level,
      message,
      service,
      event,
      error,
    }));
}

/** Every hook method's event, recording `event:state-at-call` and the arguments it received. */
function recordHooks(lifecycle: Lifecycle, via: 'methods' | 'on') {
  const calls: string[] = [];
  const args: Record<string, unknown[]> = {};
  const hook =
    (event: HookEvent) =>
    (...received: unknown[]) => {
      calls.push(`${event}:${lifecycle.state}`);
      args[event] = received;
    };
  if (via === 'on') {
    lifecycle.on('stateChange', hook('stateChange'));
    for (const event of stateEvents) lifecycle.on(event, hook(event));
  } else {
    lifecycle
      .onStateChange(hook('stateChange'))
      .onStarting(hook('starting'))
      .onRunning(hook('running'))
      .onStopping(hook('stopping'))
      .onStopped(hook('stopped'))
      .onCrashed(hook('crashed'));
  }
  return { calls, args };
}

test('hook methods, on(), once() and off() return the lifecycle', (t) => {
  const lifecycle = new Lifecycle(new ControlledService());
  const hook = () => undefined;
  t.is(lifecycle.onStateChange(hook), lifecycle);
  t.is(lifecycle.onStarting(hook), lifecycle);
  t.is(lifecycle.onRunning(hook), lifecycle);
  t.is(lifecycle.onStopping(hook), lifecycle);
  t.is(lifecycle.onStopped(hook), lifecycle);
  t.is(lifecycle.onCrashed(hook), lifecycle);
  t.is(lifecycle.on('running', hook), lifecycle);
  t.is(lifecycle.once('running', hook), lifecycle);
  t.is(lifecycle.off('running', hook), lifecycle);
});

test('hooks of one event run in the order they were added, however many there are', async (t) => {
  const service = new ControlledService('svc');
  const lifecycle = new Lifecycle(service);
  const order: number[] = [];
  for (let index = 0; index < 50; index++) {
    const hook = () => {
      order.push(index);
    };
    if (index % 2 === 0) lifecycle.onRunning(hook);
    else lifecycle.on('running', hook);
  }
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  t.deepEqual(
    order,
    Array.from({ length: 50 }, (_, index) => index),
  );
  await lifecycle.stop();
  await done;
});

for (const via of ['methods', 'on'] as const) {
  test(`hooks added through ${via} see the new state, stateChange first, on a stop`, async (t) => {
    const service = new ControlledService('svc');
    const lifecycle = new Lifecycle(service);
    const { calls } = recordHooks(lifecycle, via);
    const done = lifecycle.run();
    await lifecycle.stop();
    await done;
    t.deepEqual(calls, [
      'stateChange:starting',
      'starting:starting',
      'stateChange:running',
      'running:running',
      'stateChange:stopping',
      'stopping:stopping',
      'stateChange:stopped',
      'stopped:stopped',
    ]);
  });

  test(`hooks added through ${via} see the new state, stateChange first, on a crash`, async (t) => {
    const { service, lifecycle, done } = await runManually('starting');
    const { calls } = recordHooks(lifecycle, via);
    service.reportRunning();
    service.crash();
    await t.throwsAsync(done);
    t.deepEqual(calls, [
      'stateChange:running',
      'running:running',
      'stateChange:crashed',
      'crashed:crashed',
    ]);
  });
}

test('onStateChange hooks run before the hooks of the new state even when added later', async (t) => {
  const service = new ControlledService('svc');
  const lifecycle = new Lifecycle(service);
  const order: string[] = [];
  lifecycle.onRunning(() => order.push('running'));
  lifecycle.on('running', () => order.push('on running'));
  lifecycle.onStateChange((_service, _lifecycle, state) => order.push(`stateChange ${state}`));
  const done = lifecycle.run();
  t.deepEqual(order, ['stateChange starting']);
  await lifecycle.whenRunning();
  t.deepEqual(order, ['stateChange starting', 'stateChange running', 'running', 'on running']);
  await lifecycle.stop();
  await done;
});

for (const via of ['methods', 'on'] as const) {
  test(`hooks added through ${via} receive the service, the lifecycle and the event's extra argument`, async (t) => {
    const service = new ControlledService('svc', { whenAsked: 'crash' });
    const lifecycle = new Lifecycle(service);
    const { args } = recordHooks(lifecycle, via);
    const done = lifecycle.run();
    const shutdown = lifecycle.shutdownSignal;
    const stateChanges: State[] = [];
    lifecycle.on('stateChange', (_service, _lifecycle, state) => stateChanges.push(state));
    t.is(await lifecycle.stop(), 'crashed');
    await t.throwsAsync(done);
    t.deepEqual(stateChanges, ['running', 'stopping', 'crashed']);
    t.is(args.starting?.length, 2);
    t.is(args.running?.length, 2);
    t.is(args.stopping?.length, 3);
    t.is(args.crashed?.length, 3);
    t.is(args.stateChange?.length, 3);
    for (const received of Object.values(args)) {
      t.is(received[0], service);
      t.is(received[1], lifecycle);
    }
    t.is(args.stopping?.[2], shutdown);
    t.is(args.crashed?.[2], service.error);
    t.is(args.stateChange?.[2], 'crashed');

    const again = lifecycle.run();
    await service.started();
    service.finish();
    await again;
    t.is(args.stopped?.length, 2);
    t.is(args.stopped?.[0], service);
    t.is(args.stopped?.[1], lifecycle);
  });
}

test('once() listeners are called for the first emission only', async (t) => {
  const lifecycle = new Lifecycle(new ControlledService());
  const heard: string[] = [];
  lifecycle.once('stateChange', (_service, _lifecycle, state) =>
    heard.push(`stateChange ${state}`),
  );
  lifecycle.once('stopped', () => heard.push('stopped'));
  for (let run = 0; run < 2; run++) {
    const done = lifecycle.run();
    await lifecycle.stop();
    await done;
  }
  t.deepEqual(heard, ['stateChange starting', 'stopped']);
});

test('off() removes one hook or listener, or every listener of the event when given none', async (t) => {
  const lifecycle = new Lifecycle(new ControlledService());
  const heard: string[] = [];
  const hook = () => heard.push('hook');
  const listener = () => heard.push('listener');
  const kept = () => heard.push('kept');
  lifecycle.onRunning(hook).on('running', listener).onRunning(kept).off('running', hook);
  const first = lifecycle.run();
  await lifecycle.stop();
  await first;
  t.deepEqual(heard, ['listener', 'kept']);
  lifecycle.off('running', listener);
  const second = lifecycle.run();
  await lifecycle.stop();
  await second;
  t.deepEqual(heard, ['listener', 'kept', 'kept']);
  lifecycle.onStopped(hook).off('running').off('stopped');
  const third = lifecycle.run();
  await lifecycle.stop();
  await third;
  t.deepEqual(heard, ['listener', 'kept', 'kept']);
});

for (const event of ['stateChange', 'running'] as const) {
  test(`a throwing ${event} hook is logged and emitted as hookError; other hooks and the state go on`, async (t) => {
    const { logger, entries } = captureLogs();
    const service = new ControlledService('svc');
    const lifecycle = new Lifecycle(service, { logger });
    const states = recordStates(lifecycle);
    const failure = new Error('hook failed');
    const hookErrors: [unknown, HookEvent][] = [];
    const after: State[] = [];
    lifecycle.on('hookError', (error, name) => hookErrors.push([error, name]));
    lifecycle.on(event, () => {
      if (lifecycle.state === 'running') throw failure;
    });
    lifecycle.on(event, () => after.push(lifecycle.state));
    const done = lifecycle.run();
    await service.started();
    t.is(lifecycle.state, 'running');
    t.deepEqual(hookErrors, [[failure, event]]);
    t.is(hookErrors[0]?.[0], failure);
    t.deepEqual(hookFailures(entries), [
      { level: 'error', message: 'lifecycle hook failed', service: 'svc', event, error: failure },
    ]);
    t.is(entries.find(({ message }) => message === 'lifecycle hook failed')?.error, failure);
    t.is(await lifecycle.stop(), 'stopped');
    await done;
    t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
    t.deepEqual(
      after,
      event === 'running' ? ['running'] : ['starting', 'running', 'stopping', 'stopped'],
    );
  });
}

test('a rejecting async hook is logged and emitted as hookError, and run() still resolves', async (t) => {
  const { logger, entries } = captureLogs();
  const service = new ControlledService('svc');
  const lifecycle = new Lifecycle(service, { logger });
  const states = recordStates(lifecycle);
  const failure = new Error('flush failed');
  const reported = defer<[unknown, HookEvent]>();
  const after: string[] = [];
  lifecycle.on('hookError', (error, event) => {
    reported.resolve([error, event]);
  });
  lifecycle.onStopped(async () => {
    await Promise.resolve();
    throw failure;
  });
  lifecycle.onStopped(() => after.push('next stopped hook'));
  const done = lifecycle.run();
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  const [error, event] = await reported.promise;
  t.is(error, failure);
  t.is(event, 'stopped');
  t.deepEqual(after, ['next stopped hook']);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(lifecycle.state, 'stopped');
  t.is(lifecycle.error, undefined);
  t.deepEqual(hookFailures(entries), [
    {
      level: 'error',
      message: 'lifecycle hook failed',
      service: 'svc',
      event: 'stopped',
      error: failure,
    },
  ]);
});

test('async stopped hooks are awaited before run(), stop() and wait() settle', async (t) => {
  const service = new ControlledService('svc');
  const lifecycle = new Lifecycle(service);
  const events: string[] = [];
  const flushed = defer<undefined>();
  const hookCalled = defer<undefined>();
  lifecycle.onStopped(async () => {
    events.push('hook started');
    hookCalled.resolve(undefined);
    await flushed.promise;
    events.push('hook finished');
  });
  const done = lifecycle.run().then(() => events.push('run settled'));
  const stopped = lifecycle.stop().then((state) => events.push(`stop settled ${state}`));
  await hookCalled.promise;
  t.is(lifecycle.state, 'stopped');
  const lateStop = lifecycle.stop();
  const lateWait = lifecycle.wait();
  await nextImmediate();
  t.deepEqual(events, ['hook started']);
  t.true(await stillPending(lateStop));
  t.true(await stillPending(lateWait));
  flushed.resolve(undefined);
  const waited = lateWait.then(() => events.push('wait settled'));
  await Promise.all([done, stopped, waited]);
  t.deepEqual(events.slice(0, 2), ['hook started', 'hook finished']);
  t.deepEqual(events.slice(2).sort(), ['run settled', 'stop settled stopped', 'wait settled']);
  t.is(await lateStop, 'stopped');
});

test('async crashed hooks are awaited before run() and wait() reject', async (t) => {
  const { service, lifecycle, done } = await runManually('running');
  const events: string[] = [];
  const flushed = defer<undefined>();
  const hookCalled = defer<undefined>();
  lifecycle.onCrashed(async (_service, _lifecycle, error) => {
    events.push(`hook started ${error.message}`);
    hookCalled.resolve(undefined);
    await flushed.promise;
    events.push('hook finished');
  });
  const ran = done.catch((error: unknown) =>
    events.push(`run rejected ${(error as Error).message}`),
  );
  const waited = lifecycle.wait().catch(() => events.push('wait rejected'));
  service.crash();
  await hookCalled.promise;
  t.is(lifecycle.state, 'crashed');
  await nextImmediate();
  t.deepEqual(events, ['hook started svc failed']);
  flushed.resolve(undefined);
  await Promise.all([ran, waited]);
  t.deepEqual(events, [
    'hook started svc failed',
    'hook finished',
    'run rejected svc failed',
    'wait rejected',
  ]);
});

test('a pending promise from a hook of an earlier state holds back the end of the run', async (t) => {
  const service = new ControlledService('svc');
  const lifecycle = new Lifecycle(service);
  const warmed = defer<undefined>();
  lifecycle.onRunning(() => warmed.promise);
  const done = lifecycle.run();
  const stopped = lifecycle.stop();
  t.true(await stillPending(stopped));
  t.is(lifecycle.state, 'stopped');
  t.true(await stillPending(done));
  warmed.resolve(undefined);
  t.is(await stopped, 'stopped');
  await done;
});
