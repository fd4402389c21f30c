import { DependencyTable, type Dependency, type StartOrder } from './internal/dependencies.js';
import { DependedOnError } from './group-errors.js';
import { Group, type GroupOptions } from './internal/group.js';
import { Lifecycle } from './lifecycle.js';
import { Restarter, type RestartPolicy } from './restarter.js';
import { assertService, isService, type Service } from './service.js';
import type { State } from './state.js';
import { childLifecycles, type CompositeService } from './internal/protocol.js';
import { assertStopOptions, type StopOptions } from './internal/stop-options.js';
import { assertOptions, invalid } from './internal/validate.js';

/** Options of the {@link Pool} constructor. */
export type PoolOptions = GroupOptions;

/** Options of {@link Pool.add}. */
export interface AddOptions {
  /**
   * Children this one waits for: it starts once they all run (a job: once it has finished), and
   * is asked to stop only after it has ended. Lifecycles `add()` returned, or services added
   * before or after this one (while the pool runs: only children already added).
   */
  dependsOn?: readonly Dependency[];
  /**
   * Restart the child when it crashes: it runs inside a {@link Restarter} with this policy.
   * `false`: not even with the pool's own `restart` policy. @default the pool's `restart`
   */
  restart?: RestartPolicy | false;
  /**
   * A one-shot job (a migration, a cache warm-up): its work is done when its
   * `runWithLifecycle` returns. It counts as ready once it has finished cleanly, and its clean
   * end does not stop the pool. @default false
   */
  job?: boolean;
  /** This child's `startTimeout` (see `LifecycleOptions.startTimeout`). @default the pool's */
  startTimeout?: number;
}

// The default of add()'s options: one shared object rather than a new one per call.
const noAddOptions: AddOptions = Object.freeze({});
const knownAddOptions = ['dependsOn', 'restart', 'job', 'startTimeout'] as const;

/**
 * Runs services in parallel, and is itself a service, so pools nest to any depth.
 *
 * The pool reports `running` once every child runs (a job: has finished), and stops every child
 * (with its own shutdown deadline) when asked to stop. When a child crashes, or stops without
 * being asked, the pool reports `stopping`, stops the others and ends `crashed` (if any child
 * crashed) or `stopped`. With `dependsOn`, a child starts once what it depends on runs, and
 * stops before it; independent children still start and stop in parallel.
 *
 * Children come and go while the pool runs: `add()` starts one at once, `remove()` (or the
 * child's own `lifecycle.stop()`) stops one without stopping the pool.
 *
 * @example
 * ```ts
 * const pool = new Pool({ name: 'app', logger: createLogger() });
 * const db = pool.add(database);
 * const migrate = pool.add(migrations, { job: true, dependsOn: [db] });
 * pool.add(httpService, { dependsOn: [migrate] }); // starts once the migrations are done
 * pool.add(queueConsumer, { restart: 'on-crash' });
 * const lifecycle = new Lifecycle(pool);
 * handleSignals(lifecycle, { timeout: 10_000 });
 * await lifecycle.run();
 * ```
 */
export class Pool implements Service, CompositeService {
  /** The pool's name. */
  readonly name: string;
  readonly #group: Group;
  // What each child declared in `dependsOn`; the table is built from it by the first add()
  // with dependsOn: a pool without dependencies never pays for it.
  readonly #declared = new Map<Lifecycle, readonly Dependency[]>();
  #dependencies: DependencyTable | undefined;
  #order: StartOrder | undefined;

