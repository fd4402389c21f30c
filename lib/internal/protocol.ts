import type { Lifecycle } from '../lifecycle.js';
import type { Step } from './scheduler.js';
import type { State } from '../state.js';

/** How a composite service (a pool) hears from the children it runs. */
export interface Supervisor {
  /**
   * `child` moved to `state`, called inside the transition (its hooks have run). It reacts in a
   * step of its own, enqueued here (`childChangedStep`), or not at all: a pool with nothing to log
   * counts `running` children here and enqueues one step when the last one runs. Must not throw.
   */
  noticeChange(child: Lifecycle, state: State): void;
  /** The step `noticeChange` enqueued for `child`'s move to `state`. */
  childChanged(child: Lifecycle, state: State): void;
  /** `child`'s run has ended and settled (its hooks' promises included); `error` if it crashed. */
  childEnded(child: Lifecycle, error: Error | undefined): void;
  /** The supervisor's own reaction threw: it must end its run with `error`. */
  fail(error: Error): void;
}

/** How a composite service hears that its own lifecycle was asked to stop or hit its deadline. */
export interface StopObserver {
  stopRequested(reason: unknown): void;
  deadlineReached(reason: unknown): void;
  fail(error: Error): void;
}

/** Tells a composite service that its lifecycle was asked to stop. */
export const stopRequestedStep: Step<StopObserver, unknown, undefined> = {
  run: (observer, reason) => {
    observer.stopRequested(reason);
  },
  fail: (observer, error) => {
    observer.fail(error);
  },
};

/** Tells a composite service that its lifecycle's shutdown deadline has passed. */
export const deadlineReachedStep: Step<StopObserver, unknown, undefined> = {
  run: (observer, reason) => {
    observer.deadlineReached(reason);
  },
  fail: stopRequestedStep.fail,
};

/** Tells a supervisor that its child moved to a state. */
export const childChangedStep: Step<Supervisor, Lifecycle, State> = {
  run: (supervisor, child, state) => {
    supervisor.childChanged(child, state);
  },
  fail: (supervisor, error) => {
    supervisor.fail(error);
  },
};

/** Tells a supervisor that its child's run has ended. */
export const childEndedStep: Step<Supervisor, Lifecycle, Error | undefined> = {
  run: (supervisor, child, error) => {
    supervisor.childEnded(child, error);
  },
  fail: childChangedStep.fail,
};
