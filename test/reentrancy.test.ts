import test from 'ava';
import fc from 'fast-check';
import { Lifecycle, Pool, Sequence, type Service } from '../lib/index.js';
import { aborted } from './helpers/lifecycle.js';
import { nextImmediate } from './helpers/lifecycle.js';
import { play, withoutFaults } from './helpers/property-run.js';
import { runToEnd } from './helpers/pool.js';
import {
  ReentrancyHarness,
  type GroupSpec,
  type LeafSpec,
  type NodeSpec,
  type Op,
} from './helpers/reentrancy-harness.js';
import { makeSequence } from './helpers/sequence.js';
import { ControlledService, serviceOf } from './helpers/service.js';

/*
 * No call into the library runs another service's code, an owner's reaction or another
 * lifecycle's hooks before it returns (SPEC, Lifecycle rules, "No re-entrant calls").
 */

/** A service that reports running at once and returns once asked to stop. */
function stayingService(name: string, onStart: () => void = () => undefined): Service {
  return serviceOf(name, async (lifecycle) => {
    onStart();
    lifecycle.running();
    await aborted(lifecycle.signal);
    lifecycle.stopping();
  });
}

test('run() returns before runWithLifecycle is called', async (t) => {
  const calls: string[] = [];
  const lifecycle = new Lifecycle(
    stayingService('svc', () => {
      calls.push('runWithLifecycle');
    }),
  );
  const done = lifecycle.run();
  calls.push('run() returned');
  await lifecycle.whenRunning();
  t.deepEqual(calls, ['run() returned', 'runWithLifecycle']);
  await lifecycle.stop();
  await done;
});

test('a hook added on the line after run() is called when the service reports running', async (t) => {
  const lifecycle = new Lifecycle(stayingService('svc'));
  const seen: string[] = [];
  const done = lifecycle.run();
  lifecycle.onRunning((_service, own) => {
    seen.push(own.state);
  });
  await lifecycle.whenRunning();
  t.deepEqual(seen, ['running']);
  await lifecycle.stop();
  await done;
});

/** A sequence of `a`, which keeps a client set after it reports running, and `b`, which reads it. */
function clientSequence(options: { awaitBeforeRunning: boolean }) {
  const journal: string[] = [];
  let bStarted = false;
  const a = {
    name: 'a',
    client: undefined as string | undefined,
    async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
      if (options.awaitBeforeRunning) await Promise.resolve();
      const client = 'connected';
      lifecycle.running();
      journal.push(`a: running() returned, b started: ${bStarted}`);
      this.client = client;
      await aborted(lifecycle.signal);
      lifecycle.stopping();
    },
  };
  const b = serviceOf('b', async (lifecycle) => {
    bStarted = true;
    journal.push(`b: started, a.client: ${String(a.client)}`);
    lifecycle.running();
    await aborted(lifecycle.signal);
    lifecycle.stopping();
  });
  const sequence = new Sequence({ name: 'startup' });
  sequence.add(a);
  sequence.add(b);
  return { lifecycle: new Lifecycle(sequence), journal };
}

for (const awaitBeforeRunning of [false, true]) {
  const how = awaitBeforeRunning ? 'after an await' : 'without an await';
  test(`in a sequence, running() called ${how} returns before the next child starts, and the code after it runs first`, async (t) => {
    const { lifecycle, journal } = clientSequence({ awaitBeforeRunning });
    const done = lifecycle.run();
    await lifecycle.whenRunning();
    t.deepEqual(journal, [
      'a: running() returned, b started: false',
      'b: started, a.client: connected',
    ]);
    t.is(await lifecycle.stop(), 'stopped');
    await done;
  });
}

test("a root pool's onRunning hook does not run inside a leaf's running() call", async (t) => {
  const leaf = new ControlledService('leaf', { running: 'manually' });
  const inner = new Pool({ name: 'inner' });
  inner.add(leaf);
  const root = new Pool({ name: 'root' });
  const innerLifecycle = root.add(inner);
  const lifecycle = new Lifecycle(root);
  let insideRunning = false;
  const hooksRan: Record<string, boolean> = {};
  lifecycle.onRunning(() => {
    hooksRan.root = insideRunning;
  });
  innerLifecycle.onRunning(() => {
    hooksRan.inner = insideRunning;
  });
  const done = lifecycle.run();
  await nextImmediate();
  insideRunning = true;
  leaf.reportRunning();
  insideRunning = false;
  await lifecycle.whenRunning();
  t.deepEqual(hooksRan, { inner: false, root: false });
  await lifecycle.stop();
  await done;
});

test("stop() on a pool aborts the pool's own signal at once, and runs its children's abort listeners and hooks only after it returns", async (t) => {
  const pool = new Pool({ name: 'app' });
  const journal: string[] = [];
  const children = ['a', 'b'].map((name) => {
    const child = pool.add(new ControlledService(name));
    child.onStateChange((_service, own, state) => {
      journal.push(`${own.name} ${state}`);
    });
    return child;
  });
  const lifecycle = new Lifecycle(pool);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  journal.length = 0;
  lifecycle.signal.addEventListener('abort', () => journal.push('app asked'));
  for (const child of children) {
    child.signal.addEventListener('abort', () => journal.push(`${child.name} asked`));
  }

  const stopped = lifecycle.stop();
  journal.push('stop() returned');

  t.deepEqual(journal, ['app asked', 'stop() returned']);
  t.is(await stopped, 'stopped');
  for (const entry of [
    'a asked',
    'b asked',
    'a stopping',
    'b stopping',
    'a stopped',
    'b stopped',
  ]) {
    t.true(journal.includes(entry), `"${entry}" is missing from ${JSON.stringify(journal)}`);
  }
  await done;
});

