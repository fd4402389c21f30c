import test from 'ava';
import { Lifecycle, Pool, type Clock, type Service, type State } from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { runToEnd } from './helpers/pool.js';
import { recordStates } from './helpers/record.js';
import { ControlledService } from './helpers/service.js';

/*
 * A child that its pool asks to stop, with no deadline of its own and whose shutdownSignal nobody
 * read before, hands out its pool's own shutdown signal (one object for all such children of the
 * pool) instead of building one. Every other child builds a signal of its own.
 */

const fullRun: State[] = ['starting', 'running', 'stopping', 'stopped'];

/**
 * A service that reports running at once and keeps what `stopping()` returned. Unless told not
 * to react, it reports stopping as soon as its signal aborts (synchronously, in the abort
 * listener); it returns only when `finish()` is called, so a test decides when it ends.
 */
class Catcher implements Service {
  readonly name: string;
  readonly #react: boolean;
  #lifecycle: Lifecycle | undefined;
  #finish: (() => void) | undefined;
  /** What `stopping()` returned most recently in the current run. */
  shutdown: AbortSignal | undefined;

  constructor(name: string, options: { reactToStop?: boolean } = {}) {
    this.name = name;
    this.#react = options.reactToStop ?? true;
  }

  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    this.#lifecycle = lifecycle;
    this.shutdown = undefined;
    lifecycle.running();
    if (this.#react) {
      lifecycle.signal.addEventListener(
        'abort',
        () => {
          this.reportStopping();
        },
        { once: true },
      );
    }
    return new Promise((resolve) => (this.#finish = resolve));
  }

  /** Reports stopping from inside the service and keeps the signal it got back. */
  reportStopping(): AbortSignal {
    if (this.#lifecycle === undefined) throw new Error(`${this.name} has not run`);
    this.shutdown = this.#lifecycle.stopping();
    return this.shutdown;
  }

  /** Ends the current run cleanly. */
  finish(): void {
    this.#finish?.();
  }
}

/** What `stopping()` returned to `catcher`; fails the test's assumptions loudly if it never ran. */
function caught(catcher: Catcher): AbortSignal {
  if (catcher.shutdown === undefined) throw new Error(`${catcher.name} did not report stopping`);
  return catcher.shutdown;
}

/** A pool (on `clock`) of one Catcher per name, its lifecycle, and the children's lifecycles. */
function catcherPool(names: string[], options: { clock?: Clock; reactToStop?: boolean } = {}) {
  const { clock, reactToStop } = options;
  const pool = new Pool({ name: 'pool', clock });
  const catchers = names.map((name) => new Catcher(name, { reactToStop }));
  const children = catchers.map((catcher) => pool.add(catcher));
  const lifecycle = new Lifecycle(pool, { clock });
  return { pool, lifecycle, catchers, children };
}

/** Ends every catcher and waits for the pool's run to end; resolves with its crash error, if any. */
async function finishAll(
  catchers: Catcher[],
  done: Promise<Error | undefined>,
): Promise<Error | undefined> {
  for (const catcher of catchers) catcher.finish();
  return done;
}

test("children a pool stops all get the pool's own shutdown signal from stopping()", async (t) => {
  const {
    lifecycle,
    catchers: [a, b, c],
    children: [childA, childB, childC],
  } = catcherPool(['a', 'b', 'c']);
  const states = recordStates(childA!);
  const done = runToEnd(lifecycle);
  void lifecycle.stop();
  const poolSignal = lifecycle.shutdownSignal;
  t.is(caught(a!), poolSignal);
  t.is(caught(b!), poolSignal);
  t.is(caught(c!), poolSignal);
  t.is(childA!.shutdownSignal, poolSignal);
  t.is(childB!.shutdownSignal, poolSignal);
  t.is(childC!.shutdownSignal, poolSignal);
  t.false(poolSignal.aborted);
  t.is(await finishAll([a!, b!, c!], done), undefined);
  t.deepEqual(states, fullRun);
});

test('a signal read from the pool before it stops is the one its children get from stopping()', async (t) => {
  const {
    lifecycle,
    catchers: [a, b],
  } = catcherPool(['a', 'b']);
  const done = runToEnd(lifecycle);
  const poolSignal = lifecycle.shutdownSignal;
  void lifecycle.stop();
  t.is(caught(a!), poolSignal);
  t.is(caught(b!), poolSignal);
  t.is(await finishAll([a!, b!], done), undefined);
});

test("the shared signal aborts at the pool's deadline with a TimeoutError, for every child", async (t) => {
  const { clock, fake, pending } = fakeClock();
  const {
    lifecycle,
    catchers: [a, b],
    children: [childA, childB],
  } = catcherPool(['a', 'b'], { clock });
  const done = runToEnd(lifecycle);
  void lifecycle.stop({ timeout: 50 });
  const shared = caught(a!);
  t.is(caught(b!), shared);
  await fake.tickAsync(49);
  t.false(shared.aborted);
  await fake.tickAsync(1);
  t.true(shared.aborted);
  t.is(lifecycle.shutdownSignal, shared);
  t.true(shared.reason instanceof DOMException);
  t.is((shared.reason as DOMException).name, 'TimeoutError');
  t.is(childA!.shutdownSignal, shared);
  t.is(childB!.shutdownSignal, shared);
  t.is(childB!.shutdownSignal.reason, shared.reason);
  t.is(await finishAll([a!, b!], done), undefined);
  t.is(pending(), 0);
});

test("children awaiting the shared signal all end when the pool's deadline passes", async (t) => {
  const { clock, fake, pending } = fakeClock();
  const pool = new Pool({ name: 'pool', clock });
  const services = [
    new ControlledService('a', { whenAsked: 'await-deadline' }),
    new ControlledService('b', { whenAsked: 'await-deadline' }),
  ];
  const children = services.map((service) => pool.add(service));
  const lifecycle = new Lifecycle(pool, { clock });
  const states = recordStates(lifecycle);
  const childStates = children.map((child) => recordStates(child));
  const done = runToEnd(lifecycle);
  const stopped = lifecycle.stop({ timeout: 100 });
  await fake.tickAsync(99);
  t.deepEqual(
    children.map((child) => child.state),
    ['stopping', 'stopping'],
  );
  t.is(children[0]!.shutdownSignal, lifecycle.shutdownSignal);
  await fake.tickAsync(1);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, fullRun);
  t.deepEqual(childStates, [fullRun, fullRun]);
  t.is(pending(), 0);
});

test("the shared signal aborts with the reason of the signal passed to the pool's stop()", async (t) => {
  const {
    lifecycle,
    catchers: [a, b],
  } = catcherPool(['a', 'b']);
  const done = runToEnd(lifecycle);
  const controller = new AbortController();
  void lifecycle.stop({ signal: controller.signal });
  const shared = caught(a!);
  t.is(caught(b!), shared);
  t.false(shared.aborted);
  const reason = new Error('operator gave up');
  controller.abort(reason);
  t.true(shared.aborted);
  t.is(shared.reason, reason);
  t.is(await finishAll([a!, b!], done), undefined);
});

test("children of a pool draining after a sibling ended get the pool's signal, which a later pool deadline aborts", async (t) => {
  const { clock, fake } = fakeClock();
  const pool = new Pool({ name: 'pool', clock });
  const quitter = new ControlledService('quitter');
  const a = new Catcher('a');
  const b = new Catcher('b');
  pool.add(quitter);
  const childA = pool.add(a);
  pool.add(b);
  const lifecycle = new Lifecycle(pool, { clock });
  const states = recordStates(lifecycle);
  const done = runToEnd(lifecycle);
  const drained = new Promise<void>((resolve) => {
    childA.onStopping(() => {
      resolve();
    });
  });
  quitter.finish();
  await drained;
  t.deepEqual(states, ['starting', 'running', 'stopping']);
  const reason = childA.signal.reason as DOMException;
  t.is(reason.name, 'AbortError');
  t.is(reason.message, 'Pool "pool" is stopping because service "quitter" stopped on its own');
  const shared = caught(a);
  t.is(caught(b), shared);
  t.is(lifecycle.shutdownSignal, shared);
  t.false(shared.aborted);
  void lifecycle.stop({ timeout: 20 });
  await fake.tickAsync(19);
  t.false(shared.aborted);
  await fake.tickAsync(1);
  t.true(shared.aborted);
  t.is((shared.reason as DOMException).name, 'TimeoutError');
  t.is(await finishAll([a, b], done), undefined);
  t.deepEqual(states, fullRun);
});

test("a child that reports stopping after its pool's deadline passed gets the pool's signal, already aborted", async (t) => {
  const { clock, fake } = fakeClock();
  const {
    lifecycle,
    catchers: [late],
    children: [child],
  } = catcherPool(['late'], { clock, reactToStop: false });
  const done = runToEnd(lifecycle);
  void lifecycle.stop({ timeout: 10 });
  await fake.tickAsync(10);
  t.is(child!.state, 'running');
  const poolSignal = lifecycle.shutdownSignal;
  t.true(poolSignal.aborted);
  const signal = late!.reportStopping();
  t.is(signal, poolSignal);
  t.true(signal.aborted);
  t.is((signal.reason as DOMException).name, 'TimeoutError');
  t.is(await finishAll([late!], done), undefined);
});

test("the next run of a pool hands its children a new shared signal, not the last run's", async (t) => {
  const { clock, fake } = fakeClock();
  const {
    lifecycle,
    catchers: [a, b],
  } = catcherPool(['a', 'b'], { clock });
  let done = runToEnd(lifecycle);
  void lifecycle.stop({ timeout: 0 });
  const first = caught(a!);
  t.true(first.aborted);
  t.is(await finishAll([a!, b!], done), undefined);
  done = runToEnd(lifecycle);
  void lifecycle.stop({ timeout: 30 });
  const second = caught(a!);
  t.not(second, first);
  t.is(caught(b!), second);
  t.is(lifecycle.shutdownSignal, second);
  t.false(second.aborted);
  await fake.tickAsync(30);
  t.true(second.aborted);
  t.is(await finishAll([a!, b!], done), undefined);
});

test('a child stopped directly by user code gets a signal of its own, which the pool deadline still aborts', async (t) => {
  const { clock, fake } = fakeClock();
  const {
    lifecycle,
    catchers: [direct, other],
    children: [child],
  } = catcherPool(['direct', 'other'], { clock });
  const done = runToEnd(lifecycle);
  void child!.stop();
  const own = caught(direct!);
  t.is(child!.state, 'stopping');
  t.is(lifecycle.state, 'running');
  t.not(own, lifecycle.shutdownSignal);
  t.is(child!.shutdownSignal, own);
  void lifecycle.stop({ timeout: 25 });
  t.is(caught(other!), lifecycle.shutdownSignal);
  t.not(caught(other!), own);
  t.is(child!.shutdownSignal, own);
  await fake.tickAsync(24);
  t.false(own.aborted);
  await fake.tickAsync(1);
  t.true(own.aborted);
  t.is(own.reason, lifecycle.shutdownSignal.reason);
  t.is((own.reason as DOMException).name, 'TimeoutError');
  t.is(await finishAll([direct!, other!], done), undefined);
});

test('a child whose shutdownSignal was read before its pool stopped it gets that same signal from stopping()', async (t) => {
  const { clock, fake } = fakeClock();
  const {
    lifecycle,
    catchers: [reader, other],
    children: [child],
  } = catcherPool(['reader', 'other'], { clock });
  const done = runToEnd(lifecycle);
  const early = child!.shutdownSignal;
  void lifecycle.stop({ timeout: 40 });
  t.is(caught(reader!), early);
  t.is(child!.shutdownSignal, early);
  t.not(early, lifecycle.shutdownSignal);
  t.is(caught(other!), lifecycle.shutdownSignal);
  await fake.tickAsync(40);
  t.true(early.aborted);
  t.is(early.reason, lifecycle.shutdownSignal.reason);
  t.is(await finishAll([reader!, other!], done), undefined);
});

test('a child given an earlier deadline of its own after its pool asked it to stop hands out its own signal, which aborts first', async (t) => {
  const { clock, fake } = fakeClock();
  const {
    lifecycle,
    catchers: [hurried, other],
    children: [child],
  } = catcherPool(['hurried', 'other'], { clock });
  const done = runToEnd(lifecycle);
  void lifecycle.stop({ timeout: 50 });
  const poolSignal = lifecycle.shutdownSignal;
  const handedOut = caught(hurried!);
  t.is(handedOut, poolSignal);
  void child!.stop({ timeout: 10 });
  const own = child!.shutdownSignal;
  t.not(own, poolSignal);
  t.is(child!.shutdownSignal, own);
  t.is(caught(other!), poolSignal);
  await fake.tickAsync(10);
  t.true(own.aborted);
  t.is((own.reason as DOMException).name, 'TimeoutError');
  t.false(poolSignal.aborted);
  // The documented limitation: what was handed out before stays the pool's signal.
  t.false(handedOut.aborted);
  await fake.tickAsync(40);
  t.true(poolSignal.aborted);
  t.not(own.reason, poolSignal.reason);
  t.is(await finishAll([hurried!, other!], done), undefined);
});

test("a child given a later deadline of its own after its pool asked it to stop hands out its own signal, which the pool's deadline aborts", async (t) => {
  const { clock, fake } = fakeClock();
  const {
    lifecycle,
    catchers: [patient],
    children: [child],
  } = catcherPool(['patient'], { clock });
  const done = runToEnd(lifecycle);
  void lifecycle.stop({ timeout: 50 });
  const poolSignal = lifecycle.shutdownSignal;
  t.is(caught(patient!), poolSignal);
  void child!.stop({ timeout: 100 });
  const own = child!.shutdownSignal;
  t.not(own, poolSignal);
  await fake.tickAsync(49);
  t.false(own.aborted);
  await fake.tickAsync(1);
  t.true(own.aborted);
  t.true(poolSignal.aborted);
  t.is(own.reason, poolSignal.reason);
  t.is(await finishAll([patient!], done), undefined);
});

test("stop({ timeout: 0 }) on a child that handed out its pool's signal aborts the child's own signal, not the pool's", async (t) => {
  const {
    lifecycle,
    catchers: [hurried, other],
    children: [child],
  } = catcherPool(['hurried', 'other']);
  const done = runToEnd(lifecycle);
  void lifecycle.stop();
  const poolSignal = lifecycle.shutdownSignal;
  t.is(caught(hurried!), poolSignal);
  void child!.stop({ timeout: 0 });
  const own = child!.shutdownSignal;
  t.not(own, poolSignal);
  t.true(own.aborted);
  t.is((own.reason as DOMException).name, 'TimeoutError');
  t.false(poolSignal.aborted);
  t.is(caught(other!), poolSignal);
  t.is(await finishAll([hurried!, other!], done), undefined);
});

test("stop({ signal }) on a child that handed out its pool's signal gives it its own signal, which follows that signal", async (t) => {
  const {
    lifecycle,
    catchers: [hurried],
    children: [child],
  } = catcherPool(['hurried']);
  const done = runToEnd(lifecycle);
  void lifecycle.stop();
  const poolSignal = lifecycle.shutdownSignal;
  t.is(caught(hurried!), poolSignal);
  const controller = new AbortController();
  void child!.stop({ signal: controller.signal });
  const own = child!.shutdownSignal;
  t.not(own, poolSignal);
  t.false(own.aborted);
  const reason = new Error('give up on hurried');
  controller.abort(reason);
  t.true(own.aborted);
  t.is(own.reason, reason);
  t.false(poolSignal.aborted);
  t.is(await finishAll([hurried!], done), undefined);
});

test("a child asked again without a deadline after its pool asked it to stop keeps handing out its pool's signal", async (t) => {
  const {
    lifecycle,
    catchers: [asked],
    children: [child],
  } = catcherPool(['asked']);
  const done = runToEnd(lifecycle);
  void lifecycle.stop();
  const poolSignal = lifecycle.shutdownSignal;
  t.is(caught(asked!), poolSignal);
  void child!.stop();
  t.is(child!.shutdownSignal, poolSignal);
  void child!.stop({ timeout: Infinity });
  t.is(child!.shutdownSignal, poolSignal);
  t.is(child!.stopping(), poolSignal);
  t.is(await finishAll([asked!], done), undefined);
});

test('a child given its own deadline before its pool asked it to stop keeps its own signal, which aborts at its earlier deadline', async (t) => {
  const { clock, fake } = fakeClock();
  const {
    lifecycle,
    catchers: [early, other],
    children: [child],
  } = catcherPool(['early', 'other'], { clock });
  const done = runToEnd(lifecycle);
  void child!.stop({ timeout: 10 });
  const own = caught(early!);
  void lifecycle.stop({ timeout: 50 });
  const poolSignal = lifecycle.shutdownSignal;
  t.not(own, poolSignal);
  t.is(child!.shutdownSignal, own);
  t.is(caught(other!), poolSignal);
  await fake.tickAsync(10);
  t.true(own.aborted);
  t.is((own.reason as DOMException).name, 'TimeoutError');
  t.false(poolSignal.aborted);
  t.is(child!.shutdownSignal, own);
  t.is(await finishAll([early!, other!], done), undefined);
});

test("a child given its own deadline before its pool asked it to stop keeps its own signal, which aborts at the pool's earlier deadline", async (t) => {
  const { clock, fake } = fakeClock();
  const {
    lifecycle,
    catchers: [slow],
    children: [child],
  } = catcherPool(['slow'], { clock });
  const done = runToEnd(lifecycle);
  void child!.stop({ timeout: 100 });
  const own = caught(slow!);
  void lifecycle.stop({ timeout: 20 });
  const poolSignal = lifecycle.shutdownSignal;
  t.not(own, poolSignal);
  await fake.tickAsync(19);
  t.false(own.aborted);
  await fake.tickAsync(1);
  t.true(own.aborted);
  t.is(own.reason, poolSignal.reason);
  t.is(child!.shutdownSignal, own);
  t.is(await finishAll([slow!], done), undefined);
});

test('onStopping hooks of children a pool stops receive the signal stopping() returns', async (t) => {
  const {
    lifecycle,
    catchers: [a, b],
    children: [childA, childB],
  } = catcherPool(['a', 'b']);
  const heard: AbortSignal[] = [];
  childA!.onStopping((_service, _lifecycle, shutdownSignal) => {
    heard.push(shutdownSignal);
  });
  childB!.on('stopping', (_service, _lifecycle, shutdownSignal) => {
    heard.push(shutdownSignal);
  });
  const done = runToEnd(lifecycle);
  void lifecycle.stop();
  const poolSignal = lifecycle.shutdownSignal;
  t.is(heard.length, 2);
  t.is(heard[0], caught(a!));
  t.is(heard[1], caught(b!));
  t.is(heard[0], poolSignal);
  t.is(heard[1], poolSignal);
  t.is(await finishAll([a!, b!], done), undefined);
});

test("the onStopping hook of a child stopped directly receives the child's own signal, which stopping() returns", async (t) => {
  const {
    lifecycle,
    catchers: [direct],
    children: [child],
  } = catcherPool(['direct']);
  const heard: AbortSignal[] = [];
  child!.onStopping((_service, _lifecycle, shutdownSignal) => {
    heard.push(shutdownSignal);
  });
  const done = runToEnd(lifecycle);
  void child!.stop();
  t.is(heard.length, 1);
  t.is(heard[0], caught(direct!));
  t.not(heard[0], lifecycle.shutdownSignal);
  t.is(await finishAll([direct!], done), undefined);
});

test('a child that reports stopping before being asked gets its own signal, kept when its pool then stops it', async (t) => {
  const { clock, fake } = fakeClock();
  const {
    lifecycle,
    catchers: [eager, other],
    children: [child],
  } = catcherPool(['eager', 'other'], { clock });
  const done = runToEnd(lifecycle);
  const own = eager!.reportStopping();
  t.is(child!.state, 'stopping');
  t.false(child!.shouldStop());
  t.is(lifecycle.state, 'running');
  void lifecycle.stop({ timeout: 30 });
  const poolSignal = lifecycle.shutdownSignal;
  t.not(own, poolSignal);
  t.is(caught(eager!), own);
  t.is(child!.shutdownSignal, own);
  t.is(caught(other!), poolSignal);
  t.false(own.aborted);
  await fake.tickAsync(30);
  t.true(own.aborted);
  t.is(own.reason, poolSignal.reason);
  t.is(await finishAll([eager!, other!], done), undefined);
});

/** root ─┬─ mid ─┬─ leafA ; root ─ side ; with the given clock on every pool and the root. */
function nested(clock: Clock) {
  const leafA = new Catcher('leafA');
  const leafB = new Catcher('leafB');
  const side = new Catcher('side');
  const midPool = new Pool({ name: 'mid', clock });
  const leafALifecycle = midPool.add(leafA);
  const leafBLifecycle = midPool.add(leafB);
  const rootPool = new Pool({ name: 'root', clock });
  const mid = rootPool.add(midPool);
  const sideLifecycle = rootPool.add(side);
  const root = new Lifecycle(rootPool, { clock });
  return {
    catchers: { leafA, leafB, side },
    lifecycles: { root, mid, leafA: leafALifecycle, leafB: leafBLifecycle, side: sideLifecycle },
  };
}

test("an intermediate pool hands its children its own signal, which the root's deadline aborts with the root's reason", async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { catchers, lifecycles } = nested(clock);
  const done = runToEnd(lifecycles.root);
  void lifecycles.root.stop({ timeout: 60 });
  const rootSignal = lifecycles.root.shutdownSignal;
  const leafSignal = caught(catchers.leafA);
  t.is(caught(catchers.leafB), leafSignal);
  t.not(leafSignal, rootSignal);
  t.is(lifecycles.leafA.shutdownSignal, leafSignal);
  t.is(caught(catchers.side), rootSignal);
  await fake.tickAsync(59);
  t.false(leafSignal.aborted);
  await fake.tickAsync(1);
  t.true(rootSignal.aborted);
  t.true(leafSignal.aborted);
  t.is(leafSignal.reason, rootSignal.reason);
  t.is((leafSignal.reason as DOMException).name, 'TimeoutError');
  t.is(await finishAll(Object.values(catchers), done), undefined);
  t.is(pending(), 0);
});

