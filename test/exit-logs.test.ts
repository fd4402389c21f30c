import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import winston from 'winston';
import Transport from 'winston-transport';
import {
  exitCodes,
  handleSignals,
  Lifecycle,
  type HandleSignalsOptions,
  type Logger,
} from '../lib/index.js';
import { spawnFixture } from './helpers/child-process.js';
import { fakeClock } from './helpers/clock.js';
import { deferred } from './helpers/deferred.js';
import { ControlledService } from './helpers/service.js';
import { exitRecorder, sendSignal } from './helpers/signals.js';

// Whole programs first: test/fixtures/exit-logs.ts under handleSignals, stopped by SIGTERM, with a
// logger that still holds lines when the exit comes. Each runs a few times: a lost line showed up
// in every run before the fix, but a race deserves more than one try.

/** Runs `body` `times` times at once. */
async function repeat(times: number, body: (run: number) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: times }, (_, run) => body(run)));
}

test('with a winston file transport, the final exiting line is in the file once the process has exited', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'overseer-exit-logs-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  await repeat(3, async (run) => {
    const file = join(folder, `run-${run}.log`);
    const program = spawnFixture(t, 'exit-logs', ['--file', file]);
    await program.ready();
    program.kill('SIGTERM');
    t.deepEqual(await program.exited(), { code: 0, signal: null });
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    const last = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    delete last.timestamp;
    t.deepEqual(last, {
      level: 'info',
      message: 'exiting',
      service: 'app',
      state: 'stopped',
      code: 0,
    });
  });
});

test('20,000 lines logged while stopping all reach a stdout pipe before the exit', async (t) => {
  await repeat(2, async () => {
    const program = spawnFixture(t, 'exit-logs', ['--burst', '20000']);
    await program.ready();
    program.kill('SIGTERM');
    t.deepEqual(await program.exited(), { code: 0, signal: null });
    const burst = program.logs.filter((line) => line.message === 'burst');
    t.is(burst.length, 20_000);
    t.is(burst.at(-1)?.line, 20_000);
    t.like(program.logs.at(-1), { message: 'exiting', state: 'stopped', code: 0 });
  });
});

test('with pino and an asynchronous destination, 20,000 lines logged while stopping all arrive', async (t) => {
  const program = spawnFixture(t, 'exit-logs', ['--pino', '--burst', '20000']);
  await program.ready();
  program.kill('SIGTERM');
  t.deepEqual(await program.exited(), { code: 0, signal: null });
  const lines = program.lines
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  t.is(lines.filter((line) => line.msg === 'burst').length, 20_000);
  t.deepEqual(lines.at(-1), {
    level: 30,
    msg: 'exiting',
    service: 'app',
    state: 'stopped',
    code: 0,
  });
});

// In-process tests: what handleSignals waits for, driven by hand. They send SIGUSR2 to this very
// process (see helpers/signals.ts), so they are serial.

/** A logger that records `level: message` of each call, with whatever else `extra` adds. */
function recordingLogger<T extends object>(extra: T = {} as T): Logger & T & { calls: string[] } {
  const calls: string[] = [];
  const method = (level: string) => (message: string) => {
    calls.push(`${level}: ${message}`);
  };
  return {
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
    calls,
    ...extra,
  };
}

/**
 * Runs a lifecycle of one service under handleSignals on SIGUSR2 with `logger`, sends the signal,
 * and resolves once the stop has finished and `exiting` is logged: the exit is what comes next.
 */
async function stopWith(
  t: ExecutionContext,
  logger: Logger,
  options: Partial<HandleSignalsOptions> = {},
) {
  const service = new ControlledService('web');
  const lifecycle = new Lifecycle(service);
  const handler = fakeClock();
  const recorder = exitRecorder();
  const dispose = handleSignals(lifecycle, {
    signals: ['SIGUSR2'],
    logger,
    clock: handler.clock,
    exit: recorder.exit,
    ...options,
  });
  t.teardown(dispose);
  const started = service.started();
  const done = lifecycle.run();
  await started;
  await sendSignal();
  await done;
  // handleSignals' own stop() settles right after the run.
  await Promise.resolve();
  return { ...recorder, handler, dispose };
}

