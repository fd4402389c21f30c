import type { Clock } from '../clock.js';
import type { StartOrder } from './dependencies.js';
import { AddWhileRunningError, AlreadyRunningError } from '../errors.js';
import { PoolStoppingError } from '../group-errors.js';
import { GroupRun } from './group-run.js';
import type { GroupSettings } from './group-membership.js';
import { Lifecycle } from '../lifecycle.js';
import { LifecycleSettings, settingsOf } from './lifecycle-settings.js';
import type { Logger } from '../logger.js';
import { assertRestartPolicy, restartable, type RestartPolicy } from '../restarter.js';
import type { Service } from '../service.js';
import type { StopOptions } from './stop-options.js';
import type { State } from '../state.js';
import { markJob } from './protocol.js';
import { assertDuration, assertName, assertOptions, invalid } from './validate.js';

/** Options of the {@link Pool} and {@link Sequence} constructors. */
export interface GroupOptions {
  /** The group's name, in logs and errors. @default 'pool' or 'sequence' */
  name?: string;
  /** Where the group logs its children's transitions; also given to their lifecycles. @default a silent logger */
  logger?: Logger;
  /**
   * Timers for the children's own stop deadlines (`child.stop({ timeout })`) and restart
   * delays, and the time in the log at a missed deadline. @default the real timers
   */
  clock?: Clock;
  /**
   * Ms the group keeps its children up after it is asked to stop: it reports `stopping` at once
   * (so a readiness probe fails and the load balancer stops sending traffic) and stops its
   * children when the delay has passed, or at once when its shutdown deadline fires first.
   * @default 0
   */
  drainDelay?: number;
  /** The `hookTimeout` of every child's lifecycle (see `LifecycleOptions.hookTimeout`). @default 10_000 */
  hookTimeout?: number;
  /**
   * The `startTimeout` of every child's lifecycle (see `LifecycleOptions.startTimeout`): ms a
   * child may take to report `running`; `add(service, { startTimeout })` overrides it for one
   * child. @default Infinity
   */
  startTimeout?: number;
  /**
   * The restart policy of every child added without its own `restart` option (each runs inside a
   * {@link Restarter}); `add(service, { restart: false })` opts one child out. @default none
   */
  restart?: RestartPolicy;
}

/** What `add()` of a pool or a sequence may say about one child, checked. */
export interface ChildOptions {
  readonly restart?: RestartPolicy | false | undefined;
  readonly job?: boolean | undefined;
  readonly startTimeout?: number | undefined;
}

const known = [
  'name',
  'logger',
  'clock',
  'drainDelay',
  'hookTimeout',
  'startTimeout',
  'restart',
] as const;

/**
 * What a pool and a sequence share: their children, the options every child's lifecycle gets,
 * and the run in progress. The group's own class decides the start order.
 */
export class Group {
  readonly settings: GroupSettings;
  // The options of every child's lifecycle: one object, not one per add().
  readonly #childOptions: LifecycleSettings;
  readonly #restart: RestartPolicy | undefined;
  readonly #children: Lifecycle[] = [];
  // A frozen copy, rebuilt on demand after add(): what `lifecycles` hands out, so nobody can
  // change the children of a group behind add()'s back.
  #snapshot: readonly Lifecycle[] | undefined;
  #run: GroupRun | undefined;
  /** Called when a child has left the group on its own (its own `lifecycle.stop()`). */
  onLeft: ((lifecycle: Lifecycle) => void) | undefined;

  /** @throws {TypeError} when `options` or one of them is malformed. */
  constructor(kind: GroupSettings['kind'], strictStart: boolean, options: GroupOptions) {
    assertOptions(options, 'options', known);
    const { name = kind, drainDelay = 0, logger, clock, hookTimeout, startTimeout } = options;
    assertName(name, 'options.name');
    assertDuration(drainDelay, 'options.drainDelay');
    if (options.restart !== undefined) assertRestartPolicy(options.restart, 'options.restart');
    this.#restart = options.restart;
    // The children's options, checked once: one object shared by every child.
    this.#childOptions = settingsOf({ logger, clock, hookTimeout, startTimeout });
    const settings = this.#childOptions;
    this.settings = Object.freeze({
      kind,
      name,
      logger: settings.logger,
      clock: settings.clock,
      strictStart,
      drainDelay,
    });
  }

