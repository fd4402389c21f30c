import test from 'ava';
import { PassThrough } from 'node:stream';
import {
  createLogger,
  silentLogger,
  type CreateLoggerOptions,
  type Logger,
  type LogLevel,
} from '../lib/index.js';
import { logs as isLevelEnabled } from '../lib/internal/log.js';
import { captureLogs } from './helpers/logs.js';

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
  logger.error('pool crashed', { error: new AggregateError([inner], '1 failure', { cause: 42 }) });

  const [line] = await lines(1);
  const { error } = JSON.parse(line ?? '{}') as { error: Record<string, unknown> };
  t.is(error.message, '1 failure');
  t.is(error.cause, 42);
  t.deepEqual(
    (error.errors as Record<string, unknown>[]).map(({ name, message }) => ({ name, message })),
    [{ name: 'Error', message: 'web failed' }],
  );
});

test('createLogger throws a TypeError naming options.stream when it is not writable', (t) => {
  t.throws(() => createLogger({ stream: 42 as never }), {
    instanceOf: TypeError,
    message: 'Expected `options.stream` to be a writable stream, got `42` (number)',
  });
});