test('a deadline set on an intermediate pool after the root began stopping aborts the signal its leaves got from stopping()', async (t) => {
  const { clock, fake } = fakeClock();
  const { catchers, lifecycles } = nested(clock);
  const done = runToEnd(lifecycles.root);
  void lifecycles.root.stop();
  const leafSignal = caught(catchers.leafA);
  t.is(caught(catchers.leafB), leafSignal);
  t.is(lifecycles.mid.state, 'stopping');
  void lifecycles.mid.stop({ timeout: 15 });
  await fake.tickAsync(14);
  t.false(leafSignal.aborted);
  await fake.tickAsync(1);
  t.true(leafSignal.aborted);
  t.is((leafSignal.reason as DOMException).name, 'TimeoutError');
  t.is(lifecycles.mid.shutdownSignal, leafSignal);
  t.false(lifecycles.root.shutdownSignal.aborted);
  t.false(caught(catchers.side).aborted);
  t.is(await finishAll(Object.values(catchers), done), undefined);
});

test("an intermediate pool stopped by its parent hands out its parent's signal through its hooks and shutdownSignal alike", async (t) => {
  const { clock } = fakeClock();
  const { catchers, lifecycles } = nested(clock);
  const heard: AbortSignal[] = [];
  lifecycles.mid.onStopping((_service, _lifecycle, shutdownSignal) => {
    heard.push(shutdownSignal);
  });
  const done = runToEnd(lifecycles.root);
  void lifecycles.root.stop();
  const rootSignal = lifecycles.root.shutdownSignal;
  t.is(heard.length, 1);
  t.is(heard[0], rootSignal);
  // mid's own signal is built for its leaves, but nobody read mid's shutdownSignal before.
  t.not(caught(catchers.leafA), rootSignal);
  t.is(lifecycles.mid.shutdownSignal, rootSignal);
  t.is(await finishAll(Object.values(catchers), done), undefined);
});
