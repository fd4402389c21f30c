import test from 'ava';
import { PassThrough } from 'node:stream';
import {
  createLogger,
  Lifecycle,
  Pool,
  silentLogger,
  type CreateLoggerOptions,
  type Logger,
  type LogLevel,
} from '../lib/index.js';
import { logs as isLevelEnabled } from '../lib/internal/log.js';
import { aborted } from './helpers/lifecycle.js';
import { brokenLogger, captureLogs, spyOnWarnings, type LogEntry } from './helpers/logs.js';
import { recordStates } from './helpers/record.js';
import { ControlledService } from './helpers/service.js';

const allLevels: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** A pretty line: `HH:mm:ss.SSS level [service] message key=value…`. */
const timestamp = String.raw`\d{2}:\d{2}:\d{2}\.\d{3}`;

/**
 * A logger from createLogger writing into a PassThrough; `until` resolves once the text written
 * so far satisfies a condition (logging goes through winston's streams, so it waits for data).
 */
function record(options: Omit<CreateLoggerOptions, 'stream'> = {}, { tty = false } = {}) {
  const stream = new PassThrough();
  if (tty) Object.assign(stream, { isTTY: true });
  const logger = createLogger({ ...options, stream });
  let text = '';
  const waiters: { condition: (text: string) => boolean; resolve: (text: string) => void }[] = [];
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    for (const waiter of waiters.filter(({ condition }) => condition(text))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(text);
    }
  });
  const until = (condition: (text: string) => boolean): Promise<string> =>
    condition(text)
      ? Promise.resolve(text)
      : new Promise((resolve) => waiters.push({ condition, resolve }));
  /** Resolves with the first `count` complete lines. */
  const lines = async (count: number): Promise<string[]> => {
    const written = await until((text) => text.split('\n').length > count);
    return written.split('\n').slice(0, count);
  };
  return { logger, lines, until };
}

function parse(line: string | undefined): Record<string, unknown> {
  return JSON.parse(line ?? 'missing line') as Record<string, unknown>;
}

test('the json format writes one object per line with level, message, timestamp and metadata', async (t) => {
  const { logger, lines } = record({ format: 'json' });
  logger.info('listening', { service: 'http', url: 'http://127.0.0.1:3000/', port: 3000 });
  logger.warn('slow', { tags: ['a', 'b'] });

  const [first, second] = await lines(2);
  const entry = parse(first);
  t.deepEqual(Object.keys(entry).sort(), [
    'level',
    'message',
    'port',
    'service',
    'timestamp',
    'url',
  ]);
  t.like(entry, {
    level: 'info',
    message: 'listening',
    service: 'http',
    url: 'http://127.0.0.1:3000/',
    port: 3000,
  });
  const stamp = String(entry.timestamp);
  t.is(new Date(stamp).toISOString(), stamp);
  t.like(parse(second), { level: 'warn', message: 'slow', tags: ['a', 'b'] });
});

test('the json format serializes an Error in metadata with name, message, stack, code and cause', async (t) => {
  const { logger, lines } = record({ format: 'json' });
  const cause = Object.assign(new TypeError('socket hang up'), { code: 'ECONNRESET' });
  const error = Object.assign(new Error('request failed', { cause }), { code: 'ERR_REQUEST' });
  logger.error('service crashed', { service: 'http', error });

  const entry = parse((await lines(1))[0]);
  t.like(entry, { level: 'error', message: 'service crashed', service: 'http' });
  t.deepEqual(entry.error, {
    name: 'Error',
    message: 'request failed',
    stack: error.stack,
    code: 'ERR_REQUEST',
    cause: {
      name: 'TypeError',
      message: 'socket hang up',
      stack: cause.stack,
      code: 'ECONNRESET',
    },
  });
});

test('the json format leaves out code and cause when the error has none', async (t) => {
  const { logger, lines } = record({ format: 'json' });
  const error = new RangeError('out of range');
  logger.error('failed', { error });

  const entry = parse((await lines(1))[0]);
  t.deepEqual(entry.error, { name: 'RangeError', message: 'out of range', stack: error.stack });
});

