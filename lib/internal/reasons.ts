/** What `signal` and `shutdownSignal` abort with: `AbortError` and `TimeoutError` DOMExceptions. */

/** The reason `signal` aborts with when a stop is requested; one per `stop()` call. */
export function stopRequestedReason(message = 'The service was asked to stop'): DOMException {
  return new DOMException(message, 'AbortError');
}

/** The reason `shutdownSignal` aborts with when a `stop({ timeout })` deadline passes. */
export function deadlinePassedReason(): DOMException {
  return new DOMException('The shutdown deadline passed', 'TimeoutError');
}
