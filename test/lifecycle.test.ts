import test from 'ava';
import { AlreadyRunningError, Lifecycle, NonErrorThrownError } from '../lib/index.js';
import {
  endedRun,
  runManually,
  settlesAtOnce,
  stillPending,
  type ManualRun,
} from './helpers/lifecycle.js';
import { recordStates } from './helpers/record.js';
import { ControlledService, serviceOf } from './helpers/service.js';

const activeStates = ['starting', 'running', 'stopping'] as const;
const pathTo = {
  starting: ['starting'],
  running: ['starting', 'running'],
  stopping: ['starting', 'running', 'stopping'],
} as const;

/** Lifecycles in each state where running() or stopping() may be called out of turn. */
const sideStates = {
  'stopped before the first run': () => {
    const lifecycle = new Lifecycle(new ControlledService());
    return Promise.resolve({ lifecycle, states: recordStates(lifecycle), end: () => undefined });
  },
  running: async () => endable(await runManually('running')),
  stopping: async () => endable(await runManually('stopping')),
  'stopped after a run': async () => endable(await endedRun('stopped')),
  crashed: async () => endable(await endedRun('crashed')),
};

function endable(run: ManualRun) {
  return {
    lifecycle: run.lifecycle,
    states: run.states,
    end: async () => {
      run.service.finish();
      await run.done.catch(() => undefined);
    },
  };
}

// States

test('a new lifecycle is stopped, with no error and un-aborted signals', (t) => {
  const service = new ControlledService();
  const lifecycle = new Lifecycle(service);
  t.is(lifecycle.service, service);
  t.is(lifecycle.state, 'stopped');
  t.is(lifecycle.error, undefined);
  t.false(lifecycle.signal.aborted);
  t.false(lifecycle.shutdownSignal.aborted);
  t.false(lifecycle.shouldStop());
});

test('run() moves stopped to starting, returns, then calls runWithLifecycle with the lifecycle', async (t) => {
  const service = new ControlledService('svc', { running: 'manually', whenAsked: 'ignore' });
  const lifecycle = new Lifecycle(service);
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  t.is(lifecycle.state, 'starting');
  t.deepEqual(states, ['starting']);
  t.is(service.runs.length, 0);
  t.is(await service.started(), lifecycle);
  t.is(service.runs.length, 1);
  t.is(service.runs[0], lifecycle);
  t.is(lifecycle.state, 'starting');
  t.deepEqual(states, ['starting']);
  service.finish();
  await done;
});

test('running() moves starting to running', async (t) => {
  const { service, lifecycle, states, done } = await runManually('starting');
  service.reportRunning();
  t.is(lifecycle.state, 'running');
  t.deepEqual(states, ['starting', 'running']);
  service.finish();
  await done;
});

for (const from of ['starting', 'running'] as const) {
  test(`stopping() moves ${from} to stopping and returns shutdownSignal`, async (t) => {
    const { service, lifecycle, states, done } = await runManually(from);
    const shutdown = lifecycle.stopping();
    t.is(shutdown, lifecycle.shutdownSignal);
    t.false(shutdown.aborted);
    t.is(lifecycle.state, 'stopping');
    t.deepEqual(states, [...pathTo[from], 'stopping']);
    service.finish();
    await done;
  });
}

for (const from of activeStates) {
  test(`runWithLifecycle resolving during ${from} ends stopped`, async (t) => {
    const { service, lifecycle, states, done } = await runManually(from);
    service.finish();
    await done;
    t.is(lifecycle.state, 'stopped');
    t.is(lifecycle.error, undefined);
    t.deepEqual(states, [...pathTo[from], 'stopped']);
  });

  test(`runWithLifecycle rejecting during ${from} ends crashed`, async (t) => {
    const { service, lifecycle, states, done } = await runManually(from);
    service.crash();
    t.is(await t.throwsAsync(done), service.error);
    t.is(lifecycle.state, 'crashed');
    t.is(lifecycle.error, service.error);
    t.deepEqual(states, [...pathTo[from], 'crashed']);
  });
}

