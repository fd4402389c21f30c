import test from 'ava';
import { Lifecycle, Pool, type Clock, type Logger, type State } from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { nextImmediate } from './helpers/lifecycle.js';
import { spyOnWarnings } from './helpers/logs.js';
import { recordStates } from './helpers/record.js';
import { ControlledService, serviceOf } from './helpers/service.js';

/**
 * An internal error while the library itself propagates a state change (a stack overflow, a
 * broken clock, a getter that throws) is never swallowed into a hang: it crashes the affected
 * lifecycle with that error, or throws at the call that caused it. What cannot change the outcome
 * of a run (a broken logger, a timer that cannot be cleared once it is no longer needed) is
 * reported with process.emitWarning, and the run goes on.
 */

type Settlement<T> =
  | { readonly status: 'pending' }
  | { readonly status: 'fulfilled'; readonly value: T }
  | { readonly status: 'rejected'; readonly reason: unknown };

/** Follows how `promise` settles, without ever leaving a rejection unhandled. */
function follow<T>(promise: Promise<T>): () => Settlement<T> {
  let settlement: Settlement<T> = { status: 'pending' };
  void promise.then(
    (value) => {
      settlement = { status: 'fulfilled', value };
    },
    (reason: unknown) => {
      settlement = { status: 'rejected', reason };
    },
  );
  return () => settlement;
}

/** The reason `settlement` rejected with; fails the test's assertion on it otherwise. */
function reasonOf(settlement: Settlement<unknown>): unknown {
  return settlement.status === 'rejected' ? settlement.reason : settlement;
}

/**
 * Lets every pending microtask and a few turns of the event loop run: long enough for a run
 * whose service has returned to end, so a run still pending afterwards hangs. A test that
 * awaited the run itself would hang with it instead of failing.
 */
async function afterTurns(): Promise<void> {
  for (let turn = 0; turn < 3; turn++) await nextImmediate();
}

/** A service that stays in starting (the test calls running()) and returns once its signal aborts. */
function returnsWhenAsked(name: string) {
  return serviceOf(name, (lifecycle) => {
    return new Promise<void>((resolve) => {
      lifecycle.signal.addEventListener(
        'abort',
        () => {
          resolve();
        },
        { once: true },
      );
    });
  });
}

// --- running() with the stack nearly exhausted -------------------------------------------------

/** What `running()` did when called near the stack limit: one entry per target. */
const notCalled = Symbol('not called');
const returned = Symbol('returned');
type Call = typeof notCalled | typeof returned | { readonly threw: unknown };

/**
 * Calls `running()` on each target in turn, with the stack nearly exhausted: recurses until the
 * stack overflows, then makes one call per level on the way back up. The stack left for the
 * calls grows by one frame (about 100 bytes) per call, from none to plenty, so the stack runs out
 * at every point of the library's path, in turn.
 */
function callRunningNearStackLimit(targets: readonly { running(): void }[]): Call[] {
  // Written while the stack is nearly exhausted: no allocation there.
  const outcomes: unknown[] = targets.map(() => notCalled);
  let next = 0;
  const call = (): void => {
    const target = targets[next];
    if (target === undefined) return;
    const index = next++;
    try {
      target.running();
      outcomes[index] = returned;
    } catch (error) {
      outcomes[index] = error;
    }
  };
  const descend = (): void => {
    try {
      descend();
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
    }
    // When not even `call` fits, the RangeError goes up to the caller's catch: no target is lost.
    call();
  };
  descend();
  return outcomes.map((outcome) =>
    outcome === notCalled || outcome === returned ? outcome : { threw: outcome },
  );
}

