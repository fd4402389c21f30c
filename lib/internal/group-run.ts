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
import { internals, type Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { logs } from './log.js';
import { stopRequestedReason } from './reasons.js';
import { logStragglers, type Straggler } from './stragglers.js';
import { enqueue, runNow, type Step } from './scheduler.js';
import { childChangedStep, type StopObserver, type Supervisor } from './protocol.js';
import { isActive, type State } from '../state.js';

/** What a run of a group (a pool, a sequence) needs to know about the group; one per group. */
export interface GroupSettings {
  /** `'pool'` or `'sequence'`: the field naming the group in log metadata and messages. */
  readonly kind: 'pool' | 'sequence';
  readonly name: string;
  readonly logger: Logger;
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
 * One run of a group of children: which run, which have ended, and how the group ends.
 *
 * Without a start order (a plain pool) every child starts at once and is stopped at once. With
 * one, a child starts once everything it depends on runs, and is asked to stop once everything
 * that depends on it has ended: independent children still start and stop in parallel.
 */
export class GroupRun implements Supervisor, StopObserver {
  readonly #group: GroupOfRun;
  readonly #settings: GroupSettings;
  readonly #lifecycle: Lifecycle;
  readonly #children: readonly Lifecycle[];
  readonly #order: OrderProgress | undefined;
  readonly #done = defer<undefined>();
  readonly #errors: Error[] = [];
  #started = 0;
  #running = 0;
  #ended = 0;
  #draining = false;
  #failed = false;
  #stopReason: unknown;
  #deadlineReason: unknown = notReached;
  // A double from the start (not the small integer 0): the clock's time stored later then keeps
  // the hidden class, instead of deprecating it for a new one in every short-lived program.
  #drainStartedAt = NaN;
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

  start(): Promise<undefined> {
    internals.observeStops(this.#lifecycle, this);
    // Asked to stop before it began (say, by an onStarting hook): start no child at all.
    if (this.#lifecycle.shouldStop()) this.#drain(this.#lifecycle.signal.reason);
    else if (this.#children.length === 0) this.#lifecycle.running();
    // One step starts the first children: a child that is itself a group starts its own children
    // in a step of its own, so the stack does not grow with the depth of the tree.
    else enqueue(startChildrenStep, this, undefined, undefined);
    return this.#done.promise;
  }

  startChildren(): void {
    const order = this.#order;
    for (let index = 0; index < this.#children.length; index++) {
      // A child could not start, or a stop came first (maybe waiting out a drain delay): start no
      // more.
      if (this.#draining || this.#delaying) break;
      if (order === undefined || order.waitingFor[index] === 0) this.#startChild(index);
    }
  }

  noticeChange(child: Lifecycle, state: State): void {
    const logs = this.#logsInfo();
    if (state === 'running' && !logs && this.#order === undefined) {
      // Counted at once: only the last child to run needs a step, to report the group running.
      if (++this.#running === this.#children.length) {
        enqueue(reportRunningStep, this, undefined, undefined);
      }
    } else if (logs || state === 'running' || state === 'crashed') {
      enqueue(childChangedStep, this, child, state);
    }
  }

  reportRunning(): void {
    this.#lifecycle.running();
  }

  childChanged(child: Lifecycle, state: State): void {
    // Logged first, so the child's line comes before the lines of the group it makes run.
    this.#log(child, state);
    if (state !== 'running') return;
    if (this.#order) this.#ran(this.#order, child);
    if (++this.#running === this.#children.length) this.#lifecycle.running();
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
    internals.reportStopping(this.#lifecycle);
    this.#delaying = true;
    this.#delayedReason = reason;
    if (drainDelay === Infinity) return; // until the deadline
    this.#delayTimer = clock.setTimeout(() => {
      this.#delayTimer = undefined;
      runNow(delayedDrainStep, this, undefined, undefined);
    }, drainDelay);
  }

  /** The drain delay has passed. */
  drainAfterDelay(): void {
    this.#drain(this.#delayedReason);
  }

  deadlineReached(reason: unknown): void {
    // The deadline cuts a drain delay short: the children are asked to stop first.
    if (this.#delaying) this.#drain(this.#delayedReason);
    this.#deadlineReason = reason;
    this.#reportStragglers();
    const order = this.#order;
    this.#children.forEach((child, index) => {
      // With an order, a child not yet asked to stop gets the deadline when it is asked.
      if (order === undefined || order.has(index, askedToStop)) {
        internals.expireChild(child, this, reason);
      }
    });
  }

  fail(error: Error): void {
    // The first failure of the group's own machinery is the one to report; later ones (a logger
    // that throws at every call) are consequences of it.
    if (this.#failed) return;
    this.#failed = true;
    this.#errors.push(error);
    this.#drain(error);
    this.#finishIfDone();
  }

  #logsInfo(): boolean {
    try {
      return logs(this.#settings.logger, 'info');
    } catch {
      return true; // the logger is broken: let the log call itself fail, in the group's reaction
    }
  }

  #startChild(index: number): void {
    const child = this.#children[index] as Lifecycle;
    if (!internals.startChild(child, this, this.#lifecycle)) {
      this.fail(new AlreadyRunningError(child.name));
      return;
    }
    this.#started++;
    this.#order?.start(index);
  }

  /** `child` reports running for the first time: start what was waiting only for it. */
  #ran(order: OrderProgress, child: Lifecycle): void {
    for (const dependent of order.ran(child)) {
      if (this.#draining || this.#delaying) return;
      this.#startChild(dependent);
    }
  }

  #drain(reason: unknown): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#stopReason = reason;
    this.#cancelDelay();
    this.#drainStartedAt = this.#settings.clock.now();
    internals.reportStopping(this.#lifecycle);
    const order = this.#order;
    // The group's deadline cannot have passed yet: a stop request always reaches it first.
    if (order === undefined) {
      for (const child of this.#children) internals.stopChild(child, this, reason);
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
    internals.stopChild(child, this, this.#stopReason);
    if (this.#deadlineReason !== notReached) {
      internals.expireChild(child, this, this.#deadlineReason);
    }
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

  /** Names, at warn level, every child still running or stopping when the deadline passed. */
  #reportStragglers(): void {
    const { logger, clock, kind, name } = this.#settings;
    if (!logs(logger, 'warn')) return;
    const now = clock.now();
    const stragglers: Straggler[] = [];
    this.#children.forEach((child, index) => {
      if (!isActive(child.state)) return;
      const since = this.#order ? this.#order.askedAt(index) : this.#drainStartedAt;
      const stoppingMs = since === undefined ? undefined : Math.round(now - since);
      stragglers.push({ service: child.name, state: child.state, stoppingMs });
    });
    logStragglers(logger, { [kind]: name }, stragglers);
  }

  #childEndedReason(child: Lifecycle, error: Error | undefined): DOMException {
    const how = error === undefined ? 'stopped on its own' : 'crashed';
    const { kind, name } = this.#settings;
    return stopRequestedReason(
      `${capitalized(kind)} "${name}" is stopping because service "${child.name}" ${how}`,
    );
  }

  #log(child: Lifecycle, state: State): void {
    const { logger, kind, name } = this.#settings;
    if (state === 'crashed') {
      if (logs(logger, 'error')) {
        logger.error('service crashed', {
          service: child.name,
          [kind]: name,
          state,
          error: child.error,
        });
      }
    } else if (logs(logger, 'info')) {
      logger.info(`service ${state}`, { service: child.name, [kind]: name, state });
    }
  }
}

function capitalized(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

const failGroup = (group: GroupRun, error: Error): void => {
  group.fail(error);
};

const delayedDrainStep: Step<GroupRun, undefined, undefined> = {
  run: (group) => {
    group.drainAfterDelay();
  },
  fail: failGroup,
};

const reportRunningStep: Step<GroupRun, undefined, undefined> = {
  run: (group) => {
    group.reportRunning();
  },
  fail: failGroup,
};

const startChildrenStep: Step<GroupRun, undefined, undefined> = {
  run: (group) => {
    group.startChildren();
  },
  fail: failGroup,
};
