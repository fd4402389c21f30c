/**
 * How state changes travel through a tree of services without growing the stack.
 *
 * A pool reacts to its children (a child runs, so the pool may run; the pool is asked to stop,
 * so its children are). Done with direct calls, a chain of nested pools recurses once per level
 * and overflows the stack at a few hundred levels — inside hook-error isolation, where the
 * `RangeError` would be swallowed and the root would hang in `starting`. Instead, every such
 * reaction is a step on one queue, drained in a flat loop: the stack depth is the same for a
 * chain of 10 pools and of 10,000.
 */

/** A reaction the library runs on behalf of `target`; `fail` receives what `run` throws. */
export interface Step<T, A, B> {
  readonly run: (target: T, a: A, b: B) => void;
  readonly fail: (target: T, error: Error) => void;
}

// Flat (step, target, a, b) quadruples: no allocation per step.
const queue: unknown[] = [];
let draining = false;

/** Runs the step after the steps already queued; at once (with them) when nothing is draining. */
export function enqueue<T, A, B>(step: Step<T, A, B>, target: T, a: A, b: B): void {
  queue.push(step, target, a, b);
  if (!draining) drain();
}

/** Runs the step now, even inside a drain; steps it queues run after it. */
export function runNow<T, A, B>(step: Step<T, A, B>, target: T, a: A, b: B): void {
  if (draining) runStep(step, target, a, b);
  else enqueue(step, target, a, b);
}

function drain(): void {
  draining = true;
  try {
    for (let index = 0; index < queue.length; index += 4) {
      runStep(
        queue[index] as Step<unknown, unknown, unknown>,
        queue[index + 1],
        queue[index + 2],
        queue[index + 3],
      );
    }
  } finally {
    queue.length = 0;
    draining = false;
  }
}

function runStep<T, A, B>(step: Step<T, A, B>, target: T, a: A, b: B): void {
  try {
    step.run(target, a, b);
  } catch (error) {
    try {
      step.fail(
        target,
        error instanceof Error ? error : new Error(String(error), { cause: error }),
      );
    } catch (fatal) {
      // The library could not even record its own failure: never lose it silently.
      queueMicrotask(() => {
        throw fatal;
      });
    }
  }
}
