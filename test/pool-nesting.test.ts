import test from 'ava';
import {
  Lifecycle,
  Pool,
  ServiceCrashedError,
  type Clock,
  type Logger,
  type Service,
  type State,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { captureLogs } from './helpers/logs.js';
import { allStarted, flush, runToEnd } from './helpers/pool.js';
import { recordStates } from './helpers/record.js';
import { ControlledService, type Behaviour } from './helpers/service.js';

const fullRun: State[] = ['starting', 'running', 'stopping', 'stopped'];
const crashedRun: State[] = ['starting', 'running', 'stopping', 'crashed'];

/**
 * root ─┬─ mid ─┬─ inner ─┬─ leafA
 *       │       │         └─ leafB
 *       │       └─ midLeaf
 *       └─ side
 */
function threeLevels(options: { behaviour?: Behaviour; logger?: Logger; clock?: Clock } = {}) {
  const { behaviour, logger, clock } = options;
  const services = {
    leafA: new ControlledService('leafA', behaviour),
    leafB: new ControlledService('leafB', behaviour),
    midLeaf: new ControlledService('midLeaf', behaviour),
    side: new ControlledService('side', behaviour),
  };
  const inner = new Pool({ name: 'inner', logger });
  const leafA = inner.add(services.leafA);
  const leafB = inner.add(services.leafB);
  const midPool = new Pool({ name: 'mid', logger });
  const innerLifecycle = midPool.add(inner);
  const midLeaf = midPool.add(services.midLeaf);
  const rootPool = new Pool({ name: 'root', logger });
  const mid = rootPool.add(midPool);
  const side = rootPool.add(services.side);
  const root = new Lifecycle(rootPool, { clock });
  const lifecycles = { root, mid, inner: innerLifecycle, leafA, leafB, midLeaf, side };
  const states = {
    root: recordStates(root),
    mid: recordStates(mid),
    inner: recordStates(innerLifecycle),
    leafA: recordStates(leafA),
    leafB: recordStates(leafB),
    midLeaf: recordStates(midLeaf),
    side: recordStates(side),
  };
  return { services, lifecycles, states };
}

/** `depth` pools, each the only child of the one before, with `leaf` as the last one's child. */
function chain(depth: number, leaf: Service): { root: Lifecycle<Pool>; lifecycles: Lifecycle[] } {
  const pools = Array.from({ length: depth }, (_, index) => new Pool({ name: `p${index}` }));
  const lifecycles: Lifecycle[] = [];
  for (let index = 0; index < depth - 1; index++) {
    lifecycles.push(pools[index]!.add(pools[index + 1]!));
  }
  lifecycles.push(pools[depth - 1]!.add(leaf));
  return { root: new Lifecycle(pools[0]!), lifecycles };
}

test('pools nest three levels deep: every level starts, runs, stops and ends stopped', async (t) => {
  const { lifecycles, states } = threeLevels();
  const done = runToEnd(lifecycles.root);
  await lifecycles.root.whenRunning();
  t.is(lifecycles.root.state, 'running');
  t.is(lifecycles.inner.state, 'running');
  t.is(await lifecycles.root.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, {
    root: fullRun,
    mid: fullRun,
    inner: fullRun,
    leafA: fullRun,
    leafB: fullRun,
    midLeaf: fullRun,
    side: fullRun,
  });
});

test('a nested pool reports running only once its deepest child runs, and so does the root', async (t) => {
  const { services, lifecycles, states } = threeLevels({ behaviour: { running: 'manually' } });
  const done = runToEnd(lifecycles.root);
  await allStarted(services);
  services.side.reportRunning();
  services.midLeaf.reportRunning();
  services.leafA.reportRunning();
  await flush();
  t.deepEqual(
    [lifecycles.root.state, lifecycles.mid.state, lifecycles.inner.state],
    ['starting', 'starting', 'starting'],
  );
  services.leafB.reportRunning();
  await lifecycles.root.whenRunning();
  t.deepEqual(
    [lifecycles.root.state, lifecycles.mid.state, lifecycles.inner.state],
    ['running', 'running', 'running'],
  );
  t.deepEqual(states.root, ['starting', 'running']);
  await lifecycles.root.stop();
  t.is(await done, undefined);
});

test('a crash three levels down crashes every level above with a chain of ServiceCrashedErrors', async (t) => {
  const { services, lifecycles, states } = threeLevels();
  const done = runToEnd(lifecycles.root);
  await lifecycles.root.whenRunning();
  services.leafA.crash();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  const midError = error as ServiceCrashedError;
  t.is(midError.service, 'mid');
  const innerError = midError.cause as ServiceCrashedError;
  t.true(innerError instanceof ServiceCrashedError);
  t.is(innerError.service, 'inner');
  const leafError = innerError.cause as ServiceCrashedError;
  t.true(leafError instanceof ServiceCrashedError);
  t.is(leafError.service, 'leafA');
  t.is(leafError.cause, services.leafA.error);
  t.is(lifecycles.mid.error, innerError);
  t.is(lifecycles.inner.error, leafError);
  t.is(
    midError.message,
    'Service "mid" crashed: Service "inner" crashed: Service "leafA" crashed: leafA failed',
  );
  t.deepEqual(states, {
    root: crashedRun,
    mid: crashedRun,
    inner: crashedRun,
    leafA: ['starting', 'running', 'crashed'],
    leafB: fullRun,
    midLeaf: fullRun,
    side: fullRun,
  });
});

test('stopping a nested pool directly stops its subtree and it leaves its parent, which keeps running', async (t) => {
  const { lifecycles, states } = threeLevels();
  const done = runToEnd(lifecycles.root);
  await lifecycles.root.whenRunning();
  t.is(await lifecycles.mid.stop(), 'stopped');
  await flush();
  t.is(lifecycles.root.state, 'running');
  t.is(lifecycles.side.state, 'running');
  t.is(await lifecycles.root.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, {
    root: fullRun,
    mid: fullRun,
    inner: fullRun,
    leafA: fullRun,
    leafB: fullRun,
    midLeaf: fullRun,
    side: fullRun,
  });
});

test('the root deadline reaches the leaves of nested pools exactly when it passes', async (t) => {
  const { clock, fake, pending } = fakeClock();
  const { lifecycles } = threeLevels({ behaviour: { whenAsked: 'await-deadline' }, clock });
  const done = runToEnd(lifecycles.root);
  await lifecycles.root.whenRunning();
  const stopped = lifecycles.root.stop({ timeout: 2000 });
  await fake.tickAsync(1999);
  const all = Object.values(lifecycles);
  t.deepEqual(
    all.map((lifecycle) => lifecycle.state),
    all.map(() => 'stopping'),
  );
  t.false(lifecycles.leafA.shutdownSignal.aborted);
  await fake.tickAsync(1);
  t.is(lifecycles.leafA.shutdownSignal.reason, lifecycles.root.shutdownSignal.reason);
  t.is(lifecycles.side.shutdownSignal.reason, lifecycles.root.shutdownSignal.reason);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.deepEqual(
    all.map((lifecycle) => lifecycle.state),
    all.map(() => 'stopped'),
  );
  t.is(pending(), 0);
});

test('each nested pool logs its own children under its own name', async (t) => {
  const { logger, entries } = captureLogs();
  const { lifecycles } = threeLevels({ logger });
  const done = runToEnd(lifecycles.root);
  await lifecycles.root.whenRunning();
  await lifecycles.root.stop();
  t.is(await done, undefined);
  const poolOf = Object.fromEntries(
    entries
      .filter((entry) => entry.state === 'running')
      .map((entry): [string, unknown] => [String(entry.service), entry.pool]),
  );
  t.deepEqual(poolOf, {
    mid: 'root',
    side: 'root',
    inner: 'mid',
    midLeaf: 'mid',
    leafA: 'inner',
    leafB: 'inner',
  });
  t.is(entries.length, 6 * 4);
});

test('a chain of 10,000 nested pools starts and stops without overflowing the stack', async (t) => {
  const leaf = new ControlledService('leaf');
  const { root, lifecycles } = chain(10_000, leaf);
  const states = recordStates(root);
  const done = runToEnd(root);
  await root.whenRunning();
  t.is(root.state, 'running');
  t.is(lifecycles[5000]?.state, 'running');
  t.is(leaf.lifecycle.state, 'running');
  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(states, fullRun);
  t.is(leaf.lifecycle.state, 'stopped');
  t.true(lifecycles.every((lifecycle) => lifecycle.state === 'stopped'));
  // The root's stop reason is passed down, level by level, to the leaf.
  t.is(leaf.lifecycle.signal.reason, root.signal.reason);
});

test('a crash at the bottom of a chain of 10,000 nested pools crashes the root', async (t) => {
  const leaf = new ControlledService('leaf');
  const { root, lifecycles } = chain(10_000, leaf);
  const states = recordStates(root);
  const done = runToEnd(root);
  await root.whenRunning();
  t.is(root.state, 'running');
  leaf.crash();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.is((error as ServiceCrashedError).service, 'p1');
  t.deepEqual(states, crashedRun);
  t.true(lifecycles.every((lifecycle) => lifecycle.state === 'crashed'));
  t.is(lifecycles.at(-1)?.error, leaf.error);
});

test('a tree with fan-out runs every leaf, reports running at the root and stops them all', async (t) => {
  const leaves: ControlledService[] = [];
  const pools: Lifecycle[] = [];
  const rootPool = new Pool({ name: 'root' });
  for (let i = 0; i < 3; i++) {
    const branch = new Pool({ name: `branch${i}` });
    pools.push(rootPool.add(branch));
    for (let j = 0; j < 3; j++) {
      const twig = new Pool({ name: `twig${i}.${j}` });
      pools.push(branch.add(twig));
      for (let k = 0; k < 4; k++) {
        const leaf = new ControlledService(`leaf${i}.${j}.${k}`);
        leaves.push(leaf);
        twig.add(leaf);
      }
    }
  }
  const root = new Lifecycle(rootPool);
  const rootStates = recordStates(root);
  const poolStates = pools.map(recordStates);
  const done = runToEnd(root);
  await root.whenRunning();
  t.is(root.state, 'running');
  t.is(leaves.length, 36);
  t.true(leaves.every((leaf) => leaf.lifecycle.state === 'running'));
  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
  t.true(leaves.every((leaf) => leaf.runs.length === 1 && leaf.lifecycle.state === 'stopped'));
  t.deepEqual(rootStates, fullRun);
  t.deepEqual(
    poolStates,
    pools.map(() => fullRun),
  );
});
