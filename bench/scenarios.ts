/**
 * The scenarios of the benchmark: each one measures overseer and the hand-rolled baseline on
 * the same workload and returns one number per metric (lower is better).
 */
import * as baseline from './baseline.js';
import * as subject from './subject.js';
import {
  balancedTree,
  chain,
  countNodes,
  trivialServices,
  TrivialService,
  type Variant,
} from './workload.js';

/** One measurement: metric name → value. */
export type Metrics = Record<string, number>;

/** A scenario measured on both sides; `baseline` is absent where the hand-rolled code cannot run. */
export interface Scenario {
  readonly overseer: () => Promise<Metrics>;
  readonly baseline?: () => Promise<Metrics>;
}

/** Collects garbage when the process runs with `--expose-gc` (the bench does; tests do not). */
export function collectGarbage(): void {
  globalThis.gc?.();
}

const microseconds = (ms: number, count: number) => (ms * 1000) / count;

/**
 * S1: build, start and stop a flat group of `count` services; µs per service, and for the stop
 * alone. `variant` says how the services wait for the stop request (see `Variant`).
 */
export function flat(count: number, variant: Variant = 'signal'): Scenario {
  return {
    overseer: async () => {
      const services = trivialServices(count, variant);
      collectGarbage();
      const begin = performance.now();
      const root = await subject.startFlat(services);
      const stopping = performance.now();
      await root.stop();
      return timings(begin, stopping, performance.now(), count);
    },
    baseline: async () => {
      const services = trivialServices(count, variant);
      collectGarbage();
      const begin = performance.now();
      const group = baseline.startFlat(services);
      const stopping = performance.now();
      await group.stop();
      return timings(begin, stopping, performance.now(), count);
    },
  };
}

/**
 * S1 with a peer on overseer's side: `count` `effect` fibers, each waiting until it is
 * interrupted, forked and interrupted inside one `Effect.runPromise` (`effect.ts`), timed like
 * S1 (µs per fiber, and for the interruption alone). The baseline side is S1's hand-rolled group
 * of services awaiting the stop request, so the ratio reads like the whenStopRequested row's.
 */
export function effectFibers(count: number): Scenario {
  return {
    overseer: async () => {
      // Loaded here, not at the top, so the other scenarios' workers never load effect.
      const { forkAndInterrupt } = await import('./effect.js');
      collectGarbage();
      const { begin, stopping, end } = await forkAndInterrupt(count);
      return timings(begin, stopping, end, count);
    },
    baseline: flat(count, 'whenStopRequested').baseline,
  };
}

function timings(begin: number, stopping: number, end: number, count: number): Metrics {
  return {
    total: microseconds(end - begin, count),
    stop: microseconds(end - stopping, count),
    totalMs: end - begin,
  };
}

/** S2: heap retained by `count` idle running services; bytes per service. */
export function memory(count: number): Scenario {
  const retained = async (
    start: (services: TrivialService[]) => Promise<{ stop(): Promise<void> }>,
  ) => {
    const services = trivialServices(count);
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const running = await start(services);
    collectGarbage();
    const after = process.memoryUsage().heapUsed;
    await running.stop();
    return { bytes: (after - before) / count };
  };
  return {
    overseer: () => retained((services) => subject.startFlat(services)),
    baseline: () => retained((services) => Promise.resolve(baseline.startFlat(services))),
  };
}

/** S3: one service with `hookCount` state-change hooks, run and stopped `cycles` times; µs per cycle. */
export function hooks(cycles: number, hookCount = 10): Scenario {
  const measure = async (
    cycle: (
      service: TrivialService,
      hooks: ((s: TrivialService, state: string) => void)[],
    ) => Promise<void>,
  ) => {
    let calls = 0;
    const hooks = Array.from({ length: hookCount }, () => () => {
      calls++;
    });
    collectGarbage();
    const begin = performance.now();
    await cycle(new TrivialService('cycled'), hooks);
    const elapsed = performance.now() - begin;
    if (calls !== cycles * hookCount * 4)
      throw new Error(`expected 4 hook calls per cycle, got ${calls}`);
    return { cycle: microseconds(elapsed, cycles) };
  };
  return {
    overseer: () => measure((service, list) => subject.cycleWithHooks(service, list, cycles)),
    baseline: () => measure((service, list) => baseline.cycleWithHooks(service, list, cycles)),
  };
}

/** S4: start and stop a tree of groups `depth` levels deep with `fanOut` children each; µs per node. */
export function tree(depth: number, fanOut: number): Scenario {
  const measure = async (
    start: (root: ReturnType<typeof balancedTree>) => Promise<{ stop(): Promise<void> }>,
  ) => {
    const root = balancedTree(depth, fanOut);
    const nodes = countNodes(root);
    collectGarbage();
    const begin = performance.now();
    const running = await start(root);
    await running.stop();
    return { node: microseconds(performance.now() - begin, nodes), nodes };
  };
  return {
    overseer: () => measure((root) => subject.startTree(root)),
    baseline: () => measure((root) => Promise.resolve(baseline.startTree(root))),
  };
}

/**
 * S4: start and stop a chain of `depth` nested groups; milliseconds. The hand-rolled chain
 * recurses through every level on start and on abort, so it is only measured where it fits on
 * the stack.
 */
export function nestedChain(depth: number, withBaseline: boolean): Scenario {
  const measure = async (
    start: (root: ReturnType<typeof chain>) => Promise<{ stop(): Promise<void> }>,
  ) => {
    const root = chain(depth);
    collectGarbage();
    const begin = performance.now();
    const running = await start(root);
    await running.stop();
    return { totalMs: performance.now() - begin };
  };
  const scenario: Scenario = { overseer: () => measure((root) => subject.startTree(root)) };
  if (!withBaseline) return scenario;
  return {
    ...scenario,
    baseline: () => measure((root) => Promise.resolve(baseline.startTree(root))),
  };
}
