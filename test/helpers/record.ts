import type { Lifecycle, State } from '../../lib/index.js';

/** Every state `lifecycle` moves to from now on, in order (through `onStateChange`). */
export function recordStates(lifecycle: Lifecycle): State[] {
  const states: State[] = [];
  lifecycle.onStateChange((_service, _lifecycle, state) => {
    states.push(state);
  });
  return states;
}

/** Resolves the next time `lifecycle` reaches `state`. */
export function reach(lifecycle: Lifecycle, state: State): Promise<void> {
  return new Promise((resolve) => {
    const listener = (_service: unknown, _lifecycle: unknown, next: State) => {
      if (next !== state) return;
      lifecycle.off('stateChange', listener);
      resolve();
    };
    lifecycle.on('stateChange', listener);
  });
}
