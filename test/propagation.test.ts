import test from 'ava';
import { enqueue, type Step } from '../lib/internal/scheduler.js';

/** A step that records its target's name when it runs, and never fails. */
const record: Step<string[], string, undefined> = {
  run: (log, name) => {
    log.push(name);
  },
  fail: () => {
    throw new Error('unexpected failure');
  },
};

test.serial(
  'steps queued behind a failure that escapes its own handling still run, in order, in a microtask',
  async (t) => {
    const log: string[] = [];
    const escaped = new RangeError('Maximum call stack size exceeded');
    const broken: Step<string[], undefined, undefined> = {
      run: (target) => {
        enqueue(record, target, 'first queued', undefined);
        enqueue(record, target, 'second queued', undefined);
        throw new Error('the step failed');
      },
      fail: () => {
        throw new Error('and so did its failure handling');
      },
    };
    // The retry of the failure handling cannot even be scheduled: the error escapes the drain.
    const realQueueMicrotask = globalThis.queueMicrotask;
    globalThis.queueMicrotask = () => {
      globalThis.queueMicrotask = realQueueMicrotask;
      throw escaped;
    };
    try {
      t.is(
        t.throws(() => {
          enqueue(broken, log, undefined, undefined);
        }),
        escaped,
      );
    } finally {
      globalThis.queueMicrotask = realQueueMicrotask;
    }
    t.deepEqual(log, [], 'nothing queued behind the failure ran in the broken drain');
    await Promise.resolve();
    t.deepEqual(log, ['first queued', 'second queued']);
    enqueue(record, log, 'later', undefined);
    t.deepEqual(log, ['first queued', 'second queued', 'later'], 'the queue works again');
  },
);
