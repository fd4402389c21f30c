/**
 * `npm run bench [-- --quick] [-- --only S4] [-- --node-option=--max-semi-space-size=64]`: runs
 * every scenario of the catalogue in a fresh Node process, then prints a Markdown table of
 * medians, ratios to the baseline and targets (`table.ts`). Exits with 1 when a target is missed.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { catalogue, type ScenarioKey } from './catalogue.js';
import { table, withPeers, type SideMetrics } from './table.js';

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
const keys = withPeers(
  (Object.keys(catalogue) as ScenarioKey[]).filter((key) => key.includes(values.only ?? '')),
);

const results = new Map<ScenarioKey, SideMetrics>();
for (const key of keys) {
  process.stderr.write(`${key}: ${rounds} rounds… `);
  const began = performance.now();
  results.set(key, await runWorker(key));
  process.stderr.write(`${((performance.now() - began) / 1000).toFixed(1)} s\n`);
}

const { lines, missed } = table(results);
process.stdout.write(
  `Node ${process.version}${nodeOptions.map((option) => ` ${option}`).join('')}, ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.availableParallelism()}, ${rounds} rounds, medians.\n\n${lines.join('\n')}\n`,
);
if (missed.length > 0) {
  process.stdout.write(`\nMissed: ${missed.join(', ')}\n`);
  process.exitCode = 1;
}

function runWorker(key: ScenarioKey): Promise<SideMetrics> {
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
      if (code === 0) resolve(JSON.parse(output) as SideMetrics);
      else reject(new Error(`${key}: the worker exited with ${code}`));
    });
  });
}