  /**
   * An empty pool; add children with {@link Pool.add}, then run it with a {@link Lifecycle} or
   * add it to another pool.
   * @throws {TypeError} when `name` is not a non-empty string, or another option is malformed.
   */
  constructor(options: PoolOptions = {}) {
    this.#group = new Group('pool', false, options);
    this.#group.onLeft = (lifecycle) => {
      this.#forget(lifecycle);
    };
    this.name = this.#group.settings.name;
  }

  /** The children's lifecycles, in the order they were added. */
  get lifecycles(): readonly Lifecycle[] {
    return this.#group.lifecycles;
  }

  /** @internal */
  get [childLifecycles](): readonly Lifecycle[] {
    return this.#group.lifecycles;
  }

  /**
   * Adds a child. While the pool is `starting` or `running` the child starts at once (in a
   * reaction, once its `dependsOn` run); otherwise with the pool's next run.
   * @returns the child's lifecycle, for hooks (with a restart policy — its own or the pool's —
   * the lifecycle of the {@link Restarter} that runs it; the child's own is `.service.lifecycle`).
   * @throws {TypeError} when `service` is not a {@link Service}, an option is malformed, a
   * `dependsOn` lifecycle is not a child of this pool, or a dependency makes a cycle (while the
   * pool runs: or names a service not in the pool).
   * @throws {PoolStoppingError} (`ERR_OVERSEER_POOL_STOPPING`) while the pool is stopping.
   */
  add<S extends Service>(
    service: S,
    options?: AddOptions & { restart?: undefined | false },
  ): Lifecycle<S>;
  add<S extends Service>(
    service: S,
    options: AddOptions & { restart: RestartPolicy },
  ): Lifecycle<Restarter<S>>;
  add(service: Service, options: AddOptions = noAddOptions): Lifecycle {
    assertService(service, 'service');
    if (options !== noAddOptions) assertOptions(options, 'options', knownAddOptions);
    const { dependsOn } = options;
    if (dependsOn !== undefined) assertDependencies(dependsOn);
    const lifecycle = this.#group.prepare(service, options);
    let now: Lifecycle[] = [];
    if (dependsOn?.length || this.#dependencies) now = this.#declare(lifecycle, dependsOn ?? []);
    this.#group.add(lifecycle, now);
    this.#order = undefined;
    return lifecycle;
  }

  /**
   * Takes a child out of the pool: stops it if it runs — a deliberate stop, which does not stop
   * the pool — and removes it from `lifecycles`. A crash during its stop is in the resolved state
   * and logged, and does not crash the pool.
   * @param child the child's lifecycle, or its service.
   * @param options the stop's options, as for `lifecycle.stop()`.
   * @returns the child's final state.
   * @throws {TypeError} when `child` is not a child of this pool, or an option is malformed.
   * @throws {DependedOnError} (`ERR_OVERSEER_DEPENDED_ON`) while other children depend on it.
   */
  remove(child: Lifecycle | Service, options?: StopOptions): Promise<State> {
    const lifecycle = this.#childOf(child);
    if (options !== undefined) assertStopOptions(options);
    const table = this.#dependencies;
    if (table) {
      const dependents = table.dependentsOf(this.#group.lifecycles.indexOf(lifecycle));
      if (dependents.length > 0) {
        const names = dependents.map((index) => (this.#group.lifecycles[index] as Lifecycle).name);
        throw new DependedOnError(this.name, lifecycle.name, names);
      }
    }
    const state = this.#group.remove(lifecycle, options);
    this.#forget(lifecycle);
    return state;
  }

  /**
   * Runs every child; called by the pool's lifecycle. Rejects with a `TypeError` when a
   * dependency names a service that was never added.
   * @throws {TypeError} when `lifecycle` is not a {@link Lifecycle}.
   */
  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    return this.#group.start(lifecycle, () => {
      if (this.#dependencies === undefined) return undefined;
      return (this.#order ??= this.#dependencies.order(this.#group.size));
    });
  }

  /**
   * Checks and records what the child about to be added depends on; throws before any change.
   * @returns while the pool runs, the children it depends on.
   */
  #declare(lifecycle: Lifecycle, dependsOn: readonly Dependency[]): Lifecycle[] {
    const table = (this.#dependencies ??= this.#tableOfChildren());
    const index = this.#group.size;
    const aliases = aliasesOf(lifecycle.service);
    table.check(index, lifecycle, aliases, dependsOn);
    const running = this.#group.run !== undefined;
    const now = running ? table.resolveNow(index, lifecycle.name, dependsOn) : [];
    table.register(index, lifecycle, aliases);
    table.declare(index, dependsOn);
    if (dependsOn.length > 0) this.#declared.set(lifecycle, dependsOn);
    return now.map((at) => this.#group.lifecycles[at] as Lifecycle);
  }

  /** A dependency table that knows the children and what they declared. */
  #tableOfChildren(): DependencyTable {
    const table = new DependencyTable(this.name);
    const children = this.#group.lifecycles;
    children.forEach((child, index) => {
      table.register(index, child, aliasesOf(child.service));
    });
    children.forEach((child, index) => {
      table.declare(index, this.#declared.get(child) ?? []);
    });
    return table;
  }

  /** `lifecycle` has left the pool: the table of dependencies forgets it. */
  #forget(lifecycle: Lifecycle): void {
    this.#declared.delete(lifecycle);
    this.#order = undefined;
    if (this.#dependencies === undefined) return;
    this.#dependencies = this.#declared.size === 0 ? undefined : this.#tableOfChildren();
  }

  /** The child `child` names (its lifecycle, or its service). */
  #childOf(child: unknown): Lifecycle {
    const children = this.#group.lifecycles;
    if (child instanceof Lifecycle && children.includes(child as Lifecycle)) {
      return child as Lifecycle;
    }
    if (!(child instanceof Lifecycle) && isService(child)) {
      const found = children.filter((member) => aliasesOf(member.service).includes(child));
      if (found.length === 1) return found[0] as Lifecycle;
      if (found.length > 1) {
        throw new TypeError(
          `Expected \`child\` to name one child of pool "${this.name}", got service "${child.name}", which was added more than once; pass the lifecycle add() returned instead`,
        );
      }
    }
    return invalid('child', `a child of pool "${this.name}" (its lifecycle or service)`, child);
  }
}

/**
 * What else a child may be named by in `dependsOn`: its service; for a Restarter, also the service
 * it restarts and that service's own lifecycle.
 */
function aliasesOf(service: Service): Dependency[] {
  if (!(service instanceof Restarter)) return [service];
  return [service, service.service as Service, service.lifecycle as Lifecycle];
}

function assertDependencies(dependsOn: unknown): asserts dependsOn is readonly Dependency[] {
  if (!Array.isArray(dependsOn)) {
    invalid('options.dependsOn', 'an array of lifecycles or services', dependsOn);
  }
  dependsOn.forEach((dependency: unknown, index) => {
    if (!(dependency instanceof Lifecycle) && !isService(dependency)) {
      invalid(`options.dependsOn[${index}]`, 'a Lifecycle or a Service', dependency);
    }
  });
}
