import { chainOrder, type StartOrder } from './internal/dependencies.js';
import { Group, type GroupOptions } from './internal/group.js';
import type { Lifecycle } from './lifecycle.js';
import type { Restarter, RestartPolicy } from './restarter.js';
import { assertService, type Service } from './service.js';
import { childLifecycles, type CompositeService } from './internal/protocol.js';
import { assertOptions } from './internal/validate.js';

/** Options of the {@link Sequence} constructor. */
export type SequenceOptions = GroupOptions;

/** Options of {@link Sequence.add}. */
export interface SequenceAddOptions {
  /** Restart the child when it crashes: it runs inside a {@link Restarter} with this policy. */
  restart?: RestartPolicy;
}

const noAddOptions: SequenceAddOptions = Object.freeze({});

/**
 * Runs services one after another, and is itself a service: each child starts once the one
 * added before it reports `running`, and the sequence reports `running` once the last one does.
 * Asked to stop, it stops them in reverse order, each fully stopped before the one before it is
 * asked.
 *
 * A child that crashes, or ends on its own, before it reports `running` makes the sequence stop
 * the children already started (in reverse) and crash with a {@link StartFailedError} naming
 * it (`cause`: the child's error). A child that ends after the sequence runs makes it stop the
 * others, as in a pool. Errors of several children are all reported (`ServicesCrashedError`).
 *
 * @example
 * ```ts
 * const startup = new Sequence({ name: 'startup' });
 * startup.add(database); // first up, last down
 * startup.add(migrations);
 * startup.add(httpServer); // last up, first down
 * pool.add(startup);
 * ```
 */
export class Sequence implements Service, CompositeService {
  /** The sequence's name. */
  readonly name: string;
  readonly #group: Group;
  #order: StartOrder | undefined;

  /**
   * An empty sequence; add children with {@link Sequence.add}.
   * @throws {TypeError} when `name` is not a non-empty string, or `logger` or `clock` is malformed.
   */
  constructor(options: SequenceOptions = {}) {
    this.#group = new Group('sequence', true, options);
    this.name = this.#group.settings.name;
  }

  /** The children's lifecycles, in start order. */
  get lifecycles(): readonly Lifecycle[] {
    return this.#group.lifecycles;
  }

  /** @internal */
  get [childLifecycles](): readonly Lifecycle[] {
    return this.#group.lifecycles;
  }

  /**
   * Adds a child after the others; it starts with the sequence's next run.
   * @returns the child's lifecycle, for hooks (with `restart`, the lifecycle of the
   * {@link Restarter} that runs it).
   * @throws {TypeError} when `service` is not a {@link Service} or an option is malformed.
   * @throws {AddWhileRunningError} (`ERR_OVERSEER_ADD_WHILE_RUNNING`) while the sequence runs.
   */
  add<S extends Service>(
    service: S,
    options?: SequenceAddOptions & { restart?: undefined },
  ): Lifecycle<S>;
  add<S extends Service>(
    service: S,
    options: SequenceAddOptions & { restart: RestartPolicy },
  ): Lifecycle<Restarter<S>>;
  add(service: Service, options: SequenceAddOptions = noAddOptions): Lifecycle {
    assertService(service, 'service');
    assertOptions(options, 'options', ['restart']);
    const lifecycle = this.#group.prepare(service, options.restart);
    this.#group.add(lifecycle);
    this.#order = undefined;
    return lifecycle;
  }

  /**
   * Runs the children in order; called by the sequence's lifecycle.
   * @throws {TypeError} when `lifecycle` is not a {@link Lifecycle}.
   */
  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    return this.#group.run(lifecycle, () => (this.#order ??= chainOrder(this.#group.size)));
  }
}
