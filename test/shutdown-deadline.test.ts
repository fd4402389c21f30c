import test from 'ava';
import { Lifecycle, Pool } from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { DeadlineService } from './helpers/deadline-service.js';
import { runToEnd } from './helpers/pool.js';

/*
 * Deadlines are per run: each run's shutdownSignal is its own, and aborts at the earliest of the
 * deadline given to its lifecycle and those of every owner above it; a tighter deadline that
 * arrives later aborts the very signal the service already holds (SPEC, Lifecycle rules).
 */

test('a child given a tighter deadline while its pool drains aborts the signal it already holds at that deadline', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const pool = new Pool({ name: 'app', clock });
  const worker = new DeadlineService('worker', clock);
  const child = pool.add(worker);
  const lifecycle = new Lifecycle(pool, { clock });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();

  const stopped = lifecycle.stop({ timeout: 500 });
  const held = await worker.holding;
  void child.stop({ timeout: 20 });
  await fake.tickAsync(19);
  t.false(held.aborted);
  await fake.tickAsync(1);
  t.true(held.aborted);
  t.is(worker.abortedAt, 20);

  await fake.tickAsync(500);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(pending(), 0);
});

test("each child of a pool gets its own shutdownSignal, and both abort at the pool's deadline", async (t) => {
  const { clock, fake, pending } = fakeClock();
  const pool = new Pool({ name: 'app', clock });
  const a = new DeadlineService('a', clock);
  const b = new DeadlineService('b', clock);
  const childA = pool.add(a);
  const childB = pool.add(b);
  const lifecycle = new Lifecycle(pool, { clock });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();

  const stopped = lifecycle.stop({ timeout: 100 });
  const [heldA, heldB] = await Promise.all([a.holding, b.holding]);
  t.not(heldA, heldB);
  t.not(heldA, lifecycle.shutdownSignal);
  t.not(heldB, lifecycle.shutdownSignal);
  t.is(childA.shutdownSignal, heldA);
  t.is(childB.shutdownSignal, heldB);
  await fake.tickAsync(99);
  t.false(heldA.aborted);
  t.false(heldB.aborted);
  await fake.tickAsync(1);
  t.true(heldA.aborted);
  t.true(heldB.aborted);
  t.deepEqual([a.abortedAt, b.abortedAt], [100, 100]);

  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(pending(), 0);
});

test('a shorter deadline given later aborts the shutdown signal the service already holds at that deadline', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const service = new DeadlineService('svc', clock);
  const lifecycle = new Lifecycle(service, { clock });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();

  const stopped = lifecycle.stop({ timeout: 1000 });
  const held = await service.holding;
  void lifecycle.stop({ timeout: 10 });
  await fake.tickAsync(9);
  t.false(held.aborted);
  await fake.tickAsync(1);
  t.true(held.aborted);
  t.is(service.abortedAt, 10);

  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(pending(), 0);
});

test('a shorter deadline given to a pool later aborts the signal its child already holds at that deadline', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const pool = new Pool({ name: 'app', clock });
  const worker = new DeadlineService('worker', clock);
  pool.add(worker);
  const lifecycle = new Lifecycle(pool, { clock });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();

  const stopped = lifecycle.stop({ timeout: 1000 });
  const held = await worker.holding;
  void lifecycle.stop({ timeout: 10 });
  await fake.tickAsync(9);
  t.false(held.aborted);
  await fake.tickAsync(1);
  t.true(held.aborted);
  t.is(worker.abortedAt, 10);

  await fake.tickAsync(1000);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(pending(), 0);
});

test('a longer deadline given later never extends the one already set', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const pool = new Pool({ name: 'app', clock });
  const worker = new DeadlineService('worker', clock);
  const child = pool.add(worker);
  const lifecycle = new Lifecycle(pool, { clock });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();

  const stopped = lifecycle.stop({ timeout: 10 });
  const held = await worker.holding;
  void lifecycle.stop({ timeout: 1000 });
  void child.stop({ timeout: 1000 });
  await fake.tickAsync(10);
  t.true(held.aborted);
  t.is(worker.abortedAt, 10);

  await fake.tickAsync(1000);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(pending(), 0);
});

test("a pool nested in a pool passes the root's deadline down to the worker's shutdown signal", async (t) => {
  const { clock, fake, pending } = fakeClock();
  const worker = new DeadlineService('worker', clock);
  const inner = new Pool({ name: 'workers', clock });
  inner.add(worker);
  const root = new Pool({ name: 'app', clock });
  root.add(inner);
  const lifecycle = new Lifecycle(root, { clock });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();

  const stopped = lifecycle.stop({ timeout: 30 });
  const held = await worker.holding;
  await fake.tickAsync(29);
  t.false(held.aborted);
  await fake.tickAsync(1);
  t.true(held.aborted);
  t.is(worker.abortedAt, 30);

  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(pending(), 0);
});
