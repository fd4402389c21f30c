/**
 * `npm run bench [-- --quick] [-- --only S4] [-- --node-option=--max-semi-space-size=64]`: runs
 * every scenario of the catalogue in a fresh Node process, then prints a Markdown table of
 * medians, ratios to the baseline and targets. Exits with 1 when a target is missed.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { catalogue, type ScenarioKey } from './catalogue.js';
import type { Metrics } from './scenarios.js';

interface Row {
  readonly label: string;
  readonly key: ScenarioKey;
  readonly metric: string;
  readonly unit: string;
  /** The highest acceptable ratio to the baseline. */
  readonly target?: number;
}

const rows: readonly Row[] = [
  { label: 'S1 start + stop, 1k services', key: 'S1 flat 1k', metric: 'total', unit: 'µs/service' },
  {
    label: 'S1 start + stop, 10k services',
    key: 'S1 flat 10k',
    metric: 'total',
    unit: 'µs/service',
    target: 1.2,
  },
  {
    label: 'S1 start + stop, 100k services',
    key: 'S1 flat 100k',
    metric: 'total',
    unit: 'µs/service',
    target: 1.2,
  },
  { label: 'S1 stop only, 1k services', key: 'S1 flat 1k', metric: 'stop', unit: 'µs/service' },
  {
    label: 'S1 stop only, 10k services',
    key: 'S1 flat 10k',
    metric: 'stop',
    unit: 'µs/service',
    target: 1.1,
  },
  {
    label: 'S1 stop only, 100k services',
    key: 'S1 flat 100k',
    metric: 'stop',
    unit: 'µs/service',
    target: 1.1,
  },
  {
    label: 'S2 heap per idle running service, 100k',
    key: 'S2 memory 100k',
    metric: 'bytes',
    unit: 'bytes/service',
    target: 1.25,
  },
  {
    label: 'S3 run/stop cycle, 10 onStateChange hooks',
    key: 'S3 hooks 100k cycles',
    metric: 'cycle',
    unit: 'µs/cycle',
    target: 1.2,
  },
  {
    label: 'S4 tree 9 levels, fan-out 4 (87,381 nodes)',
    key: 'S4 tree 9x4',
    metric: 'node',
    unit: 'µs/node',
    target: 1.1,
  },
  {
    label: 'S4 chain of 1,000 pools, start + stop',
    key: 'S4 chain 1,000',
    metric: 'totalMs',
    unit: 'ms',
    target: 1.5,
  },
  {
    label: 'S4 chain of 10,000 pools, start + stop',
    key: 'S4 chain 10,000',
    metric: 'totalMs',
    unit: 'ms',
  },
];

const scalingTarget = 10.5;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    only: { type: 'string' },
    // Passed to every worker, both sides alike: to see how garbage collection shapes a result.
    'node-option': { type: 'string', multiple: true, default: [] },
  },
});
const nodeOptions = values['node-option'];
const rounds = Number(values.rounds ?? (values.quick ? 3 : 7));
const keys = (Object.keys(catalogue) as ScenarioKey[]).filter((key) =>
  key.includes(values.only ?? ''),
);

const results = new Map<ScenarioKey, { overseer: Metrics[]; baseline: Metrics[] }>();
for (const key of keys) {
  process.stderr.write(`${key}: ${rounds} rounds… `);
  const began = performance.now();
  results.set(key, await runWorker(key));
  process.stderr.write(`${((performance.now() - began) / 1000).toFixed(1)} s\n`);
}

const lines = [
  `Node ${process.version}${nodeOptions.map((option) => ` ${option}`).join('')}, ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.availableParallelism()}, ${rounds} rounds, medians.`,
  '',
  '| scenario | unit | overseer | baseline | ratio | target | met |',
  '| --- | --- | ---: | ---: | ---: | ---: | :---: |',
];
const missed: string[] = [];
for (const row of rows) {
  const result = results.get(row.key);
  if (result === undefined) continue;
  const ours = median(result.overseer.map((metrics) => metrics[row.metric]!));
  if (result.baseline.length === 0) {
    lines.push(`| ${row.label} | ${row.unit} | ${format(ours)} | — | — | starts and stops | ✓ |`);
    continue;
  }
  const theirs = median(result.baseline.map((metrics) => metrics[row.metric]!));
  const ratio = ours / theirs;
  const met = row.target === undefined || ratio <= row.target;
  if (!met) missed.push(row.label);
  const target = row.target === undefined ? '' : `≤ ${row.target}×`;
  lines.push(
    `| ${row.label} | ${row.unit} | ${format(ours)} | ${format(theirs)} | ${ratio.toFixed(2)}× | ${target} | ${row.target === undefined ? '' : met ? '✓' : '✗'} |`,
  );
}
const small = results.get('S1 flat 10k');
const large = results.get('S1 flat 100k');
if (small && large) {
  const scaling = (side: 'overseer' | 'baseline') =>
    median(large[side].map((m) => m.totalMs!)) / median(small[side].map((m) => m.totalMs!));
  const ours = scaling('overseer');
  const met = ours <= scalingTarget;
  if (!met) missed.push('S5 scaling');
  lines.push(
    `| S5 scaling: t(100k) / t(10k) of S1 | ratio | ${ours.toFixed(2)} | ${scaling('baseline').toFixed(2)} | | ≤ ${scalingTarget} | ${met ? '✓' : '✗'} |`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
if (missed.length > 0) {
  process.stdout.write(`\nMissed: ${missed.join(', ')}\n`);
  process.exitCode = 1;
}

function runWorker(key: ScenarioKey): Promise<{ overseer: Metrics[]; baseline: Metrics[] }> {
  const worker = fileURLToPath(new URL('worker.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--expose-gc', ...nodeOptions, '--import', 'tsx', worker, key, String(rounds)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(output) as { overseer: Metrics[]; baseline: Metrics[] });
      else reject(new Error(`${key}: the worker exited with ${code}`));
    });
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function format(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}
