import { systemClock, type Clock } from './clock.js';
import { toError } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import { childrenOf } from './internal/protocol.js';
import type { Service } from './service.js';
import { nodeOf, type Snapshot } from './snapshot.js';
import { assertClock, assertDuration, assertOptions, invalid } from './internal/validate.js';

/** Options of {@link health}. */
export interface HealthOptions {
  /** How long each service's `healthCheck()` may take, in ms, before it counts as failed. @default 1_000 */
  timeout?: number;
  /** Timers for the check timeouts. @default the real timers */
  clock?: Clock;
}

/** The outcome of one service's own `healthCheck()`. */
export interface CheckResult {
  /** Whether the check resolved in time. */
  readonly ok: boolean;
  /** Why it failed: what it threw or rejected with, or a timeout error. */
  readonly error?: Error;
  /** How long it took (up to the timeout), in ms. */
  readonly durationMs: number;
}

/** One service in a {@link HealthReport}: its snapshot, its own check, and what follows. */
export interface HealthNode extends Omit<Snapshot, 'children'> {
  /** It and everything under it run, and every check passed. */
  readonly ready: boolean;
  /** Nothing in it or under it crashed, and every check passed. */
  readonly healthy: boolean;
  /** Its own `healthCheck()`, when it has one and runs; otherwise absent. */
  readonly check?: CheckResult;
  readonly children: readonly HealthNode[];
}

/** The health of a service tree, for liveness and readiness probes. */
export interface HealthReport {
  /** Liveness: false only when something crashed or a check failed. */
  readonly live: boolean;
  /** Readiness: everything runs, every check passed, and no stop of the root was requested. */
  readonly ready: boolean;
  readonly tree: HealthNode;
}

/** A service with its own `healthCheck()`. */
type CheckedService = Service & Required<Pick<Service, 'healthCheck'>>;

/** A service whose check may still run; the tree is walked once, then settled bottom-up. */
interface Pending {
  readonly lifecycle: Lifecycle;
  readonly node: Omit<Snapshot, 'children'>;
  readonly check: Promise<CheckResult> | undefined;
  readonly children: Pending[];
}

const noOptions: HealthOptions = Object.freeze({});

// Every option, listed once; the compiler checks the list against HealthOptions.
const optionNames = Object.keys({
  timeout: true,
  clock: true,
} satisfies Record<keyof HealthOptions, true>);

const noCheck: Promise<undefined> = Promise.resolve(undefined);

/**
 * The health of `lifecycle` and everything under it. Readiness follows from the tree (every
 * service `running`); a service may add its own `healthCheck()` (optional, on the service
 * object), run for every running service in parallel, each within `timeout` ms.
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
  const { timeout = 1_000, clock = systemClock } = options;
  assertDuration(timeout, 'options.timeout');
  assertClock(clock, 'options.clock');
  return report(lifecycle, timeout, clock);
}

async function report(lifecycle: Lifecycle, timeout: number, clock: Clock): Promise<HealthReport> {
  const stopRequested = lifecycle.shouldStop();
  const tree = await settle(startChecks(lifecycle, timeout, clock));
  return { live: tree.healthy, ready: tree.ready && !stopRequested, tree };
}

/**
 * Reads every service's state and starts the check of each running one that has one, in one walk
 * (with an explicit stack: depth costs no call stack). Returns the nodes, parents before
 * children.
 */
function startChecks(root: Lifecycle, timeout: number, clock: Clock): Pending[] {
  const nodes = [pendingOf(root, timeout, clock)];
  const seen = new Set<Lifecycle>([root]);
  for (let index = 0; index < nodes.length; index++) {
    const parent = nodes[index] as Pending;
    for (const child of childrenOf(parent.lifecycle.service)) {
      if (seen.has(child)) continue;
      seen.add(child);
      const node = pendingOf(child, timeout, clock);
      parent.children.push(node);
      nodes.push(node);
    }
  }
  return nodes;
}

function pendingOf(lifecycle: Lifecycle, timeout: number, clock: Clock): Pending {
  const { state, service } = lifecycle;
  // Its `children` (empty) is replaced by the settled ones.
  const node = nodeOf(lifecycle);
  const check =
    state === 'running' && hasHealthCheck(service) ? runCheck(service, timeout, clock) : undefined;
  return { lifecycle, node, check, children: [] };
}

/** Waits for every check, then derives readiness and health from the leaves up. */
async function settle(nodes: readonly Pending[]): Promise<HealthNode> {
  const checks = await Promise.all(nodes.map((node) => node.check ?? noCheck));
  const settled = new Map<Pending, HealthNode>();
  // Children come after their parent in `nodes`: walking it backwards settles them first.
  for (let index = nodes.length - 1; index >= 0; index--) {
    const pending = nodes[index] as Pending;
    const check = checks[index];
    const children = pending.children.map((child) => settled.get(child) as HealthNode);
    const checkOk = check?.ok ?? true;
    const ready =
      pending.node.state === 'running' && checkOk && children.every((child) => child.ready);
    const { state } = pending.node;
    // A child crashed under a parent still running is being handled: a Restarter waiting to
    // restart it (a pool or a sequence would be stopping). Not ready, but alive.
    const healthy =
      state !== 'crashed' &&
      checkOk &&
      children.every(
        (child) => child.healthy || (state === 'running' && child.state === 'crashed'),
      );
    const node: HealthNode = check
      ? { ...pending.node, ready, healthy, check, children }
      : { ...pending.node, ready, healthy, children };
    settled.set(pending, node);
  }
  return settled.get(nodes[0] as Pending) as HealthNode;
}

function hasHealthCheck(service: Service): service is CheckedService {
  return typeof (service as Partial<CheckedService>).healthCheck === 'function';
}

/**
 * Runs one check within `timeout` ms. Never rejects: a failure is the result. The timer is
 * cleared when the check settles, and a check that settles after its timeout is ignored.
 */
function runCheck(service: CheckedService, timeout: number, clock: Clock): Promise<CheckResult> {
  const startedAt = clock.now();
  const result = (ok: boolean, error?: Error): CheckResult => {
    const durationMs = clock.now() - startedAt;
    return error === undefined ? { ok, durationMs } : { ok, error, durationMs };
  };
  return new Promise((resolve) => {
    let timer: unknown;
    if (timeout !== Infinity) {
      timer = clock.setTimeout(() => {
        resolve(
          result(
            false,
            new Error(`health check of "${service.name}" timed out after ${timeout} ms`),
          ),
        );
      }, timeout);
    }
    const done = (error?: Error): void => {
      if (timer !== undefined) clock.clearTimeout(timer);
      resolve(result(error === undefined, error));
    };
    let outcome: unknown;
    try {
      outcome = service.healthCheck();
    } catch (error) {
      done(toError(service.name, error));
      return;
    }
    Promise.resolve(outcome).then(
      () => {
        done();
      },
      (error: unknown) => {
        done(toError(service.name, error));
      },
    );
  });
}
