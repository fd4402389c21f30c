import {
  Lifecycle,
  Pool,
  Sequence,
  type HookEvent,
  type PoolOptions,
  type SequenceOptions,
  type Service,
  type State,
} from '../../lib/index.js';
import { fakeClock } from './clock.js';
import { nextImmediate } from './lifecycle.js';
import { isActive, show, track, type Outcome } from './outcome.js';

/**
 * A harness for the "no re-entrant calls" property (SPEC, Lifecycle rules): it builds a tree of
 * pools, sequences and leaf services, drives it with library calls, and keeps a stack of the
 * library calls in progress. Every service's `runWithLifecycle`, every hook and every abort
 * listener of a lifecycle's signals checks, when it is called, which library call is on top of
 * that stack. Only a lifecycle's own transition may run inside a call on it: `run()` its
 * `starting` hooks, `running()` its `running` hooks, `stopping()` its `stopping` hooks, `stop()`
 * its own signals' listeners (and its `stopping` hooks, should a composite report stopping at
 * once). Anything else found inside a call is a violation, and so is a `runWithLifecycle` called
 * inside any call, `run()` included. User code (a hook, a listener, a service) may make library
 * calls of its own: those are checked in turn.
 */

/** A leaf: when it reports running, and what it does once asked to stop. */
export interface LeafSpec {
  readonly kind: 'leaf';
  /** Calls `running()` inside `runWithLifecycle`, a microtask later, or only when the test says. */
  readonly running: 'sync' | 'later' | 'never';
  /**
   * Asked to stop (its signal aborts): reports stopping and returns, in the abort listener or a
   * microtask later; reports stopping and returns once its shutdown signal aborts; reports
   * stopping and throws; or does nothing (the test ends it).
   */
  readonly whenAsked: 'stop-sync' | 'stop-later' | 'deadline' | 'crash' | 'ignore';
}

export interface GroupSpec {
  readonly kind: 'pool' | 'sequence';
  readonly children: readonly NodeSpec[];
}

export type NodeSpec = LeafSpec | GroupSpec;

/** One step of the driver; indices pick a lifecycle (or a live leaf) modulo how many there are. */
export type Op =
  | { readonly op: 'run' }
  | { readonly op: 'stop'; readonly target: number; readonly how: 'plain' | 'aborted' | number }
  | {
      readonly op: 'report';
      readonly leaf: number;
      readonly what: 'running' | 'stopping' | 'finish' | 'crash';
    }
  | {
      readonly op: 'hook';
      readonly target: number;
      readonly event: HookEvent;
      /** What the hook does besides checking: nothing, return a promise, or stop lifecycle `other`. */
      readonly action: 'record' | 'promise' | 'stop';
      readonly other: number;
    }
  | { readonly op: 'wait'; readonly target: number; readonly what: 'wait' | 'whenRunning' }
  | { readonly op: 'flush' }
  | { readonly op: 'tick'; readonly ms: number };

type Call = 'run' | 'stop' | 'running' | 'stopping' | 'hook' | 'wait' | 'whenRunning';

/** A library call in progress, or user code (a hook, a listener, a service) running. */
type Frame =
  | {
      readonly call: Call;
      readonly lifecycle: Lifecycle;
      /** Transitions of this lifecycle requested by calls made inside this one. */
      readonly requested: Set<State>;
    }
  | { readonly call: 'user' };

type CallFrame = Exclude<Frame, { readonly call: 'user' }>;

type What =
  'runWithLifecycle' | 'signal listener' | 'shutdownSignal listener' | `${HookEvent} hook`;

/**
 * The state whose hooks a library call may run inside itself, on its own lifecycle: the
 * transition it makes. `stop()` may make a composite report `stopping` at once.
 */
const ownTransition: Partial<Record<Call, State>> = {
  run: 'starting',
  running: 'running',
  stopping: 'stopping',
  stop: 'stopping',
};

/** The live run of a leaf service. */
interface LeafRun {
  readonly lifecycle: Lifecycle;
  finish: () => void;
  crash: () => void;
}

class Leaf implements Service {
  readonly name: string;
  readonly #spec: LeafSpec;
  readonly #harness: ReentrancyHarness;
  current: LeafRun | undefined;