test('run() moves crashed to starting', async (t) => {
  const { service, lifecycle, states } = await endedRun('crashed');
  const again = lifecycle.run();
  t.is(lifecycle.state, 'starting');
  t.deepEqual(states, ['starting', 'running', 'crashed', 'starting']);
  await service.started();
  service.finish();
  await again;
});

for (const [label, make] of Object.entries(sideStates)) {
  test(`running() while ${label} changes nothing and does not throw`, async (t) => {
    const { lifecycle, states, end } = await make();
    const [state, before] = [lifecycle.state, [...states]];
    t.notThrows(() => {
      lifecycle.running();
    });
    t.is(lifecycle.state, state);
    t.deepEqual(states, before);
    await end();
  });

  if (label === 'running') continue;
  test(`stopping() while ${label} changes nothing and returns shutdownSignal`, async (t) => {
    const { lifecycle, states, end } = await make();
    const [state, before] = [lifecycle.state, [...states]];
    let shutdown: AbortSignal | undefined;
    t.notThrows(() => {
      shutdown = lifecycle.stopping();
    });
    t.is(shutdown, lifecycle.shutdownSignal);
    t.false(lifecycle.shutdownSignal.aborted);
    t.is(lifecycle.state, state);
    t.deepEqual(states, before);
    await end();
  });
}

// run()

test('run() stays pending while the service runs and resolves once it stops', async (t) => {
  const { service, done } = await runManually('running');
  t.true(await stillPending(done));
  service.finish();
  await done;
});

for (const [label, value] of [
  ['a string', 'boom'],
  ['an object', { reason: 'boom' }],
] as const) {
  test(`a rejection with ${label} crashes with NonErrorThrownError whose cause is the value`, async (t) => {
    const { service, lifecycle, states, done } = await runManually('running');
    service.crash(value);
    const error = await t.throwsAsync(done, {
      instanceOf: NonErrorThrownError,
      code: 'ERR_OVERSEER_NON_ERROR_THROWN',
    });
    t.is(error.name, 'NonErrorThrownError');
    t.is(error.cause, value);
    t.regex(error.message, /"svc"/);
    t.is(lifecycle.error, error);
    t.deepEqual(states, ['starting', 'running', 'crashed']);
  });
}

test('a synchronous throw in runWithLifecycle crashes the service after run() returns', async (t) => {
  const failure = new Error('sync failure');
  const lifecycle = new Lifecycle(
    serviceOf('svc', () => {
      throw failure;
    }),
  );
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  t.is(lifecycle.state, 'starting');
  t.is(await t.throwsAsync(done), failure);
  t.is(lifecycle.error, failure);
  t.deepEqual(states, ['starting', 'crashed']);
});

test('a synchronous throw of a non-Error is wrapped in NonErrorThrownError', async (t) => {
  const lifecycle = new Lifecycle(
    serviceOf('svc', () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- a non-Error on purpose
      throw 42;
    }),
  );
  const states = recordStates(lifecycle);
  const error = await t.throwsAsync(lifecycle.run(), {
    instanceOf: NonErrorThrownError,
    code: 'ERR_OVERSEER_NON_ERROR_THROWN',
  });
  t.is(error.cause, 42);
  t.regex(error.message, /42/);
  t.is(lifecycle.error, error);
  t.deepEqual(states, ['starting', 'crashed']);
});

