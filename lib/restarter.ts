import { EventEmitter } from 'eventemitter3';
import type { Clock } from './clock.js';
import { AlreadyRunningError } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import { assertService, type Service } from './service.js';
import { backoffSettings, type BackoffOptions } from './internal/backoff.js';
import { settingsOf, type LifecycleSettings } from './internal/lifecycle-settings.js';
import { childLifecycles, childrenOf, type CompositeService } from './internal/protocol.js';
import { RestarterRun, type RestarterSettings } from './internal/restarter-run.js';
import {
  assertFunction,
  assertName,
  assertOptions,
  invalid,
  withoutUndefined,
} from './internal/validate.js';

export type { BackoffOptions } from './internal/backoff.js';

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

/** A service's optional `healthCheck()` or `livenessCheck()`. */
type Check = () => Promise<void> | void;

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
 * In snapshots and health reports the restarter stands for its child: one node, with the
 * restarter's state and the child's own children (a restarted pool's services), and the child's
 * `healthCheck()` and `livenessCheck()`.
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
  implements Service, CompositeService
{
  /** The restarter's name (the child's unless given). */
  readonly name: string;
  /** The service restarted. */
  readonly service: S;
  /** The child's lifecycle, the same across restarts: add hooks to it. */
  readonly lifecycle: Lifecycle<S>;
  /** The child's lifecycle, as a one-element list. */
  readonly lifecycles: readonly Lifecycle[];
  readonly #settings: RestarterSettings;
  #run: RestarterRun | undefined;

  /**
   * @internal The child's own children: in the tree, the restarter's node is the child (a
   * restarted `jobs` is drawn once, not `jobs └── jobs`).
   */
  get [childLifecycles](): readonly Lifecycle[] {
    return childrenOf(this.service);
  }

  /**
   * The child's `healthCheck()` when it has one, so `health()` still asks it: the restarter's node
   * stands for the child. While a restart is pending (the restarter runs, its child does not) it
   * is a check that fails with `Service "<name>" is restarting` (`cause`: the child's crash
   * error), whether the child has a check or not: the service cannot serve until it runs again.
   * `undefined` otherwise.
   */
  get healthCheck(): Check | undefined {
    if (this.#restarting()) return () => this.#restartingCheck();
    return checkOf(this.service, 'healthCheck');
  }

  /**
   * The child's `livenessCheck()` while the child runs, when it has one; `undefined` otherwise (a
   * restart in progress is not a stuck service).
   */
  get livenessCheck(): Check | undefined {
    if (this.#restarting()) return undefined;
    return checkOf(this.service, 'livenessCheck');
  }

  /**
   * A restarter of `service`; run it with a {@link Lifecycle} or add it to a pool.
   * @throws {TypeError} when `service` is not a {@link Service} or an option is malformed.
   */
  constructor(service: S, options: RestarterOptions = {}) {
    super();
    assertService(service, 'service');
    const [settings, childSettings] = restarterSettings(service, options, 'options');
    this.#settings = settings;
    this.name = settings.name;
    this.service = service;
    this.lifecycle = new Lifecycle(service, childSettings);
    this.lifecycles = Object.freeze([this.lifecycle as Lifecycle]);
  }

  /**
   * Runs the child and restarts it as configured; called by the restarter's lifecycle.
   * @throws {TypeError} when `lifecycle` is not a {@link Lifecycle}.
   */
  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    if (!(lifecycle instanceof Lifecycle)) invalid('lifecycle', 'a Lifecycle', lifecycle);
    if (this.#run) return Promise.reject(new AlreadyRunningError(this.name));
    const run = new RestarterRun(this, this.#settings, lifecycle, this.lifecycle);
    this.#run = run;
    return run.start().finally(() => {
      this.#run = undefined;
    });
  }

  /** Whether a run of the restarter is in progress while its child does not run. */
  #restarting(): boolean {
    return this.#run !== undefined && this.lifecycle.state !== 'running';
  }

  #restartingCheck(): Promise<void> {
    const { error } = this.lifecycle;
    const message = `Service "${this.name}" is restarting`;
    return Promise.reject(error ? new Error(message, { cause: error }) : new Error(message));
  }
}

/** `service[method]`, bound to it, if it is a function. */
function checkOf(service: Service, method: 'healthCheck' | 'livenessCheck'): Check | undefined {
  const check = (service as Partial<Record<typeof method, unknown>>)[method];
  if (typeof check !== 'function') return undefined;
  return () => (check as Check).call(service);
}

/**
 * The service `pool.add(service, { restart: policy })` runs: `service` in a {@link Restarter}
 * with the group's logger and clock unless the policy sets its own.
 * @throws {TypeError} naming `options.restart…` when the policy is malformed.
 */
export function restartable(
  service: Service,
  policy: RestartPolicy,
  defaults: LifecycleSettings,
): Restarter {
  const { logger, clock, hookTimeout } = defaults;
  assertRestartPolicy(policy, 'options.restart', service);
  if (typeof policy === 'string') {
    return new Restarter(service, { logger, clock, hookTimeout, restart: policy });
  }
  return new Restarter(service, { logger, clock, hookTimeout, ...withoutUndefined(policy) });
}

/**
 * Throws a `TypeError` naming `argument` (or one of its options) unless `policy` is a
 * {@link RestartPolicy}. `service`: the service it would restart (for the default name).
 */
export function assertRestartPolicy(
  policy: unknown,
  argument: string,
  service: Service = { name: 'service', runWithLifecycle: () => undefined },
): asserts policy is RestartPolicy {
  if (typeof policy === 'string') {
    if (!modes.includes(policy as RestartMode))
      invalid(argument, "'on-crash', 'always' or an object", policy);
    return;
  }
  restarterSettings(service, policy as RestarterOptions, argument); // name the option in any TypeError
}

const known = [
  'name',
  'restart',
  'logger',
  'clock',
  'random',
  'hookTimeout',
  'initialDelay',
  'maxDelay',
  'factor',
  'jitter',
  'maxRestarts',
  'window',
] as const;

/** The restarter's own settings, and those of its child's lifecycle. */
function restarterSettings(
  service: Service,
  options: RestarterOptions,
  prefix: string,
): [RestarterSettings, LifecycleSettings] {
  assertOptions(options, prefix, known);
  const { name = service.name, restart = 'on-crash', random = Math.random } = options;
  assertName(name, `${prefix}.name`);
  if (!modes.includes(restart)) invalid(`${prefix}.restart`, "'on-crash' or 'always'", restart);
  assertFunction(random, `${prefix}.random`);
  const { logger, clock, hookTimeout } = options;
  const child = settingsOf({ logger, clock, hookTimeout }, prefix);
  const backoff = backoffSettings(options, prefix);
  const settings = {
    name,
    mode: restart,
    backoff,
    logger: child.logger,
    clock: child.clock,
    random,
  };
  return [Object.freeze(settings), child];
}
