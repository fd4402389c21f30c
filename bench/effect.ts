/**
 * A peer, not a baseline: the same work as S1 with `effect`'s fibers. Each "service" is a fiber
 * that reports it has started and then waits until it is interrupted (`Effect.never`); all of
 * them are forked by one parent inside one `Effect.runPromise`, and stopped with
 * `Fiber.interruptAll`, which returns when every fiber has ended.
 */
import { Deferred, Effect, Exit, Fiber } from 'effect';

/** Milliseconds (`performance.now()`) at the start, once every fiber had started, and at the end. */
export interface FiberTimes {
  readonly begin: number;
  readonly stopping: number;
  readonly end: number;
}

/**
 * Forks `count` fibers, waits until every one has started (as overseer's side waits until its
 * pool is running), then interrupts them all and waits for them to end.
 */
export function forkAndInterrupt(count: number): Promise<FiberTimes> {
  return Effect.runPromise(
    Effect.gen(function* () {
      const started = yield* Deferred.make<undefined>();
      let pending = count;
      // One effect, built before the clock starts, run by every fiber (the workload of S1 is
      // built beforehand too).
      const service = Effect.zipRight(
        Effect.sync(() => {
          if (--pending === 0) Deferred.unsafeDone(started, Exit.succeed(undefined));
        }),
        Effect.never,
      );
      const fibers: Fiber.RuntimeFiber<never>[] = [];
      const begin = performance.now();
      for (let index = 0; index < count; index++) fibers.push(yield* Effect.fork(service));
      yield* Deferred.await(started);
      const stopping = performance.now();
      yield* Fiber.interruptAll(fibers);
      const end = performance.now();
      for (const fiber of fibers) {
        const exit = fiber.unsafePoll();
        if (exit === null || !Exit.isInterrupted(exit))
          throw new Error('a fiber did not end interrupted');
      }
      return { begin, stopping, end };
    }),
  );
}