  constructor(name: string, spec: LeafSpec, harness: ReentrancyHarness) {
    this.name = name;
    this.#spec = spec;
    this.#harness = harness;
  }

  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    return this.#harness.user('runWithLifecycle', lifecycle, undefined, () => this.#run(lifecycle));
  }

  #run(lifecycle: Lifecycle): Promise<void> {
    const harness = this.#harness;
    let run!: LeafRun;
    const ended = new Promise<void>((resolve, reject) => {
      run = {
        lifecycle,
        finish: () => {
          resolve();
        },
        crash: () => {
          reject(new Error(`${this.name} failed`));
        },
      };
    });
    this.current = run;
    const over = () => {
      if (this.current === run) this.current = undefined;
    };
    void ended.then(over, over);
    const { signal } = lifecycle;
    const asked = () => {
      this.#asked(run);
    };
    if (signal.aborted) queueMicrotask(asked);
    else harness.listen(signal, lifecycle, 'signal listener', asked);
    const running = () => {
      harness.call(lifecycle, 'running', () => {
        lifecycle.running();
      });
    };
    if (this.#spec.running === 'sync') running();
    else if (this.#spec.running === 'later') queueMicrotask(running);
    return ended;
  }

  #asked(run: LeafRun): void {
    const harness = this.#harness;
    const { lifecycle } = run;
    const stopping = () => harness.call(lifecycle, 'stopping', () => lifecycle.stopping());
    switch (this.#spec.whenAsked) {
      case 'stop-sync':
        stopping();
        run.finish();
        return;
      case 'stop-later':
        queueMicrotask(() => {
          stopping();
          run.finish();
        });
        return;
      case 'deadline': {
        const shutdown = stopping();
        if (shutdown.aborted) run.finish();
        else harness.listen(shutdown, lifecycle, 'shutdownSignal listener', run.finish);
        return;
      }
      case 'crash':
        stopping();
        run.crash();
        return;
      case 'ignore':
        return;
    }
  }
}

/** A pool whose `runWithLifecycle` checks where it is called before it runs. */
class CheckedPool extends Pool {
  readonly #check: (lifecycle: Lifecycle) => void;

  constructor(options: PoolOptions, check: (lifecycle: Lifecycle) => void) {
    super(options);
    this.#check = check;
  }

  override runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    this.#check(lifecycle);
    return super.runWithLifecycle(lifecycle);
  }
}

/** A sequence whose `runWithLifecycle` checks where it is called before it runs. */
class CheckedSequence extends Sequence {
  readonly #check: (lifecycle: Lifecycle) => void;

  constructor(options: SequenceOptions, check: (lifecycle: Lifecycle) => void) {
    super(options);
    this.#check = check;
  }

  override runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    this.#check(lifecycle);
    return super.runWithLifecycle(lifecycle);
  }
}

export class ReentrancyHarness {
  readonly #faults: unknown[];
  readonly #time = fakeClock();
  readonly #frames: Frame[] = [];
  readonly #violations: string[] = [];
  readonly #labels = new Map<Lifecycle, string>();
  /** Every lifecycle of the tree, the root first. */
  readonly #lifecycles: Lifecycle[] = [];
  readonly #leaves: Leaf[] = [];
  readonly #promises: { what: string; result: { outcome: Outcome } }[] = [];
  readonly root: Lifecycle;

