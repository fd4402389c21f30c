import type { Clock } from '../clock.js';
import type { HookEvent } from '../lifecycle-events.js';
import type { State } from '../state.js';
import { Deadline } from './deadline.js';
import { defer, type Deferred } from './deferred.js';
import type { HookSink, Hooks } from './hook-dispatch.js';
import { PendingHooks } from './pending-hooks.js';
import type { Lifecycle } from '../lifecycle.js';
import { tellChildEnded, type Composite, type Owner } from './protocol.js';
import { deadlinePassedReason } from './reasons.js';
import { schedule } from './scheduler.js';
import { Moment } from './stop-wait.js';

/** The moments of a run that services wait for, asked for while the lifecycle was idle. */
export interface Moments {
  stopMoment?: Moment;
  deadlineMoment?: Moment;
}

// What a signal's reason field holds until it aborts (an abort reason may be undefined).
const notAborted = Symbol('not aborted');

/**
 * One run of a lifecycle: its stop request and `signal`, its own shutdown deadline and
 * `shutdownSignal`, the promises of its hooks, and whoever waits for its end. A new run starts
 * from scratch, so nothing leaks from one run to the next.
 *
 * Both signals are built only when read: most services of a large pool read at most one.
 */
export class Run implements HookSink {
  /**
   * `active` from `run()` until the service has returned, `ending` while the final transition's
   * hooks' promises settle, `settled` after.
   */
  phase: 'active' | 'ending' | 'settled' = 'active';
  /** The composite service that started this run, if any. */
  readonly owner: Owner | undefined;
  /** The composite service this lifecycle runs, told of the stop and the deadline. */
  composite: Composite | undefined;
  /**
   * Why the run crashed: what the service threw, or a failure of the library's own reaction
   * during the run (which wins: the run ends crashed with it once the service has returned).
   */
  error: Error | undefined;
  #stop: AbortController | undefined;
  #stopReason: unknown = notAborted;
  #shutdown: AbortController | undefined;
  #shutdownReason: unknown = notAborted;
  #deadline: Deadline | undefined;
  #pendingHooks: PendingHooks | undefined;
  #done: Deferred<void> | undefined;
  #ended: Deferred<State> | undefined;
  // What services wait for without a signal: built only when asked for.
  #stopMoment: Moment | undefined;
  #deadlineMoment: Moment | undefined;
  #startTimer: unknown;
  #startClock: Clock | undefined;

  constructor(owner: Owner | undefined) {
    this.owner = owner;
  }

  /** Comes when a stop is requested, or when the service has returned. */
  get stopMoment(): Moment {
    return (this.#stopMoment ??= new Moment(this.stopRequested || this.phase !== 'active'));
  }

  /** Comes when the shutdown deadline passes, or when the run has settled. */
  get deadlineMoment(): Moment {
    return (this.#deadlineMoment ??= new Moment(this.deadlinePassed || this.phase === 'settled'));
  }

  /** Takes over the moments asked for while the lifecycle was idle, for this run. */
  adopt(moments: Moments): void {
    this.#stopMoment = moments.stopMoment;
    this.#deadlineMoment = moments.deadlineMoment;
  }

  /** Calls `onTimeout` in `ms` unless the run reports `running` or ends first. */
  armStartTimer(clock: Clock, ms: number, onTimeout: () => void): void {
    this.#startClock = clock;
    this.#startTimer = clock.setTimeout(() => {
      this.#startTimer = undefined;
      onTimeout();
    }, ms);
  }

