import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { play, withoutFaults } from './helpers/property-run.js';
import {
  SupervisionHarness,
  type LeafSpec,
  type NodeSpec,
  type Op,
  type PoolChildSpec,
  type PoolSpec,
  type RestarterSpec,
  type RestartSpec,
  type SequenceSpec,
  type StopHow,
  type TreeSpec,
} from './helpers/supervision-model.js';

// Random supervision trees (pools with dependsOn edges to earlier siblings, sequences,
// restarters; three levels at most, four children at most) over leaf services that report
// running or not, crash at start or later, stop on their own, hang until the shutdown deadline
// or stop promptly, all on one fake clock. SupervisionHarness (test/helpers/supervision-model.ts)
// logs every start, report of running, stop request and end, and checks at each of them and after
// every step: no call into the library makes an event of another lifecycle before it returns,
// start order follows the dependencies, nothing starts once its group or restarter was asked to
// stop, stop order is the reverse, nothing is asked to stop twice or run twice at once, transitions
// follow the SPEC table, every run has its own shutdownSignal, groups and restarters end as their
// children's ends say, and once the root has ended nothing runs, no timer is pending and no
// listener is left on a caller's signal. Each scenario ends with stop({ timeout }) and the clock
// moved past the deadline.

const weighted = <T>(...choices: [number, T][]): fc.Arbitrary<T> =>
  fc.oneof(...choices.map(([weight, value]) => ({ weight, arbitrary: fc.constant(value) })));

const leaf: fc.Arbitrary<LeafSpec> = fc.record({
  kind: fc.constant('leaf' as const),
  start: weighted<LeafSpec['start']>(
    [12, 'running'],
    [4, 'delayed'],
    [2, 'manual'],
    [1, 'throw'],
    [1, 'reject'],
    [1, 'return'],
  ),
  startDelay: fc.integer({ min: 0, max: 40 }),
  life: weighted<LeafSpec['life']>([6, 'forever'], [1, 'crash'], [1, 'return']),
  lifeDelay: fc.integer({ min: 1, max: 300 }),
  whenAsked: weighted<LeafSpec['whenAsked']>(
    [3, 'prompt'],
    [3, 'hang'],
    [2, 'slow'],
    [1, 'crash'],
    [1, 'silent'],
  ),
  stopDelay: fc.integer({ min: 0, max: 60 }),
  timing: fc.constantFrom('sync' as const, 'microtask' as const),
});

const policy: fc.Arbitrary<RestartSpec> = fc
  .record({
    mode: fc.constantFrom('on-crash' as const, 'always' as const),
    initialDelay: fc.integer({ min: 1, max: 40 }),
    spread: fc.integer({ min: 0, max: 200 }),
    factor: fc.constantFrom(1, 1.5, 2, 3),
    jitter: fc.constantFrom(0, 0.2, 0.5, 1),
    maxRestarts: fc.integer({ min: 0, max: 3 }),
    window: fc.oneof(fc.integer({ min: 10, max: 400 }), fc.constant(Infinity)),
    randoms: fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
      minLength: 1,
      maxLength: 3,
    }),
    via: fc.constantFrom('class' as const, 'option' as const),
  })
  .map(({ spread, ...rest }) => ({ ...rest, maxDelay: rest.initialDelay + spread }));

/** Children of a pool, each depending on at most two earlier siblings (so there is no cycle). */
const poolChildren = (
  node: fc.Arbitrary<NodeSpec>,
  minLength: number,
): fc.Arbitrary<PoolChildSpec[]> =>
  fc
    .array(
      fc.record({
        node,
        picks: fc.array(fc.nat({ max: 3 }), { maxLength: 2 }),
        by: fc.constantFrom(
          'lifecycle' as const,
          'service' as const,
          'innerService' as const,
          'innerLifecycle' as const,
        ),
      }),
      { minLength, maxLength: 4, size: 'max' },
    )
    .map((children) =>
      children.map(({ node: child, picks, by }, index) => ({
        node: child,
        dependsOn:
          index === 0
            ? []
            : [...new Set(picks.map((pick) => pick % index))].map((sibling) => ({ sibling, by })),
      })),
    );

const pool = (node: fc.Arbitrary<NodeSpec>, minLength = 0): fc.Arbitrary<PoolSpec> =>
  fc.record({ kind: fc.constant('pool' as const), children: poolChildren(node, minLength) });

const sequence = (node: fc.Arbitrary<NodeSpec>, minLength = 0): fc.Arbitrary<SequenceSpec> =>
  fc.record({
    kind: fc.constant('sequence' as const),
    children: fc.array(node, { minLength, maxLength: 4, size: 'max' }),
  });

const restarter = (node: fc.Arbitrary<NodeSpec>): fc.Arbitrary<RestarterSpec> =>
  fc.record({ kind: fc.constant('restarter' as const), child: node, policy });

/** A node whose composites nest at most `depth` levels. */
const tree = (depth: number): fc.Arbitrary<NodeSpec> =>
  depth === 0
    ? leaf
    : fc.oneof(
        { weight: 2, arbitrary: leaf },
        { weight: 1, arbitrary: pool(tree(depth - 1)) },
        { weight: 1, arbitrary: sequence(tree(depth - 1)) },
        { weight: 1, arbitrary: restarter(tree(depth - 1)) },
      );

/**
 * A composite root over up to two more levels of composites; half of them generated without
 * fast-check's bias towards small values, so that large trees come up as often as small ones.
 */
const rooted = (root: fc.Arbitrary<TreeSpec['root']>): fc.Arbitrary<TreeSpec> => {
  const spec = fc.record({ root, logs: fc.boolean() });
  return fc.oneof(spec, fc.noBias(spec));
};

