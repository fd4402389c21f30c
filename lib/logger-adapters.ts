import type { Logger, LogLevel } from './logger.js';
import { readableLine } from './internal/format-line.js';
import { assertLevel, logLevels } from './internal/log-level.js';
import { serializeErrorForPino } from './internal/serialize-error.js';
import { assertOptions, invalid } from './internal/validate.js';

/**
 * What {@link loggerFromPino} needs of a pino logger (any pino from 7 on; overseer does not
 * import pino): its four methods, which take `(object, message)`, and, when present,
 * `isLevelEnabled` and `flush`.
 */
export interface PinoLike {
  error(object: object, message: string): unknown;
  warn(object: object, message: string): unknown;
  info(object: object, message: string): unknown;
  debug(object: object, message: string): unknown;
  isLevelEnabled?(level: string): boolean;
  flush?(callback: (error?: Error | null) => void): unknown;
}

/** What {@link loggerFromConsole} needs of a console: `console` itself, or a `new Console(stream)`. */
export interface ConsoleLike {
  error(...data: unknown[]): unknown;
  warn(...data: unknown[]): unknown;
  info(...data: unknown[]): unknown;
  debug(...data: unknown[]): unknown;
}

/** Options of {@link loggerFromConsole}. */
export interface LoggerFromConsoleOptions {
  /** The most verbose level written. @default 'info' */
  level?: LogLevel;
}

/** A {@link Logger} made by an adapter: it says which levels it writes, and can be flushed. */
export interface AdaptedLogger extends Logger {
  isLevelEnabled(level: LogLevel): boolean;
  /**
   * Resolves once what was logged is written: pino's `flush()`; for a console, what
   * process.stdout and process.stderr still hold.
   */
  flush(): Promise<void>;
}

/**
 * A {@link Logger} that writes to a pino logger, keeping every field overseer logs: each line is
 * `pino[level](fields, message)`. The error of a crash or a failure goes under `err`, where
 * pino's standard serializer writes its `type`, `message` (with its causes') and `stack`; an
 * Error in any other field is written in the same form (with its `cause` nested), where JSON
 * would give `{}`. Levels follow the pino logger's own level; `flush()` calls pino's.
 *
 * @throws {TypeError} (argument `pino`) when it lacks an error, warn, info or debug method.
 * @example
 * ```ts
 * import pino from 'pino';
 * import { handleSignals, Lifecycle, loggerFromPino, Pool } from 'overseer';
 *
 * const logger = loggerFromPino(pino());
 * const lifecycle = new Lifecycle(new Pool({ name: 'app', logger }), { logger });
 * handleSignals(lifecycle, { logger });
 * ```
 */
export function loggerFromPino(pino: PinoLike): AdaptedLogger {
  assertMethods(pino, 'pino', 'a pino logger');
  return adapted(
    (level, message, meta) => pino[level](pinoFields(meta), message),
    (level) => pino.isLevelEnabled?.(level) ?? true,
    () => flushPino(pino),
  );
}

type Write = (level: LogLevel, message: string, meta?: Record<string, unknown>) => unknown;

function adapted(
  write: Write,
  isLevelEnabled: (level: LogLevel) => boolean,
  flush: () => Promise<void>,
): AdaptedLogger {
  return {
    error: (message, meta) => write('error', message, meta),
    warn: (message, meta) => write('warn', message, meta),
    info: (message, meta) => write('info', message, meta),
    debug: (message, meta) => write('debug', message, meta),
    isLevelEnabled,
    flush,
  };
}

/** pino's fields for overseer's metadata: `error` under `err`, other Errors serialized. */
function pinoFields(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (meta === undefined) return fields;
  for (const [key, value] of Object.entries(meta)) {
    if (key === 'error') fields.err = value;
    else fields[key] = value instanceof Error ? serializeErrorForPino(value) : value;
  }
  return fields;
}

function flushPino(pino: PinoLike): Promise<void> {
  return new Promise((resolve, reject) => {
    if (typeof pino.flush !== 'function') {
      resolve();
      return;
    }
    pino.flush((error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

/**
 * A {@link Logger} that writes one readable line per entry to a console, with every field:
 * `info  [web] service running state=running`; after an error's line, its stack, the errors of
 * an aggregate and its causes. `error` and `warn` lines go to `console.error` and `console.warn`
 * (stderr for the global console), the others to `console.info` and `console.debug`.
 *
 * @param console `console` (the default), or a `new Console(stream)`.
 * @throws {TypeError} when `console` lacks an error, warn, info or debug method, an option is
 * unknown, or `level` is not one of error, warn, info, debug.
 * @example
 * ```ts
 * import { Lifecycle, loggerFromConsole, Pool } from 'overseer';
 *
 * const logger = loggerFromConsole(console, { level: 'debug' });
 * const lifecycle = new Lifecycle(new Pool({ name: 'app', logger }), { logger });
 * ```
 */
export function loggerFromConsole(
  console: ConsoleLike = globalThis.console,
  options: LoggerFromConsoleOptions = {},
): AdaptedLogger {
  assertMethods(console, 'console', 'a console');
  assertOptions(options, 'options', ['level']);
  const { level = 'info' } = options;
  assertLevel(level, 'options.level');
  const threshold = logLevels.indexOf(level);
  const enabled = (asked: LogLevel) => logLevels.indexOf(asked) <= threshold;
  const write: Write = (asked, message, meta) =>
    // '%s': a `%` in a service name or message is not a format directive.
    enabled(asked) ? console[asked]('%s', readableLine(asked, message, meta)) : undefined;
  return adapted(write, enabled, flushStdio);
}

/**
 * Resolves once process.stdout and process.stderr have written what they hold. Writes to a pipe
 * are asynchronous on POSIX: a program that exits right after logging loses what is queued.
 */
async function flushStdio(): Promise<void> {
  await Promise.all([written(process.stdout), written(process.stderr)]);
}

function written(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0) return Promise.resolve();
  // An empty write's callback runs once every write before it is done (or has failed).
  return new Promise((resolve) => {
    stream.write('', () => {
      resolve();
    });
  });
}

function assertMethods(value: unknown, argument: string, what: string): void {
  const methods = value as Partial<Record<LogLevel, unknown>> | null;
  if (
    typeof methods !== 'object' ||
    methods === null ||
    logLevels.some((level) => typeof methods[level] !== 'function')
  ) {
    invalid(argument, `${what} with error, warn, info and debug methods`, value);
  }
}
