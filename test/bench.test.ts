// The benchmark suite is never timed here: each scenario runs once, at a small size, so that it
// keeps working as the library changes. Every scenario checks its own outcome (the root ends
// 'stopped', every hook is called) and throws otherwise.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { catalogue } from '../bench/catalogue.js';
import { flat, hooks, memory, nestedChain, tree, type Scenario } from '../bench/scenarios.js';
import { balancedTree, chain, countNodes } from '../bench/workload.js';

async function runBothSides(
  scenario: Scenario,
): Promise<{ overseer: Record<string, number>; baseline?: Record<string, number> }> {
  const overseer = await scenario.overseer();
  return scenario.baseline ? { overseer, baseline: await scenario.baseline() } : { overseer };
}

function assertMeasured(
  t: import('ava').ExecutionContext,
  metrics: Record<string, number> | undefined,
  names: string[],
): void {
  t.deepEqual(Object.keys(metrics ?? {}).sort(), [...names].sort());
  for (const name of names) t.true(Number.isFinite(metrics?.[name]), `${name} is a finite number`);
}

test('S1 starts and stops a flat pool and the hand-rolled group, per service and for the stop', async (t) => {
  const { overseer, baseline } = await runBothSides(flat(200));
  assertMeasured(t, overseer, ['total', 'stop', 'totalMs']);
  assertMeasured(t, baseline, ['total', 'stop', 'totalMs']);
});

test('S2 measures the heap of idle running services on both sides', async (t) => {
  const { overseer, baseline } = await runBothSides(memory(200));
  assertMeasured(t, overseer, ['bytes']);
  assertMeasured(t, baseline, ['bytes']);
});

test('S3 cycles one service with ten state-change hooks, each called four times a cycle', async (t) => {
  const { overseer, baseline } = await runBothSides(hooks(50));
  assertMeasured(t, overseer, ['cycle']);
  assertMeasured(t, baseline, ['cycle']);
});

test('S4 starts and stops a balanced tree of pools and of hand-rolled groups', async (t) => {
  t.is(
    countNodes(balancedTree(9, 4)),
    87_381,
    'the full-size tree has the node count the table names',
  );
  const { overseer, baseline } = await runBothSides(tree(4, 3));
  assertMeasured(t, overseer, ['node', 'nodes']);
  t.is(overseer.nodes, countNodes(balancedTree(4, 3)));
  assertMeasured(t, baseline, ['node', 'nodes']);
});

test('S4 starts and stops a chain of nested pools; the deep chain has no baseline', async (t) => {
  t.is(countNodes(chain(1_000)), 1_001);
  const shallow = await runBothSides(nestedChain(100, true));
  assertMeasured(t, shallow.overseer, ['totalMs']);
  assertMeasured(t, shallow.baseline, ['totalMs']);
  const deep = await runBothSides(nestedChain(10_000, false));
  assertMeasured(t, deep.overseer, ['totalMs']);
  t.is(deep.baseline, undefined);
});

test('every scenario of the catalogue can be built', (t) => {
  for (const [key, build] of Object.entries(catalogue)) {
    const scenario = build();
    t.is(typeof scenario.overseer, 'function', key);
  }
});

/** Runs `npm run bench` with `args`; a missed target (exit code 1) is not a failure here. */
async function bench(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const run = fileURLToPath(new URL('../bench/run.ts', import.meta.url));
  return promisify(execFile)(process.execPath, ['--import', 'tsx', run, ...args]).then(
    ({ stdout, stderr }) => ({ stdout, stderr, code: 0 }),
    (error: unknown) => error as { stdout: string; stderr: string; code: number },
  );
}

const chainOnce = ['--rounds', '1', '--only', 'S4 chain 1,000'];

test('npm run bench runs a scenario in its own process and prints its row of the table', async (t) => {
  const { stdout } = await bench(chainOnce);
  const rows = stdout.split('\n').filter((line) => line.startsWith('| S'));
  t.is(rows.length, 1);
  t.regex(
    rows[0]!,
    /^\| S4 chain of 1,000 pools, start \+ stop \| ms \| [\d.]+ \| [\d.]+ \| [\d.]+× \| ≤ 1\.5× \| [✓✗] \|$/,
  );
});

test('npm run bench --node-option starts every worker with that option and names it above the table', async (t) => {
  const { stdout } = await bench([...chainOnce, '--node-option=--max-semi-space-size=64']);
  t.regex(
    stdout.split('\n')[0]!,
    /^Node v[\d.]+ --max-semi-space-size=64, .+, 1 rounds, medians\.$/,
  );
  t.is(stdout.split('\n').filter((line) => line.startsWith('| S4 chain of 1,000')).length, 1);

  // An option Node rejects fails the worker: proof that it reached the worker's command line.
  const rejected = await bench([...chainOnce, '--node-option=--no-such-option']);
  t.not(rejected.code, 0);
  t.regex(rejected.stderr, /--no-such-option/);
  t.regex(rejected.stderr, /S4 chain 1,000: the worker exited with \d+/);
});
