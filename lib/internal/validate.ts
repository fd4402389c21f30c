import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';

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

/** Throws a `TypeError` unless `value` is a non-null object. */
export function assertObject(value: unknown, argument: string): asserts value is object {
  if (typeof value !== 'object' || value === null) invalid(argument, 'an object', value);
}

/** Throws a `TypeError` unless `value` is a function. */
export function assertFunction(
  value: unknown,
  argument: string,
): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') invalid(argument, 'a function', value);
}

/** The longest delay `setTimeout` honours; a longer one fires after 1 ms. */
export const maxTimeout = 2_147_483_647;

/** A duration in ms: from 0 to {@link maxTimeout}, or Infinity (never). */
export function assertDuration(value: unknown, argument: string): asserts value is number {
  const ok = typeof value === 'number' && value >= 0 && (value <= maxTimeout || value === Infinity);
  if (!ok)
    invalid(argument, `a number of milliseconds from 0 to ${maxTimeout}, or Infinity`, value);
}

/** Throws a `TypeError` unless `value` is an `AbortSignal`. */
export function assertAbortSignal(value: unknown, argument: string): asserts value is AbortSignal {
  if (!(value instanceof AbortSignal)) invalid(argument, 'an AbortSignal', value);
}

/** Throws a `TypeError` unless `value` is a non-empty string. */
export function assertName(value: unknown, argument: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    invalid(argument, 'a non-empty string', value);
  }
}

/** Whether `value` is an object with a function under each of `methods`. */
function hasMethods(value: unknown, methods: readonly string[]): boolean {
  if (typeof value !== 'object' || value === null) return false;
  // A loop, not every() with a closure: this runs for every child a pool adds.
  for (const method of methods) {
    if (typeof (value as Record<string, unknown>)[method] !== 'function') return false;
  }
  return true;
}

const logMethods = ['error', 'warn', 'info', 'debug'] as const;

/** Throws a `TypeError` unless `value` has the four {@link Logger} methods. */
export function assertLogger(value: unknown, argument: string): asserts value is Logger {
  if (!hasMethods(value, logMethods)) {
    invalid(argument, 'a logger with error, warn, info and debug methods', value);
  }
}

const clockMethods = ['now', 'setTimeout', 'clearTimeout'] as const;

/** Throws a `TypeError` unless `value` has the three {@link Clock} methods. */
export function assertClock(value: unknown, argument: string): asserts value is Clock {
  if (!hasMethods(value, clockMethods)) {
    invalid(argument, 'a clock with now, setTimeout and clearTimeout methods', value);
  }
}

/** `options` without its undefined entries, so spreading them over defaults keeps the defaults. */
export function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

/**
 * Throws a `TypeError` unless `options` is an object whose every own key is one of `known`: a
 * misspelled option (`drainDelai`) is caught at the call instead of being silently ignored.
 */
export function assertOptions(
  options: unknown,
  argument: string,
  known: readonly string[],
): asserts options is object {
  assertObject(options, argument);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const list = known.map((name) => `\`${name}\``).join(', ');
      throw new TypeError(
        `Unknown option \`${argument}.${key}\`; the known options are ${list || 'none'}`,
      );
    }
  }
}
