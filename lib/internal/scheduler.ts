/**
 * The one queue through which lifecycles react to each other.
 *
 * A pool hears that a child runs, starts the next child, reports itself running, passes a stop
 * or a deadline on; a restarter decides to restart. None of that may happen on the stack of the
 * call that caused it: a service calling `lifecycle.running()` must get control back before its
 * dependents start, and a chain of 10,000 nested pools must not need 10,000 stack frames. So
 * every such reaction is queued here and run later, in a microtask, in FIFO order, by a flat
 * loop: the stack depth is the same for a chain of 10 pools and of 10,000, and the same program
 * gives the same order of events whatever else the process is doing.
 */

/** Symbol-keyed method of whatever a reaction belongs to: the reaction threw `error`. */
export const reactionFailed: unique symbol = Symbol('overseer.reactionFailed');

/** What a reaction runs for: told when one of its reactions throws (a bug, a stack overflow). */
export interface Reactor {
  /** Must end the run it belongs to crashed with `error`, never hang it. */
  [reactionFailed](error: Error): void;
}

/** A reaction: a plain function of its target and two arguments, so queuing one allocates nothing. */
export type Reaction<T extends Reactor, A, B> = (target: T, a: A, b: B) => void;

type AnyReaction = Reaction<Reactor, unknown, unknown>;

// (reaction, target, a, b) quadruples, consumed from `head`. The only mutable state of the
// module, and of the library: one queue per process is what makes the order deterministic.
const queue: unknown[] = [];
let head = 0;
let drainScheduled = false;

/** Runs `reaction(target, a, b)` in a microtask, after every reaction queued before it. */
export function schedule<T extends Reactor, A, B>(
  reaction: Reaction<T, A, B>,
  target: T,
  a: A,
  b: B,
): void {
  queue.push(reaction, target, a, b);
  if (drainScheduled) return;
  // Marked only once queued: if queueMicrotask throws (out of stack), the next call tries again.
  queueMicrotask(drain);
  drainScheduled = true;
}

/**
 * Like {@link schedule}, for a caller that already runs in a microtask of its own, on nobody's
 * stack (a promise callback hearing that a service returned): with no drain pending, the queue
 * is drained now rather than one microtask later. In order all the same: whatever was queued
 * before still runs first.
 */
export function scheduleFromMicrotask<T extends Reactor, A, B>(
  reaction: Reaction<T, A, B>,
  target: T,
  a: A,
  b: B,
): void {
  queue.push(reaction, target, a, b);
  if (drainScheduled) return;
  drainScheduled = true;
  drain();
}

/** Runs the queued reactions, and those they queue, until none is left. */
function drain(): void {
  while (head < queue.length) {
    const reaction = queue[head] as AnyReaction;
    const target = queue[head + 1] as Reactor;
    const a = queue[head + 2];
    const b = queue[head + 3];
    // Dropped at once: a long drain must not keep finished work alive.
    queue[head] = queue[head + 1] = queue[head + 2] = queue[head + 3] = undefined;
    head += 4;
    react(reaction, target, a, b);
  }
  queue.length = 0;
  head = 0;
  drainScheduled = false;
}

function react(reaction: AnyReaction, target: Reactor, a: unknown, b: unknown): void {
  try {
    reaction(target, a, b);
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(describe(error), { cause: error });
    try {
      target[reactionFailed](failure);
    } catch (handlingError) {
      // Recording the failure failed too: surface it as an uncaught exception rather than lose
      // it, and keep draining the reactions of everything else.
      queueMicrotask(() => {
        throw handlingError;
      });
    }
  }
}

/** `String(value)`, or a fallback for a value whose conversion throws itself. */
function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return 'a reaction threw a value that cannot be converted to a string';
  }
}
