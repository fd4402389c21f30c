import { createRequire } from 'node:module';
// Types only, for the implementation: no exported declaration names winston, so the published
// .d.ts files do not import it and winston is loaded by the first createLogger() call alone.
import type Winston from 'winston';
import { readableLine } from './internal/format-line.js';
import { silent } from './internal/log.js';
import { assertLevel } from './internal/log-level.js';
import { serializeError } from './internal/serialize-error.js';
import { assertOptions, invalid } from './internal/validate.js';

/**
 * What overseer logs through: `logger.info(message, meta)`, with the metadata (`service`,
 * `state`, `error`, …) as an object. A winston logger and `createLogger()`'s satisfy it as they
 * are; wrap pino with {@link loggerFromPino} and a console with {@link loggerFromConsole} (pino
 * takes `(meta, message)`, so given as is it would drop every field).
 */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  debug(message: string, meta?: Record<string, unknown>): unknown;
  /**
   * Whether a message at `level` would be written. When present, overseer skips building the
   * metadata of lines that would be dropped; a logger without it gets every line.
   */
  isLevelEnabled?(level: LogLevel): boolean;
  /**
   * Writes out what the logger still holds; may return a promise. `handleSignals` calls it, when
   * present, before the process exits.
   */
  flush?(): unknown;
}

/** The log levels overseer uses, most severe first. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

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

/**
 * The winston logger {@link createLogger} returns, as far as overseer promises its type (the
 * object is a full `winston.Logger`; overseer's types do not depend on winston's).
 */
export interface WinstonLogger extends Logger {
  /** The most verbose level written; assign it to change the level. */
  level: string;
  isLevelEnabled(level: string): boolean;
  /** A logger that adds `meta` to every line, such as `{ service: 'http' }`. */
  child(meta: Record<string, unknown>): WinstonLogger;
  /**
   * Ends the logger: lines logged afterwards are dropped, and its transports finish writing
   * what they hold, then emit `'finish'`.
   */
  end(): unknown;
}

// Every option, listed once; the compiler checks the list against CreateLoggerOptions.
const optionNames = Object.keys({
  level: true,
  format: true,
  stream: true,
} satisfies Record<keyof CreateLoggerOptions, true>);

/**
 * A ready winston logger for programs that want overseer's logs (overseer itself never writes
 * anywhere unless given a logger). winston is loaded by the first call, not when overseer is
 * imported.
 *
 * @throws {TypeError} when an option is unknown, or `level`, `format` or `stream` is not one of
 * the listed values.
 * @example
 * ```ts
 * import { createLogger, Lifecycle, Pool } from 'overseer';
 *
 * const logger = createLogger({ level: 'debug', format: 'pretty' });
 * const pool = new Pool({ name: 'app', logger });
 * const lifecycle = new Lifecycle(pool, { logger });
 * ```
 */
export function createLogger(options: CreateLoggerOptions = {}): WinstonLogger {
  assertOptions(options, 'options', optionNames);
  const { level = 'info', stream = process.stdout } = options;
  assertLevel(level, 'options.level');
  if (typeof (stream as Partial<NodeJS.WritableStream> | null)?.write !== 'function') {
    invalid('options.stream', 'a writable stream', stream);
  }
  const format: unknown = options.format ?? (isTerminal(stream) ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') {
    invalid('options.format', "'json' or 'pretty'", format);
  }
  const winston = loadWinston();
  return winston.createLogger({
    level,
    levels: winston.config.npm.levels,
    format: format === 'json' ? jsonFormat(winston) : prettyFormat(winston),
    transports: [new winston.transports.Stream({ stream })],
  });
}

// winston is CommonJS, and only createLogger() needs it: loaded on first use, not at import.
function loadWinston(): typeof Winston {
  return createRequire(import.meta.url)('winston') as typeof Winston;
}

function isTerminal(stream: NodeJS.WritableStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

function jsonFormat(winston: typeof Winston): Winston.Logform.Format {
  /** Errors in metadata become plain objects, so JSON output keeps their message and code. */
  const serializeErrors = winston.format((info) => {
    for (const [key, value] of Object.entries(info)) {
      if (value instanceof Error) info[key] = serializeError(value);
    }
    return info;
  });
  return winston.format.combine(
    winston.format.timestamp(),
    serializeErrors(),
    winston.format.json(),
  );
}

function prettyFormat(winston: typeof Winston): Winston.Logform.Format {
  return winston.format.combine(
    winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
    winston.format.printf((info) => {
      const { timestamp, level, message, ...meta } = info;
      return `${String(timestamp)} ${readableLine(level, message, meta)}`;
    }),
  );
}
