import test, { type ExecutionContext } from 'ava';
import {
  exitCodes,
  handleSignals,
  Lifecycle,
  Pool,
  type HandleSignalsOptions,
} from '../lib/index.js';
import { spawnFixture } from './helpers/child-process.js';
import { fakeClock } from './helpers/clock.js';
import { nextImmediate } from './helpers/lifecycle.js';
import { brokenLogger, captureLogs, spyOnWarnings, type LogEntry } from './helpers/logs.js';
import { withoutFaults } from './helpers/property-run.js';
import { reach } from './helpers/record.js';
import { ControlledService, type Behaviour } from './helpers/service.js';
import { exitRecorder, sendSignal } from './helpers/signals.js';

// In-process tests send SIGUSR2 to this very process (see helpers/signals.ts), so they are serial.

/** The lines handleSignals itself logs, without winston's internal symbols. */
function signalLogs(entries: readonly LogEntry[]): Record<string, unknown>[] {
  const own = new Set(['received signal, stopping', 'exiting', 'forcing exit']);
  return entries
    .filter((entry) => own.has(entry.message))
    .map((entry) => Object.fromEntries(Object.entries(entry)));
}

/** A lifecycle of one controlled service `web` under handleSignals on SIGUSR2. */
function signalled(
  t: ExecutionContext,
  behaviour: Behaviour,
  options: Partial<HandleSignalsOptions> = {},
) {
  const service = new ControlledService('web', behaviour);
  const lifecycleClock = fakeClock();
  const lifecycle = new Lifecycle(service, { clock: lifecycleClock.clock });
  const handlerClock = fakeClock();
  const { logger, entries } = captureLogs();
  const recorder = exitRecorder();
  const dispose = handleSignals(lifecycle, {
    signals: ['SIGUSR2'],
    logger,
    clock: handlerClock.clock,
    exit: recorder.exit,
    ...options,
  });
  t.teardown(dispose);
  return { service, lifecycle, lifecycleClock, handlerClock, entries, ...recorder };
}

/**
 * Runs `lifecycle` in the background (its outcome is asserted through the exit codes) and
 * resolves once `service` has started.
 */
async function runInBackground(
  lifecycle: Lifecycle,
  service: ControlledService,
): Promise<{ done: Promise<void> }> {
  const started = service.started();
  const done = lifecycle.run();
  done.catch(() => undefined);
  await started;
  return { done };
}

test.serial('exitCodes are 0 for a clean stop, 1 for a crash and 2 for a forced exit', (t) => {
  t.deepEqual(exitCodes, { stopped: 0, crashed: 1, forced: 2 });
  t.true(Object.isFrozen(exitCodes));
});

