import type { Clock } from '../clock.js';
import { defer } from './deferred.js';
import type { StartOrder } from './dependencies.js';
import { askedToStop, OrderProgress } from './order-progress.js';
import {
  AlreadyRunningError,
  ServiceCrashedError,
  ServicesCrashedError,
  StartFailedError,
} from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { State } from '../state.js';
import {
  logChildChange,
  logStragglersOf,
  stragglersOf,
  type GroupLogSettings,
} from './group-log.js';
import type { Straggler } from './stragglers.js';
import {
  expireRun,
  observeRun,
  reportStopping,
  startRun,
  stopRun,
  type Composite,
  type Owner,
} from './protocol.js';
import { stopRequestedReason } from './reasons.js';
import { reactionFailed, schedule } from './scheduler.js';

/** What a run of a group (a pool, a sequence) needs to know about the group; one per group. */
export interface GroupSettings extends GroupLogSettings {
  readonly kind: 'pool' | 'sequence';
  /** Measures how long children have been stopping, for the log at the deadline. */
  readonly clock: Clock;
  /**
   * Whether a child that ends before it reported `running`, while the group has not asked it to
   * stop, failed to start: the group crashes with a {@link StartFailedError} (a sequence).
   */
  readonly strictStart: boolean;
  /** Ms between a stop request and the stop of the children (see `PoolOptions.drainDelay`). */
  readonly drainDelay: number;
}

/** The group a run belongs to: its settings, and what it must hear when the run has finished. */
export interface GroupOfRun {
  readonly settings: GroupSettings;
  finished(run: GroupRun): void;
}

/** A deadline reason slot that has not been filled (a reason may be undefined). */
const notReached = Symbol('not reached');

/**
 * One run of a group of children: which run, which have ended, and how the group ends. Every
 * method but `start` is a reaction, run by the scheduler after the call that caused it.
 *
 * Without a start order (a plain pool) every child starts at once and is stopped at once. With
 * one, a child starts once everything it depends on runs, and is asked to stop once everything
 * that depends on it has ended: independent children still start and stop in parallel.
 */
export class GroupRun implements Owner, Composite {
  readonly #group: GroupOfRun;
  readonly #settings: GroupSettings;
  readonly #lifecycle: Lifecycle;
  readonly #children: readonly Lifecycle[];
  readonly #order: OrderProgress | undefined;
  readonly #done = defer<undefined>();
  readonly #errors: Error[] = [];
  #started = 0;
  // How many children have reported running in this run (each does so at most once).
  #ran = 0;
  #ended = 0;
  #draining = false;
  #failed = false;
  #stopReason: unknown;
  #deadlineReason: unknown = notReached;
  #drainStartedAt: number | undefined;
  // A drainDelay under way: its timer (none for Infinity) and the stop reason it will pass on.
  #delaying = false;
  #delayTimer: unknown;
  #delayedReason: unknown;

  constructor(
    group: GroupOfRun,
    lifecycle: Lifecycle,
    children: readonly Lifecycle[],
    order: StartOrder | undefined,
  ) {
    this.#group = group;
    this.#settings = group.settings;
    this.#lifecycle = lifecycle;
    this.#children = children;
    this.#order = order && new OrderProgress(order, children);
  }

