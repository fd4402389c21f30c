import type { Logger, LogLevel } from '../logger.js';
import { log, logs, silent } from './log.js';

/**
 * `logger` with `{ service }` merged into every call's metadata (the name wins over a `service`
 * field of the call's own), each call through the log guard: a broken logger never throws into
 * the service. The silent logger is returned as it is.
 */
export function boundLogger(logger: Logger, service: string): Logger {
  if (logger === silent) return silent;
  const write =
    (level: LogLevel) =>
    (message: string, meta?: Record<string, unknown>): void => {
      log(logger, level, message, meta === undefined ? { service } : { ...meta, service });
    };
  return Object.freeze({
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    isLevelEnabled: (level: LogLevel) => logs(logger, level),
  });
}
