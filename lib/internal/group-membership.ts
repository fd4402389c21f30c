import type { Clock } from '../clock.js';
import type { GroupRun } from './group-run.js';
import { StartTimeoutError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import { log } from './log.js';
import type { GroupLogSettings } from './group-log.js';
import { isJob } from './protocol.js';
import { OrderProgress } from './order-progress.js';

/** What a run of a group (a pool, a sequence) needs to know about the group; one per group. */
export interface GroupSettings extends GroupLogSettings {
  readonly kind: 'pool' | 'sequence';
  /** Measures how long children have been stopping, for the log at the deadline. */
  readonly clock: Clock;
  /**
   * Whether a child that ends before it reported `running`, while the group has not asked it to
   * stop, failed to start: the group crashes with a `StartFailedError` (a sequence).
   */
  readonly strictStart: boolean;
  /** Ms between a stop request and the stop of the children (see `PoolOptions.drainDelay`). */
  readonly drainDelay: number;
}

/** The group a run belongs to: its settings, and what it must hear about the run. */
export interface GroupOfRun {
  readonly settings: GroupSettings;
  finished(run: GroupRun): void;
  /** A child stopped deliberately (its own `stop()`) and leaves the group. */
  left(child: Lifecycle): void;
}

/**
 * Who belongs to one run of a group, and who is ready: the members that left (removed, or
 * stopped by their own `stop()`), and those that run — or, for a one-shot job, have finished.
 */
export class Membership {
  readonly #settings: GroupLogSettings;
  readonly #left = new Set<Lifecycle>();
  // Every child that has been ready in this run (each at most once), members or not.
  readonly #ready = new Set<Lifecycle>();
  // How many children are members, and how many of them have been ready.
  #present: number;
  #readyPresent = 0;
  // Which children the run has started, by index.
  readonly #isStarted: boolean[] = [];

  constructor(settings: GroupLogSettings, count: number) {
    this.#settings = settings;
    this.#present = count;
  }

  /** The run has started the child at `index`. */
  started(index: number): void {
    this.#isStarted[index] = true;
  }

  /** Whether the run has started the child at `index`. */
  hasStarted(index: number): boolean {
    return this.#isStarted[index] === true;
  }

  /**
   * The progress of a run without an order so far (`children`), as if it had had one, for a
   * child with dependencies that joins it.
   */
  adoptOrder(children: readonly Lifecycle[]): OrderProgress {
    return OrderProgress.adopt(
      children,
      (index) => this.#isStarted[index] === true,
      (child) => this.#ready.has(child),
    );
  }

  /** Whether a member of the group (one of `children`) depends on `child`. */
  isDependedOn(
    order: OrderProgress | undefined,
    children: readonly Lifecycle[],
    child: Lifecycle,
  ): boolean {
    if (order === undefined) return false;
    const dependents = order.dependentsOf(child);
    return dependents.some((index) => !this.#left.has(children[index] as Lifecycle));
  }

  /** A child joined the running group. */
  joined(): void {
    this.#present++;
  }

  /**
   * `child` leaves the group (harmless when repeated). With `error`: it has ended, and the line
   * that says it left is logged (with its error, if its stop crashed).
   */
  leave(child: Lifecycle, ended?: { error: Error | undefined }): void {
    if (ended) this.#logLeft(child, ended.error);
    if (this.#left.has(child)) return;
    this.#left.add(child);
    this.#present--;
    if (this.#ready.has(child)) this.#readyPresent--;
  }

  hasLeft(child: Lifecycle): boolean {
    return this.#left.has(child);
  }

  /** Whether `child` runs a one-shot job. */
  isJob(child: Lifecycle): boolean {
    return isJob(child);
  }

  /** Marks `child` ready; false if it already was, or has left. */
  ready(child: Lifecycle): boolean {
    if (this.#ready.has(child) || this.#left.has(child)) return false;
    this.#ready.add(child);
    this.#readyPresent++;
    return true;
  }

  /** Whether `child` has been ready in this run (it ran; a job: it finished). */
  hasRun(child: Lifecycle): boolean {
    return this.#ready.has(child);
  }

  /** Whether every member has been ready. */
  allReady(): boolean {
    return this.#readyPresent === this.#present;
  }

  /** Whether `child` is still ready now: it runs, or it is a job that finished, or it left. */
  stillReady(child: Lifecycle): boolean {
    if (this.#left.has(child)) return true;
    if (isJob(child)) return child.state === 'stopped' && this.#ready.has(child);
    return child.state === 'running';
  }

  /** Whether `child` is a job whose work is done: it ended cleanly. */
  finishedJob(child: Lifecycle, error: Error | undefined): boolean {
    return error === undefined && isJob(child) && !this.#left.has(child);
  }

  /**
   * Whether `child`'s end is a deliberate stop of a pool's child: it was removed, or a stop was
   * requested that the pool did not send (the pool sends none before it drains) and no member
   * depends on it. A child whose own start timeout asked it to stop (it ended with that
   * `StartTimeoutError`) failed: that is a crash, not a stop anybody wanted.
   */
  endsDeliberately(
    child: Lifecycle,
    draining: boolean,
    dependedOn: boolean,
    error: Error | undefined,
  ): boolean {
    if (this.#settings.kind !== 'pool') return false;
    if (this.#left.has(child)) return true;
    if (error instanceof StartTimeoutError) return false;
    return !draining && !dependedOn && child.shouldStop();
  }

  /**
   * Why `child`, now in `state`, is stopping: the group's reason, or the child's own (a
   * deliberate stop); undefined in any other state.
   */
  reasonOf(child: Lifecycle, state: string, draining: boolean, groupReason: unknown): unknown {
    if (state !== 'stopping') return undefined;
    if (draining && !this.#left.has(child)) return groupReason;
    return child.shouldStop() ? child.signal.reason : undefined;
  }

  #logLeft(child: Lifecycle, error: Error | undefined): void {
    const { logger, kind, name } = this.#settings;
    const meta = { service: child.name, [kind]: name, state: child.state, error };
    if (error === undefined) log(logger, 'info', 'service left', meta);
    else log(logger, 'error', 'service crashed while leaving', meta);
  }
}
