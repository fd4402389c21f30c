import test from 'ava';
import {
  AlreadyRunningError,
  health,
  Lifecycle,
  NotRunningError,
  Pool,
  type Clock,
} from '../lib/index.js';
import { assertAbortError } from './helpers/assertions.js';
import { fakeClock } from './helpers/clock.js';
import { deferred } from './helpers/deferred.js';
import { nextImmediate } from './helpers/lifecycle.js';
import { track } from './helpers/outcome.js';
import { makePool } from './helpers/pool.js';
import { recordStates } from './helpers/record.js';
import { ControlledService } from './helpers/service.js';

/** A running service that ignores stop requests until the test calls `service.finish()`. */
async function runningIgnoringStops(options: { clock?: Clock } = {}) {
  const service = new ControlledService('svc', { whenAsked: 'ignore' });
  const lifecycle = new Lifecycle(service, options);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  return { service, lifecycle, done };
}

/*
 * What a run is: it begins with run() and ends when run() settles; a new run starts only after
 * that; since and startupMs measure it; listenerCount(), abort reasons, and a service's own
 * properties that happen to look like a pool's (SPEC, Lifecycle).
 */

test("run() rejects with AlreadyRunningError while the previous run's hook promises are pending, and changes nothing", async (t) => {
  const { clock } = fakeClock();
  const service = new ControlledService('svc');
  const lifecycle = new Lifecycle(service, { clock });
  const flushed = deferred();
  lifecycle.onStopped(() => flushed.promise);
  const states = recordStates(lifecycle);
  const first = track(lifecycle.run());
  await lifecycle.whenRunning();
  const stopped = track(lifecycle.stop());
  await nextImmediate();
  t.is(lifecycle.state, 'stopped');
  t.is(first.outcome.status, 'pending');

  const second = track(lifecycle.run());
  await nextImmediate();
  t.is(second.outcome.status, 'rejected');
  const error = second.outcome.status === 'rejected' ? second.outcome.reason : undefined;
  t.true(error instanceof AlreadyRunningError, String(error));
  t.like(error, { code: 'ERR_OVERSEER_ALREADY_RUNNING' });
  t.is(lifecycle.state, 'stopped');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(service.runs.length, 1);
  t.is(first.outcome.status, 'pending');

  flushed.resolve();
  await nextImmediate();
  t.deepEqual(first.outcome, { status: 'fulfilled', value: undefined });
  t.deepEqual(stopped.outcome, { status: 'fulfilled', value: 'stopped' });
  // If a second run did start, end it, so nothing outlives the test.
  await lifecycle.stop();
});

test('a pool whose child pool is draining never reports running, and whenRunning() rejects with NotRunningError', async (t) => {
  const inner = makePool({ quick: {}, stubborn: { whenAsked: 'ignore' } }, { name: 'inner' });
  const outer = new Pool({ name: 'outer' });
  outer.add(inner.pool);
  const late = new ControlledService('late', { running: 'manually' });
  outer.add(late);
  const lifecycle = new Lifecycle(outer);
  const states = recordStates(lifecycle);
  const innerStates = recordStates(outer.lifecycles[0]!);
  const running = track(lifecycle.whenRunning());
  const run = track(lifecycle.run());
  await nextImmediate();
  t.deepEqual(innerStates, ['starting', 'running']);

  inner.services.quick.finish();
  await nextImmediate();
  t.deepEqual(innerStates, ['starting', 'running', 'stopping']);
  late.reportRunning();
  await nextImmediate();
  t.deepEqual(states, ['starting']);
  t.is(running.outcome.status, 'pending');

  inner.services.stubborn.finish();
  await nextImmediate();
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.is(running.outcome.status, 'rejected');
  const error = running.outcome.status === 'rejected' ? running.outcome.reason : undefined;
  t.true(error instanceof NotRunningError, String(error));
  t.deepEqual(run.outcome, { status: 'fulfilled', value: undefined });
  await lifecycle.stop();
});

