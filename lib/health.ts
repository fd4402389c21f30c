import { systemClock, type Clock } from './clock.js';
import { Lifecycle } from './lifecycle.js';
import type { Snapshot } from './snapshot.js';
import { allProbes, evaluate } from './internal/health-tree.js';
import { assertClock, assertDuration, assertOptions, invalid } from './internal/validate.js';

/** Options of {@link health}. */
export interface HealthOptions {
  /** How long each check (`healthCheck()`, `livenessCheck()`) may take, in ms, before it counts as failed. @default 1_000 */
  timeout?: number;
  /**
   * How long a check's result is reused, in ms: a check settled less than `checkCacheMs` ago is
   * not run again (0: only a check still in flight is shared). Every caller shares it: `health()`,
   * each `HealthServer`, the metrics. @default 1_000
   */
  checkCacheMs?: number;
  /** Timers for the check timeouts and the cache's age. @default the real timers */
  clock?: Clock;
}

/** The outcome of one of a service's own checks. */
export interface CheckResult {
  /** Whether the check resolved in time. */
  readonly ok: boolean;
  /** Why it failed: what it threw or rejected with, or a timeout error. */
  readonly error?: Error;
  /** How long it took (up to the timeout), in ms. */
  readonly durationMs: number;
}

/** One service in a {@link HealthReport}: its snapshot, its own checks, and what follows. */
export interface HealthNode extends Omit<Snapshot, 'children'> {
  /** It and everything under it run, and every `healthCheck()` passed. */
  readonly ready: boolean;
  /**
   * Nothing in it or under it crashed (but a crashed child a running Restarter will restart),
   * and every `livenessCheck()` passed. A failing `healthCheck()` never makes it false.
   */
  readonly live: boolean;
  /** Its own `healthCheck()` (readiness), when it has one and runs; otherwise absent. */
  readonly check?: CheckResult;
  /** Its own `livenessCheck()`, when it has one and runs; otherwise absent. */
  readonly liveness?: CheckResult;
  readonly children: readonly HealthNode[];
}

/** The health of a service tree, for liveness and readiness probes. */
export interface HealthReport {
  /** Liveness: false only when something crashed (and is not being restarted) or a `livenessCheck()` failed. */
  readonly live: boolean;
  /** Readiness: everything runs, every `healthCheck()` passed, and no stop of the root was requested. */
  readonly ready: boolean;
  readonly tree: HealthNode;
}

const noOptions: HealthOptions = Object.freeze({});

// Every option, listed once; the compiler checks the list against HealthOptions.
const optionNames = Object.keys({
  timeout: true,
  checkCacheMs: true,
  clock: true,
} satisfies Record<keyof HealthOptions, true>);

/**
 * The health of `lifecycle` and everything under it. Readiness follows from the tree (every
 * service `running`) and each running service's optional `healthCheck()` (can it serve: its
 * dependencies); liveness from crashes and each running service's optional `livenessCheck()`
 * (is it stuck). A failing dependency makes the tree not ready, never not live. Checks run in
 * parallel, each within `timeout` ms; a check in flight is shared by concurrent callers, and its
 * result reused for `checkCacheMs` ms.
 * @throws {TypeError} at once (not as a rejection) when `lifecycle` is not a Lifecycle or an
 * option is unknown or malformed.
 * @example
 * ```ts
 * const { live, ready, tree } = await health(root, { timeout: 500 });
 * if (!ready) logger.warn('not ready', { tree });
 * ```
 */
export function health(
  lifecycle: Lifecycle,
  options: HealthOptions = noOptions,
): Promise<HealthReport> {
  if (!(lifecycle instanceof Lifecycle)) invalid('lifecycle', 'a Lifecycle', lifecycle);
  assertOptions(options, 'options', optionNames);
  const { timeout = 1_000, checkCacheMs = 1_000, clock = systemClock } = options;
  assertDuration(timeout, 'options.timeout');
  assertDuration(checkCacheMs, 'options.checkCacheMs');
  assertClock(clock, 'options.clock');
  return evaluate(lifecycle, { timeout, cacheMs: checkCacheMs, clock }, allProbes);
}
