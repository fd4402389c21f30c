import winston from 'winston';
import { silent } from './internal/log.js';
import { assertOptions, describe, invalid } from './internal/validate.js';

/**
 * What overseer logs through. A winston logger satisfies it as is; so do `console`-like objects
 * and pino.
 */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  debug(message: string, meta?: Record<string, unknown>): unknown;
}

/** The log levels overseer uses, most severe first. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const levels: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** The default logger: it drops everything. A library does not write to a program's console unless asked. */
export const silentLogger: Logger = silent;

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** The most verbose level written. @default 'info' */
  level?: LogLevel;
  /**
   * `'json'`: one JSON object per line, for log collectors. `'pretty'`: a timestamped,
   * human-readable line. @default 'pretty' when the stream is a terminal, otherwise 'json'
   */
  format?: 'json' | 'pretty';
  /** Where lines are written. @default process.stdout */
  stream?: NodeJS.WritableStream;
}

// Every option, listed once; the compiler checks the list against CreateLoggerOptions.
const optionNames = Object.keys({
  level: true,
  format: true,
  stream: true,
} satisfies Record<keyof CreateLoggerOptions, true>);

/**
 * A ready winston logger for programs that want overseer's logs (overseer itself never writes
 * anywhere unless given a logger).
 *
 * @throws {TypeError} when an option is unknown, or `level`, `format` or `stream` is not one of
 * the listed values.
 * @example
 * ```ts
 * const logger = createLogger({ level: 'debug', format: 'pretty' });
 * const pool = new Pool({ name: 'app', logger });
 * ```
 */
export function createLogger(options: CreateLoggerOptions = {}): winston.Logger {
  assertOptions(options, 'options', optionNames);
  const { level = 'info', stream = process.stdout } = options;
  if (!levels.includes(level)) invalid('options.level', `one of ${levels.join(', ')}`, level);
  if (typeof (stream as Partial<NodeJS.WritableStream> | null)?.write !== 'function') {
    invalid('options.stream', 'a writable stream', stream);
  }
  const format: unknown = options.format ?? (isTerminal(stream) ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') {
    invalid('options.format', "'json' or 'pretty'", format);
  }
  return winston.createLogger({
    level,
    levels: winston.config.npm.levels,
    format: format === 'json' ? jsonFormat() : prettyFormat(),
    transports: [new winston.transports.Stream({ stream })],
  });
}

function isTerminal(stream: NodeJS.WritableStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

/** Errors in metadata become plain objects, so JSON output keeps their message and code. */
const serializeErrors = winston.format((info) => {
  for (const [key, value] of Object.entries(info)) {
    if (value instanceof Error) info[key] = serializeError(value);
  }
  return info;
});

// A cause chain can loop; past this depth it is cut.
const maxCauseDepth = 8;

function serializeError(error: Error, depth = 0): Record<string, unknown> {
  const { name, message, stack, cause } = error;
  const serialized: Record<string, unknown> = { name, message, stack };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) serialized.code = code;
  if (depth >= maxCauseDepth) return serialized;
  if (error instanceof AggregateError) {
    serialized.errors = (error.errors as unknown[]).map((inner) =>
      inner instanceof Error ? serializeError(inner, depth + 1) : inner,
    );
  }
  if (cause !== undefined) {
    serialized.cause = cause instanceof Error ? serializeError(cause, depth + 1) : cause;
  }
  return serialized;
}

function jsonFormat(): winston.Logform.Format {
  return winston.format.combine(
    winston.format.timestamp(),
    serializeErrors(),
    winston.format.json(),
  );
}

function prettyFormat(): winston.Logform.Format {
  return winston.format.combine(
    winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
    winston.format.printf((info) => {
      const { timestamp, level, message, service, ...rest } = info;
      const error = rest.error instanceof Error ? rest.error : undefined;
      if (error) delete rest.error;
      const scope = typeof service === 'string' ? ` [${service}]` : '';
      const fields = Object.entries(rest)
        .map(([key, value]) => ` ${key}=${formatValue(value)}`)
        .join('');
      const failure = error ? `\n${describeFailure(error)}` : '';
      return `${String(timestamp)} ${level.padEnd(5)}${scope} ${String(message)}${fields}${failure}`;
    }),
  );
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  // JSON has no text for these: JSON.stringify() returns undefined.
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    return describe(value);
  }
  try {
    return JSON.stringify(value);
  } catch {
    return describe(value); // a bigint, a cycle
  }
}

/** The stack, then each error an aggregate holds and each cause, indented. */
function describeFailure(error: Error, depth = 0): string {
  const lines = [error.stack ?? `${error.name}: ${error.message}`];
  if (depth < maxCauseDepth) {
    if (error instanceof AggregateError) {
      for (const inner of error.errors as unknown[]) {
        lines.push(
          indent(inner instanceof Error ? describeFailure(inner, depth + 1) : formatValue(inner)),
        );
      }
    }
    const { cause } = error;
    if (cause instanceof Error) lines.push(`caused by: ${describeFailure(cause, depth + 1)}`);
    else if (cause !== undefined) lines.push(`caused by: ${formatValue(cause)}`);
  }
  return lines.join('\n');
}

function indent(text: string): string {
  return text.replace(/^/gm, '    ');
}
