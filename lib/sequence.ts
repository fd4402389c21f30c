import { chainOrder, type StartOrder } from './internal/dependencies.js';
import { Group, type GroupOptions } from './internal/group.js';
import type { Lifecycle } from './lifecycle.js';
import { Restarter, type RestartPolicy } from './restarter.js';
import { assertService, isService, type Service } from './service.js';
import { childLifecycles, type CompositeService } from './internal/protocol.js';
import { assertOptions, invalid } from './internal/validate.js';

/** Options of the {@link Sequence} constructor. */
export interface SequenceOptions extends GroupOptions {
  /**
   * The order in which the children stop: `'reverse'` (the last started stops first), or a list
   * of the sequence's services naming every child once, the first to stop first; each is asked
   * to stop once the one before it has ended. Checked when the sequence runs: `run()` rejects
   * with a `TypeError`, before any child starts, unless it names every child once.
   * @default 'reverse'
   */
  stopOrder?: 'reverse' | readonly Service[];
}

/** Options of {@link Sequence.add}. */
export interface SequenceAddOptions {
  /**
   * Restart the child when it crashes: it runs inside a {@link Restarter} with this policy.
   * `false`: not even with the sequence's own `restart` policy. @default the sequence's `restart`
   */
  restart?: RestartPolicy | false;
  /**
   * A one-shot job: its work is done when its `runWithLifecycle` returns; the next child starts
   * once it has finished cleanly. @default false
   */
  job?: boolean;
  /** This child's `startTimeout` (see `LifecycleOptions.startTimeout`). @default the sequence's */
  startTimeout?: number;
}

const noAddOptions: SequenceAddOptions = Object.freeze({});
const knownAddOptions = ['restart', 'job', 'startTimeout'] as const;

/**
 * Runs services one after another, and is itself a service: each child starts once the one
 * added before it reports `running` (a job: once it has finished), and the sequence reports
 * `running` once the last one does. Asked to stop, it stops them in reverse order (or in
 * `stopOrder`), each fully stopped before the next is asked.
 *
 * A child that crashes, or ends on its own, before it reports `running` makes the sequence stop
 * the children already started (in reverse) and crash with a {@link StartFailedError} naming
 * it (`cause`: the child's error, or a `ReturnedBeforeRunningError`). A child that ends after
 * the sequence runs makes it stop the others, as in a pool. Errors of several children are all
 * reported (`ServicesCrashedError`). Its membership is fixed while it runs.
 *
 * @example
 * ```ts
 * const startup = new Sequence({ name: 'startup' });
 * startup.add(database); // first up, last down
 * startup.add(migrations, { job: true }); // runs to its end before the server starts
 * startup.add(httpServer); // last up, first down
 * pool.add(startup);
 * ```
 */
export class Sequence implements Service, CompositeService {
  /** The sequence's name. */
  readonly name: string;
  readonly #group: Group;
  readonly #stopOrder: readonly Service[] | undefined;
  #order: StartOrder | undefined;

  /**
   * An empty sequence; add children with {@link Sequence.add}.
   * @throws {TypeError} when `name` is not a non-empty string, or another option is malformed.
   */
  constructor(options: SequenceOptions = {}) {
    // Anything but an object goes to the group's checks as it is, which name it.
    const isObject = typeof options === 'object' && (options as unknown) !== null;
    const { stopOrder = 'reverse', ...groupOptions } = isObject ? options : {};
    if (stopOrder !== 'reverse') assertStopOrder(stopOrder);
    this.#group = new Group('sequence', true, isObject ? groupOptions : options);
    this.#stopOrder = stopOrder === 'reverse' ? undefined : Object.freeze([...stopOrder]);
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
   * @returns the child's lifecycle, for hooks (with a restart policy, the lifecycle of the
   * {@link Restarter} that runs it).
   * @throws {TypeError} when `service` is not a {@link Service} or an option is malformed.
   * @throws {AddWhileRunningError} (`ERR_OVERSEER_ADD_WHILE_RUNNING`) while the sequence runs.
   */
  add<S extends Service>(
    service: S,
    options?: SequenceAddOptions & { restart?: undefined | false },
  ): Lifecycle<S>;
  add<S extends Service>(
    service: S,
    options: SequenceAddOptions & { restart: RestartPolicy },
  ): Lifecycle<Restarter<S>>;
  add(service: Service, options: SequenceAddOptions = noAddOptions): Lifecycle {
    assertService(service, 'service');
    assertOptions(options, 'options', knownAddOptions);
    const lifecycle = this.#group.prepare(service, options);
    this.#group.add(lifecycle);
    this.#order = undefined;
    return lifecycle;
  }

  /**
   * Runs the children in order; called by the sequence's lifecycle. Rejects with a `TypeError`,
   * before any child starts, when `stopOrder` does not name every child once.
   * @throws {TypeError} when `lifecycle` is not a {@link Lifecycle}.
   */
  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    return this.#group.start(
      lifecycle,
      () => (this.#order ??= chainOrder(this.#group.size)),
      () => this.#stopOrder && this.#stopIndexes(this.#stopOrder),
    );
  }

  /** The indexes of the children in `stopOrder`. @throws {TypeError} unless it names each once. */
  #stopIndexes(stopOrder: readonly Service[]): number[] {
    const children = this.#group.lifecycles;
    const indexes = stopOrder.map((service, position) => {
      const index = children.findIndex((child) => namedBy(child, service));
      if (index === -1) {
        throw new TypeError(
          `Expected \`options.stopOrder[${position}]\` to be a child of sequence "${this.name}", got service "${service.name}", which is not in it`,
        );
      }
      if (stopOrder.indexOf(service) !== position) {
        throw new TypeError(
          `Expected \`options.stopOrder\` to name each child of sequence "${this.name}" once, got service "${service.name}" twice`,
        );
      }
      return index;
    });
    const missing = children.filter((_child, index) => !indexes.includes(index));
    if (missing.length > 0) {
      throw new TypeError(
        `Expected \`options.stopOrder\` to name every child of sequence "${this.name}", got no ${missing.map((child) => `"${child.name}"`).join(', ')}`,
      );
    }
    return indexes;
  }
}

/** Whether `service` names `child`: its service, or the service its Restarter restarts. */
function namedBy(child: Lifecycle, service: Service): boolean {
  const own = child.service;
  return own === service || (own instanceof Restarter && own.service === service);
}

function assertStopOrder(stopOrder: unknown): asserts stopOrder is readonly Service[] {
  if (!Array.isArray(stopOrder)) {
    invalid('options.stopOrder', "'reverse' or an array of services", stopOrder);
  }
  stopOrder.forEach((service: unknown, index) => {
    if (!isService(service)) invalid(`options.stopOrder[${index}]`, 'a Service', service);
  });
}
