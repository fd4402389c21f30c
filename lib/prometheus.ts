/**
 * Prometheus metrics of a service tree, over `prom-client` (an optional peer dependency: only
 * this module, `overseer/prometheus`, loads it; `overseer` itself never does).
 */
import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';
import { systemClock } from './clock.js';
import { Lifecycle } from './lifecycle.js';
import { Restarter } from './restarter.js';
import type { State } from './state.js';
import { evaluate, type Probes } from './internal/health-tree.js';
import { childrenOf } from './internal/protocol.js';
import { assertOptions, invalid } from './internal/validate.js';

/** Options of {@link registerMetrics}. */
export interface RegisterMetricsOptions {
  /** The registry the metrics are registered in. @default prom-client's global `register` */
  registry?: Registry;
  /** Prepended to every metric's name. @default 'overseer_' */
  prefix?: string;
}

// Every option, listed once; the compiler checks the list against RegisterMetricsOptions.
const optionNames = Object.keys({
  registry: true,
  prefix: true,
} satisfies Record<keyof RegisterMetricsOptions, true>);

const states: readonly State[] = ['stopped', 'starting', 'running', 'stopping', 'crashed'];
// Seconds, from a fast start to the usual 30 s shutdown deadline and past it.
const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const readinessOnly: Probes = Object.freeze({ ready: true, live: false });
// The defaults of health(): the readiness gauge shares their checks in flight and their cache.
const checkSettings = Object.freeze({ timeout: 1_000, cacheMs: 1_000, clock: systemClock });
const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
// The metrics' names after the prefix, in the order they are registered (and exposed).
const metricNames: readonly string[] = Object.freeze([
  'service_state',
  'service_transitions_total',
  'service_restarts_total',
  'service_start_duration_seconds',
  'service_stop_duration_seconds',
  'ready',
]);

/** One service followed by the metrics: its lifecycle, its path, and its restarter if any. */
interface Watched {
  readonly path: string;
  readonly lifecycle: Lifecycle;
  readonly restarter: Restarter | undefined;
}

/** The metrics of one tree. */
interface Metrics {
  readonly state: Gauge<'service' | 'state'>;
  readonly transitions: Counter<'service' | 'state'>;
  readonly restarts: Counter<'service'>;
  readonly startDuration: Histogram<'service'>;
  readonly stopDuration: Histogram<'service'>;
  readonly ready: Gauge;
}

/**
 * Registers Prometheus metrics of `root` and everything under it, as the tree is now: call it
 * once the tree is built (a child added later is not followed). They keep counting across runs. Each service is labelled with
 * its path, `service="app/workers/jobs"` (a service run by a Restarter is one service, named
 * like the restarter, with its own state: `crashed`, then `starting` again at a restart). With
 * the default prefix:
 *
 * - `overseer_service_state{service, state}`: 1 for the state the service is in, 0 for the others;
 * - `overseer_service_transitions_total{service, state}`: how many times it entered each state;
 * - `overseer_service_restarts_total{service}`: the restarts of each Restarter;
 * - `overseer_service_start_duration_seconds{service}`: from `starting` to `running`;
 * - `overseer_service_stop_duration_seconds{service}`: from `stopping` to `stopped` or `crashed`;
 * - `overseer_ready`: 1 while the tree is ready (as `/readyz` says: it runs, every
 *   `healthCheck()` passes, no stop was requested), else 0.
 *
 * Serve them with `new HealthServer(root, { metrics: registry })` (`GET /metrics`), or your own
 * server. Returns a function that removes the metrics from the registry and stops following the
 * tree.
 * @throws {TypeError} when `root` is not a Lifecycle, an option is unknown or malformed, or the
 * registry already holds a metric of the same name (register each tree once, or use a `prefix`).
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { registerMetrics } from 'overseer/prometheus';
 *
 * const registry = new Registry();
 * app.add(new HealthServer(root, { metrics: registry })); // GET /metrics
 * registerMetrics(root, { registry }); // once every service is added
 * ```
 */
export function registerMetrics(root: Lifecycle, options: RegisterMetricsOptions = {}): () => void {
  if (!(root instanceof Lifecycle)) invalid('root', 'a Lifecycle', root);
  assertOptions(options, 'options', optionNames);
  const { registry = globalRegistry, prefix = 'overseer_' } = options;
  assertRegistry(registry);
  if (typeof prefix !== 'string' || (prefix !== '' && !metricName.test(prefix))) {
    invalid('options.prefix', 'a metric name prefix (letters, digits, _ and :)', prefix);
  }
  for (const name of metricNames) {
    if (registry.getSingleMetric(prefix + name) !== undefined) {
      throw new TypeError(
        `Expected \`options.registry\` to hold no metric named "${prefix + name}", but it does: register each tree once, or give another \`prefix\``,
      );
    }
  }
  const watched = walk(root);
  const metrics = createMetrics(root, watched, registry, prefix);
  const unfollow = watched.map((service) => follow(service, metrics));
  let registered = true;
  return () => {
    if (!registered) return;
    registered = false;
    for (const stop of unfollow) stop();
    for (const name of metricNames) registry.removeSingleMetric(prefix + name);
  };
}

/**
 * The services under `root`, itself included, with their paths, parents first. A Restarter and
 * its child are one service, as in snapshots: the child's lifecycle (whose state says when it
 * crashed and restarts) under the restarter's name. A lifecycle met twice is followed once; a
 * path met twice gets `#2`, `#3`… so no two services share their labels.
 */