test('a pool reports running only once every child is running at that moment: a child that ran and began stopping holds it back', async (t) => {
  const { lifecycle, states, services } = makePool({
    first: {},
    second: { running: 'manually' },
  });
  const running = track(lifecycle.whenRunning());
  const run = track(lifecycle.run());
  await nextImmediate();
  t.is(services.first.lifecycle.state, 'running');

  services.first.reportStopping();
  services.second.reportRunning();
  await nextImmediate();
  t.deepEqual(states, ['starting']);
  t.is(running.outcome.status, 'pending');

  services.first.finish();
  await nextImmediate();
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.is(running.outcome.status, 'rejected');
  t.deepEqual(run.outcome, { status: 'fulfilled', value: undefined });
  await lifecycle.stop();
});

test('since is undefined before the first run, and startupMs is the time from starting to running', async (t) => {
  const { clock: fake } = fakeClock();
  let now = 1000;
  const clock: Clock = { ...fake, now: () => now };
  const service = new ControlledService('svc', { running: 'manually' });
  const lifecycle = new Lifecycle(service, { clock });
  const before: unknown = lifecycle.since;
  t.is(before, undefined);
  t.is(lifecycle.startupMs, undefined);

  const done = lifecycle.run();
  t.is(lifecycle.since, 1000);
  await nextImmediate();
  now = 1012.375;
  service.reportRunning();
  t.is(lifecycle.since, 1012.375);
  t.is(lifecycle.startupMs, 12.375);
  await lifecycle.stop();
  await done;
});

test('listenerCount() counts hooks and listeners of an event; an unknown event is a TypeError', (t) => {
  const lifecycle = new Lifecycle(new ControlledService('svc'));
  const listener = () => undefined;
  t.is(lifecycle.listenerCount('running'), 0);
  lifecycle.onRunning(() => undefined);
  lifecycle.on('running', listener);
  t.is(lifecycle.listenerCount('running'), 2);
  t.is(lifecycle.listenerCount('stopped'), 0);
  lifecycle.off('running', listener);
  t.is(lifecycle.listenerCount('running'), 1);
  t.throws(() => lifecycle.listenerCount('runing' as 'running'), { instanceOf: TypeError });
});

test('plain stop() calls abort each signal with a reason of its own: a DOMException named AbortError, not frozen', async (t) => {
  const first = await runningIgnoringStops();
  const second = await runningIgnoringStops();
  void first.lifecycle.stop();
  void second.lifecycle.stop();
  const reasons: unknown[] = [first.lifecycle.signal.reason, second.lifecycle.signal.reason];
  t.not(reasons[0], reasons[1]);
  for (const reason of reasons) {
    assertAbortError(t, reason, 'AbortError');
    t.false(Object.isFrozen(reason));
  }
  first.service.finish();
  second.service.finish();
  await Promise.all([first.done, second.done]);
});

test('a stop leaves Error.stackTraceLimit as it was', async (t) => {
  const original = Error.stackTraceLimit;
  t.teardown(() => {
    Error.stackTraceLimit = original;
  });
  Error.stackTraceLimit = 7;
  const { clock, fake } = fakeClock();
  const { service, lifecycle, done } = await runningIgnoringStops({ clock });
  const stopped = lifecycle.stop({ timeout: 10 });
  t.is(Error.stackTraceLimit, 7);
  await fake.tickAsync(10);
  t.true(lifecycle.shutdownSignal.aborted);
  t.is(Error.stackTraceLimit, 7);
  service.finish();
  await done;
  t.is(await stopped, 'stopped');
  t.is(Error.stackTraceLimit, 7);
});

test('a service with a lifecycles property of its own does not break snapshot() or health()', async (t) => {
  const service = { name: 'odd', runWithLifecycle: () => undefined, lifecycles: [1, 2] };
  const lifecycle = new Lifecycle(service);
  t.deepEqual(lifecycle.snapshot().children, []);
  const report = await health(lifecycle);
  t.deepEqual(report.tree.children, []);
  t.is(report.tree.name, 'odd');
});
