import { DependencyTable, type Dependency, type StartOrder } from './internal/dependencies.js';
import { Group, type GroupOptions } from './internal/group.js';
import { Lifecycle } from './lifecycle.js';
import { Restarter, type RestartPolicy } from './restarter.js';
import { assertService, isService, type Service } from './service.js';
import { childLifecycles, type CompositeService } from './internal/protocol.js';
import { assertOptions, invalid } from './internal/validate.js';

/** Options of the {@link Pool} constructor. */
export type PoolOptions = GroupOptions;

/** Options of {@link Pool.add}. */
export interface AddOptions {
  /**
   * Children this one waits for: it starts once they all run, and is asked to stop only after it
   * has ended. Lifecycles `add()` returned, or services added before or after this one.
   */
  dependsOn?: readonly Dependency[];
  /** Restart the child when it crashes: it runs inside a {@link Restarter} with this policy. */
  restart?: RestartPolicy;
}

// The default of add()'s options: one shared object rather than a new one per call.
const noAddOptions: AddOptions = Object.freeze({});

/**
 * Runs services in parallel, and is itself a service, so pools nest to any depth.
 *
 * The pool reports `running` once every child runs, and stops every child (with its own
 * shutdown deadline) when asked to stop. When a child crashes, or stops without being asked,
 * the pool reports `stopping`, stops the others and ends `crashed` (if any child crashed) or
 * `stopped`. With `dependsOn`, a child starts once what it depends on runs, and stops before it;
 * independent children still start and stop in parallel.
 *
 * @example
 * ```ts
 * const pool = new Pool({ name: 'app', logger: createLogger() });
 * const db = pool.add(database);
 * pool.add(httpService, { dependsOn: [db] }); // starts once the database runs
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
  // Built by the first add() with dependsOn; a pool without dependencies never pays for it.
  #dependencies: DependencyTable | undefined;
  #order: StartOrder | undefined;

  /**
   * An empty pool; add children with {@link Pool.add}, then run it with a {@link Lifecycle} or
   * add it to another pool.
   * @throws {TypeError} when `name` is not a non-empty string, or `logger` or `clock` is malformed.
   */
  constructor(options: PoolOptions = {}) {
    this.#group = new Group('pool', false, options);
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
   * Adds a child; it starts with the pool's next run.
   * @returns the child's lifecycle, for hooks (with `restart`, the lifecycle of the
   * {@link Restarter} that runs it; the child's own is `.service.lifecycle`).
   * @throws {TypeError} when `service` is not a {@link Service}, an option is malformed, a
   * `dependsOn` lifecycle is not a child of this pool, or a dependency makes a cycle.
   * @throws {AddWhileRunningError} (`ERR_OVERSEER_ADD_WHILE_RUNNING`) while the pool runs.
   */
  add<S extends Service>(service: S, options?: AddOptions & { restart?: undefined }): Lifecycle<S>;
  add<S extends Service>(
    service: S,
    options: AddOptions & { restart: RestartPolicy },
  ): Lifecycle<Restarter<S>>;
  add(service: Service, options: AddOptions = noAddOptions): Lifecycle {
    assertService(service, 'service');
    if (options !== noAddOptions) assertOptions(options, 'options', ['dependsOn', 'restart']);
    const { dependsOn, restart } = options;
    if (dependsOn !== undefined) assertDependencies(dependsOn);
    const lifecycle = this.#group.prepare(service, restart);
    if (dependsOn?.length || this.#dependencies) this.#declare(lifecycle, dependsOn ?? []);
    this.#group.add(lifecycle);
    this.#order = undefined;
    return lifecycle;
  }

  /**
   * Runs every child; called by the pool's lifecycle. Rejects with a `TypeError` when a
   * dependency names a service that was never added.
   * @throws {TypeError} when `lifecycle` is not a {@link Lifecycle}.
   */
  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    return this.#group.run(lifecycle, () => {
      if (this.#dependencies === undefined) return undefined;
      return (this.#order ??= this.#dependencies.order(this.#group.size));
    });
  }

  /** Checks and records what the child about to be added depends on; throws before any change. */
  #declare(lifecycle: Lifecycle, dependsOn: readonly Dependency[]): void {
    const table = (this.#dependencies ??= this.#tableOfChildren());
    const index = this.#group.size;
    const aliases = aliasesOf(lifecycle.service);
    table.check(index, lifecycle, aliases, dependsOn);
    table.register(index, lifecycle, aliases);
    table.declare(index, dependsOn);
  }

  /** A dependency table that knows the children added so far (none of which depends on any). */
  #tableOfChildren(): DependencyTable {
    const table = new DependencyTable(this.name);
    this.#group.lifecycles.forEach((child, index) => {
      table.register(index, child, aliasesOf(child.service));
    });
    return table;
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
