import type { Lifecycle, Service } from '../lib/index.js';

/** Resolves when `signal` aborts (at once if it has): the one thing a trivial service waits for. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener(
      'abort',
      () => {
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * The unit of work both sides run: a service that is ready at once and returns when told to
 * stop. Built before anything is measured, so neither side pays for the user's own objects.
 */
export class TrivialService implements Service {
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  /** The overseer protocol: report running, wait for the stop request, report stopping. */
  async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    lifecycle.running();
    await aborted(lifecycle.signal);
    lifecycle.stopping();
  }

  /** The hand-rolled protocol: run until the signal aborts. */
  async runWithSignal(signal: AbortSignal): Promise<void> {
    await aborted(signal);
  }
}

/**
 * A trivial service that returns when told to stop without calling `stopping()`, so it never
 * reads its shutdown signal: next to {@link TrivialService}, it shows what building that signal
 * (one more `AbortSignal` per service) costs. The baseline side is the same.
 */
export class NoDeadlineService extends TrivialService {
  override async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    lifecycle.running();
    await aborted(lifecycle.signal);
  }
}

/**
 * A trivial service that waits with `lifecycle.whenStopRequested()` instead of its signal, and
 * does not call `stopping()`: it builds no `AbortSignal` at all. The baseline side is the same.
 */
export class StopRequestService extends TrivialService {
  override async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    lifecycle.running();
    await lifecycle.whenStopRequested();
  }
}

/**
 * How the services of S1 wait: `'signal'` ({@link TrivialService}), `'no stopping()'`
 * ({@link NoDeadlineService}), `'whenStopRequested'` ({@link StopRequestService}).
 */
export type Variant = 'signal' | 'no stopping()' | 'whenStopRequested';

const kinds = {
  signal: TrivialService,
  'no stopping()': NoDeadlineService,
  whenStopRequested: StopRequestService,
} satisfies Record<Variant, typeof TrivialService>;

/** `count` trivial services named `s0`, `s1`, …, of the given {@link Variant}. */
export function trivialServices(count: number, variant: Variant = 'signal'): TrivialService[] {
  const Kind = kinds[variant];
  return Array.from({ length: count }, (_, index) => new Kind(`s${index}`));
}

/** A node of a service tree: a leaf service, or a group of child nodes. */
export type TreeNode = TrivialService | readonly TreeNode[];

/** A complete tree `depth` levels deep (a single leaf at depth 1) with `fanOut` children per group. */
export function balancedTree(depth: number, fanOut: number): TreeNode {
  if (depth === 1) return new TrivialService('leaf');
  return Array.from({ length: fanOut }, () => balancedTree(depth - 1, fanOut));
}

/** A chain of `depth` groups, each holding the next, with one leaf at the bottom. */
export function chain(depth: number): TreeNode {
  let node: TreeNode = new TrivialService('leaf');
  for (let level = 0; level < depth; level++) node = [node];
  return node;
}

/** How many nodes (groups and leaves) a tree has. */
export function countNodes(node: TreeNode): number {
  if (node instanceof TrivialService) return 1;
  let count = 1;
  for (const child of node) count += countNodes(child);
  return count;
}