test.serial(
  'a logger with neither flush() nor transports: the exit follows the exiting line at once',
  async (t) => {
    const logger = recordingLogger();
    const { codes, handler } = await stopWith(t, logger);
    t.deepEqual(codes, [exitCodes.stopped]);
    t.is(logger.calls.at(-1), 'info: exiting');
    t.is(handler.pending(), 0);
  },
);

test.serial(
  'a flush(callback) is called after the exiting line; the exit waits for its callback',
  async (t) => {
    const flushed: (() => void)[] = [];
    const logger = recordingLogger({
      flush(callback?: () => void) {
        logger.calls.push('flush');
        flushed.push(callback!);
      },
    });
    const { codes, exited, handler } = await stopWith(t, logger);
    t.deepEqual(logger.calls.slice(-2), ['info: exiting', 'flush']);
    t.deepEqual(codes, []);
    t.is(handler.pending(), 1);
    flushed[0]!();
    t.is(await exited, exitCodes.stopped);
    t.is(handler.pending(), 0);
  },
);

test.serial('a flush() that returns a promise: the exit waits for it to settle', async (t) => {
  const flushing = deferred();
  const logger = recordingLogger({ flush: () => flushing.promise });
  const { codes, exited, handler } = await stopWith(t, logger);
  await Promise.resolve();
  t.deepEqual(codes, []);
  flushing.resolve();
  t.is(await exited, exitCodes.stopped);
  t.is(handler.pending(), 0);
});

test.serial('a synchronous flush() is called, and the exit follows at once', async (t) => {
  const logger = recordingLogger({
    flush() {
      logger.calls.push('flush');
    },
  });
  const { codes, handler } = await stopWith(t, logger);
  t.deepEqual(logger.calls.slice(-2), ['info: exiting', 'flush']);
  t.deepEqual(codes, [exitCodes.stopped]);
  t.is(handler.pending(), 0);
});

test.serial(
  'a flush that never finishes delays the exit by flushTimeout at most and leaves no timer',
  async (t) => {
    const logger = recordingLogger({ flush: neverFlushes });
    const { codes, exited, handler } = await stopWith(t, logger, { flushTimeout: 500 });
    await handler.fake.tickAsync(499);
    t.deepEqual(codes, []);
    await handler.fake.tickAsync(1);
    t.is(await exited, exitCodes.stopped);
    t.is(handler.pending(), 0);
  },
);

test.serial('by default the exit waits 2 s at most for the logger', async (t) => {
  const logger = recordingLogger({ flush: () => new Promise<never>(() => undefined) });
  const { codes, exited, handler } = await stopWith(t, logger);
  await handler.fake.tickAsync(1_999);
  t.deepEqual(codes, []);
  await handler.fake.tickAsync(1);
  t.is(await exited, exitCodes.stopped);
});

test.serial(
  'with flushTimeout: Infinity the exit waits for the logger however long it takes',
  async (t) => {
    const flushed: (() => void)[] = [];
    const logger = recordingLogger({ flush: (callback?: () => void) => flushed.push(callback!) });
    const { codes, exited, handler } = await stopWith(t, logger, { flushTimeout: Infinity });
    t.is(handler.pending(), 0);
    await handler.fake.tickAsync(60_000);
    t.deepEqual(codes, []);
    flushed[0]!();
    t.is(await exited, exitCodes.stopped);
  },
);

test.serial(
  'with flushTimeout: 0 the exit comes at once and the logger is not flushed',
  async (t) => {
    const logger = recordingLogger({
      flush: (callback?: () => void) => {
        logger.calls.push('flush');
        forgotten.push(callback);
      },
    });
    const { codes } = await stopWith(t, logger, { flushTimeout: 0 });
    t.deepEqual(codes, [exitCodes.stopped]);
    t.is(logger.calls.at(-1), 'info: exiting');
  },
);

test.serial(
  'a flush that throws, rejects or calls back with an error still lets the program exit',
  async (t) => {
    const failures = [
      () => {
        throw new Error('flush failed');
      },
      () => Promise.reject(new Error('flush failed')),
      (callback?: (error?: Error) => void) => {
        callback?.(new Error('flush failed'));
      },
      // Calls back, and returns a promise too: the wait ends once.
      (callback?: () => void) => {
        callback?.();
        return Promise.resolve();
      },
    ];
    for (const flush of failures) {
      const { exited, handler, dispose } = await stopWith(t, recordingLogger({ flush }));
      t.is(await exited, exitCodes.stopped);
      t.is(handler.pending(), 0);
      dispose();
    }
  },
);

