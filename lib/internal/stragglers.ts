import type { Logger } from '../logger.js';
import { log, logs } from './log.js';
import type { HookEvent } from '../lifecycle-events.js';
import type { State } from '../state.js';

/** A child that had not ended when its supervisor's shutdown deadline passed. */
export interface Straggler {
  service: string;
  state: State;
  /** Ms since its supervisor asked it to stop; undefined if it was still waiting to be asked. */
  stoppingMs: number | undefined;
  /** The event of a hook whose promise holds its run, once the service itself has ended. */
  hook?: HookEvent | undefined;
}

/**
 * Logs, at warn level, the children still running when a deadline passed: the line that tells
 * an operator which service held the shutdown up, and for how long.
 * @param supervisor the field naming the supervisor, `{ pool: 'app' }`.
 */
export function logStragglers(
  logger: Logger,
  supervisor: Readonly<Record<string, string>>,
  stragglers: readonly Straggler[],
): void {
  if (stragglers.length === 0 || !logs(logger, 'warn')) return;
  const count = stragglers.length === 1 ? '1 service' : `${stragglers.length} services`;
  const message = `shutdown deadline passed with ${count} still stopping: ${describeStragglers(stragglers)}`;
  log(logger, 'warn', message, { ...supervisor, services: stragglers });
}

// '"db" (stopping, asked to stop 10003 ms ago), "cache" (running, not yet asked to stop)', at
// most 10 named.
function describeStragglers(stragglers: readonly Straggler[]): string {
  const named = stragglers.slice(0, 10).map(({ service, state, stoppingMs, hook }) => {
    const detail =
      hook !== undefined
        ? `${state}, waiting for its "${hook}" hook`
        : stoppingMs === undefined
          ? `${state}, not yet asked to stop`
          : `${state}, asked to stop ${stoppingMs} ms ago`;
    return `"${service}" (${detail})`;
  });
  const more = stragglers.length - named.length;
  return more > 0 ? `${named.join(', ')} and ${more} more` : named.join(', ');
}
