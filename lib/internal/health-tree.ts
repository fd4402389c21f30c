import type { CheckResult, HealthNode, HealthReport } from '../health.js';
import type { Lifecycle } from '../lifecycle.js';
import { nodeOf, type Snapshot } from '../snapshot.js';
import { hasCheck, sharedCheck, type CheckKind, type CheckSettings } from './check-cache.js';
import { childrenOf, isJob } from './protocol.js';

/** Which checks a report runs: `/readyz` needs only the health checks, `/livez` the liveness ones. */
export interface Probes {
  readonly ready: boolean;
  readonly live: boolean;
}

/** Both kinds of check: what `health()` reports. */
export const allProbes: Probes = Object.freeze({ ready: true, live: true });

/** A service whose checks may still run; the tree is walked once, then settled bottom-up. */
interface Pending {
  readonly lifecycle: Lifecycle;
  readonly node: Omit<Snapshot, 'children'>;
  readonly check: Promise<CheckResult> | undefined;
  readonly liveness: Promise<CheckResult> | undefined;
  readonly children: Pending[];
}

const noCheck: Promise<undefined> = Promise.resolve(undefined);

/**
 * The health of `root` and everything under it, running the checks `probes` asks for (a check
 * not run counts as passed). `ready` is false as soon as a stop of the root was requested.
 */
export async function evaluate(
  root: Lifecycle,
  settings: CheckSettings,
  probes: Probes,
): Promise<HealthReport> {
  const stopRequested = root.shouldStop();
  const tree = await settle(startChecks(root, settings, probes));
  return { live: tree.live, ready: tree.ready && !stopRequested, tree };
}

/**
 * Reads every service's state and starts the checks of each running one, in one walk (with an
 * explicit list: depth costs no call stack). Returns the nodes, parents before children.
 */
function startChecks(root: Lifecycle, settings: CheckSettings, probes: Probes): Pending[] {
  const nodes = [pendingOf(root, settings, probes)];
  const seen = new Set<Lifecycle>([root]);
  for (let index = 0; index < nodes.length; index++) {
    const parent = nodes[index] as Pending;
    for (const child of childrenOf(parent.lifecycle.service)) {
      if (seen.has(child)) continue;
      seen.add(child);
      const node = pendingOf(child, settings, probes);
      parent.children.push(node);
      nodes.push(node);
    }
  }
  return nodes;
}

function pendingOf(lifecycle: Lifecycle, settings: CheckSettings, probes: Probes): Pending {
  const running = lifecycle.state === 'running';
  const start = (kind: CheckKind, wanted: boolean) =>
    running && wanted && hasCheck(lifecycle.service, kind)
      ? sharedCheck(lifecycle.service, kind, settings)
      : undefined;
  return {
    lifecycle,
    // Its `children` (empty) is replaced by the settled ones.
    node: nodeOf(lifecycle),
    check: start('healthCheck', probes.ready),
    liveness: start('livenessCheck', probes.live),
    children: [],
  };
}

/** Waits for every check, then derives readiness and liveness from the leaves up. */
async function settle(nodes: readonly Pending[]): Promise<HealthNode> {
  const [checks, livenesses] = await Promise.all([
    Promise.all(nodes.map((node) => node.check ?? noCheck)),
    Promise.all(nodes.map((node) => node.liveness ?? noCheck)),
  ]);
  const settled = new Map<Pending, HealthNode>();
  // Children come after their parent in `nodes`: walking it backwards settles them first.
  for (let index = nodes.length - 1; index >= 0; index--) {
    const pending = nodes[index] as Pending;
    const children = pending.children.map((child) => settled.get(child) as HealthNode);
    const node = nodeWith(pending, checks[index], livenesses[index], children);
    settled.set(pending, node);
  }
  return settled.get(nodes[0] as Pending) as HealthNode;
}

function nodeWith(
  pending: Pending,
  check: CheckResult | undefined,
  liveness: CheckResult | undefined,
  children: HealthNode[],
): HealthNode {
  const { node } = pending;
  const { state } = node;
  // A one-shot job that has finished is done, not down: it counts as ready.
  const done = state === 'stopped' && isJob(pending.lifecycle);
  // A dependency that fails (`healthCheck`) makes a service not ready, never not live.
  const ready =
    done || (state === 'running' && (check?.ok ?? true) && children.every((child) => child.ready));
  // A child crashed under a parent still running is being handled: a Restarter waiting to
  // restart it (a pool or a sequence would be stopping). Not ready, but alive.
  const live =
    state !== 'crashed' &&
    (liveness?.ok ?? true) &&
    children.every((child) => child.live || (state === 'running' && child.state === 'crashed'));
  // Keys in reading order: the checks (when run) before the children.
  return {
    ...node,
    ready,
    live,
    ...(check === undefined ? undefined : { check }),
    ...(liveness === undefined ? undefined : { liveness }),
    children,
  };
}
