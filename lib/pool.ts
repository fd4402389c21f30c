import { systemClock, type Clock } from './clock.js';
import { defer } from './deferred.js';
import {
  AddWhileRunningError,
  AlreadyRunningError,
  ServiceCrashedError,
  ServicesCrashedError,
} from './errors.js';
import { internals, Lifecycle, type LifecycleOptions } from './lifecycle.js';
import { isLevelEnabled, silentLogger, type Logger } from './logger.js';
import { stopRequestedReason } from './abort-reasons.js';
import { enqueue, type Step } from './propagation.js';
import type { StopObserver, Supervisor } from './supervisor.js';
import { assertService, type Service } from './service.js';
import type { State } from './state.js';
import { assertClock, assertLogger, assertName, assertObject, invalid } from './validate.js';

/** Options of the {@link Pool} constructor. */
export interface PoolOptions {
  /** The pool's name, in logs and errors. @default 'pool' */
  name?: string;
  /** Where the pool logs its children's transitions; also given to their lifecycles. @default a silent logger */
  logger?: Logger;
  /** Timers for the children's own stop deadlines (`child.stop({ timeout })`). @default the real timers */
  clock?: Clock;
}

/**
 * Runs services in parallel, and is itself a service, so pools nest to any depth.
 *
 * The pool reports `running` once every child runs, and stops every child (with its own
 * shutdown deadline) when asked to stop. When a child crashes, or stops without being asked,
 * the pool reports `stopping`, stops the others and ends `crashed` (if any child crashed) or
 * `stopped`.
 *
 * @example
 * ```ts
 * const pool = new Pool({ name: 'app', logger: createLogger() });
 * const http = pool.add(httpService); // the child's Lifecycle, for hooks
 * const lifecycle = new Lifecycle(pool);
 * handleSignals(lifecycle, { timeout: 10_000 });
 * await lifecycle.run();
 * ```
 */
export class Pool implements Service {
  /** The pool's name. */
  readonly name: string;
  readonly #logger: Logger;
  // The options of every child's lifecycle: one object, not one per add().
  readonly #childOptions: LifecycleOptions;
  readonly #children: Lifecycle[] = [];
  // A frozen copy, rebuilt on demand after add(): handed out, and kept by each run, so nobody
  // can change the children of a pool behind add()'s back.
  #snapshot: readonly Lifecycle[] | undefined;
  #run: PoolRun | undefined;

  /**
   * An empty pool; add children with {@link Pool.add}, then run it with a {@link Lifecycle} or
   * add it to another pool.
   * @throws {TypeError} when `name` is not a non-empty string, or `logger` or `clock` is malformed.
   */
  constructor(options: PoolOptions = {}) {
    assertObject(options, 'options');
    const { name = 'pool', logger = silentLogger, clock = systemClock } = options;
    assertName(name, 'options.name');
    assertLogger(logger, 'options.logger');
    assertClock(clock, 'options.clock');
    this.name = name;
    this.#logger = logger;
    this.#childOptions = Object.freeze({ logger, clock });
  }