test.serial(
  'handleSignals listens to SIGINT and SIGTERM; the returned function removes the listeners',
  (t) => {
    const before = {
      SIGINT: process.listenerCount('SIGINT'),
      SIGTERM: process.listenerCount('SIGTERM'),
    };
    const dispose = handleSignals(new Lifecycle(new ControlledService()), {
      exit: () => undefined,
    });
    t.deepEqual(
      { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') },
      { SIGINT: before.SIGINT + 1, SIGTERM: before.SIGTERM + 1 },
    );
    dispose();
    t.deepEqual(
      { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') },
      before,
    );
  },
);

test.serial('with custom signals handleSignals listens to those signals only', (t) => {
  const before = ['SIGINT', 'SIGTERM', 'SIGUSR2', 'SIGHUP'].map((s) => process.listenerCount(s));
  const dispose = handleSignals(new Lifecycle(new ControlledService()), {
    signals: ['SIGUSR2', 'SIGHUP'],
    exit: () => undefined,
  });
  t.deepEqual(
    ['SIGINT', 'SIGTERM', 'SIGUSR2', 'SIGHUP'].map((s) => process.listenerCount(s)),
    [before[0], before[1], before[2]! + 1, before[3]! + 1],
  );
  dispose();
  t.deepEqual(
    ['SIGINT', 'SIGTERM', 'SIGUSR2', 'SIGHUP'].map((s) => process.listenerCount(s)),
    before,
  );
});

test.serial('a signal stops the lifecycle at once and exits 0 once it has stopped', async (t) => {
  const { service, lifecycle, entries, codes, exited } = signalled(t, { whenAsked: 'ignore' });
  const { done } = await runInBackground(lifecycle, service);
  await sendSignal();
  t.true(lifecycle.shouldStop());
  t.deepEqual(codes, []);
  service.reportStopping();
  service.finish();
  t.is(await exited, exitCodes.stopped);
  await done;
  t.is(lifecycle.state, 'stopped');
  t.deepEqual(codes, [0]);
  t.deepEqual(signalLogs(entries), [
    {
      level: 'info',
      message: 'received signal, stopping',
      service: 'web',
      signal: 'SIGUSR2',
      timeout: 10_000,
    },
    { level: 'info', message: 'exiting', service: 'web', state: 'stopped', code: 0 },
  ]);
});

test.serial('the stop it requests has the timeout as its shutdown deadline', async (t) => {
  const { service, lifecycle, lifecycleClock, codes, exited } = signalled(
    t,
    { whenAsked: 'await-deadline' },
    { timeout: 100 },
  );
  const { done } = await runInBackground(lifecycle, service);
  await sendSignal();
  await lifecycleClock.fake.tickAsync(99);
  t.false(lifecycle.shutdownSignal.aborted);
  await lifecycleClock.fake.tickAsync(1);
  t.true(lifecycle.shutdownSignal.aborted);
  t.like(lifecycle.shutdownSignal.reason, { name: 'TimeoutError' });
  t.is(await exited, exitCodes.stopped);
  await done;
  t.deepEqual(codes, [0]);
});

test.serial('a crash during the stop exits 1', async (t) => {
  const { service, lifecycle, entries, codes, exited } = signalled(t, { whenAsked: 'crash' });
  const { done } = await runInBackground(lifecycle, service);
  await sendSignal();
  t.is(await exited, exitCodes.crashed);
  await t.throwsAsync(done, { is: service.error });
  t.deepEqual(codes, [1]);
  t.deepEqual(signalLogs(entries).at(-1), {
    level: 'info',
    message: 'exiting',
    service: 'web',
    state: 'crashed',
    code: 1,
  });
});

test.serial(
  'a second signal while stopping exits 2 and names the services still running',
  async (t) => {
    const { logger, entries } = captureLogs();
    const pool = new Pool({ name: 'app' });
    const web = pool.add(new ControlledService('web'));
    const hang = new ControlledService('hang', { whenAsked: 'ignore' });
    pool.add(hang);
    const lifecycle = new Lifecycle(pool);
    const { exit, codes, exited } = exitRecorder();
    const { clock, fake } = fakeClock();
    t.teardown(handleSignals(lifecycle, { signals: ['SIGUSR2'], exit, logger, clock }));
    const running = reach(lifecycle, 'running');
    const done = lifecycle.run();
    await running;
    const webStopped = reach(web, 'stopped');
    await sendSignal();
    await webStopped;
    // Sooner, the same signal would be the same request (a terminal and a wrapper each send one).
    await fake.tickAsync(250);
    await sendSignal();
    t.is(await exited, exitCodes.forced);
    t.deepEqual(signalLogs(entries).at(-1), {
      level: 'error',
      message: 'forcing exit',
      reason: 'received SIGUSR2 again',
      unstopped: ['app', 'app/hang'],
    });
    // The stop that finishes after the forced exit exits nothing more. The promise of stop()
    // settles after handleSignals' own stop() reaction has run.
    hang.finish();
    t.is(await lifecycle.stop(), 'stopped');
    await done;
    t.deepEqual(codes, [2]);
    t.false(entries.some((entry) => entry.message === 'exiting'));
  },
);

test.serial('the stop still unfinished grace ms past its deadline forces exit 2', async (t) => {
  const { service, lifecycle, lifecycleClock, handlerClock, entries, codes, exited } = signalled(
    t,
    { whenAsked: 'ignore' },
    { timeout: 100, grace: 50 },
  );
  const { done } = await runInBackground(lifecycle, service);
  await sendSignal();
  await lifecycleClock.fake.tickAsync(100);
  await handlerClock.fake.tickAsync(149);
  t.true(lifecycle.shutdownSignal.aborted);
  t.deepEqual(codes, []);
  await handlerClock.fake.tickAsync(1);
  t.is(await exited, exitCodes.forced);
  t.deepEqual(signalLogs(entries).at(-1), {
    level: 'error',
    message: 'forcing exit',
    reason: 'the stop took longer than 100 ms + 50 ms grace',
    unstopped: ['web'],
  });
  service.finish();
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.deepEqual(codes, [2]);
  t.false(entries.some((entry) => entry.message === 'exiting'));
});

test.serial('by default the exit is forced 10 s + 1 s grace after the signal', async (t) => {
  const { service, lifecycle, lifecycleClock, handlerClock, entries, codes, exited } = signalled(
    t,
    { whenAsked: 'ignore' },
  );
  const { done } = await runInBackground(lifecycle, service);
  await sendSignal();
  await lifecycleClock.fake.tickAsync(9_999);
  t.false(lifecycle.shutdownSignal.aborted);
  await lifecycleClock.fake.tickAsync(1);
  t.true(lifecycle.shutdownSignal.aborted);
  await handlerClock.fake.tickAsync(10_999);
  t.deepEqual(codes, []);
  await handlerClock.fake.tickAsync(1);
  t.is(await exited, exitCodes.forced);
  t.like(signalLogs(entries).at(-1), {
    message: 'forcing exit',
    reason: 'the stop took longer than 10000 ms + 1000 ms grace',
  });
  service.finish();
  await done;
});

test.serial('the force timer is set at the signal and cleared by a clean stop', async (t) => {
  const { service, lifecycle, handlerClock, exited } = signalled(t, { whenAsked: 'ignore' });
  const { done } = await runInBackground(lifecycle, service);
  t.is(handlerClock.pending(), 0);
  await sendSignal();
  t.is(handlerClock.pending(), 1);
  service.finish();
  await exited;
  await done;
  t.is(handlerClock.pending(), 0);
});

test.serial('with an infinite timeout there is no deadline and no force timer', async (t) => {
  const { service, lifecycle, lifecycleClock, handlerClock, entries, exited } = signalled(
    t,
    { whenAsked: 'ignore' },
    { timeout: Infinity },
  );
  const { done } = await runInBackground(lifecycle, service);
  await sendSignal();
  t.is(lifecycleClock.pending(), 0);
  t.is(handlerClock.pending(), 0);
  t.like(signalLogs(entries)[0], { message: 'received signal, stopping', timeout: Infinity });
  service.finish();
  t.is(await exited, 0);
  await done;
});

test.serial('a signal after the exit does nothing', async (t) => {
  const { service, lifecycle, entries, codes, exited, handlerClock } = signalled(t, {});
  const { done } = await runInBackground(lifecycle, service);
  await sendSignal();
  await exited;
  await done;
  const logged = entries.length;
  await sendSignal();
  await sendSignal();
  t.deepEqual(codes, [0]);
  t.is(entries.length, logged);
  t.is(service.runs.length, 1);
  t.is(lifecycle.state, 'stopped');
  t.is(handlerClock.pending(), 0);
});

test.serial('a signal before the lifecycle runs exits 0 at once', async (t) => {
  const { lifecycle, entries, exited } = signalled(t, {});
  await sendSignal();
  t.is(await exited, 0);
  t.is(lifecycle.state, 'stopped');
  t.like(signalLogs(entries).at(-1), { message: 'exiting', state: 'stopped', code: 0 });
});

test.serial(
  'a lifecycle that crashes by itself is left to the program; a later signal exits 1',
  async (t) => {
    const { service, lifecycle, codes, exited } = signalled(t, {});
    const { done } = await runInBackground(lifecycle, service);
    service.crash();
    await t.throwsAsync(done, { is: service.error });
    t.deepEqual(codes, []);
    await sendSignal();
    t.is(await exited, exitCodes.crashed);
    t.is(service.runs.length, 1);
  },
);

test.serial(
  'the same signal again within 250 ms of the first is the same request, not a forced exit',
  async (t) => {
    const { service, lifecycle, handlerClock, entries, codes, exited } = signalled(t, {
      whenAsked: 'ignore',
    });
    const { done } = await runInBackground(lifecycle, service);
    await sendSignal();
    await handlerClock.fake.tickAsync(249);
    await sendSignal();
    t.deepEqual(codes, []);
    t.like(entries.at(-1), {
      level: 'debug',
      message: 'received signal again, same request',
      service: 'web',
      signal: 'SIGUSR2',
    });
    service.reportStopping();
    service.finish();
    t.is(await exited, exitCodes.stopped);
    await done;
    t.deepEqual(codes, [exitCodes.stopped]);
  },
);

test.serial('the same signal 250 ms after the first forces exit 2', async (t) => {
  const { service, lifecycle, handlerClock, entries, exited } = signalled(t, {
    whenAsked: 'ignore',
  });
  const { done } = await runInBackground(lifecycle, service);
  await sendSignal();
  await handlerClock.fake.tickAsync(250);
  await sendSignal();
  t.is(await exited, exitCodes.forced);
  t.like(signalLogs(entries).at(-1), { message: 'forcing exit', reason: 'received SIGUSR2 again' });
  service.finish();
  await done;
});

test.serial('the stop a signal requests has the signal name as its reason', async (t) => {
  const { service, lifecycle, exited } = signalled(t, { whenAsked: 'ignore' });
  const { done } = await runInBackground(lifecycle, service);
  await sendSignal();
  t.like(lifecycle.signal.reason, { name: 'AbortError', message: 'stop requested: SIGUSR2' });
  service.finish();
  await exited;
  await done;
});

test.serial(
  'handleSignals listens for uncaught exceptions and unhandled rejections unless faults is false; the returned function removes the listeners',
  (t) => {
    const events = ['uncaughtException', 'unhandledRejection'] as const;
    const counts = () => events.map((event) => process.listenerCount(event));
    const before = counts();
    const lifecycle = new Lifecycle(new ControlledService());
    const dispose = handleSignals(lifecycle, { exit: () => undefined });
    t.deepEqual(counts(), [before[0]! + 1, before[1]! + 1]);
    t.is(lifecycle.listenerCount('stateChange'), 1);
    dispose();
    t.deepEqual(counts(), before);
    t.is(lifecycle.listenerCount('stateChange'), 0);
    const withoutFaultListeners = handleSignals(lifecycle, {
      faults: false,
      exit: () => undefined,
    });
    t.deepEqual(counts(), before);
    withoutFaultListeners();
  },
);

/** How many ref'd timers keep this process alive. */
function refTimers(): number {
  return process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
}

test.serial(
  "while the lifecycle runs handleSignals holds one ref'd handle, released when the run ends",
  async (t) => {
    const { service, lifecycle, exited } = signalled(t, {});
    const idle = refTimers();
    const { done } = await runInBackground(lifecycle, service);
    t.is(refTimers(), idle + 1);
    await sendSignal();
    await exited;
    await done;
    t.is(refTimers(), idle);
  },
);

test.serial(
  'a run that ends by itself releases the handle, and the next run takes it again',
  async (t) => {
    const { service, lifecycle } = signalled(t, {});
    const idle = refTimers();
    const first = await runInBackground(lifecycle, service);
    t.is(refTimers(), idle + 1);
    service.finish();
    await first.done;
    await Promise.resolve();
    t.is(refTimers(), idle);
    const second = await runInBackground(lifecycle, service);
    t.is(refTimers(), idle + 1);
    service.finish();
    await second.done;
    await Promise.resolve();
    t.is(refTimers(), idle);
  },
);

test.serial(
  'handleSignals called while the lifecycle runs holds the handle; the returned function releases it',
  async (t) => {
    const service = new ControlledService('web');
    const lifecycle = new Lifecycle(service);
    const idle = refTimers();
    const { done } = await runInBackground(lifecycle, service);
    const dispose = handleSignals(lifecycle, { signals: ['SIGUSR2'], exit: () => undefined });
    t.teardown(dispose);
    t.is(refTimers(), idle + 1);
    dispose();
    t.is(refTimers(), idle);
    await lifecycle.stop();
    await done;
    t.is(refTimers(), idle);
  },
);

test.serial('handleSignals rejects bad arguments with a TypeError and adds no listener', (t) => {
  const lifecycle = new Lifecycle(new ControlledService());
  const counts = () => ['SIGINT', 'SIGTERM'].map((signal) => process.listenerCount(signal));
  const before = counts();
  const cases: [unknown, unknown, RegExp][] = [
    [{}, {}, /`lifecycle` to be a Lifecycle, got an object \(Object\)/],
    [new Pool(), {}, /`lifecycle` to be a Lifecycle, got an object \(Pool\)/],
    [undefined, {}, /`lifecycle` to be a Lifecycle, got `undefined`/],
    [lifecycle, null, /`options` to be an object, got `null`/],
    [
      lifecycle,
      { signals: [] },
      /`options\.signals` to be a non-empty array of catchable signal names/,
    ],
    [lifecycle, { signals: ['SIGNOPE'] }, /`options\.signals`.*, got an object \(Array\)/],
    [lifecycle, { signals: 'SIGTERM' }, /`options\.signals`.*, got `"SIGTERM"` \(string\)/],
    [lifecycle, { signals: ['SIGTERM', 15] }, /`options\.signals`/],
    [lifecycle, { signals: ['SIGINT', 'SIGKILL'] }, /`options\.signals`/],
    [lifecycle, { signals: ['SIGSTOP'] }, /`options\.signals`/],
    [
      lifecycle,
      { timeout: -1 },
      /`options\.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `-1`/,
    ],
    [lifecycle, { timeout: Number.NaN }, /`options\.timeout`.*, got `NaN` \(number\)/],
    [lifecycle, { timeout: '10' }, /`options\.timeout`/],
    [lifecycle, { timeout: 2 ** 31 }, /`options\.timeout`.*, got `2147483648` \(number\)/],
    [
      lifecycle,
      { grace: -1 },
      /`options\.grace` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `-1`/,
    ],
    [
      lifecycle,
      { signals: ['SIGTERM', 'SIGINT', 'SIGTERM'] },
      /^Expected `options\.signals` to list each signal once, got SIGTERM twice$/,
    ],
    [lifecycle, { exit: 'process.exit' }, /`options\.exit` to be a function/],
    [lifecycle, { faults: 'yes' }, /`options\.faults` to be a boolean, got `"yes"` \(string\)/],
    [
      lifecycle,
      { flushTimeout: -1 },
      /`options\.flushTimeout` to be a number of milliseconds from 0 to 2147483647, or Infinity/,
    ],
    [lifecycle, { logger: console.log }, /`options\.logger`/],
    [lifecycle, { clock: {} }, /`options\.clock`/],
  ];
  for (const [target, options, message] of cases) {
    t.throws(
      () => handleSignals(target as Lifecycle, options as HandleSignalsOptions),
      { instanceOf: TypeError, message },
      `handleSignals(${String(target)}, ${JSON.stringify(options)})`,
    );
  }
  t.deepEqual(counts(), before);
});

test.serial('handleSignals rejects an unknown option with a TypeError naming it', (t) => {
  const lifecycle = new Lifecycle(new ControlledService());
  const counts = () => ['SIGINT', 'SIGTERM'].map((signal) => process.listenerCount(signal));
  const before = counts();
  const known =
    '`signals`, `timeout`, `grace`, `exit`, `logger`, `clock`, `faults`, `flushTimeout`';
  const options = { exit: () => undefined, timout: 5_000 } as HandleSignalsOptions;
  const error = t.throws(() => handleSignals(lifecycle, options), {
    instanceOf: TypeError,
    message: `Unknown option \`options.timout\`; the known options are ${known}`,
  });
  t.true(error.message.includes('`options.timout`') && error.message.includes('`timeout`'));
  // A misspelled key is caught even when its value happens to be undefined.
  t.throws(() => handleSignals(lifecycle, { timout: undefined } as HandleSignalsOptions), {
    instanceOf: TypeError,
    message: `Unknown option \`options.timout\`; the known options are ${known}`,
  });
  t.deepEqual(counts(), before);
});

test.serial('handleSignals takes a known option set to undefined as its default', async (t) => {
  const { service, lifecycle, handlerClock, codes, entries, exited } = signalled(
    t,
    { whenAsked: 'ignore' },
    { timeout: undefined, grace: undefined, flushTimeout: undefined },
  );
  const { done } = await runInBackground(lifecycle, service);
  await sendSignal();
  await handlerClock.fake.tickAsync(10_999);
  t.deepEqual(codes, []);
  await handlerClock.fake.tickAsync(1);
  t.is(await exited, exitCodes.forced);
  t.like(signalLogs(entries).at(-1), {
    reason: 'the stop took longer than 10000 ms + 1000 ms grace',
  });
  service.finish();
  await done;
});

const exitScenarios = [
  {
    what: 'a clean stop',
    whenAsked: 'stop',
    signals: 1,
    code: exitCodes.stopped,
    calls: ['info: received signal, stopping', 'info: exiting'],
  },
  {
    what: 'a crash during the stop',
    whenAsked: 'crash',
    signals: 1,
    code: exitCodes.crashed,
    calls: ['info: received signal, stopping', 'info: exiting'],
  },
  {
    what: 'a second signal',
    whenAsked: 'ignore',
    signals: 2,
    code: exitCodes.forced,
    calls: ['info: received signal, stopping', 'error: forcing exit'],
  },
] as const;

for (const how of ['throw', 'reject'] as const) {
  const broken = how === 'throw' ? 'throws' : 'returns a rejected promise';
  for (const { what, whenAsked, signals, code, calls } of exitScenarios) {
    test.serial(
      `with a logger whose every call ${broken}, ${what} still exits ${code} and nothing is left unhandled`,
      async (t) => {
        const warnings = spyOnWarnings(t);
        const { logger, calls: made } = brokenLogger(how);
        await withoutFaults(t, async () => {
          const { service, lifecycle, codes, exited, handlerClock } = signalled(
            t,
            { whenAsked },
            { logger },
          );
          const { done } = await runInBackground(lifecycle, service);
          for (let sent = 0; sent < signals; sent++) {
            if (sent > 0) await handlerClock.fake.tickAsync(250);
            await sendSignal();
          }
          t.is(await exited, code);
          service.finish();
          await done.catch(() => undefined);
          await nextImmediate();
          t.deepEqual(codes, [code]);
        });
        t.deepEqual(made, calls);
        t.deepEqual(warnings, [
          {
            message:
              'A logger given to overseer failed (log transport down); its calls are ignored',
            code: 'OVERSEER_LOGGER_FAILED',
          },
        ]);
      },
    );
  }
}

// The rest run the fixture test/fixtures/handle-signals.ts as a real process: a pool `app` of
// services named and configured by its arguments, logging JSON lines to stdout.

test('SIGTERM after which every service stops cleanly exits 0', async (t) => {
  const program = spawnFixture(t, 'handle-signals', ['web:stop', 'db:stop']);
  await program.ready();
  program.kill('SIGTERM');
  t.deepEqual(await program.exited(), { code: 0, signal: null });
  t.deepEqual(program.log('received signal, stopping'), {
    level: 'info',
    message: 'received signal, stopping',
    service: 'app',
    signal: 'SIGTERM',
    timeout: 10_000,
  });
  t.deepEqual(program.logs.at(-1), {
    level: 'info',
    message: 'exiting',
    service: 'app',
    state: 'stopped',
    code: 0,
  });
  const stopped = program.logs.filter(
    (line) => line.message === 'service stopped' && line.pool === 'app',
  );
  t.deepEqual(stopped.map((line) => line.service).sort(), ['db', 'web']);
});

test('SIGINT stops the program the same way and exits 0', async (t) => {
  const program = spawnFixture(t, 'handle-signals', ['web:stop']);
  await program.ready();
  program.kill('SIGINT');
  t.deepEqual(await program.exited(), { code: 0, signal: null });
  t.like(program.log('received signal, stopping'), { service: 'app', signal: 'SIGINT' });
  t.deepEqual(program.logs.at(-1), {
    level: 'info',
    message: 'exiting',
    service: 'app',
    state: 'stopped',
    code: 0,
  });
});

test('a service crashing while it stops makes the program exit 1', async (t) => {
  const program = spawnFixture(t, 'handle-signals', ['web:stop', 'db:crash']);
  await program.ready();
  program.kill('SIGTERM');
  t.deepEqual(await program.exited(), { code: 1, signal: null });
  t.like(
    program.logs.find((line) => line.message === 'service crashed' && line.pool === 'app'),
    {
      level: 'error',
      service: 'db',
      pool: 'app',
      error: { name: 'Error', message: 'db failed while stopping' },
    },
  );
  t.deepEqual(program.logs.at(-1), {
    level: 'info',
    message: 'exiting',
    service: 'app',
    state: 'crashed',
    code: 1,
  });
});

test('a second signal while stopping forces exit 2 and logs the unstopped services', async (t) => {
  const program = spawnFixture(t, 'handle-signals', [
    '--timeout',
    '60000',
    'web:stop',
    'hang:hang',
  ]);
  await program.ready();
  program.kill('SIGTERM');
  await program.logged({ message: 'service stopped', service: 'web' });
  program.kill('SIGINT');
  t.deepEqual(await program.exited(), { code: 2, signal: null });
  t.deepEqual(program.logs.at(-1), {
    level: 'error',
    message: 'forcing exit',
    reason: 'received SIGINT again',
    unstopped: ['app', 'app/hang'],
  });
  t.false(program.logs.some((line) => line.message === 'exiting'));
});

test('a stop still unfinished when the timeout and grace have passed forces exit 2', async (t) => {
  const args = ['--timeout', '200', '--grace', '100', 'web:stop', 'hang:hang'];
  const program = spawnFixture(t, 'handle-signals', args);
  await program.ready();
  program.kill('SIGTERM');
  t.deepEqual(await program.exited(), { code: 2, signal: null });
  t.like(program.log('received signal, stopping'), { signal: 'SIGTERM', timeout: 200 });
  t.deepEqual(program.logs.at(-1), {
    level: 'error',
    message: 'forcing exit',
    reason: 'the stop took longer than 200 ms + 100 ms grace',
    unstopped: ['app', 'app/hang'],
  });
});

test('a service that stops at the shutdown deadline lets the program exit 0 within the grace', async (t) => {
  const args = ['--timeout', '200', '--grace', '5000', 'web:stop', 'slow:deadline'];
  const program = spawnFixture(t, 'handle-signals', args);
  await program.ready();
  program.kill('SIGTERM');
  t.deepEqual(await program.exited(), { code: 0, signal: null });
  // The last service to stop is the one that waited for the deadline.
  const stopped = program.logs.filter((line) => line.message === 'service stopped' && line.pool);
  t.like(stopped.at(-1), { service: 'slow' });
  t.deepEqual(program.logs.at(-1), {
    level: 'info',
    message: 'exiting',
    service: 'app',
    state: 'stopped',
    code: 0,
  });
});

test('with signals: [SIGUSR2], SIGUSR2 stops the program and it exits 0', async (t) => {
  const program = spawnFixture(t, 'handle-signals', ['--signal', 'SIGUSR2', 'web:stop']);
  await program.ready();
  program.kill('SIGUSR2');
  t.deepEqual(await program.exited(), { code: 0, signal: null });
  t.like(program.log('received signal, stopping'), { service: 'app', signal: 'SIGUSR2' });
  t.like(program.logs.at(-1), { message: 'exiting', state: 'stopped', code: 0 });
});

test('with signals: [SIGUSR2], SIGTERM is left to its default and kills the program', async (t) => {
  const program = spawnFixture(t, 'handle-signals', ['--signal', 'SIGUSR2', 'web:stop']);
  await program.ready();
  program.kill('SIGTERM');
  t.deepEqual(await program.exited(), { code: null, signal: 'SIGTERM' });
  t.false(program.logs.some((line) => line.message === 'received signal, stopping'));
});

test.serial(
  'the returned function cancels a pending forced exit; a stop under way no longer exits',
  async (t) => {
    const service = new ControlledService('web', { whenAsked: 'ignore' });
    const lifecycle = new Lifecycle(service);
    const handlerClock = fakeClock();
    const recorder = exitRecorder();
    const dispose = handleSignals(lifecycle, {
      signals: ['SIGUSR2'],
      timeout: 100,
      grace: 50,
      clock: handlerClock.clock,
      exit: recorder.exit,
    });
    t.teardown(dispose);
    const { done } = await runInBackground(lifecycle, service);
    await sendSignal();
    t.is(handlerClock.pending(), 1);

    dispose();
    t.is(handlerClock.pending(), 0);
    await handlerClock.fake.tickAsync(150);
    service.finish();
    await done;

    t.deepEqual(recorder.codes, []);
    t.is(lifecycle.state, 'stopped');
  },
);
