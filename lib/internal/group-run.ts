import { defer } from './deferred.js';
import { DrainDelay, type Delayed } from './drain-delay.js';
import type { StartOrder } from './dependencies.js';
import { askedToStop, OrderProgress } from './order-progress.js';
import { AlreadyRunningError, ServicesCrashedError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { State } from '../state.js';
import { logChildChange, logStragglersOf, stragglersOf } from './group-log.js';
import { Membership, type GroupOfRun, type GroupSettings } from './group-membership.js';
import {
  expireRun,
  observeRun,
  reportStopping,
  startRun,
  stopRun,
  type Composite,
  type Owner,
} from './protocol.js';
import * as job from './job.js';
import { reactionFailed, schedule } from './scheduler.js';
import type { StopOptions } from './stop-options.js';

// A deadline reason slot not yet filled (a reason may be undefined).
const notReached = Symbol('not reached');

/**
 * One run of a group of children: which run, which have ended, and how the group ends. Every
 * method but `start`, `added` and `remove` is a reaction, run by the scheduler after the call
 * that caused it.
 *
 * Without a start order (a plain pool) every child starts at once and is stopped at once. With
 * one, a child starts once everything it depends on runs, and is asked to stop once everything
 * that depends on it has ended: independent children still start and stop in parallel.
 */
export class GroupRun implements Owner, Composite, Delayed {
  readonly #group: GroupOfRun;
  readonly #settings: GroupSettings;
  readonly #lifecycle: Lifecycle;
  // Every child of this run, in the order they joined it (removed ones too, until the run ends).
  readonly #children: Lifecycle[];
  readonly #members: Membership;
  #order: OrderProgress | undefined;
  readonly #stopSequence: job.StopSequence | undefined;
  readonly #done = defer<undefined>();
  readonly #errors: Error[] = [];
  #started = 0;
  #ended = 0;
  #draining = false;
  #failed = false;
  #stopReason: unknown;
  #deadlineReason: unknown = notReached;
  #drainStartedAt: number | undefined;
  readonly #delay = new DrainDelay();

  constructor(
    group: GroupOfRun,
    lifecycle: Lifecycle,
    children: Lifecycle[],
    order: StartOrder | undefined,
    stopOrder: readonly number[] | undefined,
  ) {
    this.#group = group;
    this.#settings = group.settings;
    this.#lifecycle = lifecycle;
    this.#children = children;
    this.#members = new Membership(this.#settings, children.length);
    this.#order = order && new OrderProgress(order, children);
    this.#stopSequence = stopOrder && new job.StopSequence(stopOrder);
  }

  /** Called by the group's `runWithLifecycle`: the children start in a reaction. */
  start(): Promise<undefined> {
    this.#lifecycle[observeRun](this);
    // Asked to stop before it began (say, by an onStarting hook): start no child at all.
    if (this.#lifecycle.shouldStop()) this.#drain(this.#lifecycle.signal.reason);
    else if (this.#children.length === 0) this.#lifecycle.running();
    else schedule(job.startChildren, this, undefined, undefined);
    return this.#done.promise;
  }

  /** Whether a child added now would start: the run has not begun to stop. */
  accepting(): boolean {
    return !this.#stopsStarting();
  }

  /** A child joins the running group; it starts in a reaction once `dependsOn` have run. */
  added(child: Lifecycle, dependsOn: readonly Lifecycle[]): void {
    const index = this.#children.push(child) - 1;
    this.#members.joined();
    if (dependsOn.length > 0)
      this.#order ??= this.#members.adoptOrder(this.#children.slice(0, index));
    const ready = this.#order ? this.#order.add(index, child, dependsOn) : true;
    if (ready) schedule(job.startAdded, this, index, undefined);
  }

  /** Stops `child` deliberately (it leaves the group); resolves with its final state. */
  remove(child: Lifecycle, options: StopOptions | undefined): Promise<State> {
    this.#members.leave(child);
    // The group may now run: heard in a reaction, not on the caller's stack.
    schedule(job.reportRunning, this, undefined, undefined);
    return child.stop(options);
  }

  childChanged(child: Lifecycle, state: State): void {
    // Logged first, so the child's line comes before the lines of the group it makes run.
    const reason = this.#members.reasonOf(child, state, this.#draining, this.#stopReason);
    logChildChange(this.#settings, child, state, reason);
    if (state !== 'running' || this.#members.isJob(child)) return;
    this.#ready(child);
  }

  childEnded(child: Lifecycle, error: Error | undefined): void {
    this.#ended++;
    const members = this.#members;
    const dependedOn = members.isDependedOn(this.#order, this.#children, child);
    if (members.endsDeliberately(child, this.#draining, dependedOn, error)) {
      members.leave(child, { error });
      this.#group.left(child);
      this.#endWithoutDrain(child);
    } else if (members.finishedJob(child, error) && !this.#draining) {
      this.#ready(child);
      this.#endWithoutDrain(child);
    } else this.#endMember(child, error);
  }

  stopRequested(reason: unknown): void {
    const { drainDelay, clock } = this.#settings;
    if (drainDelay === 0 || this.#draining) {
      this.#drain(reason);
      return;
    }
    // Report stopping now, so probes see it, and stop the children once the delay has passed.
    this.#lifecycle[reportStopping]();
    this.#delay.begin(this, clock, drainDelay, reason);
  }

  deadlinePassed(reason: unknown): void {
    // The deadline cuts a drain delay short: the children are asked to stop first.
    if (this.#delay.active) this.#drain(this.#delay.reason);
    this.#deadlineReason = reason;
    // The children still running, stopping or held by a hook, for the line at the deadline:
    const order = this.#order;
    const askedAt = (index: number) => (order ? order.askedAt(index) : this.#drainStartedAt);
    const stragglers = stragglersOf(this.#settings, this.#children, askedAt);
    this.#children.forEach((child, index) => {
      // Ordered: a child not yet asked to stop gets the deadline when it is asked.
      if (order === undefined || order.has(index, askedToStop)) child[expireRun](this, reason);
    });
    // Only now: the deadline must reach the children whatever the logger does.
    logStragglersOf(this.#settings, stragglers);
  }

  [reactionFailed](error: Error): void {
    // The first failure of the group's own machinery is the one to report; later ones are
    // consequences of it.
    if (this.#failed) return;
    this.#failed = true;
    this.#errors.push(error);
    this.#drain(error);
    this.#finishIfDone();
  }

  /** Starts every child that waits for nothing (all of them, without an order). */
  startChildren(): void {
    const order = this.#order;
    for (let index = 0; index < this.#children.length; index++) {
      if (this.#stopsStarting()) break;
      if (order === undefined || order.waitingFor[index] === 0) this.#startChild(index);
    }
  }

  /** Starts the child added at `index` while the group ran, unless it left or a stop came. */
  startAdded(index: number): void {
    if (!this.#stopsStarting()) this.#startChild(index);
  }

  /** The drain delay has passed. */
  drainAfterDelay(reason: unknown): void {
    this.#drain(reason);
  }

  /** `child` is ready (it runs; a job: it has finished): start what waited for it. */
  #ready(child: Lifecycle): void {
    if (!this.#members.ready(child)) return;
    if (this.#order) this.#startDependents(this.#order, child);
    this.reportRunningIfReady();
  }

  /** A child ended without ending the group (a finished job, a deliberate stop). */
  #endWithoutDrain(child: Lifecycle): void {
    const freed = this.#order?.end(child);
    if (this.#draining) this.#stopNext(freed);
    else this.reportRunningIfReady();
  }

  /** A member ended: its error counts, and the group drains if it had not asked it to stop. */
  #endMember(child: Lifecycle, error: Error | undefined): void {
    const order = this.#order;
    const failedToStart = !this.#draining && !this.#members.hasRun(child);
    // A sequence's child, or one that others wait for, failed to start even with no error.
    const strict =
      this.#settings.strictStart ||
      (error === undefined && this.#members.isDependedOn(this.#order, this.#children, child));
    const failure = job.endError(this.#settings.name, child, error, failedToStart && strict);
    if (failure !== undefined) this.#errors.push(failure);
    const freed = order?.end(child);
    // A child that ends while the group has not asked it to stop ends the group.
    if (!this.#draining) this.#drain(job.childEndedReason(this.#settings, child, error));
    else this.#stopNext(freed);
  }

  /**
   * Every child is ready: the group runs if each of them still is. One that is already
   * stopping (a child pool draining) will end, and the group drain, so it never runs.
   */
  reportRunningIfReady(): void {
    if (this.#draining || this.#delay.active || !this.#members.allReady()) return;
    if (this.#children.every((child) => this.#members.stillReady(child))) {
      this.#lifecycle.running();
    }
  }

  /**
   * Whether no more children may start: a child could not start, or a stop came first — maybe
   * not heard yet (its reaction is queued behind this one), maybe waiting out a drain delay.
   */
  #stopsStarting(): boolean {
    return this.#draining || this.#delay.active || this.#lifecycle.shouldStop();
  }

  #startChild(index: number): void {
    const child = this.#children[index] as Lifecycle;
    // Left, or started already (a child added before the first start reaction ran).
    if (this.#members.hasLeft(child) || this.#members.hasStarted(index)) return;
    if (!child[startRun](this)) {
      this[reactionFailed](new AlreadyRunningError(child.name));
      return;
    }
    this.#started++;
    this.#members.started(index);
    this.#order?.start(index);
  }

  /** `child` is ready for the first time: start what was waiting only for it. */
  #startDependents(order: OrderProgress, child: Lifecycle): void {
    for (const dependent of order.ran(child)) {
      if (this.#stopsStarting()) return;
      this.#startChild(dependent);
    }
  }

  #drain(reason: unknown): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#stopReason = reason;
    this.#delay.cancel(this.#settings.clock);
    this.#drainStartedAt = this.#settings.clock.now();
    this.#lifecycle[reportStopping]();
    const order = this.#order;
    // The group's deadline cannot have passed yet: a stop request always reaches it first.
    if (order && this.#stopSequence) this.#stopNext(undefined);
    else if (order === undefined) for (const child of this.#children) child[stopRun](this, reason);
    else {
      for (let index = 0; index < this.#children.length; index++) {
        if (order.free(index)) this.#askToStop(order, index);
      }
    }
    this.#finishIfDone();
  }

  /** While the group drains, a child has ended: ask the children it held back (`freed`) to stop. */
  #stopNext(freed: readonly number[] | undefined): void {
    const order = this.#order;
    const sequence = this.#stopSequence;
    if (order && sequence) {
      const next = sequence.next(order);
      if (next !== undefined) this.#askToStop(order, next);
    } else if (order && freed) {
      for (const index of freed) {
        if (order.free(index)) this.#askToStop(order, index);
      }
    }
    this.#finishIfDone();
  }

  #askToStop(order: OrderProgress, index: number): void {
    const child = this.#children[index] as Lifecycle;
    order.askToStop(index, this.#settings.clock.now());
    child[stopRun](this, this.#stopReason);
    if (this.#deadlineReason !== notReached) child[expireRun](this, this.#deadlineReason);
  }

  #finishIfDone(): void {
    if (!this.#draining || this.#ended < this.#started) return;
    this.#group.finished(this);
    const errors = this.#errors;
    if (errors.length === 0) this.#done.resolve(undefined);
    else this.#done.reject(errors.length === 1 ? errors[0] : new ServicesCrashedError(errors));
  }
}