test('the pretty format writes the time, level, [service] scope, message and key=value fields', async (t) => {
  const { logger, lines } = record({ format: 'pretty' });
  logger.info('listening', { service: 'http', url: 'http://127.0.0.1:3000/', port: 3000 });
  logger.warn('slow', { tags: ['a', 'b'], pool: 'app' });

  const [first, second] = await lines(2);
  t.regex(
    first ?? '',
    new RegExp(
      String.raw`^${timestamp} info  \[http\] listening url=http://127\.0\.0\.1:3000/ port=3000$`,
    ),
  );
  // Without a service there is no scope; non-string values are written as JSON.
  t.regex(
    second ?? '',
    new RegExp(String.raw`^${timestamp} warn  slow tags=\["a","b"\] pool=app$`),
  );
});

test('the pretty format writes an error stack on the lines after the message', async (t) => {
  const { logger, until } = record({ format: 'pretty' });
  const error = new Error('listen EADDRINUSE');
  logger.error('service crashed', { service: 'http', pool: 'app', state: 'crashed', error });

  const text = await until((written) => written.endsWith('\n'));
  const [first, ...rest] = text.trimEnd().split('\n');
  t.regex(
    first ?? '',
    new RegExp(String.raw`^${timestamp} error \[http\] service crashed pool=app state=crashed$`),
  );
  t.is(rest.join('\n'), String(error.stack));
});

test('the pretty format writes an error value that is not an Error as a key=value field', async (t) => {
  // A hook may throw anything; 'lifecycle hook failed' logs what it threw as `error`.
  const { logger, lines } = record({ format: 'pretty' });
  logger.error('lifecycle hook failed', { service: 'http', event: 'running', error: 'oops' });
  logger.error('lifecycle hook failed', { service: 'http', event: 'running', error: { code: 42 } });

  const [first, second] = await lines(2);
  t.regex(first ?? '', /\[http\] lifecycle hook failed .*\berror=oops\b/);
  t.regex(second ?? '', /\[http\] lifecycle hook failed .*\berror=\{"code":42\}/);
});

test("a 'warn' logger drops info and debug and writes warn and error", async (t) => {
  const { logger, lines } = record({ level: 'warn', format: 'json' });
  logger.debug('dropped');
  logger.info('dropped');
  logger.warn('kept');
  logger.error('kept too');

  // Lines keep their order: a written info line would come first.
  const entries = (await lines(2)).map(parse);
  t.deepEqual(
    entries.map(({ level, message }) => [level, message]),
    [
      ['warn', 'kept'],
      ['error', 'kept too'],
    ],
  );
});

test('the level defaults to info, and the format to json on a stream that is not a terminal', async (t) => {
  const { logger, lines } = record();
  t.is(logger.level, 'info');
  logger.debug('dropped');
  logger.info('kept', { n: 1 });

  t.like(parse((await lines(1))[0]), { level: 'info', message: 'kept', n: 1 });
});

test('the format defaults to pretty on a terminal stream', async (t) => {
  const { logger, lines } = record({}, { tty: true });
  logger.info('hello', { service: 'app' });

  const [line] = await lines(1);
  t.regex(line ?? '', new RegExp(String.raw`^${timestamp} info  \[app\] hello$`));
});

test('an explicit format wins over the terminal default', async (t) => {
  const { logger, lines } = record({ format: 'json' }, { tty: true });
  logger.info('hello');

  t.like(parse((await lines(1))[0]), { level: 'info', message: 'hello' });
});

test('createLogger throws a TypeError naming options.level for an unknown level', (t) => {
  t.throws(() => createLogger({ level: 'verbose' as LogLevel }), {
    instanceOf: TypeError,
    message:
      'Expected `options.level` to be one of error, warn, info, debug, got `"verbose"` (string)',
  });
});

test('createLogger throws a TypeError naming options.format for an unknown format', (t) => {
  t.throws(() => createLogger({ format: 'xml' as 'json' }), {
    instanceOf: TypeError,
    message: /^Expected `options.format` to be 'json' or 'pretty', got `"xml"` \(string\)$/,
  });
});

test('createLogger throws a TypeError when options is not an object', (t) => {
  for (const options of [null, 'info', 42]) {
    t.throws(() => createLogger(options as CreateLoggerOptions), {
      instanceOf: TypeError,
      message: /^Expected `options` to be an object, got /,
    });
  }
});

test('createLogger rejects an unknown option with a TypeError naming it', (t) => {
  const options = { level: 'debug', fromat: 'json' } as CreateLoggerOptions;
  const error = t.throws(() => createLogger(options), {
    instanceOf: TypeError,
    message: 'Unknown option `options.fromat`; the known options are `level`, `format`, `stream`',
  });
  t.true(error.message.includes('fromat`') && error.message.includes('`format`'));
});

