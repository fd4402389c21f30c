import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

/** Describes a value for an error message: ``"`-1` (number)"``. */
export function describe(value: unknown): string {
  if (value === null) return '`null`';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return `\`${JSON.stringify(value)}\` (string)`;
  if (typeof value === 'object') {
    const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return `an object (${typeof name === 'string' ? name : 'Object'})`;
  }
  const primitive = value as number | bigint | boolean | symbol | undefined;
  return `\`${String(primitive)}\` (${typeof value})`;
}

/** Throws a `TypeError` saying what `argument` should have been and what came instead. */
export function invalid(argument: string, expected: string, value: unknown): never {
  throw new TypeError(`Expected \`${argument}\` to be ${expected}, got ${describe(value)}`);
}

export function assertObject(value: unknown, argument: string): asserts value is object {
  if (typeof value !== 'object' || value === null) invalid(argument, 'an object', value);
}

export function assertFunction(
  value: unknown,
  argument: string,
): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') invalid(argument, 'a function', value);
}

/** A duration in ms: a number >= 0 (Infinity allowed, meaning never). */
export function assertDuration(value: unknown, argument: string): asserts value is number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    invalid(argument, 'a number of milliseconds >= 0', value);
  }
}

export function assertAbortSignal(value: unknown, argument: string): asserts value is AbortSignal {
  if (!(value instanceof AbortSignal)) invalid(argument, 'an AbortSignal', value);
}

export function assertName(value: unknown, argument: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    invalid(argument, 'a non-empty string', value);
  }
}

const logMethods = ['error', 'warn', 'info', 'debug'] as const;

export function assertLogger(value: unknown, argument: string): asserts value is Logger {
  const ok =
    typeof value === 'object' &&
    value !== null &&
    logMethods.every((method) => typeof (value as Record<string, unknown>)[method] === 'function');
  if (!ok) invalid(argument, 'a logger with error, warn, info and debug methods', value);
}

const clockMethods = ['now', 'setTimeout', 'clearTimeout'] as const;

export function assertClock(value: unknown, argument: string): asserts value is Clock {
  const ok =
    typeof value === 'object' &&
    value !== null &&
    clockMethods.every(
      (method) => typeof (value as Record<string, unknown>)[method] === 'function',
    );
  if (!ok) invalid(argument, 'a clock with now, setTimeout and clearTimeout methods', value);
}
