import type { Lifecycle } from '../lifecycle.js';
import type { Service } from '../service.js';
import { isActive } from '../state.js';

/** The child lifecycles of a composite service (a pool), or none. */
export function childLifecycles(service: Service): readonly Lifecycle[] {
  const lifecycles = (service as { lifecycles?: unknown }).lifecycles;
  return Array.isArray(lifecycles) ? (lifecycles as Lifecycle[]) : [];
}

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
    const children = childLifecycles(lifecycle.service);
    for (let index = children.length - 1; index >= 0; index--) {
      const child = children[index] as Lifecycle;
      stack.push({ lifecycle: child, path: `${path}/${child.name}` });
    }
  }
  return active;
}