test('createLogger takes a known option set to undefined as its default', async (t) => {
  // Level info, and json on a stream that is not a terminal.
  const { logger, lines } = record({ level: undefined, format: undefined });
  logger.debug('hidden');
  logger.info('shown');
  t.like(parse((await lines(1))[0]), { level: 'info', message: 'shown' });
});

test('silentLogger has the four methods and is frozen', (t) => {
  for (const level of allLevels) t.is(typeof silentLogger[level], 'function');
  t.true(Object.isFrozen(silentLogger));
});

// Serial: it replaces process.stdout.write and process.stderr.write for a moment.
test.serial('silentLogger writes nothing', (t) => {
  const written: unknown[] = [];
  const streams = [process.stdout, process.stderr];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back on the same streams below
  const writes = streams.map((stream) => stream.write);
  for (const stream of streams) {
    stream.write = (chunk: unknown) => {
      written.push(chunk);
      return true;
    };
  }
  try {
    for (const level of allLevels) {
      t.is(silentLogger[level]('message', { error: new Error('boom') }), undefined);
    }
  } finally {
    streams.forEach((stream, index) => {
      stream.write = writes[index]!;
    });
  }
  t.deepEqual(written, []);
});

test('isLevelEnabled is false for every level of silentLogger', (t) => {
  t.deepEqual(
    allLevels.map((level) => isLevelEnabled(silentLogger, level)),
    [false, false, false, false],
  );
});

test('isLevelEnabled follows the level of a winston logger', (t) => {
  const enabled = (level: string) =>
    allLevels.map((asked) => isLevelEnabled(captureLogs(level).logger, asked));
  t.deepEqual(enabled('error'), [true, false, false, false]);
  t.deepEqual(enabled('warn'), [true, true, false, false]);
  t.deepEqual(enabled('info'), [true, true, true, false]);
  t.deepEqual(enabled('debug'), [true, true, true, true]);
});

test('isLevelEnabled follows the level of a createLogger logger', (t) => {
  const logger = createLogger({ level: 'warn', stream: new PassThrough() });
  t.deepEqual(
    allLevels.map((level) => isLevelEnabled(logger, level)),
    [true, true, false, false],
  );
});

test('isLevelEnabled is true for every level of a plain object logger', (t) => {
  const ignore = () => undefined;
  const logger: Logger = { error: ignore, warn: ignore, info: ignore, debug: ignore };
  t.deepEqual(
    allLevels.map((level) => isLevelEnabled(logger, level)),
    [true, true, true, true],
  );
});

test("isLevelEnabled asks a plain logger's own isLevelEnabled method, bound to the logger", (t) => {
  const ignore = () => undefined;
  const asked: [unknown, string][] = [];
  const logger = {
    error: ignore,
    warn: ignore,
    info: ignore,
    debug: ignore,
    isLevelEnabled(this: unknown, level: string) {
      asked.push([this, level]);
      return level === 'error';
    },
  };
  t.deepEqual(
    allLevels.map((level) => isLevelEnabled(logger, level)),
    [true, false, false, false],
  );
  t.deepEqual(asked, [
    [logger, 'error'],
    [logger, 'warn'],
    [logger, 'info'],
    [logger, 'debug'],
  ]);
});

test('the pretty format follows the cause chain and the errors of an aggregate', async (t) => {
  const { logger, until } = record({ format: 'pretty' });
  const root = new Error('connection refused');
  const crash = new Error('database unreachable', { cause: root });
  const aggregate = new AggregateError([crash, 'not an error'], '2 failures');
  logger.error('service crashed', { service: 'app', error: aggregate });

  const text = await until((written) => written.includes('caused by: Error: connection refused'));
  const lines = text.split('\n');
  t.is(lines[1], 'AggregateError: 2 failures');
  t.true(lines.includes('    Error: database unreachable'));
  t.true(lines.includes('    caused by: Error: connection refused'));
  t.true(lines.includes('    not an error'));
});

test('the pretty format writes an Error that is not the error field as name: message', async (t) => {
  const { logger, lines } = record({ format: 'pretty' });
  logger.info('retrying', { last: new TypeError('bad input'), attempts: 2n, callback: () => 1 });

  const [line] = await lines(1);
  t.regex(
    line ?? '',
    /retrying last=TypeError: bad input attempts=`2` \(bigint\) callback=a function$/,
  );
});

