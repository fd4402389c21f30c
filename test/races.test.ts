import test from 'ava';
import { getEventListeners } from 'node:events';
import { AlreadyRunningError, Lifecycle, type HookEvent, type State } from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { runManually, settlesAtOnce, stillPending } from './helpers/lifecycle.js';
import { recordStates } from './helpers/record.js';
import { ControlledService, serviceOf } from './helpers/service.js';

// Crash during stop

test('a service that crashes after being asked to stop ends crashed and stop() resolves crashed', async (t) => {
  const service = new ControlledService('svc', { whenAsked: 'crash' });
  const lifecycle = new Lifecycle(service);
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  t.is(await lifecycle.stop(), 'crashed');
  t.is(await t.throwsAsync(done), service.error);
  t.is(lifecycle.error, service.error);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
});

test('a crash while a stop deadline is pending ends crashed and clears the deadline', async (t) => {
  const { clock, pending } = fakeClock();
  const { service, lifecycle, states, done } = await runManually('running', { clock });
  const stopped = lifecycle.stop({ timeout: 1000 });
  service.reportStopping();
  service.crash();
  t.is(await stopped, 'crashed');
  await t.throwsAsync(done);
  t.is(pending(), 0);
  t.false(lifecycle.shutdownSignal.aborted);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
});

// Stop during start

test('stop() in an onStarting hook aborts the signal before runWithLifecycle and ends stopped', async (t) => {
  const signalAtEntry: boolean[] = [];
  const lifecycle = new Lifecycle(
    serviceOf('svc', (current) => {
      signalAtEntry.push(current.signal.aborted);
      if (!current.shouldStop()) current.running();
      current.stopping();
    }),
  );
  const states = recordStates(lifecycle);
  let stopped: Promise<State> | undefined;
  lifecycle.onStarting((_service, current) => {
    stopped = current.stop();
  });
  const done = lifecycle.run();
  t.deepEqual(signalAtEntry, []);
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(signalAtEntry, [true]);
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
});

test('stop() before the service reports running makes it stop straight from starting', async (t) => {
  const service = new ControlledService('svc', { running: 'manually' });
  const lifecycle = new Lifecycle(service);
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
});

test('running() after stopping() during starting changes nothing', async (t) => {
  const { service, lifecycle, states, done } = await runManually('starting');
  const stopped = lifecycle.stop();
  service.reportStopping();
  service.reportRunning();
  t.is(lifecycle.state, 'stopping');
  service.finish();
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
});

