import type { State } from '../../lib/index.js';

/** How a promise a model watches has settled so far. */
export type Outcome =
  | { readonly status: 'pending' }
  | { readonly status: 'fulfilled'; readonly value: unknown }
  | { readonly status: 'rejected'; readonly reason: unknown };

/** Tracks how a promise settles, without ever leaving a rejection unhandled. */
export function track(promise: Promise<unknown>): { outcome: Outcome } {
  const record: { outcome: Outcome } = { outcome: { status: 'pending' } };
  promise.then(
    (value: unknown) => (record.outcome = { status: 'fulfilled', value }),
    (reason: unknown) => (record.outcome = { status: 'rejected', reason }),
  );
  return record;
}

/** An outcome in words, for a model's failure messages. */
export function show(outcome: Outcome): string {
  if (outcome.status === 'pending') return 'pending';
  return outcome.status === 'fulfilled'
    ? `fulfilled with ${String(outcome.value)}`
    : `rejected with ${String(outcome.reason)}`;
}

/**
 * The models' own statement of which states are active: written here rather than imported from
 * lib/state.ts, so the oracle does not share the code it checks.
 */
export const isActive = (state: State): boolean =>
  state === 'starting' || state === 'running' || state === 'stopping';