/** A flush(callback) that never calls back. */
function neverFlushes(callback?: () => void): void {
  forgotten.push(callback);
}
const forgotten: unknown[] = [];

/** A winston transport whose end waits for the test: `release()` lets it finish. */
class HeldTransport extends Transport {
  readonly lines: string[] = [];
  /** Resolves once the transport is ended (its `_final` called). */
  readonly ended = deferred();
  readonly #held = deferred();

  override log(info: { message: string }, next: () => void): void {
    this.lines.push(info.message);
    next();
  }

  override _final(callback: () => void): void {
    this.ended.resolve();
    void this.#held.promise.then(callback);
  }

  release(): void {
    this.#held.resolve();
  }
}

test.serial(
  'a winston logger is ended and the exit waits for every transport to finish',
  async (t) => {
    const first = new HeldTransport();
    const second = new HeldTransport();
    const logger = winston.createLogger({ transports: [first, second] });
    const { codes, exited, handler } = await stopWith(t, logger);
    await Promise.all([first.ended.promise, second.ended.promise]);
    t.is(first.lines.at(-1), 'exiting');
    first.release();
    await handler.fake.tickAsync(0);
    await new Promise((resolve) => setImmediate(resolve));
    t.deepEqual(codes, []);
    second.release();
    t.is(await exited, exitCodes.stopped);
    t.is(second.lines.at(-1), 'exiting');
    t.is(handler.pending(), 0);
    t.is(first.listenerCount('finish'), 0);
  },
);

test.serial('a line logged to the ended winston logger is dropped, not thrown', async (t) => {
  const transport = new HeldTransport();
  transport.release();
  const logger = winston.createLogger({ transports: [transport] });
  const { exited } = await stopWith(t, logger);
  t.is(await exited, exitCodes.stopped);
  t.notThrows(() => logger.info('after the exit'));
  await new Promise((resolve) => setImmediate(resolve));
  t.false(transport.lines.includes('after the exit'));
});

test.serial(
  'a second signal while the logs flush exits 2 at once and leaves no timer',
  async (t) => {
    const logger = recordingLogger({ flush: neverFlushes });
    const { codes, exited, handler } = await stopWith(t, logger);
    t.deepEqual(codes, []);
    await handler.fake.tickAsync(250);
    await sendSignal();
    t.is(await exited, exitCodes.forced);
    t.deepEqual(codes, [exitCodes.forced]);
    t.is(handler.pending(), 0);
  },
);

test.serial(
  'the same signal again within 250 ms while the logs flush changes nothing',
  async (t) => {
    const flushed: (() => void)[] = [];
    const logger = recordingLogger({ flush: (callback?: () => void) => flushed.push(callback!) });
    const { codes, exited } = await stopWith(t, logger);
    await sendSignal();
    t.deepEqual(codes, []);
    flushed[0]!();
    t.is(await exited, exitCodes.stopped);
    t.deepEqual(codes, [exitCodes.stopped]);
  },
);

test.serial('the returned function cancels an exit that waits for the logs', async (t) => {
  const flushed: (() => void)[] = [];
  const logger = recordingLogger({ flush: (callback?: () => void) => flushed.push(callback!) });
  const { codes, handler, dispose } = await stopWith(t, logger);
  dispose();
  t.is(handler.pending(), 0);
  flushed[0]!();
  await handler.fake.tickAsync(5_000);
  t.deepEqual(codes, []);
});

test.serial('a logger whose flush cannot even be read still lets the program exit', async (t) => {
  const logger = recordingLogger();
  Object.defineProperty(logger, 'flush', {
    get() {
      throw new Error('no flush here');
    },
  });
  const { codes } = await stopWith(t, logger);
  t.deepEqual(codes, [exitCodes.stopped]);
});

test.serial('an exit that throws is logged as "exit failed"', async (t) => {
  const logger = recordingLogger();
  await stopWith(t, logger, {
    exit: () => {
      throw new Error('cannot exit');
    },
  });
  t.deepEqual(logger.calls.slice(-2), ['info: exiting', 'error: exit failed']);
});