// Serial, and declared first, so that no other test of this file has called running() yet: the
// calls are the first ones, as in a program whose first running() comes from deep recursion, and
// the stack runs out while V8 compiles the library's path as well as while it runs it. Where
// exactly it runs out depends on V8, so the rule is checked for every call. Each lifecycle is the
// child of a pool of its own: running() runs no reaction on its caller's stack, so the library's
// path ends in queueing the pool's reaction, and the pool must hear every call that returned.
test.serial(
  'running() with the stack nearly exhausted throws a RangeError and changes nothing, or runs and its pool hears it: it never leaves a run hanging',
  async (t) => {
    // On Node 20 a couple of calls fail; the last assertions say if 400 stop being enough.
    const count = 400;
    const pools = Array.from({ length: count }, (_, index) => new Pool({ name: `pool-${index}` }));
    const lifecycles = pools.map((pool, index) => pool.add(returnsWhenAsked(`deep-${index}`)));
    const roots = pools.map((pool) => new Lifecycle(pool));
    const runs = roots.map((root) => follow(root.run()));
    // run() calls the pool's service, and the pool starts its child, in later microtasks.
    await afterTurns();
    t.true(
      lifecycles.every((lifecycle) => lifecycle.state === 'starting'),
      'every lifecycle waits in starting for the call',
    );

    // Compiled beforehand, as in any program that has used it: the scheduler's way to start a
    // drain (otherwise it is queueMicrotask itself that runs out of stack).
    for (let turn = 0; turn < 10; turn++) queueMicrotask(() => undefined);
    const calls = callRunningNearStackLimit(lifecycles);
    const statesRightAfter = lifecycles.map((lifecycle) => lifecycle.state);
    await afterTurns();
    const rootStates = roots.map((root) => root.state);
    // A run the library failed has its signal aborted with the failure: the service returns.
    const failures = lifecycles.map((lifecycle) =>
      lifecycle.signal.aborted ? (lifecycle.signal.reason as unknown) : undefined,
    );
    const stops = roots.map((root) => follow(root.stop()));
    await afterTurns();

    const violations: string[] = [];
    const tally = { threw: 0, ran: 0, crashed: 0 };
    for (const [index, lifecycle] of lifecycles.entries()) {
      const call = calls[index]!;
      const stateRightAfter = statesRightAfter[index]!;
      const failure = failures[index];
      const root = roots[index]!;
      const run = runs[index]!();
      const stop = stops[index]!();
      const problem = (what: string) => {
        violations.push(`call ${index}: ${what}`);
      };
      if (call === notCalled) {
        problem('running() was never called');
        continue;
      }
      if (failure !== undefined) tally.crashed++;
      if (call === returned) {
        if (stateRightAfter === 'running') tally.ran++;
        else problem(`running() returned in ${stateRightAfter} and the run was left hanging`);
        if (rootStates[index] !== 'running') {
          problem(`running() returned but its pool is ${rootStates[index]!}`);
        }
      } else {
        tally.threw++;
        if (!(call.threw instanceof RangeError)) problem(`running() threw ${String(call.threw)}`);
        if (stateRightAfter !== 'starting') problem(`running() threw in ${stateRightAfter}`);
        if (rootStates[index] !== 'starting') {
          problem(`running() threw but its pool is ${rootStates[index]!}`);
        }
      }
      // Every run has ended stopped, the child's and its pool's.
      if (run.status === 'pending' || stop.status === 'pending') {
        problem(`the run never ended (state ${root.state}, child ${lifecycle.state})`);
      } else if (run.status === 'rejected') {
        problem(`the run crashed with ${String(run.reason)}`);
      } else {
        if (stop.status !== 'fulfilled' || stop.value !== 'stopped') problem('stop() disagrees');
        if (lifecycle.state !== 'stopped') problem(`the child ended ${lifecycle.state}`);
      }
    }

    t.log(`${tally.threw} calls threw, ${tally.ran} ran, ${tally.crashed} crashed the lifecycle`);
    t.deepEqual(violations.slice(0, 10), [], `${violations.length} calls broke the rule`);
    t.true(tally.threw > 0, 'the sweep reached the stack limit');
    // The old engine ran the pool's reaction on running()'s stack, where it could overflow and
    // crash the run; now nothing on that stack can fail the run.
    t.is(tally.crashed, 0, 'no call crashed a lifecycle');
    t.is(calls.at(-1), returned, 'the sweep reached calls with stack to spare');
    t.is(statesRightAfter.at(-1), 'running');
  },
);

// --- failures of the library's reaction to a service's end -------------------------------------

for (const [kind, makeFailure] of [
  ['throws', () => new Error('name lookup failed')],
  ['overflows the stack', undefined],
] as const) {
  test(`a service whose name getter ${kind} when its run rejects crashes the lifecycle with the getter's error`, async (t) => {
    let broken = false;
    const failure = makeFailure?.();
    const overflow = (): string => overflow();
    const rejection = new Error('service failed');
    let fail!: (error: Error) => void;
    let started!: () => void;
    const whenStarted = new Promise<void>((resolve) => (started = resolve));
    const service = {
      get name(): string {
        if (!broken) return 'flaky-name';
        if (failure !== undefined) throw failure;
        return overflow();
      },
      runWithLifecycle: (lifecycle: Lifecycle) =>
        new Promise<void>((_resolve, reject) => {
          lifecycle.running();
          fail = reject;
          started();
        }),
    };
    const lifecycle = new Lifecycle(service);
    const states = recordStates(lifecycle);
    const crashes: unknown[] = [];
    lifecycle.onCrashed((_service, _lifecycle, error) => {
      crashes.push(error);
    });
    const run = follow(lifecycle.run());
    await whenStarted;

    broken = true;
    fail(rejection);
    await afterTurns();

    const error = reasonOf(run());
    if (failure === undefined) {
      t.true(error instanceof RangeError, 'the stack overflow itself');
    } else {
      t.is(error, failure);
    }
    t.is(lifecycle.state, 'crashed');
    t.is<unknown, unknown>(lifecycle.error, error);
    t.deepEqual(states, ['starting', 'running', 'crashed']);
    t.deepEqual(crashes, [error], 'onCrashed hooks receive the same error');
    t.is(await lifecycle.stop(), 'crashed');
    const waited = await t.throwsAsync(lifecycle.wait());
    t.is<unknown, unknown>(waited, error);
  });
}

