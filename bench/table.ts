/**
 * The table `npm run bench` prints: its rows, their targets, and whether a run met them. Nothing
 * here measures anything, so the targets can be tested without timing (`test/bench.test.ts`).
 */
import type { ScenarioKey } from './catalogue.js';
import type { Metrics } from './scenarios.js';

/** Every measured round of one scenario, per side; `baseline` is empty where it cannot run. */
export interface SideMetrics {
  readonly overseer: readonly Metrics[];
  readonly baseline: readonly Metrics[];
}

/**
 * What a row must meet, on medians over the rounds of one run:
 * - `ratio`: the highest acceptable overseer / baseline; with `fasterThan`, overseer's value must
 *   also be at most a peer's, measured in the same run under that key (the peer's value is the
 *   `overseer` side of its scenario, same metric), and the row is missed when it was not;
 * - `atMost`: the highest acceptable value of overseer's own, in the row's unit; `condition`
 *   says what else the row requires, in the target cell.
 */
export type Target =
  | { readonly ratio: number; readonly fasterThan?: Peer }
  | { readonly atMost: number; readonly condition?: string };

/** A peer library measured by the bench: its scenario's key, and its name in the target cell. */
export interface Peer {
  readonly key: ScenarioKey;
  readonly name: string;
}

/** `effect`'s fibers, forked and interrupted like S1's 100k services (`effect.ts`). */
export const effectPeer: Peer = { key: 'S1 effect fibers 100k', name: 'effect' };

/** One metric of one scenario. */
export interface Row {
  readonly label: string;
  readonly key: ScenarioKey;
  readonly metric: string;
  readonly unit: string;
  readonly target?: Target;
}

export const rows: readonly Row[] = [
  { label: 'S1 start + stop, 1k services', key: 'S1 flat 1k', metric: 'total', unit: 'µs/service' },
  {
    label: 'S1 start + stop, 10k services',
    key: 'S1 flat 10k',
    metric: 'total',
    unit: 'µs/service',
    target: { ratio: 1.5 },
  },
  {
    label: 'S1 start + stop, 100k services',
    key: 'S1 flat 100k',
    metric: 'total',
    unit: 'µs/service',
    target: { ratio: 1.5 },
  },
  { label: 'S1 stop only, 1k services', key: 'S1 flat 1k', metric: 'stop', unit: 'µs/service' },
  { label: 'S1 stop only, 10k services', key: 'S1 flat 10k', metric: 'stop', unit: 'µs/service' },
  {
    label: 'S1 stop only, 100k services',
    key: 'S1 flat 100k',
    metric: 'stop',
    unit: 'µs/service',
    target: { ratio: 1.5 },
  },
  {
    label: 'S1 start + stop, 100k services that never call stopping()',
    key: 'S1 flat 100k, no stopping()',
    metric: 'total',
    unit: 'µs/service',
  },
  {
    label: 'S1 stop only, 100k services that never call stopping()',
    key: 'S1 flat 100k, no stopping()',
    metric: 'stop',
    unit: 'µs/service',
  },
  {
    label: 'S1 start + stop, 100k services awaiting whenStopRequested()',
    key: 'S1 flat 100k, whenStopRequested',
    metric: 'total',
    unit: 'µs/service',
    target: { ratio: 0.5, fasterThan: effectPeer },
  },
  {
    label: 'S1 start + stop, 100k effect fibers (peer, in the overseer column)',
    key: effectPeer.key,
    metric: 'total',
    unit: 'µs/fiber',
  },
  {
    label: 'S1 stop only, 100k effect fibers (peer, in the overseer column)',
    key: effectPeer.key,
    metric: 'stop',
    unit: 'µs/fiber',
  },
  {
    label: 'S2 heap per idle running service, 100k',
    key: 'S2 memory 100k',
    metric: 'bytes',
    unit: 'bytes/service',
    target: { ratio: 1.5 },
  },
  {
    label: 'S3 run/stop cycle, 10 onStateChange hooks',
    key: 'S3 hooks 100k cycles',
    metric: 'cycle',
    unit: 'µs/cycle',
    target: { ratio: 1.5 },
  },
  {
    label: 'S3 run/stop cycle, no hooks',
    key: 'S3 no hooks 100k cycles',
    metric: 'cycle',
    unit: 'µs/cycle',
  },
  {
    label: 'S4 tree 9 levels, fan-out 4 (87,381 nodes)',
    key: 'S4 tree 9x4',
    metric: 'node',
    unit: 'µs/node',
    target: { ratio: 1.3 },
  },
  {
    label: 'S4 chain of 1,000 pools, start + stop',
    key: 'S4 chain 1,000',
    metric: 'totalMs',
    unit: 'ms',
  },
  {
    label: 'S4 chain of 10,000 pools, start + stop',
    key: 'S4 chain 10,000',
    metric: 'totalMs',
    unit: 'ms',
    target: { atMost: 100, condition: 'starts and stops' },
  },
  {
    label: 'S6 import of overseer by a fresh process',
    key: 'S6 import',
    metric: 'ms',
    unit: 'ms',
    target: { atMost: 20 },
  },
];

