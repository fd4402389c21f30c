import type { Lifecycle } from '../lifecycle.js';
import { isActive } from '../state.js';
import { childrenOf } from './protocol.js';

/**
 * The paths (`app/workers/ticker`) of the services under `root`, itself included, whose run is
 * still in progress. Walks the tree with an explicit stack, so depth costs no call stack.
 */
export function activeServices(root: Lifecycle): string[] {
  const active: string[] = [];
  const stack: { lifecycle: Lifecycle; path: string }[] = [{ lifecycle: root, path: root.name }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { lifecycle, path } = next;
    if (!isActive(lifecycle.state)) continue;
    active.push(path);
    const children = childrenOf(lifecycle.service);
    for (let index = children.length - 1; index >= 0; index--) {
      const child = children[index] as Lifecycle;
      stack.push({ lifecycle: child, path: `${path}/${child.name}` });
    }
  }
  return active;
}
