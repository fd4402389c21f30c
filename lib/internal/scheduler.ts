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

// Flat (step, target, a, b) quadruples: no allocation per step. The array keeps its capacity
// between drains (emptying it would make the next push allocate a new backing store), unless
// a large drain made it big.
const queue: unknown[] = [];
const keptCapacity = 1024;
let queued = 0;
let draining = false;

/** Runs the step after the steps already queued; at once (with them) when nothing is draining. */
export function enqueue<T, A, B>(step: Step<T, A, B>, target: T, a: A, b: B): void {
  if (draining) {
    queue[queued] = step;
    queue[queued + 1] = target;
    queue[queued + 2] = a;
    queue[queued + 3] = b;
    queued += 4;
  } else drainFrom(step, target, a, b);
}

/** Runs the step now, even inside a drain; steps it queues run after it. */
export function runNow<T, A, B>(step: Step<T, A, B>, target: T, a: A, b: B): void {
  if (draining) runStep(step, target, a, b);
  else drainFrom(step, target, a, b);
}

/** Runs `step`, then every step queued meanwhile, in order. */
function drainFrom<T, A, B>(step: Step<T, A, B>, target: T, a: A, b: B): void {
  draining = true;
  let next = 0;
  try {
    runStep(step, target, a, b);
    while (next < queued) {
      const nextStep = queue[next] as Step<unknown, unknown, unknown>;
      const nextTarget = queue[next + 1];
      const nextA = queue[next + 2];
      const nextB = queue[next + 3];
      // Drop the references at once: a long drain must not keep finished work alive.
      queue[next] = queue[next + 1] = queue[next + 2] = queue[next + 3] = undefined;
      next += 4;
      runStep(nextStep, nextTarget, nextA, nextB);
    }
  } finally {
    // Only an error that escaped a step's failure handling (out of stack) leaves steps behind:
    // they run in a microtask, with a fresh stack, rather than being lost.
    // The steps that ran were already dropped from the queue one by one.
    const unfinished = next < queued ? queue.slice(next, queued) : undefined;
    if (queue.length > keptCapacity) queue.length = 0;
    else if (unfinished) queue.fill(undefined, next, queued);
    queued = 0;
    draining = false;
    if (unfinished)
      queueMicrotask(() => {
        resume(unfinished);
      });
  }
}

function resume(steps: unknown[]): void {
  for (let index = 0; index < steps.length; index += 4) {
    enqueue(
      steps[index] as Step<unknown, unknown, unknown>,
      steps[index + 1],
      steps[index + 2],
      steps[index + 3],
    );
  }
}

function runStep<T, A, B>(step: Step<T, A, B>, target: T, a: A, b: B): void {
  try {
    step.run(target, a, b);
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error), { cause: error });
    try {
      step.fail(target, failure);
    } catch {
      // Recording the failure failed too, most likely out of stack as well: try again with a
      // fresh stack. If that throws, the error surfaces as an uncaught exception, never lost.
      queueMicrotask(() => {
        step.fail(target, failure);
      });
    }
  }
}
