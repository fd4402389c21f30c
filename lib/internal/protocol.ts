/**
 * The package-internal protocol between a lifecycle and the composite service that owns it (a
 * pool, a sequence, a restarter). Symbol-keyed, so it is invisible to users and never confused
 * with a property a user's object happens to have.
 */
import type { Lifecycle } from '../lifecycle.js';
import type { HookEvent } from '../lifecycle-events.js';
import type { State } from '../state.js';
import type { Reactor } from './scheduler.js';

/** `lifecycle[startRun](owner)`: starts a run owned by `owner`; false if a run is in progress. */
export const startRun: unique symbol = Symbol('overseer.startRun');
/** `lifecycle[stopRun](owner, reason)`: asks the run `owner` started to stop. */
export const stopRun: unique symbol = Symbol('overseer.stopRun');
/** `lifecycle[expireRun](owner, reason)`: passes `owner`'s deadline on to the run it started. */
export const expireRun: unique symbol = Symbol('overseer.expireRun');
/** `lifecycle[observeRun](composite)`: tells `composite` of this run's stop and deadline. */
export const observeRun: unique symbol = Symbol('overseer.observeRun');
/** `lifecycle[reportStopping]()`: `stopping()` without building the shutdown signal. */
export const reportStopping: unique symbol = Symbol('overseer.reportStopping');
/** `lifecycle[heldByHook]()`: the event of a hook whose promise holds the ending run, if any. */
export const heldByHook: unique symbol = Symbol('overseer.heldByHook');
/** `lifecycle[stopReason]()`: the reason the current run was asked to stop with, if it was. */
export const stopReason: unique symbol = Symbol('overseer.stopReason');
/** `service[childLifecycles]`: the lifecycles a composite service runs (snapshots, health). */
export const childLifecycles: unique symbol = Symbol('overseer.childLifecycles');

/** What an owner hears from the children it runs, each in a reaction of its own. */
export interface Owner extends Reactor {
  /** `child` moved to `state` (its own hooks have run). */
  childChanged(child: Lifecycle, state: State): void;
  /** `child`'s run has ended and settled, its hooks' promises included; `error` if it crashed. */
  childEnded(child: Lifecycle, error: Error | undefined): void;
}

/** What a composite service hears about its own lifecycle's run, each in a reaction. */
export interface Composite extends Reactor {
  stopRequested(reason: unknown): void;
  deadlinePassed(reason: unknown): void;
}

/** The owner's side of a lifecycle: what only a composite service of this package calls. */
export interface OwnedLifecycle {
  [startRun](owner: Owner): boolean;
  [stopRun](owner: Owner, reason: unknown): void;
  [expireRun](owner: Owner, reason: unknown): void;
  [observeRun](composite: Composite): void;
  [reportStopping](): void;
  [heldByHook](): HookEvent | undefined;
}

/** A service that runs other lifecycles: a pool, a sequence, a restarter. */
export interface CompositeService {
  readonly [childLifecycles]: readonly Lifecycle[];
}

/** The lifecycles `service` runs, if it is a composite service of this package; none otherwise. */
export function childrenOf(service: object): readonly Lifecycle[] {
  return (service as Partial<CompositeService>)[childLifecycles] ?? [];
}

/** The reaction that tells an owner its child moved to a state. */
export function tellChildChanged(owner: Owner, child: Lifecycle, state: State): void {
  owner.childChanged(child, state);
}

/** The reaction that tells an owner its child's run has settled. */
export function tellChildEnded(owner: Owner, child: Lifecycle, error: Error | undefined): void {
  owner.childEnded(child, error);
}

// The lifecycles added to a pool or a sequence as one-shot jobs (`add(service, { job: true })`).
const jobs = new WeakSet<Lifecycle>();

/** Records that `lifecycle` runs a one-shot job: its clean end is the end of its work. */
export function markJob(lifecycle: Lifecycle): void {
  jobs.add(lifecycle);
}

/**
 * Whether `lifecycle` runs a one-shot job of a pool or a sequence. A job that has `stopped` is
 * done, not failed: health reports may count it as ready.
 */
export function isJob(lifecycle: Lifecycle): boolean {
  return jobs.has(lifecycle);
}