const trees = rooted(
  fc.oneof(
    { weight: 2, arbitrary: pool(tree(2), 1) },
    { weight: 2, arbitrary: sequence(tree(2), 1) },
    { weight: 1, arbitrary: restarter(tree(2)) },
  ),
);

const stopHow: fc.Arbitrary<StopHow> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'plain' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('timeout' as const),
      ms: fc.oneof(
        { weight: 1, arbitrary: fc.constant(0) },
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 100 }) },
        { weight: 1, arbitrary: fc.constant(Infinity) },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'signal' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'aborted' as const }) },
);

const run = fc.constant({ op: 'run' as const });
const tick = (max: number) =>
  fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max }) });
const stop = fc.record({ op: fc.constant('stop' as const), how: stopHow });
const abortCaller = fc.record({ op: fc.constant('abortCaller' as const), index: fc.nat(5) });
const stopChild = fc.record({
  op: fc.constant('stopChild' as const),
  target: fc.nat(30),
  timeout: fc.option(fc.integer({ min: 0, max: 80 }), { nil: undefined }),
});
const leafAction = (actions: Extract<Op, { op: 'leaf' }>['action'][]) =>
  fc.record({
    op: fc.constant('leaf' as const),
    leaf: fc.nat(63),
    action: fc.constantFrom(...actions),
  });

/** Every operation, the clock moving often so that delays, deadlines and backoffs fire. */
const anyOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: run },
  { weight: 5, arbitrary: tick(150) },
  { weight: 2, arbitrary: stop },
  { weight: 1, arbitrary: abortCaller },
  { weight: 1, arbitrary: stopChild },
  { weight: 4, arbitrary: leafAction(['running', 'stopping', 'finish', 'crash']) },
);

/** Children ending on their own (crash, return) while the others run, so groups drain in order. */
const ownEndOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: run },
  { weight: 3, arbitrary: tick(60) },
  { weight: 1, arbitrary: stopChild },
  { weight: 2, arbitrary: leafAction(['running']) },
  { weight: 4, arbitrary: leafAction(['finish', 'crash']) },
);

/** Repeated stops with deadlines and caller signals while the clock moves. */
const deadlineOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: run },
  { weight: 4, arbitrary: tick(120) },
  { weight: 4, arbitrary: stop },
  { weight: 2, arbitrary: abortCaller },
  { weight: 1, arbitrary: leafAction(['running', 'finish']) },
);

/** Each scenario begins with the root's run(). */
const scenario = (op: fc.Arbitrary<Op>): fc.Arbitrary<Op[]> =>
  fc.array(op, { maxLength: 30, size: 'max' }).map((ops) => [{ op: 'run' as const }, ...ops]);

/** Runs the property with process-wide watches for unhandled rejections and uncaught exceptions. */
async function check(
  t: ExecutionContext,
  specs: fc.Arbitrary<TreeSpec>,
  ops: fc.Arbitrary<Op[]>,
  numRuns: number,
  examples: [TreeSpec, Op[]][] = [],
): Promise<void> {
  await withoutFaults(t, async (faults) => {
    await fc.assert(
      fc.asyncProperty(specs, ops, async (spec, steps) => {
        faults.length = 0;
        const harness = new SupervisionHarness(spec, faults);
        await play(harness, steps);
        try {
          await harness.end();
        } catch (error) {
          throw new Error(`at the end: ${(error as Error).message}`);
        }
      }),
      { numRuns, examples, includeErrorInReport: true },
    );
  });
}

test.serial(
  'random supervision trees start in dependency order, stop in reverse and end at rest',
  async (t) => {
    await check(t, trees, scenario(anyOp), 500);
  },
);

/** A leaf that runs at once and, asked to stop, keeps running until its shutdown deadline. */
const patient: LeafSpec = {
  kind: 'leaf',
  start: 'running',
  startDelay: 0,
  life: 'forever',
  lifeDelay: 1,
  whenAsked: 'hang',
  stopDelay: 0,
  timing: 'sync',
};

/**
 * Chains a → b → c whose middle child crashes: a must wait until c has ended (the first version
 * of the Group engine asked a at once, since its only direct dependent, b, had ended).
 */
const middleCrashes: [TreeSpec, Op[]][] = [
  [
    { root: { kind: 'sequence', children: [patient, patient, patient] }, logs: false },
    [{ op: 'run' }, { op: 'leaf', leaf: 1, action: 'crash' }],
  ],
  [
    {
      root: {
        kind: 'pool',
        children: [
          { node: patient, dependsOn: [] },
          { node: patient, dependsOn: [{ sibling: 0, by: 'lifecycle' }] },
          { node: patient, dependsOn: [{ sibling: 1, by: 'service' }] },
        ],
      },
      logs: false,
    },
    [{ op: 'run' }, { op: 'leaf', leaf: 1, action: 'crash' }],
  ],
];

test.serial(
  'children that crash or end on their own make pools and sequences drain in reverse dependency order',
  async (t) => {
    await check(t, trees, scenario(ownEndOp), 500, middleCrashes);
  },
);

test.serial(
  'repeated stops with deadlines and caller signals reach every leaf in order and leave nothing behind',
  async (t) => {
    await check(t, trees, scenario(deadlineOp), 400);
  },
);

test.serial(
  'restarters restart after the delay their policy gives, give up at the limit and stop when asked',
  async (t) => {
    const restarting = rooted(
      restarter(fc.oneof(leaf, pool(tree(1), 1), sequence(tree(1), 1), restarter(tree(1)))),
    );
    await check(t, restarting, scenario(anyOp), 400);
  },
);
