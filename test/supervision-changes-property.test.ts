import { getEventListeners } from 'node:events';
import test from 'ava';
import fc from 'fast-check';
import {
  DependedOnError,
  Lifecycle,
  Pool,
  PoolStoppingError,
  Restarter,
  Sequence,
  StartTimeoutError,
  transitions,
  type Service,
  type State,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { flush } from './helpers/pool.js';
import { play, withoutFaults } from './helpers/property-run.js';

// Random trees under a root pool (leaves, jobs, pools, sequences, restarters) on one fake clock,
// with children added to and removed from any pool at random moments while the tree runs, and
// leaves that crash, return, hang until their shutdown deadline, or never report running (and
// then end crashed with StartTimeoutError when they have a startTimeout). Checked at every
// transition and after every step: each lifecycle moves only along `transitions`; a child starts
// only after the jobs it depends on (dependsOn, or the previous child of a sequence) finished;
// remove() and a child's own stop() resolve with the child's final state and leave the pool (and
// its ancestors) in the state they were in, unless something else in the tree ended in that step.
// At the end the root is stopped with a deadline and the clock moved past it: every run settles,
// no timer is pending and no listener is left on any signal or lifecycle.

interface LeafSpec {
  readonly kind: 'leaf';
  readonly start: 'running' | 'delayed' | 'never';
  readonly startDelay: number;
  readonly life: 'forever' | 'crash' | 'return';
  readonly lifeDelay: number;
  /** Asked to stop: return at once, return once the shutdown deadline passes, or throw. */
  readonly whenAsked: 'prompt' | 'hang' | 'crash';
}

interface GroupSpec {
  readonly kind: 'pool' | 'sequence';
  readonly children: readonly AddSpec[];
}

interface RestarterSpec {
  readonly kind: 'restarter';
  readonly child: LeafSpec | GroupSpec;
  readonly mode: 'on-crash' | 'always';
  readonly maxRestarts: number;
}

type NodeSpec = LeafSpec | GroupSpec | RestarterSpec;

/** A child and the options of its add(); `job` and `startTimeout` apply to leaves only. */
interface AddSpec {
  readonly node: NodeSpec;
  readonly job: boolean;
  /** An earlier member of the pool (modulo their number); ignored in a sequence. */
  readonly dependsOn: number | undefined;
  readonly restart: 'on-crash' | 'always' | undefined;
  readonly startTimeout: number | undefined;
}

type Op =
  | { readonly op: 'tick'; readonly ms: number }
  | { readonly op: 'add'; readonly pool: number; readonly child: AddSpec }
  | {
      readonly op: 'remove';
      readonly pool: number;
      readonly member: number;
      readonly timeout: number;
    }
  | {
      readonly op: 'stopChild';
      readonly pool: number;
      readonly member: number;
      readonly timeout: number;
    }
  | { readonly op: 'leaf'; readonly leaf: number; readonly action: 'running' | 'crash' | 'finish' };

/** One lifecycle of the tree, as the model knows it. */
class Node {
  readonly label: string;
  readonly parent: Node | undefined;
  readonly lifecycle: Lifecycle;
  readonly job: boolean;
  /** Siblings that, when they are jobs, must have finished before this one starts. */
  readonly after: Node[] = [];
  prev: State;
  /** A job's leaf returned on its own since this lifecycle last began starting. */
  jobDone = false;
  /** Its service's run was aborted by its start timeout: it must end crashed with StartTimeoutError. */
  timedOut = false;
  transitionsInStep = 0;

  constructor(label: string, parent: Node | undefined, lifecycle: Lifecycle, job: boolean) {
    this.label = label;
    this.parent = parent;
    this.lifecycle = lifecycle;
    this.job = job;
    this.prev = lifecycle.state;
  }

  within(other: Node): boolean {
    if (this === other) return true;
    return this.parent?.within(other) ?? false;
  }
}

/** A pool of the tree and the members it has in the model. */
interface PoolNode {
  readonly pool: Pool;
  readonly node: Node;
  readonly members: Node[];
}

class Harness {
  readonly time = fakeClock();
  readonly nodes: Node[] = [];
  readonly pools: PoolNode[] = [];
  readonly leaves: Leaf[] = [];
  readonly signals = new Set<AbortSignal>();
  readonly violations: string[] = [];
  readonly root: Node;
  readonly rootRun: Promise<unknown>;
  /** Nodes leaving in this step (their ends are expected), or undefined outside remove steps. */
  leaving: Node | undefined;
  disturbed = false;
  #count = 0;

  constructor(children: readonly AddSpec[]) {
    const pool = new Pool({ name: 'root', clock: this.time.clock });
    const lifecycle = new Lifecycle(pool, { clock: this.time.clock });
    this.root = this.watch('root', undefined, lifecycle, false);
    this.pools.push({ pool, node: this.root, members: [] });
    for (const child of children) this.add(this.pools[0] as PoolNode, child);
    this.rootRun = lifecycle.run().catch(() => undefined);
  }

  watch(label: string, parent: Node | undefined, lifecycle: Lifecycle, job: boolean): Node {
    const node = new Node(label, parent, lifecycle, job);
    this.nodes.push(node);
    lifecycle.onStateChange((_service, _lifecycle, state) => {
      if (!(transitions[node.prev] as readonly State[]).includes(state))
        this.violations.push(`${label}: illegal transition ${node.prev} → ${state}`);
      node.prev = state;
      node.transitionsInStep++;
      if (node.timedOut && (state === 'stopped' || state === 'crashed')) {
        node.timedOut = false;
        if (state !== 'crashed' || !(lifecycle.error instanceof StartTimeoutError))
          this.violations.push(
            `${label} timed out starting but ended ${state} with ${String(lifecycle.error)}`,
          );
      }
      if (state === 'starting') {
        node.jobDone = false;
        for (const before of node.after) {
          if (before.job && !(before.jobDone && before.lifecycle.state === 'stopped'))
            this.violations.push(`${label} started before job ${before.label} finished`);
        }
      }
      const ends = state === 'stopping' || state === 'stopped' || state === 'crashed';
      const expected =
        (this.leaving !== undefined && node.within(this.leaving)) ||
        (state === 'stopped' && (node.job || node.parent?.job === true));
      if (ends && !expected) this.disturbed = true;
    });
    return node;
  }

  /** Builds a child's service, adds it to `group` and watches every lifecycle it brings. */
  add(owner: PoolNode | { group: Sequence; node: Node }, spec: AddSpec, previous?: Node): Node {
    const label = `${owner.node.label}/${++this.#count}`;
    const isLeaf = spec.node.kind === 'leaf';
    const job = isLeaf && spec.job;
    const startTimeout =
      isLeaf && !job && spec.restart === undefined ? spec.startTimeout : undefined;
    const restart = spec.restart && {
      restart: spec.restart,
      initialDelay: 10,
      maxDelay: 40,
      jitter: 0,
      maxRestarts: 2,
    };
    const built = this.build(spec.node, label, startTimeout);
    let lifecycle: Lifecycle;
    let after: Node[] = [];
    if ('pool' in owner) {
      const dependency =
        spec.dependsOn === undefined || owner.members.length === 0
          ? undefined
          : owner.members[spec.dependsOn % owner.members.length];
      if (dependency) after = [dependency];
      lifecycle = owner.pool.add(built.service, {
        job,
        restart: restart ?? undefined,
        dependsOn: dependency ? [dependency.lifecycle] : undefined,
        startTimeout,
      } as { job: boolean; restart?: undefined });
    } else {
      if (previous) after = [previous];
      lifecycle = owner.group.add(built.service, {
        job,
        restart: restart ?? undefined,
        startTimeout,
      } as { job: boolean; restart?: undefined });
    }
    const node = this.watch(label, owner.node, lifecycle, job);
    node.after.push(...after);
    let inner = node;
    if (restart) {
      inner = this.watch(`${label}>`, node, (lifecycle.service as Restarter).lifecycle, false);
    }
    built.attach(inner, node);
    if ('pool' in owner) owner.members.push(node);
    return node;
  }

  /** The service of `spec`; `attach` gets the node of the lifecycle that runs it. */
  build(
    spec: NodeSpec,
    label: string,
    startTimeout: number | undefined,
  ): { service: Service; attach: (node: Node, jobNode: Node) => void } {
    if (spec.kind === 'leaf') {
      const leaf = new Leaf(label, spec, this, startTimeout);
      this.leaves.push(leaf);
      return {
        service: leaf,
        attach: (node, jobNode) => {
          leaf.node = node;
          leaf.jobNode = jobNode.job ? jobNode : undefined;
        },
      };
    }
    if (spec.kind === 'restarter') {
      const child = this.build(spec.child, `${label}>`, undefined);
      const restarter = new Restarter(child.service, {
        restart: spec.mode,
        maxRestarts: spec.maxRestarts,
        initialDelay: 10,
        maxDelay: 40,
        jitter: 0,
        clock: this.time.clock,
      });
      return {
        service: restarter,
        attach: (node) => {
          child.attach(this.watch(`${label}>`, node, restarter.lifecycle, false), node);
        },
      };
    }
    if (spec.kind === 'pool') {
      const pool = new Pool({ name: label, clock: this.time.clock });
      return {
        service: pool,
        attach: (node) => {
          const owner: PoolNode = { pool, node, members: [] };
          this.pools.push(owner);
          for (const child of spec.children) this.add(owner, child);
        },
      };
    }
    const group = new Sequence({ name: label, clock: this.time.clock });
    return {
      service: group,
      attach: (node) => {
        let previous: Node | undefined;
        for (const child of spec.children) previous = this.add({ group, node }, child, previous);
      },
    };
  }

  async step(step: Op): Promise<void> {
    for (const node of this.nodes) node.transitionsInStep = 0;
    this.disturbed = false;
    if (step.op === 'tick') await this.time.fake.tickAsync(step.ms);
    else if (step.op === 'leaf') {
      const leaf = this.leaves[step.leaf % this.leaves.length];
      if (step.action === 'running') leaf?.reportRunning();
      else if (step.action === 'crash') leaf?.crash();
      else leaf?.finish();
    } else {
      const owner = this.pools[step.pool % this.pools.length] as PoolNode;
      if (step.op === 'add') {
        const state = owner.node.lifecycle.state;
        try {
          this.add(owner, step.child);
        } catch (error) {
          // A stopping pool refuses new children; nothing else may refuse one.
          if (!(error instanceof PoolStoppingError && state === 'stopping')) throw error;
        }
      } else await this.leave(owner, step);
    }
    await flush();
    this.check();
  }

  /** remove() or the child's own stop(): the pool and its ancestors keep their state. */
  async leave(owner: PoolNode, step: Extract<Op, { op: 'remove' | 'stopChild' }>): Promise<void> {
    const member = owner.members[step.member % Math.max(owner.members.length, 1)];
    if (member === undefined) return;
    // Membership changes are modelled while the pool runs; once it drains (a sibling crashed),
    // a child's own stop is part of the drain and every child stays until the pool has ended.
    const poolState = owner.node.lifecycle.state;
    if (poolState !== 'running' && poolState !== 'starting') return;
    const dependents = owner.members.filter((other) => other.after.includes(member));
    if (dependents.length > 0) {
      // Removing it is refused; its own stop() drains the pool, which is not a membership change.
      if (step.op === 'remove') {
        try {
          void owner.pool.remove(member.lifecycle);
          this.violations.push(`remove() of ${member.label} with dependents did not throw`);
        } catch (error) {
          if (!(error instanceof DependedOnError))
            this.violations.push(`remove() of ${member.label} threw ${String(error)}`);
        }
      }
      return;
    }
    const idle = member.lifecycle.state === 'stopped' || member.lifecycle.state === 'crashed';
    if (step.op === 'stopChild' && idle) return; // stop() without a run does nothing
    const ancestors: [Node, State][] = [];
    for (let node: Node | undefined = owner.node; node; node = node.parent)
      ancestors.push([node, node.lifecycle.state]);
    owner.members.splice(owner.members.indexOf(member), 1);
    this.leaving = member;
    const options = { timeout: step.timeout };
    const settled: { state?: State } = {};
    const done = (
      step.op === 'remove'
        ? owner.pool.remove(member.lifecycle, options)
        : member.lifecycle.stop(options)
    ).then((state) => {
      settled.state = state;
    });
    await flush();
    await this.time.fake.tickAsync(step.timeout + 1);
    await flush();
    this.leaving = undefined;
    if (settled.state === undefined) {
      this.violations.push(`${step.op} of ${member.label} did not settle after its deadline`);
      return;
    }
    await done;
    if (settled.state !== member.lifecycle.state)
      this.violations.push(
        `${step.op} of ${member.label} resolved ${settled.state}, its state is ${member.lifecycle.state}`,
      );
    if (this.disturbed) return;
    for (const [node, before] of ancestors) {
      if (before !== 'running' && before !== 'starting') continue; // waiting, or ending anyway
      const now = node.lifecycle.state;
      const ok = before === 'starting' ? now === 'starting' || now === 'running' : now === before;
      if (!ok || (before === 'running' && node.transitionsInStep > 0))
        this.violations.push(
          `${step.op} of ${member.label} moved ${node.label} from ${before} to ${now}`,
        );
    }
  }

  check(): void {
    if (this.violations.length > 0) throw new Error(this.violations.join('\n'));
  }

  /** Stops the root with a deadline, moves the clock past it and checks that nothing is left. */
  async end(): Promise<void> {
    const caller = new AbortController();
    this.signals.add(caller.signal);
    const stopped = this.root.lifecycle.stop({ timeout: 50, signal: caller.signal });
    for (let i = 0; i < 4; i++) {
      await flush();
      await this.time.fake.tickAsync(60);
    }
    await flush();
    const settled = { done: false };
    void Promise.all([stopped, this.rootRun]).then(() => {
      settled.done = true;
    });
    await flush();
    if (!settled.done)
      this.violations.push(`the root did not settle: ${this.root.lifecycle.state}`);
    for (const node of this.nodes) {
      const { state } = node.lifecycle;
      if (state !== 'stopped' && state !== 'crashed')
        this.violations.push(`${node.label} is ${state} after the root ended`);
      const hooks = node.lifecycle.listenerCount('stateChange');
      if (hooks !== 1) this.violations.push(`${node.label} keeps ${hooks} stateChange listeners`);
    }
    for (const leaf of this.leaves) leaf.checkEnd();
    const pending = this.time.pending();
    if (pending !== 0) this.violations.push(`${pending} timer(s) pending after the root ended`);
    for (const signal of this.signals) {
      const listeners = getEventListeners(signal, 'abort').length;
      if (listeners !== 0) this.violations.push(`a signal keeps ${listeners} abort listener(s)`);
    }
    this.check();
  }
}

/** A leaf service the scenario drives; every listener and timer it sets is gone when its run ends. */
class Leaf implements Service {
  readonly name: string;
  readonly spec: LeafSpec;
  readonly harness: Harness;
  readonly startTimeout: number | undefined;
  node!: Node;
  jobNode: Node | undefined;
  #run:
    { lifecycle: Lifecycle; end: (error?: Error) => void; cleanup: AbortController } | undefined;
  #reported = false;

  constructor(name: string, spec: LeafSpec, harness: Harness, startTimeout: number | undefined) {
    this.name = name;
    this.spec = spec;
    this.harness = harness;
    this.startTimeout = startTimeout;
  }

  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    const { clock } = this.harness.time;
    const cleanup = new AbortController();
    const began = clock.now();
    this.#reported = false;
    return new Promise<void>((resolve, reject) => {
      const run = {
        lifecycle,
        cleanup,
        end: (error?: Error) => {
          if (this.#run !== run) return;
          this.#run = undefined;
          cleanup.abort();
          if (error) reject(error);
          else resolve();
        },
      };
      this.#run = run;
      const after = (ms: number, action: () => void): void => {
        const timer = clock.setTimeout(action, ms);
        cleanup.signal.addEventListener('abort', () => {
          clock.clearTimeout(timer);
        });
      };
      const { start, startDelay, life, lifeDelay, whenAsked } = this.spec;
      if (start === 'running') this.reportRunning();
      else if (start === 'delayed')
        after(startDelay, () => {
          this.reportRunning();
        });
      if (life === 'crash')
        after(lifeDelay, () => {
          this.crash();
        });
      else if (life === 'return')
        after(lifeDelay, () => {
          this.finish();
        });
      const { signal } = lifecycle;
      this.harness.signals.add(signal);
      const asked = (): void => {
        this.#noteTimeout(clock.now() - began);
        if (whenAsked === 'crash') this.#fail();
        else if (whenAsked === 'prompt') run.end();
        else {
          const shutdown = lifecycle.stopping();
          this.harness.signals.add(shutdown);
          if (shutdown.aborted) run.end();
          else
            shutdown.addEventListener(
              'abort',
              () => {
                run.end();
              },
              {
                once: true,
                signal: cleanup.signal,
              },
            );
        }
      };
      if (signal.aborted) queueMicrotask(asked);
      else signal.addEventListener('abort', asked, { once: true, signal: cleanup.signal });
    });
  }

  /** Reports running (not for jobs, which finish by returning). */
  reportRunning(): void {
    if (!this.#run || this.jobNode) return;
    this.#reported = true;
    this.#run.lifecycle.running();
  }

  /** Returns on its own; a job's work is then done. */
  finish(): void {
    if (!this.#run) return;
    if (this.jobNode && !this.#run.lifecycle.signal.aborted) this.jobNode.jobDone = true;
    this.#run.end();
  }

  crash(): void {
    if (this.#run) this.#fail();
  }

  #fail(): void {
    this.#run?.end(new Error(`${this.name} failed`));
  }

  /**
   * The run's signal aborted `elapsed` ms after it began: by the start timeout when the leaf has
   * one, never reported running, and nothing above it is stopping nor is it leaving its pool.
   */
  #noteTimeout(elapsed: number): void {
    if (this.startTimeout === undefined || this.#reported || elapsed < this.startTimeout) return;
    const { leaving } = this.harness;
    if (leaving !== undefined && this.node.within(leaving)) return;
    for (let node = this.node.parent; node; node = node.parent)
      if (node.lifecycle.state === 'stopping') return;
    this.node.timedOut = true;
  }

  checkEnd(): void {
    if (this.#run) this.harness.violations.push(`${this.name} still runs after the root ended`);
  }
}

const weighted = <T>(...choices: [number, T][]): fc.Arbitrary<T> =>
  fc.oneof(...choices.map(([weight, value]) => ({ weight, arbitrary: fc.constant(value) })));

const leaf: fc.Arbitrary<LeafSpec> = fc.record({
  kind: fc.constant('leaf' as const),
  start: weighted<LeafSpec['start']>([6, 'running'], [2, 'delayed'], [2, 'never']),
  startDelay: fc.integer({ min: 0, max: 60 }),
  life: weighted<LeafSpec['life']>([6, 'forever'], [1, 'crash'], [1, 'return']),
  lifeDelay: fc.integer({ min: 1, max: 200 }),
  whenAsked: weighted<LeafSpec['whenAsked']>([3, 'prompt'], [3, 'hang'], [1, 'crash']),
});

const addSpec = (node: fc.Arbitrary<NodeSpec>): fc.Arbitrary<AddSpec> =>
  fc.record({
    node,
    job: weighted([3, false], [1, true]),
    dependsOn: fc.option(fc.nat(5), { nil: undefined, freq: 2 }),
    restart: fc.option(fc.constantFrom('on-crash' as const, 'always' as const), {
      nil: undefined,
      freq: 3,
    }),
    startTimeout: fc.option(fc.integer({ min: 1, max: 80 }), { nil: undefined, freq: 2 }),
  });

const node = (depth: number): fc.Arbitrary<NodeSpec> =>
  depth === 0
    ? leaf
    : fc.oneof(
        { weight: 4, arbitrary: leaf },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constantFrom('pool' as const, 'sequence' as const),
            children: fc.array(addSpec(node(depth - 1)), { maxLength: 3 }),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant('restarter' as const),
            child: fc.oneof(
              leaf,
              fc.record({
                kind: fc.constantFrom('pool' as const, 'sequence' as const),
                children: fc.array(addSpec(leaf), { minLength: 1, maxLength: 2 }),
              }),
            ),
            mode: fc.constantFrom('on-crash' as const, 'always' as const),
            maxRestarts: fc.integer({ min: 0, max: 2 }),
          }),
        },
      );

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('tick' as const),
      ms: fc.integer({ min: 0, max: 100 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      pool: fc.nat(7),
      child: addSpec(node(1)),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constantFrom('remove' as const, 'stopChild' as const),
      pool: fc.nat(7),
      member: fc.nat(7),
      timeout: fc.integer({ min: 0, max: 60 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('leaf' as const),
      leaf: fc.nat(31),
      action: fc.constantFrom('running' as const, 'crash' as const, 'finish' as const),
    }),
  },
);

test.serial(
  'children added and removed at random in running trees move only along legal transitions, leave their pool as it was, start after their jobs and leave nothing behind',
  async (t) => {
    await withoutFaults(t, async (faults) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(addSpec(node(2)), { minLength: 1, maxLength: 4 }),
          fc.array(op, { maxLength: 25 }),
          async (children, steps) => {
            faults.length = 0;
            const harness = new Harness(children);
            await flush();
            harness.check();
            await play(harness, steps);
            try {
              await harness.end();
            } catch (error) {
              throw new Error(`at the end: ${(error as Error).message}`);
            }
            if (faults.length > 0) throw new Error(`unhandled: ${faults.map(String).join(', ')}`);
          },
        ),
        { numRuns: 100, includeErrorInReport: true },
      );
    });
  },
);
