/** The same work as `baseline.ts`, through overseer's public API. */
import { Lifecycle, Pool, type State } from '../lib/index.js';
import { TrivialService, type TreeNode } from './workload.js';

/** A started root lifecycle: `stop()` stops it and checks that it ended as expected. */
export interface RunningRoot {
  readonly lifecycle: Lifecycle;
  stop(): Promise<void>;
}

/** Puts every service in one pool and runs it until it reports running. */
export async function startFlat(services: readonly TrivialService[]): Promise<RunningRoot> {
  const pool = new Pool();
  for (const service of services) pool.add(service);
  return start(new Lifecycle(pool));
}

/** Builds a pool per group of the tree and runs the root until it reports running. */
export async function startTree(root: TreeNode): Promise<RunningRoot> {
  return start(new Lifecycle(buildNode(root)));
}

/** Builds the pools top-down with an explicit stack: a chain of 10,000 would overflow recursion. */
function buildNode(root: TreeNode): TrivialService | Pool {
  if (root instanceof TrivialService) return root;
  const rootPool = new Pool();
  const stack = [{ children: root, pool: rootPool, next: 0 }];
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    const child = frame.children[frame.next++];
    if (child === undefined) stack.pop();
    else if (child instanceof TrivialService) frame.pool.add(child);
    else {
      const pool = new Pool();
      frame.pool.add(pool);
      stack.push({ children: child, pool, next: 0 });
    }
  }
  return rootPool;
}

/** Runs one service `cycles` times with each hook registered through `onStateChange`. */
export async function cycleWithHooks(
  service: TrivialService,
  hooks: readonly ((service: TrivialService, state: State) => void)[],
  cycles: number,
): Promise<void> {
  const lifecycle = new Lifecycle(service);
  for (const hook of hooks)
    lifecycle.onStateChange((served, _lifecycle, state) => {
      hook(served, state);
    });
  for (let cycle = 0; cycle < cycles; cycle++) {
    const done = lifecycle.run();
    void lifecycle.stop();
    await done;
  }
}

async function start(lifecycle: Lifecycle): Promise<RunningRoot> {
  const done = lifecycle.run();
  if (lifecycle.state !== 'running') await untilRunning(lifecycle);
  return {
    lifecycle,
    async stop() {
      const state = await lifecycle.stop();
      await done;
      if (state !== 'stopped') throw new Error(`the root ended ${state}`);
    },
  };
}

function untilRunning(lifecycle: Lifecycle): Promise<void> {
  return new Promise((resolve, reject) => {
    lifecycle.onRunning(() => {
      resolve();
    });
    lifecycle.onCrashed((_service, _lifecycle, error) => {
      reject(error);
    });
  });
}
