import test from 'ava';
import { Console } from 'node:console';
import { openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { handleSignals, Lifecycle, Pool, type LogLevel } from '../lib/index.js';
import { logs } from '../lib/internal/log.js';
import {
  loggerFromConsole,
  loggerFromPino,
  type ConsoleLike,
  type LoggerFromConsoleOptions,
  type PinoLike,
} from '../lib/logger-adapters.js';
import { spawnFixture } from './helpers/child-process.js';
import { ControlledService } from './helpers/service.js';

const allLevels: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** A writable stream that keeps what is written to it, as text. */
function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return { stream, text: () => text };
}

/** A real pino logger writing JSON lines into a captured stream, and those lines parsed. */
function realPino(level = 'info') {
  const { stream, text } = capture();
  const instance = pino({ level }, stream);
  const lines = () =>
    text()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { pino: instance, lines };
}

/** A real `new Console()` writing into two captured streams. */
function realConsole() {
  const stdout = capture();
  const stderr = capture();
  const console = new Console({ stdout: stdout.stream, stderr: stderr.stream });
  return { console, stdout: stdout.text, stderr: stderr.text };
}

function failedWith(message: string, cause?: Error): Error {
  return Object.assign(new Error(message, cause && { cause }), { code: 'ERR_TEST' });
}

// --- pino ------------------------------------------------------------------------------------

test('loggerFromPino writes every field as pino fields, with the message as msg', (t) => {
  const { pino, lines } = realPino();
  const logger = loggerFromPino(pino);
  logger.info('service running', { service: 'web', pool: 'app', state: 'running' });
  logger.warn('slow', { services: [{ service: 'db', stoppingMs: 1000 }] });

  t.like(lines()[0], {
    level: 30,
    msg: 'service running',
    service: 'web',
    pool: 'app',
    state: 'running',
  });
  t.like(lines()[1], { level: 40, msg: 'slow', services: [{ service: 'db', stoppingMs: 1000 }] });
  t.is(typeof lines()[0]?.time, 'number', "pino's own fields are kept");
});

test("loggerFromPino writes an error under err, where pino's serializer keeps its type, message, stack, code and causes", (t) => {
  const { pino, lines } = realPino();
  const cause = new TypeError('socket hang up');
  const error = failedWith('request failed', cause);
  loggerFromPino(pino).error('service crashed', { service: 'web', state: 'crashed', error });

  const [line] = lines();
  t.like(line, { level: 50, msg: 'service crashed', service: 'web', state: 'crashed' });
  t.false(line !== undefined && 'error' in line);
  const err = line?.err as Record<string, unknown>;
  t.is(err.type, 'Error');
  t.is(err.message, 'request failed: socket hang up');
  t.is(err.code, 'ERR_TEST');
  t.true(String(err.stack).startsWith(String(error.stack)));
  t.true(String(err.stack).includes(`caused by: ${String(cause.stack)}`));
});

test('loggerFromPino writes an Error in another field as pino writes err, with its cause nested, where JSON would give {}', (t) => {
  const { pino, lines } = realPino();
  const cause = new RangeError('too deep');
  const reason = failedWith('stop requested', cause);
  const inner = new Error('web failed');
  loggerFromPino(pino).warn('stopping', {
    reason,
    failures: new AggregateError([inner, 'not an error'], '2 failures'),
  });

  const [line] = lines();
  t.deepEqual(line?.reason, {
    type: 'Error',
    message: 'stop requested',
    stack: reason.stack,
    code: 'ERR_TEST',
    cause: { type: 'RangeError', message: 'too deep', stack: cause.stack },
  });
  t.like(line?.failures, {
    type: 'AggregateError',
    message: '2 failures',
    aggregateErrors: [{ type: 'Error', message: 'web failed', stack: inner.stack }, 'not an error'],
  });
});

test('loggerFromPino cuts a cause chain that loops, and names an error without a constructor by its name', (t) => {
  const { pino, lines } = realPino();
  const loop = new Error('loop');
  loop.cause = loop;
  const nameless = new Error('odd');
  Object.defineProperty(nameless, 'constructor', { value: undefined });
  loggerFromPino(pino).warn('failures', { loop, nameless });

  let depth = 0;
  let serialized = lines()[0]?.loop as { cause?: unknown } | undefined;
  while (serialized?.cause !== undefined) {
    depth++;
    serialized = serialized.cause as { cause?: unknown };
  }
  t.is(depth, 8);
  t.like(lines()[0]?.nameless, { type: 'Error', message: 'odd' });
});

test('loggerFromPino passes a thrown value that is not an Error as err, as it is', (t) => {
  const { pino, lines } = realPino();
  loggerFromPino(pino).error('lifecycle hook failed', { service: 'web', error: 'oops' });
  t.like(lines()[0], { msg: 'lifecycle hook failed', err: 'oops' });
});

