import type { Logger, LogLevel } from '../logger.js';
import { isThenable } from './thenable.js';

/**
 * The one way the library writes to a logger. A logger is never on the critical path: a method
 * that throws, or returns a promise that rejects, is ignored, so a broken transport can neither
 * skip a step of a stop nor become an unhandled rejection. The first failure of each logger
 * object is reported once with `process.emitWarning`, however many lifecycles share it.
 */
export function log(
  logger: Logger,
  level: LogLevel,
  message: string,
  meta?: Record<string, unknown>,
): void {
  try {
    const result: unknown = logger[level](message, meta);
    if (isThenable(result)) {
      result.then(undefined, (error: unknown) => {
        reportBroken(logger, error);
      });
    }
  } catch (error) {
    reportBroken(logger, error);
  }
}

/**
 * Whether a message at `level` would be written, so callers can skip building metadata. Asks
 * winston's `isLevelEnabled` when the logger has one; a check that throws counts as "no".
 */
export function logs(logger: Logger, level: LogLevel): boolean {
  if (logger === silent) return false;
  try {
    const check = (logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
    return typeof check === 'function' ? check.call(logger, level) : true;
  } catch (error) {
    reportBroken(logger, error);
    return false;
  }
}

// The loggers already reported as broken: one warning each, not one per failed call.
const reported = new WeakSet<object>();

function reportBroken(logger: Logger, error: unknown): void {
  if (reported.has(logger)) return;
  reported.add(logger);
  const detail = error instanceof Error ? error.message : String(error);
  process.emitWarning(`A logger given to overseer failed (${detail}); its calls are ignored`, {
    code: 'OVERSEER_LOGGER_FAILED',
  });
}

function ignore(): void {
  // A library does not write to a program's console unless asked.
}

/** The default logger: it drops everything. */
export const silent: Logger = Object.freeze({
  error: ignore,
  warn: ignore,
  info: ignore,
  debug: ignore,
});
