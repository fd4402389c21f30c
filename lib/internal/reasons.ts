/** What `signal` and `shutdownSignal` abort with: `AbortError` and `TimeoutError` DOMExceptions. */

/** The reason `signal` aborts with when a stop is requested; one per `stop()` call. */
export function stopRequestedReason(message = 'The service was asked to stop'): DOMException {
  return new DOMException(message, 'AbortError');
}

/**
 * The reason of `stop({ reason })`: an `AbortError` saying why (`'stop requested: SIGTERM'`),
 * whose `cause` is the given `Error`, if it is one.
 */
export function stopReasonFor(reason: string | Error): DOMException {
  const why = typeof reason === 'string' ? reason : reason.message;
  const error = stopRequestedReason(`stop requested: ${why}`);
  // DOMException takes no options bag on Node 20: `cause` is set the way Error's constructor would.
  if (reason instanceof Error) {
    Object.defineProperty(error, 'cause', { value: reason, writable: true, configurable: true });
  }
  return error;
}

/** The reason `shutdownSignal` aborts with when a `stop({ timeout })` deadline passes. */
export function deadlinePassedReason(): DOMException {
  return new DOMException('The shutdown deadline passed', 'TimeoutError');
}
