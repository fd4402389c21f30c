import { StartTimeoutError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import { childrenOf } from './protocol.js';
import { stopReasonFor } from './reasons.js';
import type { LifecycleSettings } from './lifecycle-settings.js';
import type { Run } from './run.js';

/** How many paths the message of a group's `StartTimeoutError` names at most. */
const pathsNamed = 10;

/** Arms the start timer of `run`, which has just begun `starting`, if it has a start timeout. */
export function armStartTimeout(lifecycle: Lifecycle, run: Run, settings: LifecycleSettings): void {
  const { startTimeout, clock } = settings;
  if (startTimeout === Infinity || run.phase !== 'active' || lifecycle.state !== 'starting') return;
  run.armStartTimer(clock, startTimeout, () => {
    startTimedOut(lifecycle, run, startTimeout);
  });
}

/**
 * `lifecycle`'s run has not reported `running` within `timeout` ms: the run will end crashed with
 * a `StartTimeoutError` (which wins over what the service throws), and the service is asked to
 * stop with it as the reason. Only ever called while the run is `starting`: the timer is cleared
 * when it leaves that state and when the service returns.
 */
export function startTimedOut(lifecycle: Lifecycle, run: Run, timeout: number): void {
  const error = new StartTimeoutError(lifecycle.name, timeout, notRunningDetail(lifecycle));
  run.error ??= error;
  run.requestStop(stopReasonFor(error));
}

/**
 * For a group: `'not running yet: app/workers/db, app/cache'`, the deepest descendants still
 * `starting`, with their paths from `root`; undefined when there are none. Walks the tree with an
 * explicit stack, so a deep chain of groups costs no call stack.
 */
export function notRunningDetail(root: Lifecycle): string | undefined {
  const paths: string[] = [];
  let more = 0;
  const seen = new Set<Lifecycle>([root]);
  const stack: [Lifecycle, string][] = [[root, root.name]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [lifecycle, path] = next;
    const starting = childrenOf(lifecycle.service).filter(
      (child) => child.state === 'starting' && !seen.has(child),
    );
    if (starting.length === 0 && lifecycle !== root) {
      if (paths.length < pathsNamed) paths.push(path);
      else more++;
    }
    for (let index = starting.length - 1; index >= 0; index--) {
      const child = starting[index] as Lifecycle;
      seen.add(child);
      stack.push([child, `${path}/${child.name}`]);
    }
  }
  if (paths.length === 0) return undefined;
  return `not running yet: ${paths.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}
