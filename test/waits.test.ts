import { getEventListeners, setMaxListeners } from 'node:events';
import test, { type ExecutionContext } from 'ava';
import type FakeTimers from '@sinonjs/fake-timers';
import {
  Lifecycle,
  NotRunningError,
  OverseerError,
  Pool,
  WaitAbortedError,
  WaitTimeoutError,
  type LifecycleEvents,
  type State,
  type WaitOptions,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { nextImmediate, settlesAtOnce, stillPending } from './helpers/lifecycle.js';
import { runToEnd } from './helpers/pool.js';
import { recordStates } from './helpers/record.js';
import { ControlledService } from './helpers/service.js';

/** Where a fixture's lifecycle is when the test begins to wait. */
type Start = 'never run' | 'stopped' | 'crashed' | 'starting' | 'running' | 'stopping';

interface Fixture {
  /** Reports nothing and ignores stop requests: the test moves it by hand. */
  service: ControlledService;
  lifecycle: Lifecycle;
  /** Every state the lifecycle moved to once the fixture was ready. */
  states: State[];
  /** The current run's end (the crash error, or undefined), handled from the start. */
  done: Promise<Error | undefined>;
  fake: FakeTimers.Clock;
  /** Live timers on the lifecycle's clock. */
  pending: () => number;
  /** Live 'stateChange' listeners added through `lifecycle.on()`. */
  listeners: () => number;
}

/**
 * Counts the 'stateChange' listeners added to `lifecycle` through its public `on()` and not yet
 * removed through `off()`: the lifecycle has no public listener count, so this watches the calls.
 */
function countStateChangeListeners(lifecycle: Lifecycle): () => number {
  const live = new Set<unknown>();
  const on = lifecycle.on.bind(lifecycle);
  const off = lifecycle.off.bind(lifecycle);
  type Listener = LifecycleEvents[keyof LifecycleEvents];
  lifecycle.on = (event: keyof LifecycleEvents, listener: Listener) => {
    if (event === 'stateChange') live.add(listener);
    return on(event, listener);
  };
  lifecycle.off = (event: keyof LifecycleEvents, listener?: Listener) => {
    if (event === 'stateChange') {
      if (listener === undefined) live.clear();
      else live.delete(listener);
    }
    return off(event, listener);
  };
  return () => live.size;
}

/** A lifecycle named "svc" on a fake clock, brought to `start` by its own service's calls. */
async function setup(start: Start): Promise<Fixture> {
  const { clock, fake, pending } = fakeClock();
  const service = new ControlledService('svc', { running: 'manually', whenAsked: 'ignore' });
  const lifecycle = new Lifecycle(service, { clock });
  const listeners = countStateChangeListeners(lifecycle);
  let done = Promise.resolve<Error | undefined>(undefined);
  if (start !== 'never run') {
    done = runToEnd(lifecycle);
    // run() calls the service in a microtask.
    await service.started();
    if (start !== 'starting') service.reportRunning();
    // Asked to stop first: a service that stops on its own is waited for to its end.
    if (start === 'stopping') void lifecycle.stop();
    if (start === 'stopping') service.reportStopping();
    if (start === 'stopped') service.finish();
    if (start === 'crashed') service.crash();
    if (start === 'stopped' || start === 'crashed') await done;
  }
  return { service, lifecycle, states: recordStates(lifecycle), done, fake, pending, listeners };
}

/** What a wait may leave behind: timers, 'stateChange' listeners, abort listeners on `signal`. */
function leftovers(fixture: Fixture, signal: AbortSignal) {
  return {
    timers: fixture.pending(),
    stateChangeListeners: fixture.listeners(),
    abortListeners: getEventListeners(signal, 'abort').length,
  };
}

const nothingLeft = { timers: 0, stateChangeListeners: 0, abortListeners: 0 };

/** Ends the fixture's run cleanly and checks it stopped. */
async function finish(t: ExecutionContext, fixture: Fixture): Promise<void> {
  fixture.service.finish();
  t.is(await fixture.done, undefined);
  t.is(fixture.lifecycle.state, 'stopped');
}

/** A promise that resolves with the lifecycle's state at the moment `waiting` fulfilled. */
function stateWhenFulfilled(lifecycle: Lifecycle, waiting: Promise<void>): Promise<State> {
  return waiting.then(() => lifecycle.state);
}

// --- whenRunning(): outcomes ---

test('whenRunning() resolves at once when the service is running', async (t) => {
  const fixture = await setup('running');
  const { settled, promise } = await settlesAtOnce(() => fixture.lifecycle.whenRunning());
  t.true(settled);
  await promise;
  t.is(fixture.listeners(), 0);
  await finish(t, fixture);
});

test('whenRunning() waits while starting and resolves once the service reports running', async (t) => {
  const fixture = await setup('starting');
  let resolved = false;
  const waiting = stateWhenFulfilled(
    fixture.lifecycle,
    fixture.lifecycle.whenRunning().then(() => {
      resolved = true;
    }),
  );
  await nextImmediate();
  t.false(resolved);
  t.is(fixture.lifecycle.state, 'starting');
  fixture.service.reportRunning();
  t.is(await waiting, 'running');
  t.true(resolved);
  await finish(t, fixture);
});

for (const start of ['never run', 'stopped', 'crashed'] as const) {
  const idle = start === 'never run' ? 'a lifecycle that never ran' : `a ${start} lifecycle`;

  test(`whenRunning() on ${idle} waits through the next run until it reports running`, async (t) => {
    const fixture = await setup(start);
    let resolved = false;
    const waiting = stateWhenFulfilled(
      fixture.lifecycle,
      fixture.lifecycle.whenRunning().then(() => {
        resolved = true;
      }),
    );
    await nextImmediate();
    t.false(resolved);
    t.is(fixture.lifecycle.state, start === 'crashed' ? 'crashed' : 'stopped');
    const done = runToEnd(fixture.lifecycle);
    await nextImmediate();
    t.false(resolved);
    t.is(fixture.lifecycle.state, 'starting');
    fixture.service.reportRunning();
    t.is(await waiting, 'running');
    t.is(fixture.listeners(), 0);
    fixture.service.finish();
    t.is(await done, undefined);
    t.deepEqual(fixture.states, ['starting', 'running', 'stopped']);
  });
}

test('whenRunning() on an idle lifecycle rejects with NotRunningError when the next run crashes before running', async (t) => {
  const fixture = await setup('stopped');
  const rejection = t.throwsAsync(fixture.lifecycle.whenRunning(), {
    instanceOf: NotRunningError,
    code: 'ERR_OVERSEER_NOT_RUNNING',
    message: 'Service "svc" crashed before it was running',
  });
  const done = runToEnd(fixture.lifecycle);
  await fixture.service.started();
  fixture.service.crash();
  const error = await rejection;
  t.is(error.state, 'crashed');
  t.is(error.cause, fixture.service.error);
  t.is(await done, fixture.service.error);
});

test('whenRunning() rejects at once with NotRunningError when the service is stopping', async (t) => {
  const fixture = await setup('stopping');
  const { settled, promise } = await settlesAtOnce(() => fixture.lifecycle.whenRunning());
  t.true(settled);
  const error = await t.throwsAsync(promise, {
    instanceOf: NotRunningError,
    code: 'ERR_OVERSEER_NOT_RUNNING',
    message: 'Service "svc" began to stop before it was running',
  });
  t.true(error instanceof OverseerError);
  t.is(error.name, 'NotRunningError');
  t.is(error.service, 'svc');
  t.is(error.state, 'stopping');
  t.is(error.cause, undefined);
  t.is(fixture.listeners(), 0);
  t.is(fixture.lifecycle.state, 'stopping');
  await finish(t, fixture);
});

test('whenRunning() rejects with NotRunningError when the service goes from starting to stopping when asked', async (t) => {
  const fixture = await setup('starting');
  const waiting = fixture.lifecycle.whenRunning();
  t.true(await stillPending(waiting));
  void fixture.lifecycle.stop();
  fixture.service.reportStopping();
  const error = await t.throwsAsync(waiting, {
    instanceOf: NotRunningError,
    code: 'ERR_OVERSEER_NOT_RUNNING',
    message: 'Service "svc" began to stop before it was running',
  });
  t.is(error.service, 'svc');
  t.is(error.state, 'stopping');
  t.is(error.cause, undefined);
  await finish(t, fixture);
  t.deepEqual(fixture.states, ['stopping', 'stopped']);
});

test('whenRunning() waits for the end of a run that begins to stop on its own before running, and rejects with its crash error', async (t) => {
  const fixture = await setup('starting');
  const waiting = fixture.lifecycle.whenRunning();
  fixture.service.reportStopping();
  t.true(await stillPending(waiting));
  fixture.service.crash();
  const error = await t.throwsAsync(waiting, {
    instanceOf: NotRunningError,
    message: 'Service "svc" crashed before it was running',
  });
  t.is(error.cause, fixture.service.error);
  t.is(fixture.listeners(), 0);
});

test('whenRunning() asked while a run stops on its own rejects when it has stopped', async (t) => {
  const fixture = await setup('starting');
  fixture.service.reportStopping();
  const waiting = fixture.lifecycle.whenRunning();
  t.true(await stillPending(waiting));
  fixture.service.finish();
  const error = await t.throwsAsync(waiting, { instanceOf: NotRunningError });
  t.is(error.state, 'stopped');
  t.is(error.cause, undefined);
});

test('whenRunning() rejects with NotRunningError when the service returns before it runs', async (t) => {
  const fixture = await setup('starting');
  const waiting = fixture.lifecycle.whenRunning();
  t.true(await stillPending(waiting));
  fixture.service.finish();
  const error = await t.throwsAsync(waiting, {
    instanceOf: NotRunningError,
    code: 'ERR_OVERSEER_NOT_RUNNING',
    message: 'Service "svc" stopped before it was running',
  });
  t.is(error.service, 'svc');
  t.is(error.state, 'stopped');
  t.is(error.cause, undefined);
  t.is(await fixture.done, undefined);
  t.deepEqual(fixture.states, ['stopped']);
});

test('whenRunning() rejects with NotRunningError whose cause is the crash error when the service crashes before it runs', async (t) => {
  const fixture = await setup('starting');
  const waiting = fixture.lifecycle.whenRunning();
  t.true(await stillPending(waiting));
  fixture.service.crash();
  const error = await t.throwsAsync(waiting, {
    instanceOf: NotRunningError,
    code: 'ERR_OVERSEER_NOT_RUNNING',
    message: 'Service "svc" crashed before it was running',
  });
  t.is(error.service, 'svc');
  t.is(error.state, 'crashed');
  t.is(error.cause, fixture.service.error);
  t.is(await fixture.done, fixture.service.error);
  t.deepEqual(fixture.states, ['crashed']);
});

test('whenRunning() on a pool resolves once every child reports running', async (t) => {
  const pool = new Pool({ name: 'pool' });
  const fast = new ControlledService('fast');
  const slow = new ControlledService('slow', { running: 'manually' });
  pool.add(fast);
  pool.add(slow);
  const lifecycle = new Lifecycle(pool);
  const done = runToEnd(lifecycle);
  let resolved = false;
  const waiting = stateWhenFulfilled(
    lifecycle,
    lifecycle.whenRunning().then(() => {
      resolved = true;
    }),
  );
  await nextImmediate();
  t.false(resolved);
  t.is(lifecycle.state, 'starting');
  slow.reportRunning();
  t.is(await waiting, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
});

// --- whenRunning(): timeout ---

test('whenRunning({ timeout }) rejects with WaitTimeoutError exactly when the timeout passes', async (t) => {
  const fixture = await setup('starting');
  const waiting = fixture.lifecycle.whenRunning({ timeout: 100 });
  t.is(fixture.pending(), 1);
  await fixture.fake.tickAsync(99);
  t.true(await stillPending(waiting));
  await fixture.fake.tickAsync(1);
  const error = await t.throwsAsync(waiting, {
    instanceOf: WaitTimeoutError,
    code: 'ERR_OVERSEER_WAIT_TIMEOUT',
    message: 'Timed out after 100 ms waiting for service "svc" to be running',
  });
  t.true(error instanceof OverseerError);
  t.is(error.name, 'WaitTimeoutError');
  t.is(error.service, 'svc');
  t.is(error.timeout, 100);
  t.is(fixture.pending(), 0);
  t.is(fixture.listeners(), 0);
});

test('a whenRunning() timeout leaves the service as it was', async (t) => {
  const fixture = await setup('starting');
  const signal = fixture.lifecycle.signal;
  const rejection = t.throwsAsync(fixture.lifecycle.whenRunning({ timeout: 100 }), {
    instanceOf: WaitTimeoutError,
  });
  await fixture.fake.tickAsync(100);
  await rejection;
  t.is(fixture.lifecycle.state, 'starting');
  t.is(fixture.lifecycle.signal, signal);
  t.false(signal.aborted);
  t.false(fixture.lifecycle.shutdownSignal.aborted);
  t.deepEqual(fixture.states, []);
  fixture.service.reportRunning();
  t.is(fixture.lifecycle.state, 'running');
  await fixture.lifecycle.whenRunning();
  await finish(t, fixture);
  t.deepEqual(fixture.states, ['running', 'stopped']);
});

test('whenRunning({ timeout }) on a lifecycle that never ran times out and the lifecycle can still run', async (t) => {
  const fixture = await setup('never run');
  const rejection = t.throwsAsync(fixture.lifecycle.whenRunning({ timeout: 50 }), {
    instanceOf: WaitTimeoutError,
    message: 'Timed out after 50 ms waiting for service "svc" to be running',
  });
  await fixture.fake.tickAsync(50);
  t.is((await rejection).timeout, 50);
  t.is(fixture.lifecycle.state, 'stopped');
  t.is(fixture.listeners(), 0);
  fixture.done = runToEnd(fixture.lifecycle);
  await fixture.service.started();
  fixture.service.reportRunning();
  await fixture.lifecycle.whenRunning({ timeout: 50 });
  t.is(fixture.pending(), 0);
  await finish(t, fixture);
});

test('whenRunning({ timeout: Infinity }) sets no timer and never times out', async (t) => {
  const fixture = await setup('starting');
  const waiting = fixture.lifecycle.whenRunning({ timeout: Infinity });
  t.is(fixture.pending(), 0);
  await fixture.fake.tickAsync(2 ** 32);
  t.true(await stillPending(waiting));
  fixture.service.reportRunning();
  t.is(await stateWhenFulfilled(fixture.lifecycle, waiting), 'running');
  await finish(t, fixture);
});

test('whenRunning({ timeout: 0 }) resolves at once when the service is running and sets no timer', async (t) => {
  const fixture = await setup('running');
  const { settled, promise } = await settlesAtOnce(() =>
    fixture.lifecycle.whenRunning({ timeout: 0 }),
  );
  t.true(settled);
  await promise;
  t.is(fixture.pending(), 0);
  await finish(t, fixture);
});

// --- whenRunning(): signal ---

test('whenRunning({ signal }) rejects with WaitAbortedError whose cause is the reason when the signal aborts', async (t) => {
  const fixture = await setup('starting');
  const controller = new AbortController();
  const reason = new Error('caller gave up');
  const waiting = fixture.lifecycle.whenRunning({ signal: controller.signal });
  t.true(await stillPending(waiting));
  controller.abort(reason);
  const error = await t.throwsAsync(waiting, {
    instanceOf: WaitAbortedError,
    code: 'ERR_OVERSEER_WAIT_ABORTED',
    message: 'Stopped waiting for service "svc" to be running: the signal aborted',
  });
  t.true(error instanceof OverseerError);
  t.is(error.name, 'WaitAbortedError');
  t.is(error.service, 'svc');
  t.is(error.cause, reason);
  t.is(fixture.lifecycle.state, 'starting');
  t.false(fixture.lifecycle.signal.aborted);
  t.deepEqual(fixture.states, []);
  await finish(t, fixture);
});

test('whenRunning({ signal }) takes the default AbortError reason as its cause', async (t) => {
  const fixture = await setup('starting');
  const controller = new AbortController();
  const waiting = fixture.lifecycle.whenRunning({ signal: controller.signal });
  controller.abort();
  const error = await t.throwsAsync(waiting, { instanceOf: WaitAbortedError });
  t.true(error.cause instanceof DOMException);
  t.is((error.cause as DOMException).name, 'AbortError');
  t.is(error.cause, controller.signal.reason);
  await finish(t, fixture);
});

test('whenRunning({ signal }) rejects at once with WaitAbortedError when the signal has already aborted, even while running', async (t) => {
  const fixture = await setup('running');
  const reason = new Error('already gone');
  const signal = AbortSignal.abort(reason);
  const { settled, promise } = await settlesAtOnce(() =>
    fixture.lifecycle.whenRunning({ signal, timeout: 100 }),
  );
  t.true(settled);
  const error = await t.throwsAsync(promise, {
    instanceOf: WaitAbortedError,
    code: 'ERR_OVERSEER_WAIT_ABORTED',
    message: 'Stopped waiting for service "svc" to be running: the signal aborted',
  });
  t.is(error.cause, reason);
  t.deepEqual(leftovers(fixture, signal), nothingLeft);
  t.is(fixture.lifecycle.state, 'running');
  await finish(t, fixture);
});

// --- whenRunning(): nothing left behind ---

interface Route {
  /** Where the lifecycle is when the wait begins. */
  start: Start;
  /** What the wait holds while it waits: a timer, a 'stateChange' listener, an abort listener. */
  holds: ReturnType<typeof leftovers>;
  /** Settles the wait. */
  settle: (fixture: Fixture, controller: AbortController) => Promise<void> | void;
  /** How the wait settles: fulfilled, or the class of its rejection. */
  outcome: 'fulfilled' | (new (...args: never[]) => Error);
}

const waitingFor = { timers: 1, stateChangeListeners: 1, abortListeners: 1 };

const whenRunningRoutes: Record<string, Route> = {
  'the service reports running': {
    start: 'starting',
    holds: waitingFor,
    settle: (fixture) => {
      fixture.service.reportRunning();
    },
    outcome: 'fulfilled',
  },
  'the service begins to stop': {
    start: 'starting',
    holds: waitingFor,
    settle: (fixture) => {
      void fixture.lifecycle.stop();
      fixture.service.reportStopping();
    },
    outcome: NotRunningError,
  },
  'the service crashes': {
    start: 'starting',
    holds: waitingFor,
    settle: (fixture) => {
      fixture.service.crash();
    },
    outcome: NotRunningError,
  },
  'the timeout passes': {
    start: 'starting',
    holds: waitingFor,
    settle: async (fixture) => {
      await fixture.fake.tickAsync(1_000);
    },
    outcome: WaitTimeoutError,
  },
  'the signal aborts': {
    start: 'starting',
    holds: waitingFor,
    settle: (_fixture, controller) => {
      controller.abort();
    },
    outcome: WaitAbortedError,
  },
  'the lifecycle that never ran reports running in its next run': {
    start: 'never run',
    holds: waitingFor,
    settle: async (fixture) => {
      fixture.done = runToEnd(fixture.lifecycle);
      await fixture.service.started();
      fixture.service.reportRunning();
    },
    outcome: 'fulfilled',
  },
  'the service is already running': {
    start: 'running',
    holds: nothingLeft,
    settle: () => undefined,
    outcome: 'fulfilled',
  },
  'the service is already stopping': {
    start: 'stopping',
    holds: nothingLeft,
    settle: () => undefined,
    outcome: NotRunningError,
  },
};

/** Waits with a timeout and a signal, settles by `route`, checks what was held and what is left. */
async function checkLeftovers(
  t: ExecutionContext,
  route: Route,
  wait: (lifecycle: Lifecycle, options: WaitOptions) => Promise<void>,
): Promise<void> {
  const fixture = await setup(route.start);
  const controller = new AbortController();
  const waiting = wait(fixture.lifecycle, { timeout: 1_000, signal: controller.signal });
  const outcome = waiting.then(
    () => 'fulfilled' as const,
    (error: unknown) => error,
  );
  t.deepEqual(leftovers(fixture, controller.signal), route.holds);
  await route.settle(fixture, controller);
  const settled = await outcome;
  if (route.outcome === 'fulfilled') t.is(settled, 'fulfilled');
  else t.true(settled instanceof route.outcome, `rejected with ${String(settled)}`);
  t.deepEqual(leftovers(fixture, controller.signal), nothingLeft);
  if (fixture.lifecycle.state !== 'crashed') fixture.service.finish();
  await fixture.done;
  t.deepEqual(leftovers(fixture, controller.signal), nothingLeft);
}

for (const [label, route] of Object.entries(whenRunningRoutes)) {
  test(`whenRunning() leaves no timer, stateChange listener or abort listener once it settles because ${label}`, async (t) => {
    await checkLeftovers(t, route, (lifecycle, options) => lifecycle.whenRunning(options));
  });
}

// --- wait(options) ---

test('wait({ timeout }) resolves when the run stops before the timeout', async (t) => {
  const fixture = await setup('running');
  const waiting = fixture.lifecycle.wait({ timeout: 1_000 });
  t.is(fixture.pending(), 1);
  await fixture.fake.tickAsync(999);
  t.true(await stillPending(waiting));
  fixture.service.finish();
  t.is(await stateWhenFulfilled(fixture.lifecycle, waiting), 'stopped');
  t.is(fixture.pending(), 0);
  t.is(await fixture.done, undefined);
});

test('wait({ timeout }) rejects with the crash error when the service crashes', async (t) => {
  const fixture = await setup('running');
  const waiting = fixture.lifecycle.wait({ timeout: 1_000 });
  t.true(await stillPending(waiting));
  fixture.service.crash();
  t.is(await t.throwsAsync(waiting), fixture.service.error);
  t.is(fixture.lifecycle.state, 'crashed');
  t.is(fixture.pending(), 0);
  t.is(await fixture.done, fixture.service.error);
});

test('wait({ timeout }) rejects with WaitTimeoutError exactly at the timeout while the run goes on', async (t) => {
  const fixture = await setup('running');
  const signal = fixture.lifecycle.signal;
  const waiting = fixture.lifecycle.wait({ timeout: 100 });
  await fixture.fake.tickAsync(99);
  t.true(await stillPending(waiting));
  await fixture.fake.tickAsync(1);
  const error = await t.throwsAsync(waiting, {
    instanceOf: WaitTimeoutError,
    code: 'ERR_OVERSEER_WAIT_TIMEOUT',
    message: 'Timed out after 100 ms waiting for service "svc" to end',
  });
  t.is(error.service, 'svc');
  t.is(error.timeout, 100);
  t.is(fixture.pending(), 0);
  t.is(fixture.lifecycle.state, 'running');
  t.false(signal.aborted);
  t.deepEqual(fixture.states, []);
  await finish(t, fixture);
  t.deepEqual(fixture.states, ['stopped']);
});

test('wait({ signal }) rejects with WaitAbortedError whose cause is the reason when the signal aborts', async (t) => {
  const fixture = await setup('running');
  const controller = new AbortController();
  const reason = new Error('caller gave up');
  const waiting = fixture.lifecycle.wait({ signal: controller.signal });
  t.true(await stillPending(waiting));
  controller.abort(reason);
  const error = await t.throwsAsync(waiting, {
    instanceOf: WaitAbortedError,
    code: 'ERR_OVERSEER_WAIT_ABORTED',
    message: 'Stopped waiting for service "svc" to end: the signal aborted',
  });
  t.is(error.service, 'svc');
  t.is(error.cause, reason);
  t.is(getEventListeners(controller.signal, 'abort').length, 0);
  t.is(fixture.lifecycle.state, 'running');
  t.false(fixture.lifecycle.signal.aborted);
  await finish(t, fixture);
});

test('wait({ signal }) rejects at once with WaitAbortedError when the signal has already aborted', async (t) => {
  const fixture = await setup('running');
  const reason = new Error('already gone');
  const signal = AbortSignal.abort(reason);
  const { settled, promise } = await settlesAtOnce(() =>
    fixture.lifecycle.wait({ signal, timeout: 100 }),
  );
  t.true(settled);
  const error = await t.throwsAsync(promise, {
    instanceOf: WaitAbortedError,
    code: 'ERR_OVERSEER_WAIT_ABORTED',
  });
  t.is(error.cause, reason);
  t.deepEqual(leftovers(fixture, signal), nothingLeft);
  await finish(t, fixture);
});

for (const start of ['never run', 'stopped'] as const) {
  const idle = start === 'never run' ? 'the lifecycle has never run' : 'the service has stopped';

  test(`wait({ timeout, signal }) resolves at once when ${idle}`, async (t) => {
    const fixture = await setup(start);
    const controller = new AbortController();
    const { settled, promise } = await settlesAtOnce(() =>
      fixture.lifecycle.wait({ timeout: 100, signal: controller.signal }),
    );
    t.true(settled);
    await promise;
    t.deepEqual(leftovers(fixture, controller.signal), nothingLeft);
  });
}

test('wait({ timeout, signal }) rejects at once with the crash error after a crash', async (t) => {
  const fixture = await setup('crashed');
  const controller = new AbortController();
  const { settled, promise } = await settlesAtOnce(() =>
    fixture.lifecycle.wait({ timeout: 100, signal: controller.signal }),
  );
  t.true(settled);
  t.is(await t.throwsAsync(promise), fixture.service.error);
  t.deepEqual(leftovers(fixture, controller.signal), nothingLeft);
});

test('wait() without options sets no timer and resolves once the run stops', async (t) => {
  const fixture = await setup('running');
  const waiting = fixture.lifecycle.wait();
  t.is(fixture.pending(), 0);
  t.true(await stillPending(waiting));
  fixture.service.finish();
  t.is(await stateWhenFulfilled(fixture.lifecycle, waiting), 'stopped');
  t.is(await fixture.done, undefined);
});

test('wait() without options rejects with the crash error once the service crashes', async (t) => {
  const fixture = await setup('running');
  const waiting = fixture.lifecycle.wait();
  t.true(await stillPending(waiting));
  fixture.service.crash();
  t.is(await t.throwsAsync(waiting), fixture.service.error);
  t.is(await fixture.done, fixture.service.error);
});

test('wait({}) behaves as wait(): it resolves once the run stops', async (t) => {
  const fixture = await setup('running');
  const waiting = fixture.lifecycle.wait({});
  t.is(fixture.pending(), 0);
  t.true(await stillPending(waiting));
  fixture.service.finish();
  t.is(await stateWhenFulfilled(fixture.lifecycle, waiting), 'stopped');
  t.is(await fixture.done, undefined);
});

const waitRoutes: Record<string, Route> = {
  'the service stops': {
    start: 'running',
    holds: { timers: 1, stateChangeListeners: 0, abortListeners: 1 },
    settle: (fixture) => {
      fixture.service.finish();
    },
    outcome: 'fulfilled',
  },
  'the service crashes': {
    start: 'running',
    holds: { timers: 1, stateChangeListeners: 0, abortListeners: 1 },
    settle: (fixture) => {
      fixture.service.crash();
    },
    outcome: Error,
  },
  'the timeout passes': {
    start: 'running',
    holds: { timers: 1, stateChangeListeners: 0, abortListeners: 1 },
    settle: async (fixture) => {
      await fixture.fake.tickAsync(1_000);
    },
    outcome: WaitTimeoutError,
  },
  'the signal aborts': {
    start: 'running',
    holds: { timers: 1, stateChangeListeners: 0, abortListeners: 1 },
    settle: (_fixture, controller) => {
      controller.abort();
    },
    outcome: WaitAbortedError,
  },
};

for (const [label, route] of Object.entries(waitRoutes)) {
  test(`wait({ timeout, signal }) leaves no timer or abort listener once it settles because ${label}`, async (t) => {
    await checkLeftovers(t, route, (lifecycle, options) => lifecycle.wait(options));
  });
}

// --- bad options ---

const badOptions: [string, unknown, string][] = [
  ['options is null', null, 'Expected `options` to be an object, got `null`'],
  ['options is a string', 'x', 'Expected `options` to be an object, got `"x"` (string)'],
  [
    'options.timeout is -1',
    { timeout: -1 },
    'Expected `options.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `-1` (number)',
  ],
  [
    'options.timeout is a string',
    { timeout: 'x' },
    'Expected `options.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `"x"` (string)',
  ],
  [
    'options.timeout is NaN',
    { timeout: Number.NaN },
    'Expected `options.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `NaN` (number)',
  ],
  [
    'options.signal is a plain object',
    { signal: {} },
    'Expected `options.signal` to be an AbortSignal, got an object (Object)',
  ],
  [
    'options.signal is an AbortController',
    { signal: new AbortController() },
    'Expected `options.signal` to be an AbortSignal, got an object (AbortController)',
  ],
];

for (const method of ['whenRunning', 'wait'] as const) {
  for (const [label, options, message] of badOptions) {
    test(`${method}() throws a TypeError naming the argument when ${label}`, async (t) => {
      const fixture = await setup('starting');
      t.throws(() => fixture.lifecycle[method](options as WaitOptions), {
        instanceOf: TypeError,
        message,
      });
      t.is(fixture.pending(), 0);
      t.is(fixture.listeners(), 0);
      t.is(fixture.lifecycle.state, 'starting');
      await finish(t, fixture);
    });
  }
}

// --- many waiters ---

test('many concurrent whenRunning() and wait() calls all settle and leave nothing behind', async (t) => {
  const fixture = await setup('starting');
  const controller = new AbortController();
  // 40 waiters listen to this one signal on purpose: not a leak.
  setMaxListeners(50, controller.signal);
  const variants: (WaitOptions | undefined)[] = [
    undefined,
    { timeout: 1_000 },
    { signal: controller.signal },
    { timeout: 2_000, signal: controller.signal },
  ];
  const toRun = Array.from({ length: 40 }, (_, i) =>
    fixture.lifecycle.whenRunning(variants[i % variants.length]),
  );
  const toEnd = Array.from({ length: 40 }, (_, i) =>
    fixture.lifecycle.wait(variants[i % variants.length]),
  );
  t.deepEqual(leftovers(fixture, controller.signal), {
    timers: 40,
    stateChangeListeners: 40,
    abortListeners: 40,
  });
  fixture.service.reportRunning();
  const ran = await Promise.allSettled(toRun);
  t.deepEqual(
    ran.map((result) => result.status),
    Array.from({ length: 40 }, () => 'fulfilled'),
  );
  t.deepEqual(leftovers(fixture, controller.signal), {
    timers: 20,
    stateChangeListeners: 0,
    abortListeners: 20,
  });
  fixture.service.finish();
  const ended = await Promise.allSettled(toEnd);
  t.deepEqual(
    ended.map((result) => result.status),
    Array.from({ length: 40 }, () => 'fulfilled'),
  );
  t.deepEqual(leftovers(fixture, controller.signal), nothingLeft);
  t.is(await fixture.done, undefined);
});

test('many whenRunning() waiters all reject with NotRunningError carrying the crash error', async (t) => {
  const fixture = await setup('starting');
  const waiters = Array.from({ length: 10 }, (_, i) =>
    fixture.lifecycle.whenRunning(i % 2 === 0 ? undefined : { timeout: 1_000 }),
  );
  fixture.service.crash();
  const results = await Promise.allSettled(waiters);
  for (const result of results) {
    t.is(result.status, 'rejected');
    const reason: unknown = result.status === 'rejected' ? result.reason : undefined;
    t.true(reason instanceof NotRunningError);
    t.is((reason as NotRunningError).state, 'crashed');
    t.is((reason as NotRunningError).cause, fixture.service.error);
  }
  t.is(fixture.pending(), 0);
  t.is(fixture.listeners(), 0);
  t.is(await fixture.done, fixture.service.error);
});

test('a whenRunning() waiter that times out does not affect waiters without a timeout or with a later one', async (t) => {
  const fixture = await setup('starting');
  const early = fixture.lifecycle.whenRunning({ timeout: 100 });
  const untimed = fixture.lifecycle.whenRunning();
  const late = fixture.lifecycle.whenRunning({ timeout: 500 });
  const rejection = t.throwsAsync(early, { instanceOf: WaitTimeoutError });
  await fixture.fake.tickAsync(100);
  t.is((await rejection).timeout, 100);
  t.true(await stillPending(untimed));
  t.true(await stillPending(late));
  t.is(fixture.listeners(), 2);
  t.is(fixture.pending(), 1);
  fixture.service.reportRunning();
  await untimed;
  await late;
  t.is(fixture.listeners(), 0);
  t.is(fixture.pending(), 0);
  await finish(t, fixture);
});

test('a wait() that times out does not affect a wait() without a timeout', async (t) => {
  const fixture = await setup('running');
  const timed = fixture.lifecycle.wait({ timeout: 100 });
  const untimed = fixture.lifecycle.wait();
  const rejection = t.throwsAsync(timed, { instanceOf: WaitTimeoutError });
  await fixture.fake.tickAsync(100);
  await rejection;
  t.true(await stillPending(untimed));
  fixture.service.finish();
  t.is(await stateWhenFulfilled(fixture.lifecycle, untimed), 'stopped');
  t.is(await fixture.done, undefined);
});

test('aborting one waiter’s signal leaves the other waiters waiting', async (t) => {
  const fixture = await setup('starting');
  const first = new AbortController();
  const second = new AbortController();
  const aborted = fixture.lifecycle.whenRunning({ signal: first.signal });
  const other = fixture.lifecycle.whenRunning({ signal: second.signal });
  const plain = fixture.lifecycle.whenRunning();
  const rejection = t.throwsAsync(aborted, { instanceOf: WaitAbortedError });
  first.abort();
  await rejection;
  t.true(await stillPending(other));
  t.true(await stillPending(plain));
  t.is(fixture.listeners(), 2);
  t.is(getEventListeners(second.signal, 'abort').length, 1);
  fixture.service.reportRunning();
  await other;
  await plain;
  t.is(getEventListeners(second.signal, 'abort').length, 0);
  await finish(t, fixture);
});

test('waiters sharing one signal all reject when it aborts and leave no abort listener', async (t) => {
  const fixture = await setup('starting');
  const controller = new AbortController();
  const reason = new Error('shutting down');
  const waiters = [
    fixture.lifecycle.whenRunning({ signal: controller.signal }),
    fixture.lifecycle.whenRunning({ signal: controller.signal, timeout: 1_000 }),
    fixture.lifecycle.wait({ signal: controller.signal }),
  ];
  t.is(getEventListeners(controller.signal, 'abort').length, 3);
  controller.abort(reason);
  const results = await Promise.allSettled(waiters);
  for (const result of results) {
    const error: unknown = result.status === 'rejected' ? result.reason : undefined;
    t.true(error instanceof WaitAbortedError);
    t.is((error as WaitAbortedError).cause, reason);
  }
  t.deepEqual(leftovers(fixture, controller.signal), nothingLeft);
  await finish(t, fixture);
});
