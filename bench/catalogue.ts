/** Every measurement the bench makes, by key: each runs in a fresh Node process. */
import { importTime } from './import-time.js';
import {
  effectFibers,
  flat,
  hooks,
  memory,
  nestedChain,
  tree,
  type Scenario,
} from './scenarios.js';

export const catalogue = {
  'S1 flat 1k': () => flat(1_000),
  'S1 flat 10k': () => flat(10_000),
  'S1 flat 100k': () => flat(100_000),
  'S1 flat 100k, no stopping()': () => flat(100_000, 'no stopping()'),
  'S1 flat 100k, whenStopRequested': () => flat(100_000, 'whenStopRequested'),
  'S1 effect fibers 100k': () => effectFibers(100_000),
  'S2 memory 100k': () => memory(100_000),
  'S3 hooks 100k cycles': () => hooks(100_000),
  'S3 no hooks 100k cycles': () => hooks(100_000, 0),
  'S4 tree 9x4': () => tree(9, 4),
  'S4 chain 1,000': () => nestedChain(1_000, true),
  'S4 chain 10,000': () => nestedChain(10_000, false),
  'S6 import': () => importTime(),
} satisfies Record<string, () => Scenario>;

export type ScenarioKey = keyof typeof catalogue;

export function isScenarioKey(key: string): key is ScenarioKey {
  return Object.hasOwn(catalogue, key);
}