test('the json format keeps the errors of an aggregate and a cause that is not an Error', async (t) => {
  const { logger, lines } = record({ format: 'json' });
  const inner = new Error('web failed');
  const aggregate = new AggregateError([inner, 'not an error'], '2 failures', { cause: 42 });
  logger.error('pool crashed', { error: aggregate });

  const [line] = await lines(1);
  const { error } = JSON.parse(line ?? '{}') as { error: Record<string, unknown> };
  t.is(error.message, '2 failures');
  t.is(error.cause, 42);
  t.deepEqual(error.errors, [
    { name: 'Error', message: 'web failed', stack: inner.stack },
    'not an error',
  ]);
});

test('createLogger throws a TypeError naming options.stream when it is not writable', (t) => {
  t.throws(() => createLogger({ stream: 42 as never }), {
    instanceOf: TypeError,
    message: 'Expected `options.stream` to be a writable stream, got `42` (number)',
  });
});

// --- a root lifecycle logs its own transitions -------------------------------------------------

/** The level, message and fields of each entry, without winston's symbols. */
function plain(entries: LogEntry[]): Record<string, unknown>[] {
  return entries.map((entry) => Object.fromEntries(Object.entries(entry)));
}

test('a root lifecycle given a logger logs each of its transitions at info, with service and state, and why it stops', async (t) => {
  const { logger, entries } = captureLogs();
  const service = new ControlledService('worker');
  const lifecycle = new Lifecycle(service, { logger });
  const run = lifecycle.run();
  await service.started();
  await lifecycle.stop({ reason: 'SIGTERM' });
  await run;

  t.deepEqual(
    plain(entries),
    (['starting', 'running', 'stopping', 'stopped'] as const).map((state) => ({
      level: 'info',
      message: `service ${state}`,
      service: 'worker',
      state,
      ...(state === 'stopping' ? { reason: 'stop requested: SIGTERM' } : {}),
    })),
  );
});

test('a root that crashes logs "service crashed" at error with its error', async (t) => {
  const { logger, entries } = captureLogs();
  const service = new ControlledService('worker');
  const lifecycle = new Lifecycle(service, { logger });
  const run = lifecycle.run();
  await service.started();
  service.crash();
  await t.throwsAsync(run);

  t.deepEqual(plain(entries).at(-1), {
    level: 'error',
    message: 'service crashed',
    service: 'worker',
    state: 'crashed',
    error: service.error,
  });
  t.deepEqual(
    entries.map(({ message }) => message),
    ['service starting', 'service running', 'service crashed'],
  );
});

test('a root whose logger writes warn and above logs its crash but none of its other transitions', async (t) => {
  const { logger, entries } = captureLogs('warn');
  const service = new ControlledService('worker', { whenAsked: 'crash' });
  const lifecycle = new Lifecycle(service, { logger });
  const run = lifecycle.run();
  await service.started();
  t.is(await lifecycle.stop(), 'crashed');
  await t.throwsAsync(run);

  t.deepEqual(
    entries.map(({ level, message }) => [level, message]),
    [['error', 'service crashed']],
  );
});

test('a child logs nothing about itself: its pool logs its transitions, and the root its own, once each', async (t) => {
  const { logger, entries } = captureLogs();
  const web = new ControlledService('web');
  const pool = new Pool({ name: 'app', logger });
  pool.add(web);
  const root = new Lifecycle(pool, { logger });
  const run = root.run();
  await root.whenRunning();
  await root.stop();
  await run;

  const transitions = (service: string) =>
    plain(entries)
      .filter((entry) => entry.service === service)
      .map(({ state, pool }) => [state, pool]);
  const states = ['starting', 'running', 'stopping', 'stopped'];
  t.deepEqual(
    transitions('web'),
    states.map((state) => [state, 'app']),
  );
  t.deepEqual(
    transitions('app'),
    states.map((state) => [state, undefined]),
  );
});