  /** The children's lifecycles, in the order they were added. */
  get lifecycles(): readonly Lifecycle[] {
    return (this.#snapshot ??= Object.freeze([...this.#children]));
  }

  /**
   * Adds a child; it starts with the pool's next run.
   * @returns the child's lifecycle, for hooks.
   * @throws {TypeError} when `service` is not a {@link Service}.
   * @throws {AddWhileRunningError} (`ERR_OVERSEER_ADD_WHILE_RUNNING`) while the pool runs.
   */
  add<S extends Service>(service: S): Lifecycle<S> {
    assertService(service, 'service');
    if (this.#run) throw new AddWhileRunningError(this.name, service.name);
    const lifecycle = new Lifecycle(service, this.#childOptions);
    this.#children.push(lifecycle);
    this.#snapshot = undefined;
    return lifecycle;
  }

  /**
   * Runs every child; called by the pool's lifecycle.
   * @throws {TypeError} when `lifecycle` is not a {@link Lifecycle}.
   */
  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    if (!(lifecycle instanceof Lifecycle)) invalid('lifecycle', 'a Lifecycle', lifecycle);
    if (this.#run) return Promise.reject(new AlreadyRunningError(this.name));
    const run = new PoolRun(this.name, lifecycle, this.lifecycles, this.#logger);
    this.#run = run;
    return run.start().finally(() => {
      this.#run = undefined;
    });
  }
}

/** One run of a pool: which children run, which have ended, and how it ends. */
class PoolRun implements Supervisor, StopObserver {
  readonly #name: string;
  readonly #lifecycle: Lifecycle;
  readonly #children: readonly Lifecycle[];
  readonly #logger: Logger;
  readonly #done = defer<undefined>();
  readonly #errors: Error[] = [];
  #started = 0;
  #running = 0;
  #ended = 0;
  #draining = false;
  #failed = false;

  constructor(name: string, lifecycle: Lifecycle, children: readonly Lifecycle[], logger: Logger) {
    this.#name = name;
    this.#lifecycle = lifecycle;
    this.#children = children;
    this.#logger = logger;
  }

  start(): Promise<undefined> {
    internals.observeStops(this.#lifecycle, this);
    // Asked to stop before it began (say, by an onStarting hook): start no child at all.
    if (this.#lifecycle.shouldStop()) this.#drain(this.#lifecycle.signal.reason);
    else if (this.#children.length === 0) this.#lifecycle.running();
    // One step starts every child: a child that is a pool starts its own children in a step of
    // its own, so the stack does not grow with the depth of the tree.
    else enqueue(startChildrenStep, this, undefined, undefined);
    return this.#done.promise;
  }

  startChildren(): void {
    for (const child of this.#children) {
      if (this.#draining) break; // a child could not start, or a stop came first: start no more
      this.#startChild(child);
    }
  }

  hears(state: State): boolean {
    if (state === 'running' || state === 'crashed') return true;
    try {
      return isLevelEnabled(this.#logger, 'info');
    } catch {
      return true; // the logger is broken: let the log call itself fail, in the pool's reaction
    }
  }

  childChanged(child: Lifecycle, state: State): void {
    // Logged first, so the child's line comes before the lines of the pool it makes run.
    this.#log(child, state);
    if (state === 'running' && ++this.#running === this.#children.length) {
      this.#lifecycle.running();
    }
  }

  childEnded(child: Lifecycle, error: Error | undefined): void {
    this.#ended++;
    if (error !== undefined) this.#errors.push(new ServiceCrashedError(child.name, error));
    // A child that ends while the pool has not asked it to stop ends the pool.
    if (!this.#draining) this.#drain(childEndedReason(this.#name, child, error));
    else this.#finishIfDone();
  }

  stopRequested(reason: unknown): void {
    this.#drain(reason);
  }

  deadlineReached(reason: unknown): void {
    for (const child of this.#children) internals.expireChild(child, this, reason);
  }

  fail(error: Error): void {
    // The first failure of the pool's own machinery is the one to report; later ones (a logger
    // that throws at every call) are consequences of it.
    if (this.#failed) return;
    this.#failed = true;
    this.#errors.push(error);
    this.#drain(error);
    this.#finishIfDone();
  }

  #startChild(child: Lifecycle): void {
    if (internals.startChild(child, this, this.#lifecycle)) this.#started++;
    else this.fail(new AlreadyRunningError(child.name));
  }

  #drain(reason: unknown): void {
    if (this.#draining) return;
    this.#draining = true;
    internals.reportStopping(this.#lifecycle);
    // The pool's deadline cannot have passed yet: a stop request always reaches the pool first.
    for (const child of this.#children) internals.stopChild(child, this, reason);
    this.#finishIfDone();
  }

  #finishIfDone(): void {
    if (!this.#draining || this.#ended < this.#started) return;
    const errors = this.#errors;
    if (errors.length === 0) this.#done.resolve(undefined);
    else this.#done.reject(errors.length === 1 ? errors[0] : new ServicesCrashedError(errors));
  }

  #log(child: Lifecycle, state: State): void {
    if (state === 'crashed') {
      if (isLevelEnabled(this.#logger, 'error')) {
        this.#logger.error('service crashed', {
          service: child.name,
          pool: this.#name,
          state,
          error: child.error,
        });
      }
    } else if (isLevelEnabled(this.#logger, 'info')) {
      this.#logger.info(`service ${state}`, { service: child.name, pool: this.#name, state });
    }
  }
}

const startChildrenStep: Step<PoolRun, undefined, undefined> = {
  run: (pool) => {
    pool.startChildren();
  },
  fail: (pool, error) => {
    pool.fail(error);
  },
};

function childEndedReason(pool: string, child: Lifecycle, error: Error | undefined): DOMException {
  const how = error === undefined ? 'stopped on its own' : 'crashed';
  return stopRequestedReason(`Pool "${pool}" is stopping because service "${child.name}" ${how}`);
}
