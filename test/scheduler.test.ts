import test from 'ava';
import { reactionFailed, schedule, type Reactor } from '../lib/internal/scheduler.js';

/**
 * The scheduler is one process-wide queue: every test here is serial, so that no other test's
 * reactions are queued in between, and the ones that replace `queueMicrotask` do so alone.
 */

/** A reaction's target: it keeps a log of what happened to it, and of its failures. */
class Target implements Reactor {
  readonly name: string;
  readonly log: string[];
  readonly failures: Error[] = [];

  constructor(name: string, log: string[] = []) {
    this.name = name;
    this.log = log;
  }

  [reactionFailed](error: Error): void {
    this.failures.push(error);
    this.log.push(`${this.name} failed: ${error.message}`);
  }
}

/** A reaction that writes `target name: what` to its target's log. */
const record = (target: Target, what: string): void => {
  target.log.push(`${target.name}: ${what}`);
};

/** Lets every queued microtask run. */
function nextImmediate(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Replaces `queueMicrotask` until `restore()`: the callbacks it is given are kept in `queued`,
 * for the test to call on its own stack.
 */
function captureMicrotasks(): { queued: (() => void)[]; restore: () => void } {
  const real = globalThis.queueMicrotask;
  const queued: (() => void)[] = [];
  globalThis.queueMicrotask = (callback) => {
    queued.push(callback);
  };
  return {
    queued,
    restore: () => {
      globalThis.queueMicrotask = real;
    },
  };
}

test.serial('reactions run in the order they were scheduled, across targets', async (t) => {
  const log: string[] = [];
  const first = new Target('first', log);
  const second = new Target('second', log);

  schedule(record, first, 'a', undefined);
  schedule(record, second, 'b', undefined);
  schedule(record, first, 'c', undefined);
  schedule(record, second, 'd', undefined);
  await nextImmediate();

  t.deepEqual(log, ['first: a', 'second: b', 'first: c', 'second: d']);
});

test.serial(
  'a reaction runs in a microtask, after the call that scheduled it has returned',
  async (t) => {
    const target = new Target('target');

    schedule(record, target, 'reacted', undefined);
    target.log.push('schedule() returned');
    await Promise.resolve();
    target.log.push('one microtask later');
    await nextImmediate();

    t.deepEqual(target.log, ['schedule() returned', 'target: reacted', 'one microtask later']);
  },
);

test.serial('a reaction gets its target and both arguments', async (t) => {
  const target = new Target('target');
  const seen: unknown[] = [];
  const a = { first: true };
  const b = [2];

  schedule(
    (received: Target, first: typeof a, second: typeof b) => {
      seen.push(received, first, second);
    },
    target,
    a,
    b,
  );
  await nextImmediate();

  t.is(seen.length, 3);
  t.is(seen[0], target);
  t.is(seen[1], a);
  t.is(seen[2], b);
});

test.serial(
  'reactions queued while the queue drains run in the same drain, after those queued before them',
  async (t) => {
    const target = new Target('target');
    schedule(
      (self: Target) => {
        record(self, 'first');
        schedule(record, self, 'queued by first', undefined);
        // A microtask queued now runs after the drain: only if that drain runs the reaction
        // queued above does it come first.
        queueMicrotask(() => {
          record(self, 'microtask queued by first');
        });
      },
      target,
      undefined,
      undefined,
    );
    schedule(record, target, 'second', undefined);
    await nextImmediate();

    t.deepEqual(target.log, [
      'target: first',
      'target: second',
      'target: queued by first',
      'target: microtask queued by first',
    ]);
  },
);

test.serial(
  'a chain of 100,000 reactions, each scheduling the next, runs with a stack that does not grow',
  async (t) => {
    const length = 100_000;
    const target = new Target('chain');
    const depths: number[] = [];
    const { stackTraceLimit } = Error;
    // Counting frames needs the whole stack; restored before anything else can throw.
    Error.stackTraceLimit = Infinity;
    const depth = (): number => (new Error().stack ?? '').split('\n').length;
    const link = (self: Target, index: number): void => {
      if (index === 1 || index === length) depths.push(depth());
      if (index < length) schedule(link, self, index + 1, undefined);
      else record(self, `${index} links ran`);
    };
    try {
      schedule(link, target, 1, undefined);
      await nextImmediate();
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }

    t.deepEqual(target.log, [`chain: ${length} links ran`]);
    t.deepEqual(target.failures, [], 'no link overflowed the stack');
    t.is(depths.length, 2);
    t.is(depths[1], depths[0], 'the last link runs as deep in the stack as the first');
  },
);

test.serial(
  'a reaction that throws calls reactionFailed on its target with the error, and the drain goes on',
  async (t) => {
    const log: string[] = [];
    const failing = new Target('failing', log);
    const other = new Target('other', log);
    const error = new RangeError('Maximum call stack size exceeded');

    schedule(record, other, 'before', undefined);
    schedule(
      () => {
        throw error;
      },
      failing,
      undefined,
      undefined,
    );
    schedule(record, other, 'after', undefined);
    schedule(record, failing, 'its next reaction', undefined);
    await nextImmediate();

    t.is(failing.failures.length, 1);
    t.is(failing.failures[0], error, 'the very error the reaction threw');
    t.deepEqual(other.failures, []);
    t.deepEqual(log, [
      'other: before',
      'failing failed: Maximum call stack size exceeded',
      'other: after',
      'failing: its next reaction',
    ]);
  },
);

test.serial(
  'a reaction that throws a value that is not an Error calls reactionFailed with an Error whose cause is the value',
  async (t) => {
    const target = new Target('target');
    const values: unknown[] = ['a string', 42, undefined, { code: 'E_ODD' }];

    for (const value of values) {
      schedule(
        () => {
          throw value;
        },
        target,
        undefined,
        undefined,
      );
    }
    schedule(record, target, 'next', undefined);
    await nextImmediate();

    t.is(target.failures.length, values.length);
    for (const [index, failure] of target.failures.entries()) {
      t.true(failure instanceof Error);
      t.is(failure.cause, values[index]);
      t.is(failure.message, String(values[index]));
    }
    t.is(target.log.at(-1), 'target: next', 'the drain went on');
  },
);

test.serial(
  'when reactionFailed throws too, that error is thrown in a microtask of its own and the drain goes on',
  async (t) => {
    const log: string[] = [];
    const handlingError = new Error('and so did its failure handling');
    const broken: Reactor = {
      [reactionFailed]: () => {
        throw handlingError;
      },
    };
    const other = new Target('other', log);
    let microtasks: ReturnType<typeof captureMicrotasks> | undefined;

    schedule(
      () => {
        // Only while this drain runs: what the scheduler queues, the test calls by hand.
        microtasks = captureMicrotasks();
      },
      other,
      undefined,
      undefined,
    );
    schedule(
      () => {
        throw new Error('the reaction failed');
      },
      broken,
      undefined,
      undefined,
    );
    schedule(
      (self: Target) => {
        microtasks?.restore();
        record(self, 'after the broken one');
      },
      other,
      undefined,
      undefined,
    );
    await nextImmediate();

    t.deepEqual(log, ['other: after the broken one']);
    const queued = microtasks?.queued ?? [];
    t.is(queued.length, 1, 'the failure is thrown in one microtask');
    t.throws(() => queued[0]?.(), { is: handlingError });
  },
);

/**
 * The scheduler's drain function, caught by scheduling a no-op while the queue is idle: a test
 * that breaks the queue calls it to run what is left and leave the queue idle again.
 */
function captureDrain(): () => void {
  const microtasks = captureMicrotasks();
  try {
    schedule(() => undefined, new Target('probe'), undefined, undefined);
  } finally {
    microtasks.restore();
  }
  const drain = microtasks.queued[0];
  if (drain === undefined) throw new Error('the queue was not idle');
  drain();
  return drain;
}

test.serial(
  'a reaction that throws a value String() cannot convert still calls reactionFailed, and the drain goes on',
  async (t) => {
    // If the queue breaks, it is left working for the next test.
    t.teardown(captureDrain());
    const target = new Target('target');
    const value: unknown = Object.create(null);
    // Run the drain on the test's own stack, so that anything escaping it is caught here.
    const microtasks = captureMicrotasks();
    try {
      schedule(
        () => {
          throw value;
        },
        target,
        undefined,
        undefined,
      );
      schedule(record, target, 'next', undefined);
    } finally {
      microtasks.restore();
    }
    t.is(microtasks.queued.length, 1, 'one drain is scheduled');
    t.notThrows(() => microtasks.queued[0]?.(), 'nothing escapes the drain');
    t.deepEqual(target.log.slice(1), ['target: next'], 'the drain went on');
    schedule(record, target, 'later', undefined);
    await nextImmediate();
    t.is(target.log.at(-1), 'target: later', 'a later reaction still runs');

    t.is(target.failures.length, 1);
    t.true(target.failures[0] instanceof Error);
    t.is(target.failures[0]?.cause, value);
  },
);

test.serial(
  'a schedule() whose queueMicrotask throws (the stack ran out) throws that error, and the queue keeps working',
  async (t) => {
    // If the queue breaks, it is left working for the next test.
    t.teardown(captureDrain());
    const target = new Target('target');
    const exhausted = new RangeError('Maximum call stack size exceeded');
    const real = globalThis.queueMicrotask;
    globalThis.queueMicrotask = () => {
      throw exhausted;
    };
    try {
      t.throws(
        () => {
          schedule(record, target, 'first', undefined);
        },
        { is: exhausted },
      );
    } finally {
      globalThis.queueMicrotask = real;
    }

    schedule(record, target, 'second', undefined);
    await nextImmediate();

    t.deepEqual(target.failures, []);
    t.is(target.log.at(-1), 'target: second', 'a reaction scheduled afterwards runs');
  },
);
