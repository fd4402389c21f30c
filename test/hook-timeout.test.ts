import test, { type ExecutionContext } from 'ava';
import {
  HookTimeoutError,
  Lifecycle,
  Pool,
  type HookEvent,
  type LifecycleOptions,
} from '../lib/index.js';
import { fields } from './helpers/assertions.js';
import { fakeClock } from './helpers/clock.js';
import { deferred } from './helpers/deferred.js';
import { nextImmediate } from './helpers/lifecycle.js';
import { captureLogs } from './helpers/logs.js';
import { track } from './helpers/outcome.js';
import { ControlledService } from './helpers/service.js';

/*
 * Promises returned by hooks are awaited before run(), stop() and wait() settle, but never longer
 * than `hookTimeout` (default 10,000 ms; Infinity allowed) and never past the run's shutdown
 * deadline: a promise still pending then is abandoned and reported as 'hookError' with a
 * HookTimeoutError (SPEC, Lifecycle rules).
 */

/** The `'hookError'` events of `lifecycle`, as `[error, event]` pairs. */
function recordHookErrors(lifecycle: Lifecycle): [unknown, HookEvent][] {
  const errors: [unknown, HookEvent][] = [];
  lifecycle.on('hookError', (error, event) => {
    errors.push([error, event]);
  });
  return errors;
}

/** Asserts that `errors` is one HookTimeoutError for the `stopped` hook of `service`. */
function assertOneStoppedTimeout(
  t: ExecutionContext,
  errors: [unknown, HookEvent][],
  service: string,
): void {
  t.is(errors.length, 1, `hookError events: ${errors.map(([error]) => String(error)).join(', ')}`);
  const [error, event] = errors[0] ?? [];
  t.is(event, 'stopped');
  t.true(error instanceof HookTimeoutError, String(error));
  t.like(error, { code: 'ERR_OVERSEER_HOOK_TIMEOUT', service, event: 'stopped' });
}

/**
 * A running service `svc` that stops when asked, on a fake clock, whose `onStopped` hook returns
 * a promise that settles only when the test says so.
 */
async function runWithHangingStoppedHook(options: Omit<LifecycleOptions, 'clock'> = {}) {
  const time = fakeClock();
  const hook = deferred();
  const lifecycle = new Lifecycle(new ControlledService('svc'), { ...options, clock: time.clock });
  lifecycle.onStopped(() => hook.promise);
  const hookErrors = recordHookErrors(lifecycle);
  const run = track(lifecycle.run());
  await lifecycle.whenRunning();
  return { ...time, lifecycle, hook, hookErrors, run };
}

test('an onStopped hook that never settles is abandoned at the stop deadline: stop(), wait() and run() settle and hookError reports a HookTimeoutError', async (t) => {
  const { lifecycle, fake, hookErrors, run } = await runWithHangingStoppedHook();
  const stopped = track(lifecycle.stop({ timeout: 100 }));
  const waited = track(lifecycle.wait());
  await fake.tickAsync(99);
  t.is(lifecycle.state, 'stopped');
  t.deepEqual(
    [stopped.outcome.status, waited.outcome.status, run.outcome.status],
    ['pending', 'pending', 'pending'],
  );
  t.deepEqual(hookErrors, []);

  await fake.tickAsync(1);
  t.deepEqual(stopped.outcome, { status: 'fulfilled', value: 'stopped' });
  t.deepEqual(waited.outcome, { status: 'fulfilled', value: undefined });
  t.deepEqual(run.outcome, { status: 'fulfilled', value: undefined });
  assertOneStoppedTimeout(t, hookErrors, 'svc');
});

test('without a stop deadline, the default hookTimeout abandons a hook promise after 10 s, not before', async (t) => {
  const { lifecycle, fake, hookErrors, run } = await runWithHangingStoppedHook();
  const stopped = track(lifecycle.stop());
  await fake.tickAsync(9_999);
  t.is(stopped.outcome.status, 'pending');
  t.is(run.outcome.status, 'pending');

  await fake.tickAsync(1);
  t.deepEqual(stopped.outcome, { status: 'fulfilled', value: 'stopped' });
  t.deepEqual(run.outcome, { status: 'fulfilled', value: undefined });
  assertOneStoppedTimeout(t, hookErrors, 'svc');
});

test('hookTimeout: 50 on the lifecycle abandons a hook promise after 50 ms', async (t) => {
  const { lifecycle, fake, hookErrors, run, pending } = await runWithHangingStoppedHook({
    hookTimeout: 50,
  });
  const stopped = track(lifecycle.stop());
  await fake.tickAsync(49);
  t.is(stopped.outcome.status, 'pending');

  await fake.tickAsync(1);
  t.deepEqual(stopped.outcome, { status: 'fulfilled', value: 'stopped' });
  t.deepEqual(run.outcome, { status: 'fulfilled', value: undefined });
  assertOneStoppedTimeout(t, hookErrors, 'svc');
  t.is(pending(), 0);
});