test('a service that reports running after stop() during starting runs, then stops', async (t) => {
  const { service, lifecycle, states, done } = await runManually('starting');
  const stopped = lifecycle.stop();
  service.reportRunning();
  t.is(lifecycle.state, 'running');
  t.true(lifecycle.signal.aborted);
  service.reportStopping();
  service.finish();
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

// Stop twice

test('stop() twice without deadlines returns one promise and stops once', async (t) => {
  const service = new ControlledService('svc');
  const lifecycle = new Lifecycle(service);
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  const first = lifecycle.stop();
  const second = lifecycle.stop();
  t.is(second, first);
  t.is(await first, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(service.runs.length, 1);
});

test('stop() twice with deadlines returns one promise and keeps the earlier deadline', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const service = new ControlledService('svc', { whenAsked: 'await-deadline' });
  const lifecycle = new Lifecycle(service, { clock });
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  const first = lifecycle.stop({ timeout: 30 });
  const second = lifecycle.stop({ timeout: 10 });
  t.is(second, first);
  await fake.tickAsync(9);
  t.is(lifecycle.state, 'stopping');
  t.true(await stillPending(first));
  await fake.tickAsync(1);
  t.is(await first, 'stopped');
  await done;
  t.is((lifecycle.shutdownSignal.reason as DOMException).name, 'TimeoutError');
  t.is(pending(), 0);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('stop() after the run ended resolves with the same final state as the first', async (t) => {
  const lifecycle = new Lifecycle(new ControlledService('svc'));
  const done = lifecycle.run();
  const first = lifecycle.stop({ timeout: 10 });
  t.is(await first, 'stopped');
  await done;
  const { settled, promise: second } = await settlesAtOnce(() => lifecycle.stop({ timeout: 10 }));
  t.not(second, first);
  t.true(settled);
  t.is(await second, 'stopped');
});

// Ends without stop

test('a service that crashes before reporting running goes starting, crashed', async (t) => {
  const { service, lifecycle, states, done } = await runManually('starting');
  service.crash();
  t.is(await t.throwsAsync(done), service.error);
  t.deepEqual(states, ['starting', 'crashed']);
  t.is(await lifecycle.stop(), 'crashed');
  t.is(await t.throwsAsync(lifecycle.wait()), service.error);
});

test('a service that crashes during starting after stop() ends crashed and stop() resolves crashed', async (t) => {
  const { service, lifecycle, states, done } = await runManually('starting');
  const stopped = lifecycle.stop();
  service.crash();
  t.is(await stopped, 'crashed');
  await t.throwsAsync(done);
  t.deepEqual(states, ['starting', 'crashed']);
});

test('a service that ends on its own without a stop ends stopped and never sees its signal abort', async (t) => {
  const { service, lifecycle, states, done } = await runManually('running');
  service.finish();
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopped']);
  t.false(lifecycle.signal.aborted);
  t.false(lifecycle.shutdownSignal.aborted);
  t.is(await lifecycle.stop(), 'stopped');
});

test('a service that returns right after stop() without reporting stopping goes running, stopped', async (t) => {
  const { service, lifecycle, states, done } = await runManually('running');
  const stopped = lifecycle.stop();
  service.finish();
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopped']);
});

// Throwing hooks

for (const event of ['starting', 'running', 'stopping', 'stopped', 'crashed'] as const) {
  test(`a hook that throws on ${event} leaves the state sequence unchanged`, async (t) => {
    const end = event === 'crashed' ? 'crashed' : 'stopped';
    const service = new ControlledService('svc', {
      whenAsked: end === 'crashed' ? 'crash' : 'stop',
    });
    const lifecycle = new Lifecycle(service);
    const states = recordStates(lifecycle);
    const failure = new Error(`${event} hook failed`);
    const hookErrors: [unknown, HookEvent][] = [];
    lifecycle.on('hookError', (error, name) => hookErrors.push([error, name]));
    lifecycle.on(event, () => {
      throw failure;
    });
    const done = lifecycle.run();
    t.is(await lifecycle.stop(), end);
    if (end === 'crashed') t.is(await t.throwsAsync(done), service.error);
    else await done;
    t.deepEqual(states, ['starting', 'running', 'stopping', end]);
    t.deepEqual(hookErrors, [[failure, event]]);
  });
}

// Transitions requested from hooks

test('stopping() from an onRunning hook is applied after the running hooks', async (t) => {
  const { service, lifecycle, states, done } = await runManually('starting');
  const seen: string[] = [];
  let shutdown: AbortSignal | undefined;
  lifecycle.onStateChange((_service, current, state) =>
    seen.push(`stateChange ${state}: ${current.state}`),
  );
  lifecycle.onRunning((_service, current) => {
    shutdown = current.stopping();
    seen.push(`running #1 after stopping(): ${current.state}`);
  });
  lifecycle.onRunning((_service, current) => seen.push(`running #2: ${current.state}`));
  lifecycle.onStopping((_service, current) => seen.push(`stopping: ${current.state}`));
  service.reportRunning();
  t.is(lifecycle.state, 'stopping');
  t.is(shutdown, lifecycle.shutdownSignal);
  service.finish();
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.deepEqual(seen, [
    'stateChange running: running',
    'running #1 after stopping(): running',
    'running #2: running',
    'stateChange stopping: stopping',
    'stopping: stopping',
    'stateChange stopped: stopped',
  ]);
});

test('run() called from an onStopped hook rejects with AlreadyRunningError and changes nothing', async (t) => {
  const service = new ControlledService('svc');
  const lifecycle = new Lifecycle(service);
  const states = recordStates(lifecycle);
  const seen: string[] = [];
  const reruns: Promise<void>[] = [];
  lifecycle.onStarting((_service, current) => seen.push(`starting: ${current.state}`));
  lifecycle.onStopped((_service, current) => {
    if (reruns.length === 0) {
      const rerun = current.run();
      // Heard below, once the first run has settled.
      rerun.catch(() => undefined);
      reruns.push(rerun);
    }
    seen.push(`stopped #1 after run(): ${current.state}`);
  });
  lifecycle.onStopped((_service, current) => seen.push(`stopped #2: ${current.state}`));
  const first = lifecycle.run();
  t.is(await lifecycle.stop(), 'stopped');
  await first;
  t.is(reruns.length, 1);
  const error = await t.throwsAsync(Promise.all(reruns), {
    instanceOf: AlreadyRunningError,
    code: 'ERR_OVERSEER_ALREADY_RUNNING',
  });
  t.regex(error.message, /"svc" is already running/);
  t.is(lifecycle.state, 'stopped');
  t.is(service.runs.length, 1);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.deepEqual(seen, [
    'starting: starting',
    'stopped #1 after run(): stopped',
    'stopped #2: stopped',
  ]);

  const next = lifecycle.run();
  await lifecycle.whenRunning();
  t.is(service.runs.length, 2);
  t.is(await lifecycle.stop(), 'stopped');
  await next;
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

test('stop() from an onStopping hook aborts both signals at once and resolves with the final state', async (t) => {
  const { service, lifecycle, states, done } = await runManually('running');
  const seen: string[] = [];
  let stopped: Promise<State> | undefined;
  lifecycle.onStopping((_service, current, shutdown) => {
    stopped = current.stop({ timeout: 0 });
    seen.push(`${current.state} signal=${current.signal.aborted} shutdown=${shutdown.aborted}`);
  });
  service.reportStopping();
  t.deepEqual(seen, ['stopping signal=true shutdown=true']);
  service.finish();
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('stop() from an onStopping hook during a stop returns the stop already under way', async (t) => {
  const service = new ControlledService('svc');
  const lifecycle = new Lifecycle(service);
  const states = recordStates(lifecycle);
  let inner: Promise<State> | undefined;
  lifecycle.onStopping((_service, current) => {
    inner = current.stop();
  });
  const done = lifecycle.run();
  const outer = lifecycle.stop();
  t.is(await outer, 'stopped');
  t.is(inner, outer);
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('stop() from an onCrashed hook resolves with crashed', async (t) => {
  const { service, lifecycle, done } = await runManually('running');
  let stopped: Promise<State> | undefined;
  lifecycle.onCrashed((_service, current) => {
    stopped = current.stop();
  });
  service.crash();
  await t.throwsAsync(done);
  t.is(await stopped, 'crashed');
});

// Caller signals

test('the caller signal aborting after the run ended changes nothing', async (t) => {
  const service = new ControlledService('svc');
  const lifecycle = new Lifecycle(service);
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  const controller = new AbortController();
  t.is(await lifecycle.stop({ signal: controller.signal }), 'stopped');
  await done;
  const shutdown = lifecycle.shutdownSignal;
  controller.abort(new Error('too late'));
  t.false(shutdown.aborted);
  t.is(lifecycle.state, 'stopped');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(getEventListeners(controller.signal, 'abort').length, 0);
  t.is(await lifecycle.stop(), 'stopped');
});
