import type { Lifecycle } from '../lifecycle.js';
import { stopReason } from './protocol.js';

/**
 * What a log line says about why `lifecycle`'s current run was asked to stop: the message of the
 * reason it was given (`'stop requested: SIGTERM'`); undefined when no stop was requested. Never
 * builds the run's signal, and never throws (a reason that is neither an `Error` nor a string, or
 * whose message cannot be read, is left out).
 */
export function stopReasonOf(lifecycle: Lifecycle): string | undefined {
  try {
    const reason = lifecycle[stopReason]();
    if (reason === undefined) return undefined;
    if (reason instanceof Error) return reason.message;
    return typeof reason === 'string' ? reason : undefined;
  } catch {
    return undefined;
  }
}
