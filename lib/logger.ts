import winston from 'winston';
import { assertObject, invalid } from './validate.js';

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

function ignore(): void {
  // A library does not write to a program's console unless asked.
}

/** The default logger: it drops everything. */
export const silentLogger: Logger = Object.freeze({
  error: ignore,
  warn: ignore,
  info: ignore,
  debug: ignore,
});

/**
 * Whether a message at `level` would be written, so hot paths can skip building metadata.
 * Asks winston's `isLevelEnabled` when the logger has one.
 */
export function isLevelEnabled(logger: Logger, level: LogLevel): boolean {
  if (logger === silentLogger) return false;
  const check = (logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
  return typeof check === 'function' ? check.call(logger, level) : true;
}

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

/**
 * A ready winston logger for programs that want overseer's logs (overseer itself never writes
 * anywhere unless given a logger).
 *
 * @throws {TypeError} when `level` or `format` is not one of the listed values.
 * @example
 * ```ts
 * const logger = createLogger({ level: 'debug', format: 'pretty' });
 * const pool = new Pool({ name: 'app', logger });
 * ```
 */
export function createLogger(options: CreateLoggerOptions = {}): winston.Logger {
  assertObject(options, 'options');
  const { level = 'info', stream = process.stdout } = options;
  if (!levels.includes(level)) invalid('options.level', `one of ${levels.join(', ')}`, level);
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

function serializeError(error: Error): Record<string, unknown> {
  const { name, message, stack } = error;
  const code = (error as { code?: unknown }).code;
  const serialized: Record<string, unknown> = { name, message, stack };
  if (code !== undefined) serialized.code = code;
  if (error.cause instanceof Error) serialized.cause = serializeError(error.cause);
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
        .map(
          ([key, value]) => ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
        )
        .join('');
      const failure = error ? `\n${error.stack ?? error.message}` : '';
      return `${String(timestamp)} ${level.padEnd(5)}${scope} ${String(message)}${fields}${failure}`;
    }),
  );
}