function walk(root: Lifecycle): Watched[] {
  const watched: Watched[] = [];
  const seen = new Set<Lifecycle>();
  const paths = new Set<string>();
  const stack: [Lifecycle, string][] = [[root, '']];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [found, parentPath] = next;
    if (seen.has(found)) continue;
    seen.add(found);
    const path = uniquePath(parentPath + found.name, paths);
    const restarter = found.service instanceof Restarter ? (found.service as Restarter) : undefined;
    const lifecycle = restarter === undefined ? found : restarter.lifecycle;
    seen.add(lifecycle);
    watched.push({ path, lifecycle, restarter });
    const children = childrenOf(lifecycle.service);
    for (let index = children.length - 1; index >= 0; index--) {
      stack.push([children[index] as Lifecycle, `${path}/`]);
    }
  }
  return watched;
}

function uniquePath(path: string, taken: Set<string>): string {
  let unique = path;
  for (let count = 2; taken.has(unique); count++) unique = `${path}#${count}`;
  taken.add(unique);
  return unique;
}

function createMetrics(
  root: Lifecycle,
  watched: readonly Watched[],
  registry: Registry,
  prefix: string,
): Metrics {
  const registers = [registry];
  const labelNames = ['service'] as const;
  return {
    state: stateGauge(watched, registers, prefix),
    transitions: new Counter({
      name: `${prefix}service_transitions_total`,
      help: 'How many times the service entered the state.',
      labelNames: ['service', 'state'] as const,
      registers,
    }),
    restarts: new Counter({
      name: `${prefix}service_restarts_total`,
      help: 'How many times a Restarter restarted the service.',
      labelNames,
      registers,
    }),
    startDuration: new Histogram({
      name: `${prefix}service_start_duration_seconds`,
      help: 'How long the service took from starting to running, in seconds.',
      labelNames,
      buckets,
      registers,
    }),
    stopDuration: new Histogram({
      name: `${prefix}service_stop_duration_seconds`,
      help: 'How long the service took from stopping to stopped or crashed, in seconds.',
      labelNames,
      buckets,
      registers,
    }),
    ready: readyGauge(root, registers, prefix),
  };
}

/** The state gauge, read from the lifecycles at each scrape. */
function stateGauge(
  watched: readonly Watched[],
  registers: Registry[],
  prefix: string,
): Gauge<'service' | 'state'> {
  const gauge: Gauge<'service' | 'state'> = new Gauge({
    name: `${prefix}service_state`,
    help: 'Whether the service is in the state (1) or not (0).',
    labelNames: ['service', 'state'] as const,
    registers,
    collect() {
      for (const { path: service, lifecycle } of watched) {
        for (const state of states)
          gauge.set({ service, state }, lifecycle.state === state ? 1 : 0);
      }
    },
  });
  return gauge;
}

/** The readiness gauge, evaluated at each scrape as `/readyz` is (checks shared and cached). */
function readyGauge(root: Lifecycle, registers: Registry[], prefix: string): Gauge {
  const gauge: Gauge = new Gauge({
    name: `${prefix}ready`,
    help: 'Whether the service tree is ready (1) or not (0), as its /readyz probe says.',
    registers,
    async collect() {
      const report = await evaluate(root, checkSettings, readinessOnly);
      gauge.set(report.ready ? 1 : 0);
    },
  });
  return gauge;
}

/**
 * Counts `watched`'s transitions, restarts and durations from now on, and makes its series
 * appear at 0 at once. Returns the function that stops following it.
 */
function follow(watched: Watched, metrics: Metrics): () => void {
  const { path: service, lifecycle, restarter } = watched;
  for (const state of states) metrics.transitions.inc({ service, state }, 0);
  metrics.startDuration.zero({ service });
  metrics.stopDuration.zero({ service });
  // When the current run began stopping.
  let stoppingSince: number | undefined;
  const onStateChange = (_service: unknown, _lifecycle: unknown, state: State) => {
    metrics.transitions.inc({ service, state });
    // When the lifecycle entered `state`, by its own clock: set by every transition, as is
    // `startupMs` by `running`.
    const since = lifecycle.since as number;
    if (state === 'running') {
      metrics.startDuration.observe({ service }, (lifecycle.startupMs as number) / 1_000);
    } else if (state === 'stopping') {
      stoppingSince = since;
    } else if (state === 'starting') {
      stoppingSince = undefined;
    } else if (stoppingSince !== undefined) {
      // stopped or crashed after stopping (ending without stopping first is no stop).
      metrics.stopDuration.observe({ service }, (since - stoppingSince) / 1_000);
      stoppingSince = undefined;
    }
  };
  lifecycle.on('stateChange', onStateChange);
  const onRestart = () => {
    metrics.restarts.inc({ service });
  };
  if (restarter !== undefined) {
    metrics.restarts.inc({ service }, 0);
    restarter.on('restart', onRestart);
  }
  return () => {
    lifecycle.off('stateChange', onStateChange);
    restarter?.off('restart', onRestart);
  };
}

function assertRegistry(value: unknown): asserts value is Registry {
  const registry = value as Partial<Registry> | null;
  const ok =
    typeof registry === 'object' &&
    registry !== null &&
    typeof registry.getSingleMetric === 'function' &&
    typeof registry.registerMetric === 'function' &&
    typeof registry.removeSingleMetric === 'function';
  if (!ok) invalid('options.registry', 'a prom-client Registry', value);
}
