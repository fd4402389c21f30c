import type { Lifecycle } from './lifecycle.js';
import type { State } from './state.js';
import { childrenOf } from './internal/protocol.js';
import { reportedErrorsOf, type ReportedError } from './internal/service-errors.js';
import { assertObject, assertOptions, invalid } from './internal/validate.js';

export type { ReportedError } from './internal/service-errors.js';

/** What a service tree looks like at one moment: `lifecycle.snapshot()`. */
export interface Snapshot {
  /** The service's name. */
  readonly name: string;
  readonly state: State;
  /** When it entered `state`: the clock's time (ms since the Unix epoch); `undefined` if it never ran. */
  readonly since: number | undefined;
  /** How long its last run took to reach `running`, in ms; `undefined` if it has not. */
  readonly startupMs: number | undefined;
  /** Why it crashed; only present when `state` is `'crashed'`. */
  readonly error?: Error;
  /**
   * How many non-fatal errors the service has reported with `lifecycle.reportError()`, over the
   * lifecycle's whole life (a new run does not reset it); only present once it has reported one.
   */
  readonly errorCount?: number;
  /** The last errors it reported (up to 10), oldest first; present with `errorCount`. */
  readonly recentErrors?: readonly ReportedError[];
  /** The snapshots of its children (a pool's, a sequence's, a restarter's), in order. */
  readonly children: readonly Snapshot[];
}

interface Node {
  name: string;
  state: State;
  since: number | undefined;
  startupMs: number | undefined;
  error?: Error;
  errorCount?: number;
  recentErrors?: readonly ReportedError[];
  children: Snapshot[];
}

/**
 * The snapshot of `root` and everything under it. Walks the tree with an explicit stack, so a
 * chain of 10,000 nested pools costs no call stack; a lifecycle met twice is shown once.
 */
export function snapshotOf(root: Lifecycle): Snapshot {
  const seen = new Set<Lifecycle>();
  let top: Node | undefined;
  // Pre-order, children pushed in reverse: a lifecycle reachable twice gets its subtree where
  // it is first drawn, and an empty copy nowhere (it is skipped the second time).
  const stack: [Lifecycle, Node | undefined][] = [[root, undefined]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [lifecycle, parent] = next;
    if (seen.has(lifecycle)) continue;
    seen.add(lifecycle);
    const node = nodeOf(lifecycle);
    if (parent) parent.children.push(node);
    else top = node;
    const children = childrenOf(lifecycle.service);
    for (let index = children.length - 1; index >= 0; index--) {
      stack.push([children[index] as Lifecycle, node]);
    }
  }
  return top as Node;
}

/** One lifecycle's own part of a snapshot, with no children yet. */
export function nodeOf(lifecycle: Lifecycle): Node {
  const { name, state, since, startupMs, error } = lifecycle;
  const node: Node = { name, state, since, startupMs, children: [] };
  if (state === 'crashed' && error !== undefined) node.error = error;
  const reported = reportedErrorsOf(lifecycle);
  if (reported !== undefined) {
    node.errorCount = reported.count;
    node.recentErrors = reported.recent();
  }
  return node;
}

/** Options of {@link formatTree}. */
export interface FormatTreeOptions {
  /** The time durations are measured to (the clock the lifecycles use). @default Date.now() */
  now?: number;
}

// Every option, listed once; the compiler checks the list against FormatTreeOptions.
const optionNames = Object.keys({ now: true } satisfies Record<keyof FormatTreeOptions, true>);

/**
 * Renders a snapshot as an indented text tree, one service per line with its state, how long it
 * has been in it and how long it took to start, for logs and terminals:
 *
 * ```text
 * app: running for 12.5 s (started in 45 ms)
 * ├── http: running for 12.5 s (started in 3 ms)
 * └── workers: crashed for 1.2 s: Error: queue unreachable
 *     └── jobs: crashed for 1.2 s: Error: queue unreachable
 * ```
 * @throws {TypeError} when `snapshot` is not an object, an option is unknown, or `options.now` is
 * not a number.
 */
export function formatTree(snapshot: Snapshot, options: FormatTreeOptions = {}): string {
  assertObject(snapshot, 'snapshot');
  assertOptions(options, 'options', optionNames);
  const { now = Date.now() } = options;
  if (!Number.isFinite(now)) invalid('options.now', 'a finite number', now);
  const lines: string[] = [];
  // [node, prefix of its own line, prefix of its children's lines]
  const stack: [Snapshot, string, string][] = [[snapshot, '', '']];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [node, prefix, childPrefix] = next;
    lines.push(`${prefix}${describeNode(node, now)}`);
    const { children } = node;
    for (let index = children.length - 1; index >= 0; index--) {
      const last = index === children.length - 1;
      const child = children[index] as Snapshot;
      stack.push([
        child,
        `${childPrefix}${last ? '└── ' : '├── '}`,
        `${childPrefix}${last ? '    ' : '│   '}`,
      ]);
    }
  }
  return lines.join('\n');
}

// 'http: running for 12.5 s (started in 3 ms)'
function describeNode(node: Snapshot, now: number): string {
  if (node.since === undefined) return `${node.name}: ${node.state} (never run)`;
  let text = `${node.name}: ${node.state} for ${formatDuration(now - node.since)}`;
  if (node.startupMs !== undefined) text += ` (started in ${formatDuration(node.startupMs)})`;
  if (node.error) text += `: ${node.error.name}: ${node.error.message}`;
  return text;
}

/** '850 ms', '12.5 s', '3 min 5 s', '2 h 15 min'. */
export function formatDuration(ms: number): string {
  const rounded = Math.max(0, Math.round(ms));
  if (rounded < 1_000) return `${rounded} ms`;
  // Below 59.95 s, which would print as '60.0 s'.
  if (rounded < 59_950) return `${(rounded / 1_000).toFixed(1)} s`;
  const seconds = Math.round(rounded / 1_000);
  if (seconds < 3_600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3_600)} h ${Math.floor((seconds % 3_600) / 60)} min`;
}