for (const state of activeStates) {
  test(`run() while ${state} rejects with AlreadyRunningError and changes nothing`, async (t) => {
    const { service, lifecycle, states, done } = await runManually(state);
    const [before, signal, shutdown] = [[...states], lifecycle.signal, lifecycle.shutdownSignal];
    const error = await t.throwsAsync(lifecycle.run(), {
      instanceOf: AlreadyRunningError,
      code: 'ERR_OVERSEER_ALREADY_RUNNING',
    });
    t.is(error.name, 'AlreadyRunningError');
    t.regex(error.message, /"svc" is already running/);
    t.is(lifecycle.state, state);
    t.deepEqual(states, before);
    t.is(service.runs.length, 1);
    t.is(lifecycle.signal, signal);
    t.is(lifecycle.shutdownSignal, shutdown);
    t.false(signal.aborted);
    service.finish();
    await done;
    t.deepEqual(states, [...before, 'stopped']);
  });
}

// wait()

test('wait() resolves at once when the lifecycle has never run', async (t) => {
  const lifecycle = new Lifecycle(new ControlledService());
  const { settled, promise } = await settlesAtOnce(() => lifecycle.wait());
  t.true(settled);
  await promise;
});

test('wait() resolves at once after the service stopped', async (t) => {
  const { lifecycle } = await endedRun('stopped');
  const { settled, promise } = await settlesAtOnce(() => lifecycle.wait());
  t.true(settled);
  await promise;
});

test('wait() rejects at once with the crash error after a crash', async (t) => {
  const { service, lifecycle } = await endedRun('crashed');
  const { settled, promise } = await settlesAtOnce(() => lifecycle.wait());
  t.true(settled);
  t.is(await t.throwsAsync(promise), service.error);
});

test('wait() during a run resolves once the service stops', async (t) => {
  const { service, lifecycle, done } = await runManually('running');
  const waited = lifecycle.wait();
  t.true(await stillPending(waited));
  service.finish();
  await waited;
  t.is(lifecycle.state, 'stopped');
  await done;
});

test('wait() during a run rejects with the crash error', async (t) => {
  const { service, lifecycle, done } = await runManually('stopping');
  const waited = lifecycle.wait();
  service.crash();
  t.is(await t.throwsAsync(waited), service.error);
  t.is(lifecycle.state, 'crashed');
  await t.throwsAsync(done);
});

// Signals, error, runs

test('signal and shutdownSignal are un-aborted before the first run and new for every run', async (t) => {
  const lifecycle = new Lifecycle(new ControlledService());
  t.false(lifecycle.signal.aborted);
  t.false(lifecycle.shutdownSignal.aborted);
  const first = lifecycle.run();
  const [signal, shutdown] = [lifecycle.signal, lifecycle.shutdownSignal];
  t.false(signal.aborted);
  t.false(shutdown.aborted);
  t.is(await lifecycle.stop({ timeout: 0 }), 'stopped');
  await first;
  t.true(signal.aborted);
  t.true(shutdown.aborted);
  const second = lifecycle.run();
  t.not(lifecycle.signal, signal);
  t.not(lifecycle.shutdownSignal, shutdown);
  t.false(lifecycle.signal.aborted);
  t.false(lifecycle.shutdownSignal.aborted);
  t.false(lifecycle.shouldStop());
  await lifecycle.stop();
  await second;
});

test('error is undefined unless the lifecycle crashed, and the next run clears it', async (t) => {
  const { service, lifecycle } = await endedRun('crashed');
  t.is(lifecycle.error, service.error);
  const seenWhenStarting: unknown[] = [];
  lifecycle.onStarting((_service, current) => {
    seenWhenStarting.push(current.error);
  });
  const again = lifecycle.run();
  t.deepEqual(seenWhenStarting, [undefined]);
  t.is(lifecycle.error, undefined);
  await service.started();
  service.reportRunning();
  t.is(lifecycle.error, undefined);
  service.finish();
  await again;
  t.is(lifecycle.state, 'stopped');
  t.is(lifecycle.error, undefined);
});

for (const end of ['stopped', 'crashed'] as const) {
  test(`a lifecycle runs again after it ${end}`, async (t) => {
    const { service, lifecycle, states } = await endedRun(end);
    const again = lifecycle.run();
    await service.started();
    service.reportRunning();
    service.finish();
    await again;
    t.is(service.runs.length, 2);
    t.is(service.runs[1], lifecycle);
    t.deepEqual(states, ['starting', 'running', end, 'starting', 'running', 'stopped']);
  });
}

