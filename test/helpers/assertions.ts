import type { ExecutionContext } from 'ava';
import type { LogEntry } from './logs.js';

/** The string-keyed fields of a log entry (winston's symbol keys left out). */
export function fields(entry: LogEntry): Record<string, unknown>;
export function fields(entry: LogEntry | undefined): Record<string, unknown> | undefined;
export function fields(entry: LogEntry | undefined): Record<string, unknown> | undefined {
  return entry && Object.fromEntries(Object.entries(entry));
}

/** Asserts that an abort `reason` is a DOMException named `name` (with `message`, if given). */
export function assertAbortError(
  t: ExecutionContext,
  reason: unknown,
  name: string,
  message?: string,
): void {
  t.true(reason instanceof DOMException, `expected a DOMException, got ${String(reason)}`);
  t.is((reason as DOMException).name, name);
  if (message !== undefined) t.is((reason as DOMException).message, message);
}
