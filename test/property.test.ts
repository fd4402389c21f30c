import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { play, withoutFaults } from './helpers/property-run.js';
import { Harness, type LeafSpec, type NodeSpec, type Op, type PoolSpec } from './helpers/model.js';

// Random scenarios against a tree of lifecycles; Harness (test/helpers/model.ts) checks right after
// every call that it changed nothing but its own lifecycle (no service called, no other lifecycle's
// hooks run, no owner's reaction made), and once microtasks have run that only legal transitions
// happened, every hook saw its own state, the pools' states follow from their children's, signals
// and deadlines reach whom they should, every run has its own shutdownSignal, run() and stop()
// settle exactly when their run ends, no timer or caller-signal listener is left behind and nothing
// ends up unhandled. Each run ends everything and checks that every stop() resolved.

const numRuns = 300;

const leaf: fc.Arbitrary<LeafSpec> = fc.record({
  kind: fc.constant('leaf' as const),
  // Leaves that keep running when asked to stop are weighted up, so deadlines and drains last.
  reaction: fc.oneof(
    { weight: 3, arbitrary: fc.constant('none' as const) },
    { weight: 2, arbitrary: fc.constant('deadline' as const) },
    { weight: 1, arbitrary: fc.constant('stop' as const) },
    { weight: 1, arbitrary: fc.constant('crash' as const) },
  ),
  timing: fc.constantFrom('sync' as const, 'microtask' as const),
  runningAtStart: fc.boolean(),
  onRunning: fc.oneof(
    { weight: 4, arbitrary: fc.constant('none' as const) },
    { weight: 1, arbitrary: fc.constant('stopping' as const) },
    { weight: 1, arbitrary: fc.constant('stop' as const) },
  ),
});

const onRunning = fc.oneof(
  { weight: 3, arbitrary: fc.constant('none' as const) },
  { weight: 1, arbitrary: fc.constant('stop' as const) },
);

const pool = (children: fc.Arbitrary<NodeSpec[]>): fc.Arbitrary<PoolSpec> =>
  fc.record({ kind: fc.constant('pool' as const), children, onRunning });

const tree = (depth: number): fc.Arbitrary<NodeSpec> =>
  depth === 0 ? leaf : fc.oneof(leaf, pool(fc.array(tree(depth - 1), { maxLength: 3 })));

const index = fc.nat({ max: 7 });

const run = fc.constant({ op: 'run' as const });

const timeout = fc.record({
  kind: fc.constant('timeout' as const),
  ms: fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 100 }) },
    { weight: 1, arbitrary: fc.constant(Infinity) },
  ),
});

const stop = fc.record({
  op: fc.constant('stop' as const),
  how: fc.oneof(
    { weight: 1, arbitrary: fc.constant({ kind: 'plain' as const }) },
    { weight: 3, arbitrary: timeout },
    { weight: 1, arbitrary: fc.constant({ kind: 'aborted' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'signal' as const }) },
  ),
});

const stopChild = fc.record({
  op: fc.constant('stopChild' as const),
  target: index,
  aborted: fc.boolean(),
});

const wait = fc.record({ op: fc.constant('wait' as const), target: index });

const abortCaller = fc.record({ op: fc.constant('abortCaller' as const), index });

const report = (kind: 'running' | 'stopping' | 'finish') =>
  fc.record({ op: fc.constant(kind), leaf: index });

const crash = fc.record({ op: fc.constant('crash' as const), leaf: index, nonError: fc.boolean() });

const tick = fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 150 }) });

/** Every operation: the root runs and stops, children report, end and crash, the clock moves. */
const anyOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: run },
  { weight: 3, arbitrary: stop },
  { weight: 2, arbitrary: stopChild },
  { weight: 2, arbitrary: abortCaller },
  { weight: 1, arbitrary: wait },
  { weight: 4, arbitrary: report('running') },
  { weight: 2, arbitrary: report('stopping') },
  { weight: 2, arbitrary: report('finish') },
  { weight: 2, arbitrary: crash },
  { weight: 3, arbitrary: tick },
);

/** Mostly repeated stops with deadlines and clock ticks, so runs last while deadlines race. */
const deadlineOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: run },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('stop' as const), how: timeout }) },
  { weight: 1, arbitrary: fc.constant({ op: 'stop' as const, how: { kind: 'signal' as const } }) },
  { weight: 1, arbitrary: abortCaller },
  { weight: 4, arbitrary: tick },
  { weight: 1, arbitrary: report('running') },
  { weight: 1, arbitrary: report('finish') },
);

const steps = (op: fc.Arbitrary<Op>) => fc.array(op, { maxLength: 40, size: 'max' });

/** Runs the property with process-wide watches for unhandled rejections and uncaught exceptions. */
async function check(
  t: ExecutionContext,
  trees: fc.Arbitrary<NodeSpec>,
  ops: fc.Arbitrary<Op[]> = steps(anyOp),
): Promise<void> {
  await withoutFaults(t, async (faults) => {
    await fc.assert(
      fc.asyncProperty(trees, ops, async (spec, scenario) => {
        faults.length = 0;
        const harness = new Harness(spec, faults);
        await play(harness, scenario);
        await harness.end();
      }),
      { numRuns, includeErrorInReport: true },
    );
  });
}

test.serial(
  'a lifecycle keeps its state machine under random runs, stops, reports, ends and clock ticks',
  async (t) => {
    await check(t, leaf);
  },
);

test.serial('a pool of services keeps every invariant under random operations', async (t) => {
  await check(t, pool(fc.array(leaf, { minLength: 1, maxLength: 4 })));
});

test.serial('a pool nested in a pool keeps every invariant under random operations', async (t) => {
  const nested = fc
    .record({
      before: fc.array(leaf, { maxLength: 2 }),
      inner: pool(fc.array(leaf, { maxLength: 3 })),
      after: fc.array(leaf, { maxLength: 2 }),
      onRunning,
    })
    .map(({ before, inner, after, onRunning }): PoolSpec => ({
      kind: 'pool',
      children: [...before, inner, ...after],
      onRunning,
    }));
  await check(t, nested);
});

test.serial('random trees of pools up to three levels deep keep every invariant', async (t) => {
  await check(t, tree(3));
});

test.serial(
  'repeated stop() deadlines: the earliest wins and reaches every child in time',
  async (t) => {
    const patient = fc.record({
      kind: fc.constant('leaf' as const),
      reaction: fc.constantFrom('none' as const, 'deadline' as const),
      timing: fc.constantFrom('sync' as const, 'microtask' as const),
      runningAtStart: fc.boolean(),
      onRunning: fc.constant('none' as const),
    });
    await check(t, fc.oneof(patient, pool(fc.array(patient, { maxLength: 3 }))), steps(deadlineOp));
  },
);