  /** Called by the group's `runWithLifecycle`: the children start in a reaction. */
  start(): Promise<undefined> {
    this.#lifecycle[observeRun](this);
    // Asked to stop before it began (say, by an onStarting hook): start no child at all.
    if (this.#lifecycle.shouldStop()) this.#drain(this.#lifecycle.signal.reason);
    else if (this.#children.length === 0) this.#lifecycle.running();
    else schedule(startChildren, this, undefined, undefined);
    return this.#done.promise;
  }

  childChanged(child: Lifecycle, state: State): void {
    // Logged first, so the child's line comes before the lines of the group it makes run.
    logChildChange(this.#settings, child, state);
    if (state !== 'running') return;
    this.#ran++;
    if (this.#order) this.#startDependents(this.#order, child);
    if (this.#ran === this.#children.length) this.#reportRunningIfAllRun();
  }

  childEnded(child: Lifecycle, error: Error | undefined): void {
    this.#ended++;
    const order = this.#order;
    const failedToStart = order ? !order.hasRun(child) : false;
    const freed = order?.end(child);
    if (failedToStart && this.#settings.strictStart && !this.#draining) {
      this.#errors.push(new StartFailedError(this.#settings.name, child.name, error));
    } else if (error !== undefined) {
      this.#errors.push(new ServiceCrashedError(child.name, error));
    }
    // A child that ends while the group has not asked it to stop ends the group.
    if (!this.#draining) this.#drain(this.#childEndedReason(child, error));
    else {
      if (order && freed) this.#stopFreed(order, freed);
      this.#finishIfDone();
    }
  }

  stopRequested(reason: unknown): void {
    const { drainDelay, clock } = this.#settings;
    if (drainDelay === 0 || this.#draining) {
      this.#drain(reason);
      return;
    }
    // Report stopping now, so probes see it, and stop the children once the delay has passed.
    this.#lifecycle[reportStopping]();
    this.#delaying = true;
    this.#delayedReason = reason;
    if (drainDelay === Infinity) return; // until the deadline
    this.#delayTimer = clock.setTimeout(() => {
      this.#delayTimer = undefined;
      schedule(drainAfterDelay, this, undefined, undefined);
    }, drainDelay);
  }

  deadlinePassed(reason: unknown): void {
    // The deadline cuts a drain delay short: the children are asked to stop first.
    if (this.#delaying) this.#drain(this.#delayedReason);
    this.#deadlineReason = reason;
    const stragglers = this.#stragglers();
    const order = this.#order;
    this.#children.forEach((child, index) => {
      // With an order, a child not yet asked to stop gets the deadline when it is asked.
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

  /** The drain delay has passed. */
  drainAfterDelay(): void {
    if (this.#delaying) this.#drain(this.#delayedReason);
  }

  /**
   * Every child has reported running: the group runs if each of them still does. One that is
   * already stopping (a child pool draining) will end, and the group drain, so it never runs.
   */
  #reportRunningIfAllRun(): void {
    if (this.#draining || this.#delaying) return;
    if (this.#children.every((child) => child.state === 'running')) this.#lifecycle.running();
  }

  /**
   * Whether no more children may start: a child could not start, or a stop came first — maybe
   * not heard yet (its reaction is queued behind this one), maybe waiting out a drain delay.
   */
  #stopsStarting(): boolean {
    return this.#draining || this.#delaying || this.#lifecycle.shouldStop();
  }

  #startChild(index: number): void {
    const child = this.#children[index] as Lifecycle;
    if (!child[startRun](this)) {
      this[reactionFailed](new AlreadyRunningError(child.name));
      return;
    }
    this.#started++;
    this.#order?.start(index);
  }

  /** `child` reports running for the first time: start what was waiting only for it. */
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
    this.#cancelDelay();
    this.#drainStartedAt = this.#settings.clock.now();
    this.#lifecycle[reportStopping]();
    const order = this.#order;
    // The group's deadline cannot have passed yet: a stop request always reaches it first.
    if (order === undefined) {
      for (const child of this.#children) child[stopRun](this, reason);
    } else {
      for (let index = 0; index < this.#children.length; index++) {
        if (order.free(index)) this.#askToStop(order, index);
      }
    }
    this.#finishIfDone();
  }

  /** A child has ended while the group drains: ask the children it freed to stop. */
  #stopFreed(order: OrderProgress, freed: readonly number[]): void {
    for (const index of freed) {
      if (order.free(index)) this.#askToStop(order, index);
    }
  }

  #askToStop(order: OrderProgress, index: number): void {
    const child = this.#children[index] as Lifecycle;
    order.askToStop(index, this.#settings.clock.now());
    child[stopRun](this, this.#stopReason);
    if (this.#deadlineReason !== notReached) child[expireRun](this, this.#deadlineReason);
  }

  #cancelDelay(): void {
    this.#delaying = false;
    const timer = this.#delayTimer;
    if (timer === undefined) return;
    this.#delayTimer = undefined;
    this.#settings.clock.clearTimeout(timer);
  }

  #finishIfDone(): void {
    if (!this.#draining || this.#ended < this.#started) return;
    this.#group.finished(this);
    const errors = this.#errors;
    if (errors.length === 0) this.#done.resolve(undefined);
    else this.#done.reject(errors.length === 1 ? errors[0] : new ServicesCrashedError(errors));
  }

  /** The children still running, stopping or held by a hook, for the line at the deadline. */
  #stragglers(): Straggler[] {
    const order = this.#order;
    const askedAt = (index: number) => (order ? order.askedAt(index) : this.#drainStartedAt);
    return stragglersOf(this.#settings, this.#children, askedAt);
  }

  #childEndedReason(child: Lifecycle, error: Error | undefined): DOMException {
    const how = error === undefined ? 'stopped on its own' : 'crashed';
    const { kind, name } = this.#settings;
    return stopRequestedReason(
      `${capitalized(kind)} "${name}" is stopping because service "${child.name}" ${how}`,
    );
  }
}

function capitalized(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function startChildren(group: GroupRun): void {
  group.startChildren();
}

function drainAfterDelay(group: GroupRun): void {
  group.drainAfterDelay();
}