test('hookTimeout: Infinity without a deadline waits for a hook promise however long it takes', async (t) => {
  const { lifecycle, fake, hook, hookErrors, run, pending } = await runWithHangingStoppedHook({
    hookTimeout: Infinity,
  });
  const stopped = track(lifecycle.stop());
  await fake.tickAsync(24 * 60 * 60 * 1000);
  t.is(stopped.outcome.status, 'pending');
  t.is(run.outcome.status, 'pending');

  hook.resolve();
  await nextImmediate();
  t.deepEqual(stopped.outcome, { status: 'fulfilled', value: 'stopped' });
  t.deepEqual(run.outcome, { status: 'fulfilled', value: undefined });
  t.deepEqual(hookErrors, []);
  t.is(pending(), 0);
});

test("a pool's hookTimeout applies to its children: a child's hanging hook is abandoned after 50 ms and the pool's stop resolves", async (t) => {
  const { clock, fake, pending } = fakeClock();
  const pool = new Pool({ name: 'app', clock, hookTimeout: 50 });
  const child = pool.add(new ControlledService('db'));
  child.onStopped(() => new Promise(() => undefined));
  const hookErrors = recordHookErrors(child);
  const lifecycle = new Lifecycle(pool, { clock });
  const run = track(lifecycle.run());
  await lifecycle.whenRunning();

  const stopped = track(lifecycle.stop());
  await fake.tickAsync(49);
  t.is(child.state, 'stopped');
  t.is(stopped.outcome.status, 'pending');

  await fake.tickAsync(1);
  t.deepEqual(stopped.outcome, { status: 'fulfilled', value: 'stopped' });
  t.deepEqual(run.outcome, { status: 'fulfilled', value: undefined });
  assertOneStoppedTimeout(t, hookErrors, 'db');
  t.is(pending(), 0);
});

test('an abandoned hook is logged at error level with the service and the event', async (t) => {
  const { logger, entries } = captureLogs();
  const { lifecycle, fake, run } = await runWithHangingStoppedHook({ logger, hookTimeout: 50 });
  void lifecycle.stop();
  await fake.tickAsync(50);
  t.is(run.outcome.status, 'fulfilled');

  const logged = entries
    .filter((entry) => entry.level === 'error' && entry.event === 'stopped')
    .map((entry) => fields(entry));
  t.is(logged.length, 1, JSON.stringify(entries));
  t.like(logged[0], { service: 'svc', event: 'stopped' });
  t.true(logged[0]?.error instanceof HookTimeoutError, String(logged[0]?.error));
});

test('a hook promise that settles in time is awaited in full, with no HookTimeoutError and no timer left', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const lifecycle = new Lifecycle(new ControlledService('svc'), { clock });
  const order: string[] = [];
  lifecycle.onStopped(
    () =>
      new Promise<void>((resolve) => {
        clock.setTimeout(() => {
          order.push('hook settled');
          resolve();
        }, 30);
      }),
  );
  const hookErrors = recordHookErrors(lifecycle);
  const run = track(lifecycle.run());
  await lifecycle.whenRunning();

  const stopped = lifecycle.stop({ timeout: 100 }).then((state) => {
    order.push(`stop() resolved with ${state}`);
  });
  await fake.tickAsync(29);
  t.deepEqual(order, []);
  await fake.tickAsync(1);
  await stopped;
  t.deepEqual(order, ['hook settled', 'stop() resolved with stopped']);
  t.deepEqual(run.outcome, { status: 'fulfilled', value: undefined });

  await fake.tickAsync(20_000);
  t.deepEqual(hookErrors, []);
  t.is(pending(), 0);
});

test('at the pool deadline, the warning names the child whose stopped hook holds the stop up', async (t) => {
  const { clock, fake } = fakeClock();
  const { logger, entries } = captureLogs();
  const pool = new Pool({ name: 'app', logger, clock, hookTimeout: Infinity });
  const child = pool.add(new ControlledService('db'));
  const hook = deferred();
  child.onStopped(() => hook.promise);
  const lifecycle = new Lifecycle(pool, { clock });
  const run = track(lifecycle.run());
  await lifecycle.whenRunning();

  const stopped = track(lifecycle.stop({ timeout: 50 }));
  await fake.tickAsync(50);
  const warnings = entries.filter((entry) => entry.level === 'warn');
  t.is(warnings.length, 1, JSON.stringify(warnings.map((entry) => entry.message)));
  const warning = fields(warnings[0]);
  t.true(
    String(warning?.message).includes('waiting for its "stopped" hook'),
    String(warning?.message),
  );
  const services = warning?.services as unknown[] | undefined;
  t.true(Array.isArray(services), JSON.stringify(warning));
  t.is(services?.length, 1);
  t.like(services?.[0], { service: 'db', state: 'stopped', hook: 'stopped' });
  t.deepEqual(stopped.outcome, { status: 'fulfilled', value: 'stopped' });
  t.deepEqual(run.outcome, { status: 'fulfilled', value: undefined });

  hook.resolve();
  await nextImmediate();
  t.deepEqual(stopped.outcome, { status: 'fulfilled', value: 'stopped' });
});
