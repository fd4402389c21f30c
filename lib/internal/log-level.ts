import type { LogLevel } from '../logger.js';
import { invalid } from './validate.js';

/** The log levels overseer uses, most severe first. */
export const logLevels: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** Throws a `TypeError` naming `argument` unless `level` is one of the four log levels. */
export function assertLevel(level: unknown, argument: string): asserts level is LogLevel {
  if (!logLevels.includes(level as LogLevel)) {
    invalid(argument, `one of ${logLevels.join(', ')}`, level);
  }
}