test('a chain of 10,000 nested pools starts and stops without a RangeError, and its run resolves', async (t) => {
  const leaf = new ControlledService('leaf');
  let service: Service = leaf;
  for (let level = 10_000; level >= 1; level--) {
    const pool = new Pool({ name: `pool-${level}` });
    pool.add(service);
    service = pool;
  }
  const lifecycle = new Lifecycle(service);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(leaf.lifecycle.state, 'running');
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.is(leaf.lifecycle.state, 'stopped');
});

/** The same program each time: a sequence of two services run, awaited running, stopped. */
async function sequenceProgram(flood: () => void): Promise<string[]> {
  const { lifecycle, journal } = makeSequence({ a: {}, b: {} }, { name: 'startup' });
  lifecycle.onStateChange((_service, own, state) => {
    journal.push(`${own.name} ${state}`);
  });
  flood();
  const done = lifecycle.run();
  journal.push('run() returned');
  await lifecycle.whenRunning();
  journal.push('whenRunning() resolved');
  const stopped = lifecycle.stop();
  journal.push('stop() returned');
  journal.push(`stop() resolved with ${await stopped}`);
  await done;
  journal.push('run() resolved');
  return journal;
}

/** Schedules `hops` callbacks one after another through `schedule`, each queuing the next. */
function chain(schedule: (callback: () => void) => void, hops: number): () => void {
  return () => {
    let left = hops;
    const hop = () => {
      if (--left > 0) schedule(hop);
    };
    schedule(hop);
  };
}

test('the order of events of a program is the same whatever other microtask work the process has', async (t) => {
  const quiet = await sequenceProgram(() => undefined);
  const microtasks = await sequenceProgram(chain(queueMicrotask, 5_000));
  const ticks = await sequenceProgram(
    chain((hop) => {
      process.nextTick(hop);
    }, 5_000),
  );
  t.true(quiet.includes('b running'), JSON.stringify(quiet));
  t.deepEqual(microtasks, quiet);
  t.deepEqual(ticks, quiet);
});

// ---- property: inside a library call runs nothing but that lifecycle's own transition ----

const leaf: fc.Arbitrary<LeafSpec> = fc.record({
  kind: fc.constant('leaf' as const),
  running: fc.constantFrom('sync' as const, 'later' as const, 'never' as const),
  whenAsked: fc.constantFrom(
    'stop-sync' as const,
    'stop-later' as const,
    'deadline' as const,
    'crash' as const,
    'ignore' as const,
  ),
});

const group = (children: fc.Arbitrary<NodeSpec[]>): fc.Arbitrary<GroupSpec> =>
  fc.record({ kind: fc.constantFrom('pool' as const, 'sequence' as const), children });

const tree = (depth: number): fc.Arbitrary<NodeSpec> =>
  depth === 0 ? leaf : fc.oneof(leaf, group(fc.array(tree(depth - 1), { maxLength: 3 })));

const index = fc.nat({ max: 9 });

const anyOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ op: 'run' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('stop' as const),
      target: index,
      how: fc.oneof(
        fc.constant('plain' as const),
        fc.constant('aborted' as const),
        fc.integer({ min: 0, max: 100 }),
      ),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('report' as const),
      leaf: index,
      what: fc.constantFrom(
        'running' as const,
        'stopping' as const,
        'finish' as const,
        'crash' as const,
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('hook' as const),
      target: index,
      event: fc.constantFrom(
        'stateChange' as const,
        'starting' as const,
        'running' as const,
        'stopping' as const,
        'stopped' as const,
        'crashed' as const,
      ),
      action: fc.constantFrom('record' as const, 'promise' as const, 'stop' as const),
      other: index,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('wait' as const),
      target: index,
      what: fc.constantFrom('wait' as const, 'whenRunning' as const),
    }),
  },
  { weight: 4, arbitrary: fc.constant({ op: 'flush' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('tick' as const),
      ms: fc.integer({ min: 0, max: 120 }),
    }),
  },
);

test.serial(
  'no library call runs a service, a hook or an abort listener of another lifecycle before it returns, and every run settles',
  async (t) => {
    await withoutFaults(t, async (faults) => {
      await fc.assert(
        fc.asyncProperty(
          group(fc.array(tree(2), { minLength: 1, maxLength: 3 })),
          fc.array(anyOp, { maxLength: 30, size: 'max' }),
          async (spec, scenario) => {
            faults.length = 0;
            const harness = new ReentrancyHarness(spec, faults);
            await play(harness, scenario);
            await harness.end();
          },
        ),
        { numRuns: 100, includeErrorInReport: true },
      );
    });
    t.pass();
  },
);