// Bad arguments

test('new Lifecycle() throws a TypeError naming `service` for something that is not a service', (t) => {
  const noop = () => undefined;
  for (const value of [
    undefined,
    null,
    'svc',
    {},
    { name: 'svc' },
    { name: '', runWithLifecycle: noop },
    { name: 1, runWithLifecycle: noop },
    { name: 'svc', runWithLifecycle: 'run' },
  ]) {
    t.throws(() => new Lifecycle(value as never), { instanceOf: TypeError, message: /`service`/ });
  }
});

test('new Lifecycle() throws a TypeError naming the option that is wrong', (t) => {
  const service = new ControlledService();
  const cases: [unknown, RegExp][] = [
    ['fast', /`options`/],
    [null, /`options`/],
    [{ logger: {} }, /`options\.logger`/],
    [{ logger: { error: () => undefined } }, /`options\.logger`/],
    [{ clock: {} }, /`options\.clock`/],
    [{ clock: { now: () => 0 } }, /`options\.clock`/],
  ];
  for (const [options, message] of cases) {
    t.throws(() => new Lifecycle(service, options as never), { instanceOf: TypeError, message });
  }
});

test('stop() throws a TypeError naming options.timeout for -1, NaN and "5", and changes nothing', async (t) => {
  const { service, lifecycle, states, done } = await runManually('running');
  for (const timeout of [-1, Number.NaN, '5']) {
    t.throws(() => lifecycle.stop({ timeout: timeout as number }), {
      instanceOf: TypeError,
      message: /`options\.timeout`/,
    });
  }
  t.false(lifecycle.signal.aborted);
  t.deepEqual(states, ['starting', 'running']);
  t.throws(() => new Lifecycle(service).stop({ timeout: -1 }), { instanceOf: TypeError });
  service.finish();
  await done;
});

test('stop() throws a TypeError naming options.signal or options for a bad argument', async (t) => {
  const { service, lifecycle, done } = await runManually('running');
  for (const signal of [{}, 'abort', new AbortController()]) {
    t.throws(() => lifecycle.stop({ signal: signal as AbortSignal }), {
      instanceOf: TypeError,
      message: /`options\.signal`/,
    });
  }
  t.throws(() => lifecycle.stop('now' as never), { instanceOf: TypeError, message: /`options`/ });
  t.false(lifecycle.signal.aborted);
  service.finish();
  await done;
});

test('hook methods throw a TypeError naming `hook` for a non-function', (t) => {
  const lifecycle = new Lifecycle(new ControlledService());
  const methods = [
    'onStateChange',
    'onStarting',
    'onRunning',
    'onStopping',
    'onStopped',
    'onCrashed',
  ] as const;
  for (const method of methods) {
    t.throws(() => lifecycle[method]('x' as never), { instanceOf: TypeError, message: /`hook`/ });
  }
});

test('on(), once() and off() throw a TypeError naming `event` or `listener`', (t) => {
  const lifecycle = new Lifecycle(new ControlledService());
  const listener = () => undefined;
  t.throws(() => lifecycle.on('nope' as 'running', listener), {
    instanceOf: TypeError,
    message: /`event`/,
  });
  t.throws(() => lifecycle.once('nope' as 'running', listener), {
    instanceOf: TypeError,
    message: /`event`/,
  });
  t.throws(() => lifecycle.off('nope' as 'running', listener), {
    instanceOf: TypeError,
    message: /`event`/,
  });
  t.throws(() => lifecycle.on('running', 'x' as never), {
    instanceOf: TypeError,
    message: /`listener`/,
  });
  t.throws(() => lifecycle.once('running', 'x' as never), {
    instanceOf: TypeError,
    message: /`listener`/,
  });
});
