import { assertAbortSignal, assertDuration, assertOptions } from './validate.js';

/** Options of `lifecycle.stop()`. */
export interface StopOptions {
  /** Milliseconds until `shutdownSignal` aborts. @default no deadline */
  timeout?: number;
  /** `shutdownSignal` aborts when this signal aborts (at once if it already has). */
  signal?: AbortSignal;
}

/** The default of `stop()`'s options: one shared object rather than a new one per call. */
export const noStopOptions: StopOptions = Object.freeze({});

/** Throws a `TypeError` unless `options` are well-formed {@link StopOptions}. */
export function assertStopOptions(options: unknown): asserts options is StopOptions {
  assertOptions(options, 'options', ['timeout', 'signal']);
  const { timeout, signal } = options as StopOptions;
  if (timeout !== undefined) assertDuration(timeout, 'options.timeout');
  if (signal !== undefined) assertAbortSignal(signal, 'options.signal');
}