/**
 * S5, computed from two rows of S1: t(100k) / t(10k), start + stop. Its target is a ratio to the
 * baseline's own scaling in the same run, since the baseline does not scale linearly either.
 */
export const scaling: {
  readonly label: string;
  readonly small: ScenarioKey;
  readonly large: ScenarioKey;
  readonly metric: string;
  readonly target: Target;
} = {
  label: 'S5 scaling: t(100k) / t(10k) of S1',
  small: 'S1 flat 10k',
  large: 'S1 flat 100k',
  metric: 'totalMs',
  target: { ratio: 1.15 },
};

const header = [
  '| scenario | unit | overseer | baseline | ratio | target | met |',
  '| --- | --- | ---: | ---: | ---: | ---: | :---: |',
];

/**
 * The Markdown table of `results` (rows of scenarios not measured are left out), and the labels
 * of the rows whose target was missed.
 */
export function table(results: ReadonlyMap<ScenarioKey, SideMetrics>): {
  lines: string[];
  missed: string[];
} {
  const lines = [...header];
  const missed: string[] = [];
  /** One row: overseer's median, the baseline's (none where it cannot run), the target. */
  const add = (
    label: string,
    unit: string,
    ours: number,
    theirs: number | undefined,
    target: Target | undefined,
    show: (value: number) => string,
    peer?: number,
  ) => {
    const ratio = theirs === undefined ? undefined : ours / theirs;
    const met = target === undefined ? undefined : meets(target, ours, ratio, peer);
    if (met === false) missed.push(label);
    const cells = [
      label,
      unit,
      show(ours),
      theirs === undefined ? '—' : show(theirs),
      ratio === undefined ? '—' : `${ratio.toFixed(2)}×`,
      describe(target, unit),
      met === undefined ? '' : met ? '✓' : '✗',
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  };

  for (const row of rows) {
    const result = results.get(row.key);
    if (result === undefined) continue;
    const theirs = result.baseline.length === 0 ? undefined : medianOf(result.baseline, row.metric);
    const peer = peerValue(results, row.target, row.metric);
    add(
      row.label,
      row.unit,
      medianOf(result.overseer, row.metric),
      theirs,
      row.target,
      format,
      peer,
    );
  }

  const small = results.get(scaling.small);
  const large = results.get(scaling.large);
  if (small && large) {
    const of = (side: keyof SideMetrics) =>
      medianOf(large[side], scaling.metric) / medianOf(small[side], scaling.metric);
    add(scaling.label, 'ratio', of('overseer'), of('baseline'), scaling.target, (value) =>
      value.toFixed(2),
    );
  }
  return { lines, missed };
}

/** The median of the peer a target names, same metric; undefined when it was not measured. */
function peerValue(
  results: ReadonlyMap<ScenarioKey, SideMetrics>,
  target: Target | undefined,
  metric: string,
): number | undefined {
  if (target === undefined || !('ratio' in target) || target.fasterThan === undefined)
    return undefined;
  const peer = results.get(target.fasterThan.key);
  return peer === undefined ? undefined : medianOf(peer.overseer, metric);
}

/**
 * Whether a row met `target`; a ratio target with no baseline to divide by is missed, and so is
 * one that must be faster than a peer that was not measured.
 */
export function meets(
  target: Target,
  ours: number,
  ratio: number | undefined,
  peer?: number,
): boolean {
  if ('ratio' in target) {
    if (ratio === undefined || ratio > target.ratio) return false;
    return target.fasterThan === undefined || (peer !== undefined && ours <= peer);
  }
  return ours <= target.atMost;
}

/**
 * `keys` and the peers their rows' targets name: `--only` that selects a row compared with a
 * peer measures the peer too, in its own process, after the keys selected.
 */
export function withPeers(keys: readonly ScenarioKey[]): ScenarioKey[] {
  const all = [...keys];
  for (const row of rows) {
    const peer = row.target && 'ratio' in row.target ? row.target.fasterThan : undefined;
    if (peer !== undefined && keys.includes(row.key) && !all.includes(peer.key)) all.push(peer.key);
  }
  return all;
}

/**
 * The target cell. A row with an absolute target is one the baseline cannot run; for the deep
 * chain, that it starts and stops at all is part of it (a worker whose root does not stop fails
 * the whole run).
 */
export function describe(target: Target | undefined, unit: string): string {
  if (target === undefined) return '';
  if ('ratio' in target) {
    const bound = `≤ ${target.ratio}×`;
    return target.fasterThan === undefined ? bound : `${bound}, ≤ ${target.fasterThan.name}`;
  }
  const bound = `≤ ${target.atMost} ${unit}`;
  return target.condition === undefined ? bound : `${target.condition}, ${bound}`;
}

function medianOf(rounds: readonly Metrics[], metric: string): number {
  return median(
    rounds.map((metrics) => {
      const value = metrics[metric];
      if (value === undefined) throw new Error(`no metric ${JSON.stringify(metric)} measured`);
      return value;
    }),
  );
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('no rounds measured');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function format(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}
