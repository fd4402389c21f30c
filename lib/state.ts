/**
 * The states a service moves through.
 *
 * `stopped` and `crashed` are the resting states (a lifecycle starts `stopped` and can be run
 * again from either); `starting`, `running` and `stopping` mean a run is in progress.
 */
export type State = 'stopped' | 'starting' | 'running' | 'stopping' | 'crashed';

/**
 * Every legal transition: `transitions[from]` lists the states `from` may move to. Every state
 * change of a {@link Lifecycle} goes through this table; any other change is ignored.
 */
export const transitions = {
  stopped: ['starting'],
  crashed: ['starting'],
  starting: ['running', 'stopping', 'stopped', 'crashed'],
  running: ['stopping', 'stopped', 'crashed'],
  stopping: ['stopped', 'crashed'],
} as const satisfies Record<State, readonly State[]>;

/** Whether the table allows moving from `from` to `to`. */
export function canTransition(from: State, to: State): boolean {
  return (transitions[from] as readonly State[]).includes(to);
}

/** Whether `state` means a run is in progress (`starting`, `running` or `stopping`). */
export function isActive(state: State): state is 'starting' | 'running' | 'stopping' {
  return state === 'starting' || state === 'running' || state === 'stopping';
}
