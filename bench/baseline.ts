/**
 * The physical limit: the same work written by hand, as carefully as we know how. One
 * `AbortController` per service or group, one shared abort reason per stop, `{ once: true }`
 * listeners, `Promise.all` for groups. No states, no hooks, no deadlines, no logging.
 */
import { TrivialService, type TreeNode } from './workload.js';

/** A started flat group: `stop()` aborts every service with one reason and waits for them. */
export interface RunningGroup {
  stop(): Promise<void>;
}

/** Starts every service with its own controller. */
export function startFlat(services: readonly TrivialService[]): RunningGroup {
  const controllers = services.map(() => new AbortController());
  const all = Promise.all(
    services.map((service, index) => service.runWithSignal(controllers[index]!.signal)),
  );
  return {
    async stop() {
      const reason = new DOMException('stop', 'AbortError');
      for (const controller of controllers) controller.abort(reason);
      await all;
    },
  };
}

/** Starts a tree: each group aborts its children's controllers when its own signal aborts. */
export function startTree(root: TreeNode): RunningGroup {
  const controller = new AbortController();
  const done = runNode(root, controller.signal);
  return {
    async stop() {
      controller.abort(new DOMException('stop', 'AbortError'));
      await done;
    },
  };
}

function runNode(node: TreeNode, signal: AbortSignal): Promise<void> {
  if (node instanceof TrivialService) return node.runWithSignal(signal);
  return runGroup(node, signal);
}

async function runGroup(children: readonly TreeNode[], signal: AbortSignal): Promise<void> {
  const controllers = children.map(() => new AbortController());
  signal.addEventListener(
    'abort',
    () => {
      for (const controller of controllers) controller.abort(signal.reason);
    },
    { once: true },
  );
  await Promise.all(children.map((child, index) => runNode(child, controllers[index]!.signal)));
}

/** Runs one service `cycles` times, calling each hook at every state change, as `Lifecycle` does. */
export async function cycleWithHooks(
  service: TrivialService,
  hooks: readonly ((service: TrivialService, state: string) => void)[],
  cycles: number,
): Promise<void> {
  const emit = (state: string) => {
    for (const hook of hooks) hook(service, state);
  };
  for (let cycle = 0; cycle < cycles; cycle++) {
    const controller = new AbortController();
    emit('starting');
    const done = service.runWithSignal(controller.signal);
    emit('running');
    controller.abort(new DOMException('stop', 'AbortError'));
    emit('stopping');
    await done;
    emit('stopped');
  }
}
