import { ServiceCrashedError, StartFailedError } from '../errors.js';
import { ReturnedBeforeRunningError } from '../group-errors.js';
import type { GroupRun } from './group-run.js';
import type { Lifecycle } from '../lifecycle.js';
import { askedToStop, ended, started, type OrderProgress } from './order-progress.js';
import { stopRequestedReason } from './reasons.js';

/**
 * The error a child's end adds to its group's: a {@link StartFailedError} when it failed to start
 * (`cause`: its error, or a {@link ReturnedBeforeRunningError} when it returned cleanly), a
 * {@link ServiceCrashedError} when it crashed; none for a clean end.
 */
export function endError(
  group: string,
  child: Lifecycle,
  error: Error | undefined,
  failedToStart: boolean,
): Error | undefined {
  if (!failedToStart) return error && new ServiceCrashedError(child.name, error);
  if (error !== undefined) return new StartFailedError(group, child.name, error);
  const failure = new StartFailedError(group, child.name, undefined);
  const cause = new ReturnedBeforeRunningError(child.name);
  // Set as the constructor's options bag would: the message keeps "stopped before it was running".
  Object.defineProperty(failure, 'cause', { value: cause, writable: true, configurable: true });
  return failure;
}

/** The reason a group drains with when one of its children ended on its own. */
export function childEndedReason(
  group: { readonly kind: string; readonly name: string },
  child: Lifecycle,
  error: Error | undefined,
): DOMException {
  const how = error === undefined ? 'stopped on its own' : 'crashed';
  return stopRequestedReason(
    `${group.kind} "${group.name}" is stopping because "${child.name}" ${how}`,
  );
}

/**
 * The stop order of a sequence given as a list (`stopOrder`): each child is asked to stop once
 * the ones before it in the list have ended; children never started are skipped.
 */
export class StopSequence {
  readonly #indexes: readonly number[];
  #cursor = 0;

  constructor(indexes: readonly number[]) {
    this.#indexes = indexes;
  }

  /** The child to ask to stop now, if any (none while the current one is still stopping). */
  next(order: OrderProgress): number | undefined {
    for (; this.#cursor < this.#indexes.length; this.#cursor++) {
      const index = this.#indexes[this.#cursor] as number;
      if (order.has(index, ended) || !order.has(index, started)) continue;
      return order.has(index, askedToStop) ? undefined : index;
    }
    return undefined;
  }
}

/** The reaction that starts a group run's children. */
export function startChildren(run: GroupRun): void {
  run.startChildren();
}

/** The reaction that starts a child added while its group runs. */
export function startAdded(run: GroupRun, index: number): void {
  run.startAdded(index);
}

/** The reaction that lets a group report running once a removal made every member ready. */
export function reportRunning(run: GroupRun): void {
  run.reportRunningIfReady();
}
