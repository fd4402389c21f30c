/**
 * Runs one scenario of the catalogue in this (fresh) process and prints every round's metrics
 * as JSON: `node --expose-gc --import tsx bench/worker.ts <key> <rounds>`. One warm-up round is
 * discarded; the two sides alternate which goes first, so drift of the machine cancels out.
 */
import { catalogue, isScenarioKey } from './catalogue.js';
import type { Metrics } from './scenarios.js';

const [key = '', roundsArgument = '5'] = process.argv.slice(2);
if (!isScenarioKey(key)) throw new TypeError(`Unknown scenario ${JSON.stringify(key)}`);
const rounds = Number(roundsArgument);
const scenario = catalogue[key]();
const results: { overseer: Metrics[]; baseline: Metrics[] } = { overseer: [], baseline: [] };

for (let round = -1; round < rounds; round++) {
  const sides =
    round % 2 === 0 ? (['overseer', 'baseline'] as const) : (['baseline', 'overseer'] as const);
  for (const side of sides) {
    const measure = scenario[side];
    if (measure === undefined) continue;
    const metrics = await measure();
    if (round >= 0) results[side].push(metrics);
  }
}
process.stdout.write(JSON.stringify(results));
