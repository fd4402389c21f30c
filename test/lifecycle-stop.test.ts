import test from 'ava';
import { execFile } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { promisify } from 'node:util';
import { Lifecycle, type State } from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { endedRun, runManually, settlesAtOnce, stillPending } from './helpers/lifecycle.js';
import { recordStates } from './helpers/record.js';
import { ControlledService } from './helpers/service.js';

const activeStates = ['starting', 'running', 'stopping'] as const;
const pathTo = {
  starting: ['starting'],
  running: ['starting', 'running'],
  stopping: ['starting', 'running', 'stopping'],
} as const;

for (const state of activeStates) {
  test(`stop() during ${state} aborts signal before it returns`, async (t) => {
    const { service, lifecycle, states, done } = await runManually(state);
    const stopped = lifecycle.stop();
    t.true(lifecycle.signal.aborted);
    t.true(lifecycle.shouldStop());
    t.false(lifecycle.shutdownSignal.aborted);
    t.is(lifecycle.state, state);
    t.true(await stillPending(stopped));
    service.finish();
    t.is(await stopped, 'stopped');
    await done;
    t.deepEqual(states, [...pathTo[state], 'stopped']);
  });
}

test('signal aborts with an AbortError DOMException when stop() is called', async (t) => {
  const { service, lifecycle, done } = await runManually('running');
  const stopped = lifecycle.stop();
  const reason: unknown = lifecycle.signal.reason;
  t.true(reason instanceof DOMException);
  t.is((reason as DOMException).name, 'AbortError');
  service.finish();
  await Promise.all([stopped, done]);
});

test('stop() resolves with stopped once a cooperating service has stopped', async (t) => {
  const service = new ControlledService();
  const lifecycle = new Lifecycle(service);
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  t.is(await lifecycle.stop(), 'stopped');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  await done;
});

test('stop() resolves with crashed and never rejects when the service crashes', async (t) => {
  const service = new ControlledService('svc', { whenAsked: 'crash' });
  const lifecycle = new Lifecycle(service);
  const done = lifecycle.run();
  t.is(await lifecycle.stop(), 'crashed');
  t.is(await t.throwsAsync(done), service.error);
});

for (const [label, make, expected] of [
  [
    'before the first run',
    () => Promise.resolve(new Lifecycle(new ControlledService())),
    'stopped',
  ],
  ['after a stop', async () => (await endedRun('stopped')).lifecycle, 'stopped'],
  ['after a crash', async () => (await endedRun('crashed')).lifecycle, 'crashed'],
] as const) {
  test(`stop() ${label} resolves with ${expected} before the next turn of the event loop`, async (t) => {
    const lifecycle = await make();
    const states = recordStates(lifecycle);
    const { settled, promise } = await settlesAtOnce(() => lifecycle.stop({ timeout: 0 }));
    t.true(settled);
    t.is(await promise, expected);
    t.is(lifecycle.state, expected);
    t.deepEqual(states, []);
  });
}