test.serial(
  'a pool whose logger overflows the stack runs and stops as usual, and the logger is reported once as a warning',
  async (t) => {
    const warnings = spyOnWarnings(t);
    const overflow = (): never => overflow();
    const logger: Logger = { error: overflow, warn: overflow, info: overflow, debug: overflow };
    const pool = new Pool({ name: 'app', logger });
    const worker = pool.add(new ControlledService('worker'));
    const other = pool.add(new ControlledService('other'));
    const lifecycle = new Lifecycle(pool);
    const states = recordStates(lifecycle);
    const run = follow(lifecycle.run());

    await lifecycle.whenRunning();
    t.is(worker.state, 'running');
    t.is(other.state, 'running');
    t.is(await lifecycle.stop(), 'stopped');

    t.deepEqual(run(), { status: 'fulfilled', value: undefined });
    t.is(lifecycle.error, undefined);
    t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
    t.is(worker.state, 'stopped');
    t.is(other.state, 'stopped');
    t.deepEqual(warnings, [
      {
        message:
          'A logger given to overseer failed (Maximum call stack size exceeded); its calls are ignored',
        code: 'OVERSEER_LOGGER_FAILED',
      },
    ]);
  },
);

test('a service whose returned promise throws from then() crashes the lifecycle with that error instead of hanging', async (t) => {
  const failure = new Error('then() is broken');
  // A real promise, whose own then() shadows Promise.prototype.then.
  const result = Object.defineProperty(Promise.resolve(), 'then', {
    value: () => {
      throw failure;
    },
  });
  const lifecycle = new Lifecycle(serviceOf('odd-promise', () => result));
  const run = follow(lifecycle.run());

  await afterTurns();

  t.is(reasonOf(run()), failure, 'run() rejects with the error');
  t.is(lifecycle.state, 'crashed');
  t.is(lifecycle.error, failure);
  const stop = follow(lifecycle.stop());
  await afterTurns();
  t.deepEqual(stop(), { status: 'fulfilled', value: 'crashed' as State });
});

// --- a broken clock ------------------------------------------------------------------------------

test('stop({ timeout }) with a clock whose setTimeout throws throws that error at the call, and the stop it requested still ends the run', async (t) => {
  const failure = new Error('no timers left');
  const clock: Clock = {
    now: () => 0,
    setTimeout: () => {
      throw failure;
    },
    clearTimeout: () => undefined,
  };
  const service = new ControlledService('worker');
  const lifecycle = new Lifecycle(service, { clock });
  const states = recordStates(lifecycle);
  const run = follow(lifecycle.run());

  t.throws(() => lifecycle.stop({ timeout: 1000 }), { is: failure });
  t.true(lifecycle.signal.aborted, 'the stop request itself took effect');
  t.false(lifecycle.shutdownSignal.aborted);
  await afterTurns();

  t.deepEqual(run(), { status: 'fulfilled', value: undefined });
  t.is(lifecycle.state, 'stopped');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(await lifecycle.stop(), 'stopped');
});

test.serial(
  'a clock whose clearTimeout throws when the run ends is reported as a warning, and the run ends stopped',
  async (t) => {
    const warnings = spyOnWarnings(t);
    const failure = new Error('cannot clear timers');
    const { clock: working, pending } = fakeClock();
    const clock: Clock = {
      now: () => working.now(),
      setTimeout: (callback, ms) => working.setTimeout(callback, ms),
      clearTimeout: () => {
        throw failure;
      },
    };
    const service = new ControlledService('worker');
    const lifecycle = new Lifecycle(service, { clock });
    const states = recordStates(lifecycle);
    const run = follow(lifecycle.run());
    await service.started();

    const stop = follow(lifecycle.stop({ timeout: 1000 }));
    t.is(pending(), 1, 'the deadline is armed');
    await afterTurns();

    t.deepEqual(run(), { status: 'fulfilled', value: undefined });
    t.deepEqual(stop(), { status: 'fulfilled', value: 'stopped' as State });
    t.is(lifecycle.state, 'stopped');
    t.is(lifecycle.error, undefined);
    t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
    t.deepEqual(warnings, [
      {
        message: 'A clock given to overseer failed to clear a timer (cannot clear timers)',
        code: 'OVERSEER_CLOCK_FAILED',
      },
    ]);
  },
);