  constructor(spec: NodeSpec, faults: unknown[]) {
    this.#faults = faults;
    this.root = new Lifecycle(this.#build(spec, 'root'), { clock: this.#time.clock });
    this.#instrument(this.root, 'root');
  }

  /** Runs `body` as library call `call` on `lifecycle`. */
  call<T>(lifecycle: Lifecycle, call: Call, body: () => T): T {
    const transition = call === 'running' || call === 'stopping' ? ownTransition[call] : undefined;
    if (transition !== undefined) {
      for (const frame of this.#frames) {
        if (frame.call !== 'user' && frame.lifecycle === lifecycle) frame.requested.add(transition);
      }
    }
    this.#frames.push({ call, lifecycle, requested: new Set() });
    try {
      return body();
    } finally {
      this.#frames.pop();
    }
  }

  /** Runs user code `body` (`what` of `lifecycle`), after checking what it was called inside. */
  user<T>(what: What, lifecycle: Lifecycle, state: State | undefined, body: () => T): T {
    this.#check(what, lifecycle, state);
    this.#frames.push({ call: 'user' });
    try {
      return body();
    } finally {
      this.#frames.pop();
    }
  }

  /** Adds a checked abort listener to `signal`, one of `lifecycle`'s. */
  listen(signal: AbortSignal, lifecycle: Lifecycle, what: What, body: () => void): void {
    signal.addEventListener(
      'abort',
      () => {
        this.user(what, lifecycle, undefined, body);
      },
      { once: true },
    );
  }

  async step(op: Op): Promise<void> {
    this.#apply(op);
    if (op.op === 'flush') await nextImmediate();
    else if (op.op === 'tick') await this.#time.fake.tickAsync(op.ms);
    this.#throwViolations();
  }

  /** Ends everything: stops the root, ends every leaf, lets time pass; then checks what settled. */
  async end(): Promise<void> {
    for (let round = 0; round < 10; round++) {
      this.#stop(this.root, 0);
      for (const leaf of this.#leaves) leaf.current?.finish();
      await nextImmediate();
      await this.#time.fake.tickAsync(20_000);
      const pending = this.#promises.some(({ result }) => result.outcome.status === 'pending');
      if (!isActive(this.root.state) && !pending) break;
    }
    this.#throwViolations();
    for (const lifecycle of this.#lifecycles) {
      if (isActive(lifecycle.state)) this.#fail(`${this.#label(lifecycle)} is ${lifecycle.state}`);
    }
    for (const { what, result } of this.#promises) {
      if (result.outcome.status === 'pending') this.#fail(`${what} is ${show(result.outcome)}`);
    }
    const timers = this.#time.pending();
    if (timers !== 0) this.#fail(`${timers} timer(s) left after everything ended`);
    if (this.#faults.length > 0) this.#fail(`unhandled: ${this.#faults.map(String).join(', ')}`);
  }

  #build(spec: NodeSpec, name: string): Service {
    if (spec.kind === 'leaf') {
      const leaf = new Leaf(name, spec, this);
      this.#leaves.push(leaf);
      return leaf;
    }
    const options = { name, clock: this.#time.clock };
    const check = (lifecycle: Lifecycle) => {
      this.#check('runWithLifecycle', lifecycle, undefined);
    };
    const group: Service & { add(service: Service): Lifecycle } =
      spec.kind === 'pool' ? new CheckedPool(options, check) : new CheckedSequence(options, check);
    spec.children.forEach((child, index) => {
      const childName = `${name}.${index}`;
      this.#instrument(group.add(this.#build(child, childName)), childName);
    });
    return group;
  }

  /** Checked hooks on every event of `lifecycle`, and a checked listener on each run's signal. */
  #instrument(lifecycle: Lifecycle, label: string): void {
    this.#labels.set(lifecycle, label);
    this.#lifecycles.push(lifecycle);
    this.#addHook(lifecycle, 'stateChange', () => undefined);
    for (const event of ['running', 'stopping', 'stopped', 'crashed'] as const) {
      this.#addHook(lifecycle, event, () => undefined);
    }
    this.#addHook(lifecycle, 'starting', () => {
      this.listen(lifecycle.signal, lifecycle, 'signal listener', () => undefined);
    });
  }

