import Transport from 'winston-transport';
import winston from 'winston';
import type { Logger, LogLevel } from '../../lib/index.js';

/** One line a logger wrote: its level, message and metadata. */
export interface LogEntry {
  level: string;
  message: string;
  [key: string]: unknown;
}

class MemoryTransport extends Transport {
  readonly entries: LogEntry[] = [];

  override log(info: LogEntry, next: () => void): void {
    this.entries.push(info);
    next();
  }
}

/** A real winston logger whose lines land in `entries` instead of a stream. */
export function captureLogs(level = 'debug'): { logger: winston.Logger; entries: LogEntry[] } {
  const transport = new MemoryTransport();
  const logger = winston.createLogger({ level, transports: [transport] });
  return { logger, entries: transport.entries };
}

/** One call of `process.emitWarning`: its message and its `code` option. */
export interface Warning {
  message: string;
  code: string | undefined;
}

/**
 * Replaces `process.emitWarning` until the test ends, recording each call instead of printing it.
 * It is process-wide: use it in serial tests only.
 */
export function spyOnWarnings(t: { teardown(fn: () => void): void }): Warning[] {
  const warnings: Warning[] = [];
  const original = Object.getOwnPropertyDescriptor(process, 'emitWarning');
  process.emitWarning = (warning: string | Error, options?: unknown): void => {
    const code =
      typeof options === 'object' && options !== null && 'code' in options
        ? String(options.code)
        : undefined;
    warnings.push({ message: typeof warning === 'string' ? warning : warning.message, code });
  };
  t.teardown(() => {
    if (original) Object.defineProperty(process, 'emitWarning', original);
  });
  return warnings;
}

/** A logger that fails on every call, and the messages it was asked to write. */
export interface BrokenLogger {
  logger: Logger;
  /** `level: message` of every call, in order. */
  calls: string[];
}

/**
 * A logger every method of which throws `'throw'`, or returns a rejected promise `'reject'` (an
 * async transport that fails), with `new Error('log transport down')`.
 */
export function brokenLogger(how: 'throw' | 'reject'): BrokenLogger {
  const calls: string[] = [];
  const method =
    (level: LogLevel) =>
    (message: string): Promise<never> => {
      calls.push(`${level}: ${message}`);
      const error = new Error('log transport down');
      if (how === 'throw') throw error;
      return Promise.reject(error);
    };
  const logger: Logger = {
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
  };
  return { logger, calls };
}
