import test, { type ExecutionContext } from 'ava';
import { Lifecycle, Pool, ServiceCrashedError, type Logger } from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { DeadlineService } from './helpers/deadline-service.js';
import { nextImmediate } from './helpers/lifecycle.js';
import { track } from './helpers/outcome.js';
import { withoutFaults } from './helpers/property-run.js';
import { ControlledService } from './helpers/service.js';

/*
 * A logger is never on the critical path: a logger method that throws, or returns a promise that
 * rejects, changes nothing the library does (no deadline missed, no step skipped) and never
 * becomes an unhandled rejection (SPEC, Lifecycle rules).
 */

/** A logger every method of which throws. */
function throwingLogger(): Logger {
  const fail = (): never => {
    throw new Error('log transport down');
  };
  return { error: fail, warn: fail, info: fail, debug: fail };
}

/** A logger every method of which returns a promise that rejects. */
function rejectingLogger(): Logger {
  const fail = () => Promise.reject(new Error('log transport down'));
  return { error: fail, warn: fail, info: fail, debug: fail };
}

/** Replaces `process.emitWarning` for the rest of the test; returns the calls it receives. */
function spyOnWarnings(t: ExecutionContext): unknown[][] {
  const calls: unknown[][] = [];
  const original: unknown = Reflect.get(process, 'emitWarning');
  Reflect.set(process, 'emitWarning', (...args: unknown[]) => {
    calls.push(args);
  });
  t.teardown(() => {
    Reflect.set(process, 'emitWarning', original);
  });
  return calls;
}

test.serial(
  "a deadline reaches a worker two pools down when both pools' loggers throw at every call",
  async (t) => {
    spyOnWarnings(t);
    await withoutFaults(t, async () => {
      const { clock, fake, pending } = fakeClock();
      const logger = throwingLogger();
      const worker = new DeadlineService('worker', clock);
      const inner = new Pool({ name: 'workers', logger, clock });
      inner.add(worker);
      const root = new Pool({ name: 'app', logger, clock });
      root.add(inner);
      const lifecycle = new Lifecycle(root, { logger, clock });
      const run = track(lifecycle.run());
      await t.notThrowsAsync(lifecycle.whenRunning());

      const stopped = track(lifecycle.stop({ timeout: 50 }));
      await fake.tickAsync(49);
      t.is(stopped.outcome.status, 'pending');
      await fake.tickAsync(1);
      t.is(worker.abortedAt, 50);
      t.deepEqual(stopped.outcome, { status: 'fulfilled', value: 'stopped' });
      t.deepEqual(run.outcome, { status: 'fulfilled', value: undefined });
      t.is(pending(), 0);
    });
  },
);

test.serial(
  'a logger whose methods reject causes no unhandled rejection, and one process warning at most, even shared by two pools',
  async (t) => {
    const warnings = spyOnWarnings(t);
    await withoutFaults(t, async () => {
      const { clock, fake } = fakeClock();
      const logger = rejectingLogger();
      const first = new Pool({ name: 'first', logger, clock });
      const crashing = new ControlledService('crashing');
      first.add(crashing).onRunning(() => {
        throw new Error('hook failed');
      });
      first.add(new DeadlineService('slow', clock));
      const second = new Pool({ name: 'second', logger, clock });
      second.add(new ControlledService('steady'));
      const firstLifecycle = new Lifecycle(first, { logger, clock });
      const secondLifecycle = new Lifecycle(second, { logger, clock });
      const firstRun = track(firstLifecycle.run());
      const secondRun = track(secondLifecycle.run());
      await Promise.all([firstLifecycle.whenRunning(), secondLifecycle.whenRunning()]);

      crashing.crash();
      const firstStop = track(firstLifecycle.stop({ timeout: 20 }));
      const secondStop = track(secondLifecycle.stop());
      await fake.tickAsync(20);
      await nextImmediate();
      await nextImmediate();

      t.deepEqual(firstStop.outcome, { status: 'fulfilled', value: 'crashed' });
      t.is(firstRun.outcome.status, 'rejected');
      const error = firstRun.outcome.status === 'rejected' ? firstRun.outcome.reason : undefined;
      t.true(error instanceof ServiceCrashedError, String(error));
      t.like(error, { service: 'crashing' });
      t.deepEqual(secondStop.outcome, { status: 'fulfilled', value: 'stopped' });
      t.deepEqual(secondRun.outcome, { status: 'fulfilled', value: undefined });
    });
    t.true(warnings.length <= 1, `${warnings.length} warnings: ${JSON.stringify(warnings)}`);
  },
);
