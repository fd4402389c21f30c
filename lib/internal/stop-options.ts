import { assertAbortSignal, assertDuration, assertOptions, invalid } from './validate.js';

/** Options of `lifecycle.stop()`. */
export interface StopOptions {
  /** Milliseconds until `shutdownSignal` aborts. @default no deadline */
  timeout?: number;
  /** `shutdownSignal` aborts when this signal aborts (at once if it already has). */
  signal?: AbortSignal;
  /**
   * Why the stop is requested: `signal.reason` becomes an `AbortError` whose message says it
   * (`'stop requested: SIGTERM'`) and, for an `Error`, whose `cause` it is. Pools pass it on to
   * the children they stop.
   */
  reason?: string | Error;
}

/** The default of `stop()`'s options: one shared object rather than a new one per call. */
export const noStopOptions: StopOptions = Object.freeze({});

/** Throws a `TypeError` unless `options` are well-formed {@link StopOptions}. */
export function assertStopOptions(options: unknown): asserts options is StopOptions {
  assertOptions(options, 'options', ['timeout', 'signal', 'reason']);
  const { timeout, signal, reason } = options as StopOptions;
  if (timeout !== undefined) assertDuration(timeout, 'options.timeout');
  if (signal !== undefined) assertAbortSignal(signal, 'options.signal');
  if (reason !== undefined && typeof reason !== 'string' && !(reason instanceof Error)) {
    invalid('options.reason', 'a string or an Error', reason);
  }
}