test('a second stop() returns the same promise and keeps the first abort reason', async (t) => {
  const { service, lifecycle, states, done } = await runManually('running');
  const first = lifecycle.stop();
  const reason: unknown = lifecycle.signal.reason;
  t.is(lifecycle.stop(), first);
  t.is(lifecycle.signal.reason, reason);
  t.deepEqual(states, ['starting', 'running']);
  service.reportStopping();
  service.finish();
  t.is(await first, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('the shutdown deadline aborts shutdownSignal with a TimeoutError DOMException', async (t) => {
  const { clock, fake } = fakeClock();
  const service = new ControlledService('svc', { whenAsked: 'await-deadline' });
  const lifecycle = new Lifecycle(service, { clock });
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  const stopped = lifecycle.stop({ timeout: 100 });
  await fake.tickAsync(99);
  t.false(lifecycle.shutdownSignal.aborted);
  t.is(lifecycle.state, 'stopping');
  await fake.tickAsync(1);
  const reason: unknown = lifecycle.shutdownSignal.reason;
  t.true(reason instanceof DOMException);
  t.is((reason as DOMException).name, 'TimeoutError');
  t.is((lifecycle.signal.reason as DOMException).name, 'AbortError');
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('an earlier deadline from a second stop() wins', async (t) => {
  const { clock, fake } = fakeClock();
  const { service, lifecycle, done } = await runManually('running', { clock });
  const stopped = lifecycle.stop({ timeout: 100 });
  t.is(lifecycle.stop({ timeout: 50 }), stopped);
  await fake.tickAsync(49);
  t.false(lifecycle.shutdownSignal.aborted);
  await fake.tickAsync(1);
  t.true(lifecycle.shutdownSignal.aborted);
  service.finish();
  t.is(await stopped, 'stopped');
  await done;
});

test('a later, longer deadline never extends an earlier one', async (t) => {
  const { clock, fake } = fakeClock();
  const { service, lifecycle, done } = await runManually('running', { clock });
  const stopped = lifecycle.stop({ timeout: 50 });
  await fake.tickAsync(20);
  t.is(lifecycle.stop({ timeout: 40 }), stopped);
  t.is(lifecycle.stop({ timeout: 1000 }), stopped);
  await fake.tickAsync(29);
  t.false(lifecycle.shutdownSignal.aborted);
  await fake.tickAsync(1);
  t.true(lifecycle.shutdownSignal.aborted);
  service.finish();
  t.is(await stopped, 'stopped');
  await done;
});

test('a deadline given to a second stop() applies when the first had none', async (t) => {
  const { clock, fake } = fakeClock();
  const { service, lifecycle, done } = await runManually('running', { clock });
  const stopped = lifecycle.stop();
  await fake.tickAsync(1000);
  t.false(lifecycle.shutdownSignal.aborted);
  t.is(lifecycle.stop({ timeout: 10 }), stopped);
  await fake.tickAsync(9);
  t.false(lifecycle.shutdownSignal.aborted);
  await fake.tickAsync(1);
  t.true(lifecycle.shutdownSignal.aborted);
  service.finish();
  await done;
});

test('stop({ timeout: 0 }) aborts shutdownSignal before it returns', async (t) => {
  const { service, lifecycle, done } = await runManually('running');
  const stopped = lifecycle.stop({ timeout: 0 });
  t.true(lifecycle.signal.aborted);
  t.true(lifecycle.shutdownSignal.aborted);
  t.is((lifecycle.shutdownSignal.reason as DOMException).name, 'TimeoutError');
  service.finish();
  await Promise.all([stopped, done]);
});

test('stop({ timeout: Infinity }) sets no deadline', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { service, lifecycle, done } = await runManually('running', { clock });
  const stopped = lifecycle.stop({ timeout: Infinity });
  t.is(pending(), 0);
  await fake.tickAsync(1e9);
  t.false(lifecycle.shutdownSignal.aborted);
  service.finish();
  await Promise.all([stopped, done]);
});

test('stop({ signal }) with an aborted signal aborts shutdownSignal before it returns, with its reason', async (t) => {
  const { service, lifecycle, done } = await runManually('running');
  const reason = new Error('caller gave up');
  const stopped = lifecycle.stop({ signal: AbortSignal.abort(reason) });
  t.true(lifecycle.signal.aborted);
  t.true(lifecycle.shutdownSignal.aborted);
  t.is(lifecycle.shutdownSignal.reason, reason);
  service.finish();
  await Promise.all([stopped, done]);
});

test('stop({ signal }) aborts shutdownSignal when that signal aborts later, with its reason', async (t) => {
  const { service, lifecycle, done } = await runManually('running');
  const controller = new AbortController();
  const stopped = lifecycle.stop({ signal: controller.signal });
  t.true(lifecycle.signal.aborted);
  t.false(lifecycle.shutdownSignal.aborted);
  const reason = new Error('caller gave up');
  controller.abort(reason);
  t.true(lifecycle.shutdownSignal.aborted);
  t.is(lifecycle.shutdownSignal.reason, reason);
  service.finish();
  await Promise.all([stopped, done]);
});

for (const end of ['stopped', 'crashed'] as const) {
  test(`the listener stop() puts on a caller signal is removed when the run ends ${end}`, async (t) => {
    const { service, lifecycle, done } = await runManually('running');
    const controller = new AbortController();
    const stopped = lifecycle.stop({ signal: controller.signal });
    t.is(getEventListeners(controller.signal, 'abort').length, 1);
    if (end === 'stopped') service.finish();
    else service.crash();
    t.is(await stopped, end);
    await done.catch(() => undefined);
    t.is(getEventListeners(controller.signal, 'abort').length, 0);
  });
}

test('a caller signal aborting after the run ended does not affect the next run', async (t) => {
  const service = new ControlledService();
  const lifecycle = new Lifecycle(service);
  const states = recordStates(lifecycle);
  const first = lifecycle.run();
  const controller = new AbortController();
  t.is(await lifecycle.stop({ signal: controller.signal }), 'stopped');
  await first;
  const second = lifecycle.run();
  controller.abort(new Error('late'));
  t.false(lifecycle.signal.aborted);
  t.false(lifecycle.shutdownSignal.aborted);
  await service.started();
  t.is(lifecycle.state, 'running');
  t.false(lifecycle.signal.aborted);
  t.is(await lifecycle.stop(), 'stopped');
  await second;
  t.deepEqual(states, [
    'starting',
    'running',
    'stopping',
    'stopped',
    'starting',
    'running',
    'stopping',
    'stopped',
  ]);
});

test('shutdownSignal never aborts before a stop is requested', async (t) => {
  const { clock, fake } = fakeClock();
  const { service, lifecycle, done } = await runManually('running', { clock });
  const shutdown = service.reportStopping();
  await fake.tickAsync(1e9);
  t.false(shutdown.aborted);
  t.false(lifecycle.signal.aborted);
  service.finish();
  await done;
  t.false(shutdown.aborted);
});

test('stop() without a deadline never aborts shutdownSignal', async (t) => {
  const { clock, fake } = fakeClock();
  const { service, lifecycle, done } = await runManually('running', { clock });
  const stopped = lifecycle.stop();
  const shutdown = service.reportStopping();
  await fake.tickAsync(1e9);
  t.false(shutdown.aborted);
  service.finish();
  t.is(await stopped, 'stopped');
  await done;
  t.false(shutdown.aborted);
});

for (const whenAsked of ['stop', 'crash'] as const) {
  test(`no timer is left after a run with a deadline ends (service does ${whenAsked})`, async (t) => {
    const { clock, pending } = fakeClock();
    const lifecycle = new Lifecycle(new ControlledService('svc', { whenAsked }), { clock });
    const done = lifecycle.run();
    const stopped = lifecycle.stop({ timeout: 5000 });
    t.is(pending(), 1);
    await Promise.all([stopped, done.catch(() => undefined)]);
    t.is(pending(), 0);
  });
}

test('a program whose only work is a stopped lifecycle exits by itself', async (t) => {
  const script = `
    const { Lifecycle } = await import(process.argv[1]);
    const lifecycle = new Lifecycle({
      name: 'svc',
      async runWithLifecycle(lifecycle) {
        lifecycle.running();
        await new Promise((resolve) => lifecycle.signal.addEventListener('abort', resolve));
        lifecycle.stopping();
      },
    });
    const done = lifecycle.run();
    await lifecycle.whenRunning();
    const caller = new AbortController();
    const state = await lifecycle.stop({ timeout: 3_600_000, signal: caller.signal });
    await done;
    console.log(JSON.stringify({ state, resources: process.getActiveResourcesInfo() }));
  `;
  const index = new URL('../lib/index.ts', import.meta.url).href;
  // The timeout only turns a leaked timer (an hour-long hang) into a failure.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import=tsx', '--input-type=module', '-e', script, index],
    { timeout: 30_000 },
  );
  const { state, resources } = JSON.parse(stdout) as { state: State; resources: string[] };
  t.is(state, 'stopped');
  t.false(resources.includes('Timeout'));
});

test('stop({ reason }) with a string aborts signal with an AbortError that says why', async (t) => {
  const { service, lifecycle, done } = await runManually('running');
  const stopped = lifecycle.stop({ reason: 'SIGTERM' });
  const reason = lifecycle.signal.reason as DOMException;
  t.true(reason instanceof DOMException);
  t.is(reason.name, 'AbortError');
  t.is(reason.message, 'stop requested: SIGTERM');
  t.is((reason as { cause?: unknown }).cause, undefined);
  service.finish();
  t.is(await stopped, 'stopped');
  await done;
});

test('stop({ reason }) with an Error aborts signal with an AbortError whose cause is that error', async (t) => {
  const { service, lifecycle, done } = await runManually('running');
  const failure = new Error('uncaught exception: boom');
  const stopped = lifecycle.stop({ reason: failure });
  const reason = lifecycle.signal.reason as DOMException;
  t.is(reason.name, 'AbortError');
  t.is(reason.message, 'stop requested: uncaught exception: boom');
  t.is((reason as { cause?: unknown }).cause, failure);
  service.finish();
  t.is(await stopped, 'stopped');
  await done;
});

test('stop({ reason }) of another type throws a TypeError naming options.reason', async (t) => {
  const { service, lifecycle, done } = await runManually('running');
  t.throws(() => lifecycle.stop({ reason: 42 as unknown as string }), {
    instanceOf: TypeError,
    message: /options\.reason/,
  });
  t.false(lifecycle.shouldStop());
  service.finish();
  await done;
});
