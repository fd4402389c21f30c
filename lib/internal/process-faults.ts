import { inspect } from 'node:util';

/** The two faults that would otherwise end a Node process at once, with no cleanup. */
export type FaultKind = 'uncaught exception' | 'unhandled rejection';

/**
 * Calls `onFault` for each `uncaughtException` and `unhandledRejection` of the process (which no
 * longer ends the process by itself while these listeners are on).
 * @returns the function that removes both listeners.
 */
export function listenForFaults(onFault: (kind: FaultKind, error: unknown) => void): () => void {
  const onException = (error: unknown): void => {
    onFault('uncaught exception', error);
  };
  const onRejection = (reason: unknown): void => {
    onFault('unhandled rejection', reason);
  };
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}

/**
 * The reason of the stop a fault requests: an `Error` saying `uncaught exception: <message>`
 * (or `unhandled rejection: …`), with what was thrown as its `cause`.
 */
export function faultReason(kind: FaultKind, error: unknown): Error {
  return new Error(`${kind}: ${describeFault(error)}`, { cause: error });
}

/**
 * Writes the fault and its stack to stderr, as Node would have before ending the process: a
 * program that gave no logger still learns why it exits 1.
 */
export function printFault(kind: FaultKind, error: unknown): void {
  try {
    process.stderr.write(`${kind}: ${inspect(error)}\n`);
  } catch {
    // stderr is gone; the exit code still says it.
  }
}

/** The message of an `Error`, a string as it is, anything else as `inspect` shows it. */
function describeFault(error: unknown): string {
  try {
    if (error instanceof Error) return error.message;
    return typeof error === 'string' ? error : inspect(error);
  } catch {
    return 'a value that cannot be described';
  }
}
