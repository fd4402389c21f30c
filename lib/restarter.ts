import { EventEmitter } from 'eventemitter3';
import {
  backoffSettings,
  RestartBudget,
  type BackoffOptions,
  type BackoffSettings,
} from './internal/backoff.js';
import { systemClock, type Clock } from './clock.js';
import { defer } from './internal/deferred.js';
import { AlreadyRunningError, RestartLimitError } from './errors.js';
import { internals, Lifecycle } from './lifecycle.js';
import { silentLogger, type Logger } from './logger.js';
import { logs } from './internal/log.js';
import { enqueue, runNow, type Step } from './internal/scheduler.js';
import { assertService, type Service } from './service.js';
import type { State } from './state.js';
import { logStragglers } from './internal/stragglers.js';
import { childChangedStep, type StopObserver, type Supervisor } from './internal/protocol.js';
import {
  assertClock,
  assertFunction,
  assertLogger,
  assertName,
  assertObject,
  invalid,
  withoutUndefined,
} from './internal/validate.js';

/** When a {@link Restarter} restarts its child: only after a crash, or whenever it ends on its own. */
export type RestartMode = 'on-crash' | 'always';

/** Options of the {@link Restarter} constructor. */
export interface RestarterOptions extends BackoffOptions {
  /** The restarter's name. @default the child's name */
  name?: string;
  /** `'on-crash'`: a child that stops on its own ends the restarter; `'always'`: it is restarted too. @default 'on-crash' */
  restart?: RestartMode;
  /** Where restarts and giving up are logged; also given to the child's lifecycle. @default a silent logger */
  logger?: Logger;
  /** Timers for the restart delays and the child's own deadlines. @default the real timers */
  clock?: Clock;
  /** A number in [0, 1) for the jitter; inject one in tests. @default Math.random */
  random?: () => number;
  /** The `hookTimeout` of the child's lifecycle (see `LifecycleOptions.hookTimeout`). @default 10_000 */
  hookTimeout?: number;
}

/** How `pool.add(service, { restart })` restarts a child: a mode, or a Restarter's options. */
export type RestartPolicy = RestartMode | RestarterOptions;

/** The events of a {@link Restarter}. */
export interface RestarterEvents {
  /**
   * The child failed and will be started again after `delay` ms. `attempt` counts the restarts
   * of this run (1, 2, …); `error` is the child's error (undefined when, with
   * `restart: 'always'`, it stopped on its own).
   */
  restart: (attempt: number, error: Error | undefined, delay: number) => void;
}

interface RestarterSettings {
  readonly name: string;
  readonly mode: RestartMode;
  readonly backoff: BackoffSettings;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
}

const modes: readonly RestartMode[] = ['on-crash', 'always'];

/**
 * A service that runs another one and restarts it when it crashes (with `restart: 'always'`,
 * also when it ends on its own), waiting longer after each failure (`initialDelay` × `factor`ⁿ,
 * up to `maxDelay`, less up to `jitter` of it). A failure counts for `window` ms; one more than
 * `maxRestarts` within the window gives up: the restarter crashes with a
 * {@link RestartLimitError} carrying the child's last error.
 *
 * The restarter reports `running` when its child first runs, and stays running across restarts.
 * A stop request stops the child, or cuts a restart delay short; no timer outlives the run. The
 * child's lifecycle is the same object across restarts, so its hooks see every run.
 *
 * @example
 * ```ts
 * const consumer = new Restarter(queueConsumer, { maxRestarts: 5, window: 60_000 });
 * consumer.on('restart', (attempt, error, delay) => metrics.restarts.inc());
 * pool.add(consumer);
 * // or, the same: pool.add(queueConsumer, { restart: { maxRestarts: 5 } });
 * ```
 */