test("loggerFromPino follows the pino logger's level, and overseer asks it before building a line", (t) => {
  const { pino, lines } = realPino('warn');
  const logger = loggerFromPino(pino);
  t.deepEqual(
    allLevels.map((level) => logs(logger, level)),
    [true, true, false, false],
  );
  logger.info('dropped');
  logger.debug('dropped');
  logger.warn('kept');
  t.deepEqual(
    lines().map(({ msg }) => msg),
    ['kept'],
  );
  pino.level = 'debug';
  t.true(logs(logger, 'debug'));
});

test('a root and its pool logging through loggerFromPino keep service, state and the crash error with its stack', async (t) => {
  const { pino, lines } = realPino();
  const logger = loggerFromPino(pino);
  const web = new ControlledService('web');
  const pool = new Pool({ name: 'app', logger });
  pool.add(web);
  const root = new Lifecycle(pool, { logger });
  const run = root.run();
  await web.started();
  web.crash();
  await t.throwsAsync(run);

  const crash = lines().find(({ msg, service }) => msg === 'service crashed' && service === 'web');
  t.like(crash, { level: 50, pool: 'app', state: 'crashed' });
  t.like(crash?.err, { type: 'Error', message: 'web failed', stack: web.error.stack });
  const rootLines = lines().filter(({ service }) => service === 'app');
  t.deepEqual(
    rootLines.map(({ msg, state }) => [msg, state]),
    [
      ['service starting', 'starting'],
      ['service running', 'running'],
      ['service stopping', 'stopping'],
      ['service crashed', 'crashed'],
    ],
  );
  t.like(rootLines.at(-1)?.err, {
    type: 'ServiceCrashedError',
    code: 'ERR_OVERSEER_SERVICE_CRASHED',
  });
  t.regex(
    String((rootLines.at(-1)?.err as { stack?: unknown }).stack),
    /caused by: Error: web failed/,
  );
});

// Serial: handleSignals listens on the process, and the test emits SIGTERM to it.
test.serial(
  'handleSignals logging through loggerFromPino writes the signal and the exit code',
  async (t) => {
    const { pino, lines } = realPino();
    const logger = loggerFromPino(pino);
    const web = new ControlledService('web');
    const pool = new Pool({ name: 'app', logger });
    pool.add(web);
    const root = new Lifecycle(pool, { logger });
    let exited!: (code: number) => void;
    const exit = new Promise<number>((resolve) => (exited = resolve));
    const remove = handleSignals(root, {
      logger,
      exit: (code) => {
        exited(code);
      },
    });
    t.teardown(remove);
    const run = root.run();
    await root.whenRunning();
    process.emit('SIGTERM', 'SIGTERM');
    t.is(await exit, 0);
    await run;

    t.like(
      lines().find(({ msg }) => msg === 'received signal, stopping'),
      { level: 30, service: 'app', signal: 'SIGTERM' },
    );
    t.like(
      lines().find(({ msg }) => msg === 'exiting'),
      { level: 30, service: 'app', state: 'stopped', code: 0 },
    );
  },
);

test("flush() resolves once pino's asynchronous destination has written every line", async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'overseer-pino-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const file = join(directory, 'log.jsonl');
  const fd = openSync(file, 'w');
  const destination = pino.destination({ dest: fd, sync: false, minLength: 4096 });
  t.teardown(() => {
    destination.destroy(); // closes fd
  });
  const logger = loggerFromPino(pino(destination));
  logger.info('exiting', { service: 'app', code: 0 });
  t.is(readFileSync(file, 'utf8'), '', 'held in the buffer until flushed');

  await logger.flush();
  t.like(JSON.parse(readFileSync(file, 'utf8')), { msg: 'exiting', service: 'app', code: 0 });
});

test("flush() rejects with the error pino's flush reports, and resolves at once without one", async (t) => {
  const ignore = () => undefined;
  const methods = { error: ignore, warn: ignore, info: ignore, debug: ignore };
  const failure = new Error('disk full');
  const failing: PinoLike = {
    ...methods,
    flush: (callback) => {
      callback(failure);
    },
  };
  t.is(await t.throwsAsync(loggerFromPino(failing).flush()), failure);
  await t.notThrowsAsync(loggerFromPino(methods).flush());
  t.true(logs(loggerFromPino(methods), 'debug'), 'without isLevelEnabled, every level is written');
});

test('loggerFromPino throws a TypeError naming pino when it is not a logger', (t) => {
  for (const value of [undefined, null, 'pino', { info: () => undefined }]) {
    t.throws(() => loggerFromPino(value as unknown as PinoLike), {
      instanceOf: TypeError,
      message:
        /^Expected `pino` to be a pino logger with error, warn, info and debug methods, got /,
    });
  }
});

// --- console ---------------------------------------------------------------------------------

