import type { Clock } from '../clock.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { isActive, type State } from '../state.js';
import { log, logs } from './log.js';
import { stopReasonOf } from './stop-reason.js';
import { heldByHook } from './protocol.js';
import { logStragglers, type Straggler } from './stragglers.js';

/** What a supervisor's log lines say about it. */
export interface GroupLogSettings {
  /** The field naming the supervisor in log metadata and messages. */
  readonly kind: 'pool' | 'sequence' | 'restarter';
  readonly name: string;
  readonly logger: Logger;
}

/**
 * Logs a child's transition: info, or error with the error for a crash. `reason`: why a stopping
 * child was asked to stop, if known (its message is the line's `reason`).
 */
export function logChildChange(
  group: GroupLogSettings,
  child: Lifecycle,
  state: State,
  reason?: unknown,
): void {
  const { logger, kind, name } = group;
  if (state === 'crashed') {
    const meta = { service: child.name, [kind]: name, state, error: child.error };
    log(logger, 'error', 'service crashed', meta);
  } else if (logs(logger, 'info')) {
    const meta: Record<string, unknown> = { service: child.name, [kind]: name, state };
    // Stop reasons are AbortErrors (DOMExceptions are Errors) or the Error that failed a run.
    if (reason instanceof Error) meta.reason = reason.message;
    log(logger, 'info', `service ${state}`, meta);
  }
}

/**
 * Logs the transition of a lifecycle whose run nobody owns (a root: its owner, if it had one,
 * would log it as a child's): info, or error with the error for a crash. Called by the
 * transition itself, so it never throws: a service name that cannot be read (its getter runs user
 * code) is left out, and a failure of the logging itself, down to a stack overflow in the
 * warning about a broken logger, drops the line.
 */
export function logOwnChange(logger: Logger, lifecycle: Lifecycle, state: State): void {
  try {
    const level = state === 'crashed' ? 'error' : 'info';
    if (!logs(logger, level)) return;
    const meta: Record<string, unknown> = {};
    try {
      meta.service = lifecycle.name;
    } catch {
      // The line still says what happened, without the name.
    }
    meta.state = state;
    if (state === 'crashed') meta.error = lifecycle.error;
    if (state === 'stopping') {
      const reason = stopReasonOf(lifecycle);
      if (reason !== undefined) meta.reason = reason;
    }
    log(logger, level, `service ${state}`, meta);
  } catch {
    // A log line is never worth a transition.
  }
}

/**
 * Every child still running, stopping, or held by a hook's promise as the supervisor's deadline
 * passes, for the warn line that names them (empty when nothing would log it). Taken before the
 * deadline is passed on, which abandons the hooks' promises; logged after.
 * `askedAt(index)`: when the child was asked to stop, if it was.
 */
export function stragglersOf(
  group: GroupLogSettings & { readonly clock: Clock },
  children: readonly Lifecycle[],
  askedAt: (index: number) => number | undefined,
): Straggler[] {
  const { logger, clock } = group;
  if (!logs(logger, 'warn')) return [];
  const now = clock.now();
  const stragglers: Straggler[] = [];
  children.forEach((child, index) => {
    const hook = child[heldByHook]();
    if (!isActive(child.state) && hook === undefined) return;
    const since = askedAt(index);
    const stoppingMs = since === undefined ? undefined : Math.round(now - since);
    const straggler: Straggler = { service: child.name, state: child.state, stoppingMs };
    if (hook !== undefined) straggler.hook = hook;
    stragglers.push(straggler);
  });
  return stragglers;
}

/** Logs the line naming the stragglers (nothing when there are none). */
export function logStragglersOf(group: GroupLogSettings, stragglers: readonly Straggler[]): void {
  logStragglers(group.logger, { [group.kind]: group.name }, stragglers);
}