export class Restarter<S extends Service = Service>
  extends EventEmitter<RestarterEvents>
  implements Service
{
  /** The restarter's name (the child's unless given). */
  readonly name: string;
  /** The service restarted. */
  readonly service: S;
  /** The child's lifecycle, the same across restarts: add hooks to it. */
  readonly lifecycle: Lifecycle<S>;
  /** The child's lifecycle, as a one-element list (the tree walkers read `lifecycles`). */
  readonly lifecycles: readonly Lifecycle[];
  readonly #settings: RestarterSettings;
  #run: RestarterRun | undefined;

  /**
   * A restarter of `service`; run it with a {@link Lifecycle} or add it to a pool.
   * @throws {TypeError} when `service` is not a {@link Service} or an option is malformed.
   */
  constructor(service: S, options: RestarterOptions = {}) {
    super();
    assertService(service, 'service');
    this.#settings = restarterSettings(service, options, 'options');
    this.name = this.#settings.name;
    this.service = service;
    const { logger, clock } = this.#settings;
    this.lifecycle = new Lifecycle(service, { logger, clock });
    this.lifecycles = Object.freeze([this.lifecycle as Lifecycle]);
  }

  /**
   * Runs the child and restarts it as configured; called by the restarter's lifecycle.
   * @throws {TypeError} when `lifecycle` is not a {@link Lifecycle}.
   */
  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    if (!(lifecycle instanceof Lifecycle)) invalid('lifecycle', 'a Lifecycle', lifecycle);
    if (this.#run) return Promise.reject(new AlreadyRunningError(this.name));
    const run = new RestarterRun(this, this.#settings, lifecycle, this.lifecycle as Lifecycle);
    this.#run = run;
    return run.start().finally(() => {
      this.#run = undefined;
    });
  }
}

/**
 * The service `pool.add(service, { restart: policy })` runs: `service` in a {@link Restarter}
 * with the group's logger and clock unless the policy sets its own.
 * @throws {TypeError} naming `options.restart…` when the policy is malformed.
 */
export function restartable(
  service: Service,
  policy: RestartPolicy,
  defaults: { readonly logger?: Logger; readonly clock?: Clock },
): Restarter {
  if (typeof policy === 'string') {
    if (!modes.includes(policy))
      invalid('options.restart', "'on-crash', 'always' or an object", policy);
    return new Restarter(service, { ...defaults, restart: policy });
  }
  assertObject(policy, 'options.restart');
  restarterSettings(service, policy, 'options.restart'); // name the option in any TypeError
  return new Restarter(service, { ...defaults, ...withoutUndefined(policy) });
}

function restarterSettings(
  service: Service,
  options: RestarterOptions,
  prefix: string,
): RestarterSettings {
  assertObject(options, prefix);
  const {
    name = service.name,
    restart = 'on-crash',
    logger = silentLogger,
    clock = systemClock,
    random = Math.random,
  } = options;
  assertName(name, `${prefix}.name`);
  if (!modes.includes(restart)) invalid(`${prefix}.restart`, "'on-crash' or 'always'", restart);
  assertLogger(logger, `${prefix}.logger`);
  assertClock(clock, `${prefix}.clock`);
  assertFunction(random, `${prefix}.random`);
  const backoff = backoffSettings(options, prefix);
  return Object.freeze({ name, mode: restart, backoff, logger, clock, random });
}

/** Where a run of a restarter is: its child runs, it waits to restart it, or it has ended. */
type Phase = 'child' | 'waiting' | 'ended';

/** One run of a restarter: the child's runs, the failures that count, and the delay timer. */
class RestarterRun implements Supervisor, StopObserver {
  readonly #restarter: Restarter;
  readonly #settings: RestarterSettings;
  readonly #lifecycle: Lifecycle;
  readonly #child: Lifecycle;
  readonly #budget: RestartBudget;
  readonly #done = defer<undefined>();
  // 'waiting' also covers the moment before the first start, which is a step away.
  #phase: Phase = 'waiting';
  #stopping = false;
  // A double from the start, like every clock time a class keeps (see group-run.ts).
  #stopRequestedAt = NaN;
  #timer: unknown;
  #attempts = 0;
  #failure: Error | undefined;

  constructor(
    restarter: Restarter,
    settings: RestarterSettings,
    lifecycle: Lifecycle,
    child: Lifecycle,
  ) {
    this.#restarter = restarter;
    this.#settings = settings;
    this.#lifecycle = lifecycle;
    this.#child = child;
    this.#budget = new RestartBudget(settings.backoff, settings.random);
  }

  start(): Promise<undefined> {
    internals.observeStops(this.#lifecycle, this);
    if (this.#lifecycle.shouldStop()) this.stopRequested(this.#lifecycle.signal.reason);
    else enqueue(startChildStep, this, undefined, undefined);
    return this.#done.promise;
  }

  /** Starts the child (again); from a step, so that nested composites do not grow the stack. */
  startChild(): void {
    this.#timer = undefined;
    if (this.#phase !== 'waiting') return;
    if (this.#stopping) {
      this.#finish(this.#failure);
      return;
    }
    if (!internals.startChild(this.#child, this, this.#lifecycle)) {
      this.fail(new AlreadyRunningError(this.#child.name));
      return;
    }
    this.#phase = 'child';
  }

  noticeChange(child: Lifecycle, state: State): void {
    if (state === 'running') enqueue(childChangedStep, this, child, state);
  }

  childChanged(_child: Lifecycle, state: State): void {
    // Ignored by the restarter's lifecycle after the first time: it stays running.
    if (state === 'running') this.#lifecycle.running();
  }

  childEnded(_child: Lifecycle, error: Error | undefined): void {
    this.#phase = 'waiting';
    if (this.#stopping) this.#finish(this.#failure ?? error);
    else if (error === undefined && this.#settings.mode === 'on-crash') this.#finish(undefined);
    else this.#restartLater(error);
  }

  stopRequested(reason: unknown): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stopRequestedAt = this.#settings.clock.now();
    internals.reportStopping(this.#lifecycle);
    if (this.#phase === 'child') internals.stopChild(this.#child, this, reason);
    // Waiting: the stop cuts the delay short.
    else this.#finish(this.#failure);
  }

  deadlineReached(reason: unknown): void {
    if (this.#phase !== 'child') return;
    const { logger, clock, name } = this.#settings;
    const child = this.#child;
    const stoppingMs = Math.round(clock.now() - this.#stopRequestedAt);
    logStragglers(logger, { restarter: name }, [
      { service: child.name, state: child.state, stoppingMs },
    ]);
    internals.expireChild(child, this, reason);
  }

  fail(error: Error): void {
    this.#failure ??= error;
    this.stopRequested(error);
  }

  #restartLater(error: Error | undefined): void {
    const { clock, backoff } = this.#settings;
    const delay = this.#budget.fail(clock.now());
    if (delay === undefined) {
      const failure = new RestartLimitError(
        this.#child.name,
        this.#budget.restarts,
        backoff.window,
        error,
      );
      this.#log('error', 'service failed too often, giving up', {
        restarts: failure.restarts,
        error,
      });
      this.#finish(failure);
      return;
    }
    const attempt = ++this.#attempts;
    this.#log('warn', 'service failed, restarting', { attempt, delay, error });
    this.#emitRestart(attempt, error, delay);
    this.#timer = clock.setTimeout(() => {
      runNow(startChildStep, this, undefined, undefined);
    }, delay);
  }

  /** Emits `'restart'`; a listener that throws is logged, and changes nothing. */
  #emitRestart(attempt: number, error: Error | undefined, delay: number): void {
    try {
      this.#restarter.emit('restart', attempt, error, delay);
    } catch (listenerError) {
      this.#log('error', 'restart listener failed', { error: listenerError });
    }
  }

  #finish(error: Error | undefined): void {
    if (this.#phase === 'ended') return;
    this.#phase = 'ended';
    if (this.#timer !== undefined) this.#settings.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (error === undefined) this.#done.resolve(undefined);
    else this.#done.reject(error);
  }

  #log(level: 'warn' | 'error', message: string, meta: Record<string, unknown>): void {
    const { logger, name } = this.#settings;
    if (logs(logger, level)) {
      logger[level](message, { service: this.#child.name, restarter: name, ...meta });
    }
  }
}

const startChildStep: Step<RestarterRun, undefined, undefined> = {
  run: (restarter) => {
    restarter.startChild();
  },
  fail: (restarter, error) => {
    restarter.fail(error);
  },
};