  /** Adds a hook for `event` that checks where it runs, then calls `body`. */
  #addHook(lifecycle: Lifecycle, event: HookEvent, body: () => unknown): void {
    const hook = (state: State) => this.user(`${event} hook`, lifecycle, state, body);
    switch (event) {
      case 'stateChange':
        lifecycle.onStateChange((_service, _lifecycle, state) => hook(state));
        return;
      case 'starting':
        lifecycle.onStarting(() => hook('starting'));
        return;
      case 'running':
        lifecycle.onRunning(() => hook('running'));
        return;
      case 'stopping':
        lifecycle.onStopping(() => hook('stopping'));
        return;
      case 'stopped':
        lifecycle.onStopped(() => hook('stopped'));
        return;
      case 'crashed':
        lifecycle.onCrashed(() => hook('crashed'));
        return;
    }
  }

  /**
   * Whether a hook of the call's own lifecycle for `state` may run inside it: the transition the
   * call makes, or one that a call made inside it (by that lifecycle's own hook or listener)
   * requested, which is made right after the hooks running at the time.
   */
  #ownHookAllowed(top: CallFrame, state: State): boolean {
    return ownTransition[top.call] === state || top.requested.has(state);
  }

  #check(what: What, lifecycle: Lifecycle, state: State | undefined): void {
    const top = this.#frames.at(-1);
    if (top === undefined || top.call === 'user') return;
    const own = top.lifecycle === lifecycle;
    // A lifecycle's own signals may abort inside a call on it (stop() aborts them at once).
    const allowed =
      what === 'runWithLifecycle'
        ? false
        : what.endsWith(' hook')
          ? own && state !== undefined && this.#ownHookAllowed(top, state)
          : own;
    if (allowed) return;
    const which = state === undefined ? what : `${what} (${state})`;
    this.#violations.push(
      `${which} of ${this.#label(lifecycle)} ran inside ${top.call}() of ${this.#label(top.lifecycle)}`,
    );
  }

  #apply(op: Op): void {
    switch (op.op) {
      case 'run': {
        const root = this.root;
        this.#track(
          'run() of root',
          this.call(root, 'run', () => root.run()),
        );
        return;
      }
      case 'stop':
        this.#stop(this.#pick(op.target), op.how);
        return;
      case 'report':
        this.#report(op.leaf, op.what);
        return;
      case 'hook': {
        const lifecycle = this.#pick(op.target);
        const other = this.#pick(op.other);
        const body = () => {
          if (op.action === 'promise') return Promise.resolve().then(() => undefined);
          if (op.action === 'stop') this.#stop(other, 'plain');
          return undefined;
        };
        this.call(lifecycle, 'hook', () => {
          this.#addHook(lifecycle, op.event, body);
        });
        return;
      }
      case 'wait': {
        const lifecycle = this.#pick(op.target);
        const what = `${op.what}() of ${this.#label(lifecycle)}`;
        const promise = this.call(lifecycle, op.what, () =>
          op.what === 'wait' ? lifecycle.wait() : lifecycle.whenRunning({ timeout: 50 }),
        );
        this.#track(what, promise);
        return;
      }
      case 'flush':
      case 'tick':
        return;
    }
  }

  #stop(lifecycle: Lifecycle, how: 'plain' | 'aborted' | number): void {
    const promise = this.call(lifecycle, 'stop', () => {
      if (how === 'plain') return lifecycle.stop();
      if (typeof how === 'number') return lifecycle.stop({ timeout: how });
      const caller = new AbortController();
      caller.abort(new Error('gave up at once'));
      return lifecycle.stop({ signal: caller.signal });
    });
    this.#track(`stop(${String(how)}) of ${this.#label(lifecycle)}`, promise);
  }

  #report(index: number, what: 'running' | 'stopping' | 'finish' | 'crash'): void {
    const live = this.#leaves.flatMap((leaf) => (leaf.current ? [leaf.current] : []));
    const run = live[index % Math.max(live.length, 1)];
    if (run === undefined) return;
    const { lifecycle } = run;
    if (what === 'running') {
      this.call(lifecycle, 'running', () => {
        lifecycle.running();
      });
    } else if (what === 'stopping') this.call(lifecycle, 'stopping', () => lifecycle.stopping());
    else if (what === 'finish') run.finish();
    else run.crash();
  }

  #pick(index: number): Lifecycle {
    return this.#lifecycles[index % this.#lifecycles.length]!;
  }

  #track(what: string, promise: Promise<unknown>): void {
    this.#promises.push({ what, result: track(promise) });
  }

  #label(lifecycle: Lifecycle): string {
    return this.#labels.get(lifecycle) ?? lifecycle.name;
  }

  #throwViolations(): void {
    if (this.#violations.length > 0) this.#fail(this.#violations.join('\n'));
  }

  #fail(message: string): never {
    throw new Error(message);
  }
}