  /** The run has left `starting`, or ended: its start timer, if any, is cleared. */
  clearStartTimer(): void {
    if (this.#startTimer === undefined) return;
    this.#startClock?.clearTimeout(this.#startTimer);
    this.#startTimer = undefined;
  }

  /** Whether a stop has been requested: `lifecycle.shouldStop()`. */
  get stopRequested(): boolean {
    return this.#stopReason !== notAborted;
  }

  /** Why a stop was requested, if it was (the signal's reason, without building the signal). */
  get stopReason(): unknown {
    return this.#stopReason === notAborted ? undefined : this.#stopReason;
  }

  /** Whether the shutdown deadline has passed. */
  get deadlinePassed(): boolean {
    return this.#shutdownReason !== notAborted;
  }

  /** `lifecycle.signal`: aborts when a stop is requested. */
  get signal(): AbortSignal {
    this.#stop ??= controllerAborted(this.#stopReason);
    return this.#stop.signal;
  }

  /** `lifecycle.shutdownSignal`: aborts at the earliest deadline this run has been given. */
  get shutdownSignal(): AbortSignal {
    this.#shutdown ??= controllerAborted(this.#shutdownReason);
    return this.#shutdown.signal;
  }

  /** The event of the oldest hook whose promise the run still waits for. */
  get heldByHook(): HookEvent | undefined {
    return this.#pendingHooks?.holding;
  }

  /** Aborts `signal` (once) and tells the composite service, in a reaction. */
  requestStop(reason: unknown): void {
    if (this.#stopReason !== notAborted) return;
    this.#stopReason = reason;
    this.#stop?.abort(reason);
    this.#stopMoment?.happen();
    if (this.composite) schedule(tellStopRequested, this.composite, reason, undefined);
  }

  /** Sets a deadline `ms` from now; an earlier one already set wins. */
  expireIn(ms: number, clock: Clock): void {
    if (this.deadlinePassed || ms === Infinity) return;
    if (ms === 0) this.expire(deadlinePassedReason());
    else this.#ownDeadline(clock).expireIn(ms);
  }

  /** Reaches the deadline when `signal` aborts (at once if it already has). */
  expireWith(signal: AbortSignal, clock: Clock): void {
    if (this.deadlinePassed) return;
    if (signal.aborted) this.expire(signal.reason);
    else this.#ownDeadline(clock).expireWith(signal);
  }

  /**
   * The deadline is reached (this run's own, or an owner's passed down): aborts `shutdownSignal`
   * (once), abandons the hooks' promises and tells the composite service.
   */
  expire(reason: unknown): void {
    this.requestStop(reason);
    if (this.#shutdownReason !== notAborted) return;
    this.#shutdownReason = reason;
    this.#deadline?.passed();
    this.#shutdown?.abort(reason);
    this.#deadlineMoment?.happen();
    this.#pendingHooks?.deadlinePassed();
    if (this.composite) schedule(tellDeadlinePassed, this.composite, reason, undefined);
  }

  hookReturned(promise: PromiseLike<unknown>, event: HookEvent, hooks: Hooks): void {
    this.#pendingHooks ??= new PendingHooks(hooks);
    this.#pendingHooks.add(promise, event);
    if (this.deadlinePassed) this.#pendingHooks.deadlinePassed();
  }

  /**
   * The service of `lifecycle` has returned and the final transition is made: the run settles
   * once its hooks' promises have, then tells its owner.
   */
  finish(lifecycle: Lifecycle, state: State): void {
    this.phase = 'ending';
    this.composite = undefined;
    this.clearStartTimer();
    this.#stopMoment?.happen();
    const pending = this.#pendingHooks;
    if (pending === undefined) this.#settle(lifecycle, state);
    else {
      pending.finish(() => {
        this.#settle(lifecycle, state);
      });
    }
  }

  /** Resolves when the run has stopped, rejects with the crash error. */
  whenDone(): Promise<void> {
    return (this.#done ??= defer()).promise;
  }

  /** Resolves with the final state once the run has settled; never rejects. */
  whenEnded(): Promise<State> {
    return (this.#ended ??= defer()).promise;
  }

  #settle(lifecycle: Lifecycle, state: State): void {
    this.phase = 'settled';
    // Kept until now, not dropped when the service returned: the deadline bounds the hooks too.
    this.#deadline?.release();
    this.#deadlineMoment?.happen();
    if (state === 'crashed') this.#done?.reject(this.error);
    else this.#done?.resolve();
    this.#ended?.resolve(state);
    if (this.owner) schedule(tellChildEnded, this.owner, lifecycle, this.error);
  }

  #ownDeadline(clock: Clock): Deadline {
    return (this.#deadline ??= new Deadline(clock, (reason) => {
      this.expire(reason);
    }));
  }
}

const tellStopRequested = (composite: Composite, reason: unknown): void => {
  composite.stopRequested(reason);
};

const tellDeadlinePassed = (composite: Composite, reason: unknown): void => {
  composite.deadlinePassed(reason);
};

/** A new controller, already aborted with `reason` unless that is `notAborted`. */
function controllerAborted(reason: unknown): AbortController {
  const controller = new AbortController();
  if (reason !== notAborted) controller.abort(reason);
  return controller;
}