test('a root whose name getter throws still logs its transitions, without the name, and runs as usual', async (t) => {
  const { logger, entries } = captureLogs();
  let broken = false;
  let fail!: (error: Error) => void;
  const service = {
    get name(): string {
      if (broken) throw new Error('name lookup failed');
      return 'flaky';
    },
    runWithLifecycle: (lifecycle: Lifecycle) =>
      new Promise<void>((_resolve, reject) => {
        fail = reject;
        lifecycle.running();
      }),
  };
  const lifecycle = new Lifecycle(service, { logger });
  const run = lifecycle.run();
  await lifecycle.whenRunning();
  broken = true;
  fail(new Error('service failed'));
  const error = await t.throwsAsync(run);

  t.is(error.message, 'name lookup failed', "the crash is the getter's error, as without a logger");
  t.deepEqual(plain(entries), [
    { level: 'info', message: 'service starting', service: 'flaky', state: 'starting' },
    { level: 'info', message: 'service running', service: 'flaky', state: 'running' },
    { level: 'error', message: 'service crashed', state: 'crashed', error },
  ]);
});

test('logging its transitions reads the service name of a root once each, and not at all without a logger', async (t) => {
  let reads = 0;
  let started!: () => void;
  const service = {
    get name(): string {
      reads++;
      return 'counted';
    },
    async runWithLifecycle(lifecycle: Lifecycle) {
      lifecycle.running();
      started();
      await aborted(lifecycle.signal);
      lifecycle.stopping();
    },
  };
  /** How many times one run and stop read the name (waiting with no call that reads it). */
  const readsOfOneRun = async (lifecycle: Lifecycle) => {
    const running = new Promise<void>((resolve) => (started = resolve));
    const before = reads;
    const run = lifecycle.run();
    await running;
    await lifecycle.stop();
    await run;
    return reads - before;
  };
  t.is(await readsOfOneRun(new Lifecycle(service)), 0);
  t.is(await readsOfOneRun(new Lifecycle(service, { logger: captureLogs().logger })), 4);
});

test('the logger createLogger returns has winston child loggers, and end() ends it', async (t) => {
  const { logger, lines } = record({ format: 'json' });
  logger.child({ service: 'http' }).info('listening', { port: 3000 });
  const finished = new Promise<void>((resolve) => {
    (logger as unknown as NodeJS.EventEmitter).once('finish', () => {
      resolve();
    });
  });
  logger.end();
  await finished;
  t.like(parse((await lines(1))[0]), { level: 'info', message: 'listening', service: 'http' });
});

/** An error that is its own cause: a chain that loops. */
function looping(): Error {
  const error = new Error('loop');
  error.cause = error;
  return error;
}

test('the json and pretty formats cut a cause chain that loops after 8 causes', async (t) => {
  const json = record({ format: 'json' });
  json.logger.error('failed', { error: looping() });
  let depth = 0;
  let serialized = parse((await json.lines(1))[0]).error as { cause?: unknown } | undefined;
  while (serialized?.cause !== undefined) {
    depth++;
    serialized = serialized.cause as { cause?: unknown };
  }
  t.is(depth, 8);

  const pretty = record({ format: 'pretty' });
  pretty.logger.error('failed', { error: looping() });
  const text = await pretty.until((written) => written.endsWith('\n'));
  t.is(text.split('\n').filter((line) => line.startsWith('caused by: Error: loop')).length, 8);
});

test('the pretty format writes name: message for an error without a stack, and a cause that is not an Error as a value', async (t) => {
  const { logger, until } = record({ format: 'pretty' });
  const error = new RangeError('no stack here', { cause: { code: 42 } });
  error.stack = undefined;
  logger.error('failed', { error });

  const text = await until((written) => written.includes('caused by'));
  t.deepEqual(text.split('\n').slice(1, 3), [
    'RangeError: no stack here',
    'caused by: {"code":42}',
  ]);
});

// Serial: it replaces process.emitWarning.
test.serial(
  'a root whose logger throws, and whose warning about it throws too, still makes every transition',
  async (t) => {
    const warnings = spyOnWarnings(t);
    process.emitWarning = () => {
      warnings.push({ message: 'thrown', code: undefined });
      throw new RangeError('Maximum call stack size exceeded');
    };
    const { logger } = brokenLogger('throw');
    const service = new ControlledService('worker');
    const lifecycle = new Lifecycle(service, { logger });
    const states = recordStates(lifecycle);
    const run = lifecycle.run();
    await service.started();
    t.is(await lifecycle.stop(), 'stopped');
    await run;

    t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
    t.true(warnings.length > 0, 'the warning was attempted');
  },
);
