import type { Clock } from '../clock.js';
import type { StartOrder } from './dependencies.js';
import { AddWhileRunningError, AlreadyRunningError } from '../errors.js';
import { GroupRun, type GroupSettings } from './group-run.js';
import { Lifecycle } from '../lifecycle.js';
import { LifecycleSettings, settingsOf } from './lifecycle-settings.js';
import type { Logger } from '../logger.js';
import { restartable, type RestartPolicy } from '../restarter.js';
import type { Service } from '../service.js';
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
}

const known = ['name', 'logger', 'clock', 'drainDelay', 'hookTimeout'] as const;

/**
 * What a pool and a sequence share: their children, the options every child's lifecycle gets,
 * and the run in progress. The group's own class decides the start order.
 */
export class Group {
  readonly settings: GroupSettings;
  // The options of every child's lifecycle: one object, not one per add().
  readonly #childOptions: LifecycleSettings;
  readonly #children: Lifecycle[] = [];
  // A frozen copy, rebuilt on demand after add(): what `lifecycles` hands out, so nobody can
  // change the children of a group behind add()'s back.
  #snapshot: readonly Lifecycle[] | undefined;
  #run: GroupRun | undefined;

  /** @throws {TypeError} when `options` or one of them is malformed. */
  constructor(kind: GroupSettings['kind'], strictStart: boolean, options: GroupOptions) {
    assertOptions(options, 'options', known);
    const { name = kind, drainDelay = 0, logger, clock, hookTimeout } = options;
    assertName(name, 'options.name');
    assertDuration(drainDelay, 'options.drainDelay');
    // The children's options, checked once: one object shared by every child.
    this.#childOptions = settingsOf({ logger, clock, hookTimeout });
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

  /**
   * A lifecycle for `service` (wrapped in a {@link Restarter} when `restart` is given), not yet
   * added.
   * @throws {AddWhileRunningError} while the group runs.
   * @throws {TypeError} when `restart` is malformed.
   */
  prepare(service: Service, restart: RestartPolicy | undefined): Lifecycle {
    const { kind, name } = this.settings;
    if (this.#run) throw new AddWhileRunningError(name, service.name, kind);
    const child =
      restart === undefined ? service : restartable(service, restart, this.#childOptions);
    return new Lifecycle(child, this.#childOptions);
  }

  /** Adds a lifecycle made by {@link Group.prepare}. */
  add(lifecycle: Lifecycle): void {
    this.#children.push(lifecycle);
    this.#snapshot = undefined;
  }

  /**
   * Runs every child in `order` (all at once when undefined); `order` is asked for when the run
   * begins, and what it throws rejects the run.
   * @throws {TypeError} when `lifecycle` is not a {@link Lifecycle}.
   */
  run(lifecycle: Lifecycle, order: () => StartOrder | undefined): Promise<void> {
    if (!(lifecycle instanceof Lifecycle)) invalid('lifecycle', 'a Lifecycle', lifecycle);
    if (this.#run) return Promise.reject(new AlreadyRunningError(this.settings.name));
    let run: GroupRun;
    try {
      // The children themselves, not a frozen copy: add() is refused until the run has finished.
      run = new GroupRun(this, lifecycle, this.#children, order());
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
}