test('loggerFromConsole writes one readable line per entry with every field, errors and warnings to stderr', (t) => {
  const { console, stdout, stderr } = realConsole();
  const logger = loggerFromConsole(console);
  logger.info('service running', { service: 'web', pool: 'app', state: 'running' });
  logger.info('listening', { url: 'http://127.0.0.1:3000/', port: 3000, tags: ['a'] });
  logger.warn('slow', { service: 'db', stoppingMs: 1000 });

  t.is(
    stdout(),
    'info  [web] service running pool=app state=running\n' +
      'info  listening url=http://127.0.0.1:3000/ port=3000 tags=["a"]\n',
  );
  t.is(stderr(), 'warn  [db] slow stoppingMs=1000\n');
});

test("loggerFromConsole writes an error's stack and its causes on the lines after its line", (t) => {
  const { console, stderr } = realConsole();
  const cause = new TypeError('socket hang up');
  const error = failedWith('request failed', cause);
  loggerFromConsole(console).error('service crashed', { service: 'web', state: 'crashed', error });

  t.is(
    stderr(),
    `error [web] service crashed state=crashed\n${String(error.stack)}\ncaused by: ${String(cause.stack)}\n`,
  );
});

test('loggerFromConsole writes a % in a message or field as it is, not as a format directive', (t) => {
  const { console, stdout } = realConsole();
  loggerFromConsole(console).info('100%s done %d', { service: 'a%sb', ratio: '50%' });
  t.is(stdout(), 'info  [a%sb] 100%s done %d ratio=50%\n');
});

test('loggerFromConsole writes info and above by default, and debug with level debug', (t) => {
  const { console, stdout } = realConsole();
  const quiet = loggerFromConsole(console);
  quiet.debug('dropped');
  t.deepEqual(
    allLevels.map((level) => logs(quiet, level)),
    [true, true, true, false],
  );
  const verbose = loggerFromConsole(console, { level: 'debug' });
  verbose.debug('kept', { n: 1 });
  const errorsOnly = loggerFromConsole(console, { level: 'error' });
  errorsOnly.warn('dropped');
  t.deepEqual(
    allLevels.map((level) => logs(errorsOnly, level)),
    [true, false, false, false],
  );
  t.is(stdout(), 'debug kept n=1\n');
});

test('loggerFromConsole with no argument writes to the global console', (t) => {
  const written: unknown[][] = [];
  const original = Object.getOwnPropertyDescriptor(globalThis.console, 'info')!;
  globalThis.console.info = (...data: unknown[]) => {
    written.push(data);
  };
  try {
    loggerFromConsole().info('hello', { service: 'app' });
  } finally {
    Object.defineProperty(globalThis.console, 'info', original);
  }
  t.deepEqual(written, [['%s', 'info  [app] hello']]);
});

test('a root and its pool logging through loggerFromConsole write each transition and the crash with its stack', async (t) => {
  const { console, stdout, stderr } = realConsole();
  const logger = loggerFromConsole(console);
  const web = new ControlledService('web');
  const pool = new Pool({ name: 'app', logger });
  pool.add(web);
  const root = new Lifecycle(pool, { logger });
  const run = root.run();
  await web.started();
  web.crash();
  await t.throwsAsync(run);

  const out = stdout().split('\n');
  t.true(out.includes('info  [app] service starting state=starting'));
  t.true(out.includes('info  [web] service running pool=app state=running'));
  t.true(out.includes('info  [app] service stopping state=stopping'));
  const err = stderr();
  t.true(
    err.startsWith(
      `error [web] service crashed pool=app state=crashed\n${String(web.error.stack)}\n`,
    ),
  );
  t.true(err.includes('error [app] service crashed state=crashed\nServiceCrashedError: '));
  t.true(err.includes(`caused by: ${String(web.error.stack)}`));
});

test('loggerFromConsole throws a TypeError naming the argument or option that is wrong', (t) => {
  t.throws(() => loggerFromConsole({ log: () => undefined } as unknown as ConsoleLike), {
    instanceOf: TypeError,
    message:
      'Expected `console` to be a console with error, warn, info and debug methods, got an object (Object)',
  });
  t.throws(() => loggerFromConsole(console, { level: 'trace' as LogLevel }), {
    instanceOf: TypeError,
    message:
      'Expected `options.level` to be one of error, warn, info, debug, got `"trace"` (string)',
  });
  t.throws(() => loggerFromConsole(console, { levle: 'debug' } as LoggerFromConsoleOptions), {
    instanceOf: TypeError,
    message: 'Unknown option `options.levle`; the known options are `level`',
  });
  t.throws(() => loggerFromConsole(console, null as unknown as LoggerFromConsoleOptions), {
    instanceOf: TypeError,
    message: /^Expected `options` to be an object, got `null`/,
  });
});

test('flush() of loggerFromConsole waits for stdout to write a 20,000-line burst to a pipe before the program exits', async (t) => {
  const program = spawnFixture(t, 'console-burst', ['20000']);
  // stdout is a pipe: writes to it are asynchronous, so process.exit() would drop what is queued.
  const exit = await program.exited();
  t.deepEqual(exit, { code: 0, signal: null });
  const lines = program.lines.filter((line) => line.startsWith('info  [burst] line '));
  t.is(lines.length, 20_000);
  t.is(lines.at(-1), 'info  [burst] line n=19999');
});