  /** The children's lifecycles, in the order they were added. */
  get lifecycles(): readonly Lifecycle[] {
    return (this.#snapshot ??= Object.freeze([...this.#children]));
  }

  /** How many children there are. */
  get size(): number {
    return this.#children.length;
  }

  /** The run in progress, if any. */
  get run(): GroupRun | undefined {
    return this.#run;
  }

  /**
   * A lifecycle for `service` (wrapped in a {@link Restarter} with `restart`, or the group's
   * policy), not yet added.
   * @throws {AddWhileRunningError} while a sequence runs; {@link PoolStoppingError} while a pool
   * stops.
   * @throws {TypeError} when an option is malformed.
   */
  prepare(service: Service, options: ChildOptions): Lifecycle {
    const { kind, name } = this.settings;
    const run = this.#run;
    if (run && kind === 'sequence') throw new AddWhileRunningError(name, service.name, kind);
    if (run && !run.accepting()) throw new PoolStoppingError(name, service.name);
    const { job = false, startTimeout } = options;
    if (typeof job !== 'boolean') invalid('options.job', 'a boolean', job);
    let settings = this.#childOptions;
    if (startTimeout !== undefined) {
      assertDuration(startTimeout, 'options.startTimeout');
      const { logger, clock, hookTimeout } = settings;
      settings = new LifecycleSettings(logger, clock, hookTimeout, startTimeout);
    }
    const restart = options.restart === undefined ? this.#restart : options.restart;
    if (restart !== false && restart !== undefined) assertRestartPolicy(restart, 'options.restart');
    const child =
      restart === false || restart === undefined
        ? service
        : restartable(service, restart, this.#childOptions);
    const lifecycle = new Lifecycle(child, settings);
    if (job) markJob(lifecycle);
    return lifecycle;
  }

  /**
   * Adds a lifecycle made by {@link Group.prepare}; while the group runs, it starts once the
   * children in `dependsOn` have run (in a reaction, never on this call's stack).
   */
  add(lifecycle: Lifecycle, dependsOn: readonly Lifecycle[] = []): void {
    this.#children.push(lifecycle);
    this.#snapshot = undefined;
    this.#run?.added(lifecycle, dependsOn);
  }

  /**
   * Takes `lifecycle` out of the group, stopping it (a deliberate stop) if it runs.
   * @returns its final state.
   */
  remove(lifecycle: Lifecycle, options: StopOptions | undefined): Promise<State> {
    this.#forget(lifecycle);
    const run = this.#run;
    if (run) return run.remove(lifecycle, options);
    return lifecycle.stop(options);
  }

  /**
   * Runs every child in `order` (all at once when undefined); `order` is asked for when the run
   * begins, and what it throws rejects the run.
   * @throws {TypeError} when `lifecycle` is not a {@link Lifecycle}.
   */
  start(
    lifecycle: Lifecycle,
    order: () => StartOrder | undefined,
    stopOrder?: () => readonly number[] | undefined,
  ): Promise<void> {
    if (!(lifecycle instanceof Lifecycle)) invalid('lifecycle', 'a Lifecycle', lifecycle);
    if (this.#run) return Promise.reject(new AlreadyRunningError(this.settings.name));
    let run: GroupRun;
    try {
      run = new GroupRun(this, lifecycle, [...this.#children], order(), stopOrder?.());
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the TypeError order() threw
      return Promise.reject(error);
    }
    this.#run = run;
    return run.start();
  }

  /**
   * `run` has finished: the group may run again. The run calls it, rather than a `finally()` on
   * its promise, which would cost each run two closures, two promises and two ticks.
   */
  finished(run: GroupRun): void {
    if (this.#run === run) this.#run = undefined;
  }

  /** A child of `run` stopped deliberately (its own `stop()`) and leaves the group. */
  left(lifecycle: Lifecycle): void {
    if (!this.#forget(lifecycle)) return;
    this.onLeft?.(lifecycle);
  }

  #forget(lifecycle: Lifecycle): boolean {
    const index = this.#children.indexOf(lifecycle);
    if (index === -1) return false;
    this.#children.splice(index, 1);
    this.#snapshot = undefined;
    return true;
  }
}
