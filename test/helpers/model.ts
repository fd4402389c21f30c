import { getEventListeners } from 'node:events';
import {
  AlreadyRunningError,
  Lifecycle,
  NonErrorThrownError,
  Pool,
  ServiceCrashedError,
  ServicesCrashedError,
  transitions,
  type Service,
  type State,
} from '../../lib/index.js';
import { fakeClock } from './clock.js';
import { isActive, show, track, type Outcome } from './outcome.js';

/**
 * A model-driven harness for property tests: it builds a tree of lifecycles (a root, pools, leaf
 * services the test drives by hand), applies operations to it, and checks after every step that
 * what the library shows agrees with the SPEC's tables, derived from what the test did.
 *
 * Two moments are checked. Right after a call returns, only what the call itself does: `run()`
 * moves the root to starting, `stop()` aborts that lifecycle's signal (and its shutdownSignal for
 * a deadline already passed), a service's `running()` / `stopping()` moves its own lifecycle; no
 * other lifecycle has changed, no service was called and no other lifecycle's hooks ran. Once
 * microtasks have run, everything owners do in their reactions: pools start their children,
 * report running and stopping, pass stops and deadlines down, and end as their children did.
 */

/** What a leaf does on its own once its `signal` aborts. */
export type Reaction = 'none' | 'stop' | 'crash' | 'deadline';

export interface LeafSpec {
  readonly kind: 'leaf';
  /** none: nothing (the test ends it); stop/crash: reports stopping, then returns/throws; deadline: reports stopping, returns once shutdownSignal aborts. */
  readonly reaction: Reaction;
  /** Reacts inside the abort event itself, or a microtask later. */
  readonly timing: 'sync' | 'microtask';
  /** Calls `running()` synchronously inside `runWithLifecycle`. */
  readonly runningAtStart: boolean;
  /** An onRunning hook that reports stopping at once, or calls `lifecycle.stop()`. */
  readonly onRunning: 'none' | 'stopping' | 'stop';
}

export interface PoolSpec {
  readonly kind: 'pool';
  readonly children: readonly NodeSpec[];
  /** An onRunning hook that calls `lifecycle.stop()`. */
  readonly onRunning: 'none' | 'stop';
}

export type NodeSpec = LeafSpec | PoolSpec;

/** How `stop()` is called: no options, `{ timeout }`, an aborted `{ signal }`, or a live one. */
export type StopHow =
  | { readonly kind: 'plain' }
  | { readonly kind: 'timeout'; readonly ms: number }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'signal' };

/** One step of a scenario. Indices are taken modulo the number of leaves, lifecycles, … */
export type Op =
  | { readonly op: 'run' }
  | { readonly op: 'wait'; readonly target: number }
  | { readonly op: 'stop'; readonly how: StopHow }
  | { readonly op: 'stopChild'; readonly target: number; readonly aborted: boolean }
  | { readonly op: 'abortCaller'; readonly index: number }
  | { readonly op: 'running' | 'stopping' | 'finish'; readonly leaf: number }
  | { readonly op: 'crash'; readonly leaf: number; readonly nonError: boolean }
  | { readonly op: 'tick'; readonly ms: number };

type Expire = { readonly timeout: true } | { readonly reason: unknown };

const isDomException = (value: unknown, name: string): boolean =>
  value instanceof DOMException && value.name === name;

/** The table's answer to a service asking for `requested` in state `current`. */
function reported(current: State, requested: 'running' | 'stopping'): State {
  if (requested === 'running') return current === 'starting' ? 'running' : current;
  return current === 'starting' || current === 'running' ? 'stopping' : current;
}

/** What a leaf needs from the harness. */
interface LeafHost {
  violate(message: string): void;
  /** The lifecycle a call into the library is under way on, if any (see `Harness.#inCall`). */
  inCall(): string | undefined;
}

/** A service the model drives: it knows which state its own actions must have produced. */
class Leaf implements Service {
  readonly name: string;
  readonly spec: LeafSpec;
  lifecycle!: Lifecycle;
  node!: Node;
  /** The state the SPEC table gives for what this service reported, and how its run ended. */
  state: State = 'stopped';
  /**
   * Reports made while its own lifecycle's hooks ran: the lifecycle makes them right after those
   * hooks are done, before the call that made the transition returns.
   */
  deferred: ('running' | 'stopping')[] = [];
  end: 'stopped' | 'crashed' | undefined;
  crashValue: unknown;
  runs = 0;
  #settle: { resolve: () => void; reject: (reason: unknown) => void } | undefined;
  readonly #host: LeafHost;

  constructor(name: string, spec: LeafSpec, host: LeafHost) {
    this.name = name;
    this.spec = spec;
    this.#host = host;
  }

  /** Its lifecycle moved to starting: a run begins (the service itself is called later). */
  begin(): void {
    this.state = 'starting';
    this.end = undefined;
    this.deferred = [];
  }

  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    const violate = (message: string): void => {
      this.#host.violate(`${this.name} ${message}`);
    };
    if (lifecycle !== this.lifecycle) violate('was run by a foreign lifecycle');
    if (this.#settle) violate('was run again while its run was in progress');
    const call = this.#host.inCall();
    if (call !== undefined) violate(`was run before the call on ${call} returned`);
    if (lifecycle.state !== 'starting')
      violate(`was run while its lifecycle was ${lifecycle.state}`);
    const run = ++this.runs;
    const ended = new Promise<void>((resolve, reject) => (this.#settle = { resolve, reject }));
    if (this.spec.runningAtStart) this.running();
    if (this.spec.reaction !== 'none') {
      const signal = lifecycle.signal;
      if (signal.aborted) this.#react(run);
      else {
        signal.addEventListener(
          'abort',
          () => {
            this.#react(run);
          },
          { once: true },
        );
      }
    }
    return ended;
  }

  running(): void {
    this.lifecycle.running();
    this.#report('running');
  }

  stopping(): AbortSignal {
    const shutdown = this.lifecycle.stopping();
    this.#report('stopping');
    return shutdown;
  }

  /** Its lifecycle's hooks for a transition are done: the reports they made are made now. */
  hooksDone(): void {
    const deferred = this.deferred;
    this.deferred = [];
    this.state = deferred.reduce(reported, this.state);
  }

  /** The state its lifecycle must show: right after a call, or once microtasks have run. */
  expected(flushed: boolean): State {
    return flushed ? (this.end ?? this.state) : this.state;
  }

  /** Microtasks have run: the lifecycle has heard the end of the run. */
  settled(): void {
    this.state = this.expected(true);
  }

  #report(requested: 'running' | 'stopping'): void {
    if (!this.#settle) return;
    if (this.node.emitting) this.deferred.push(requested);
    else this.state = reported(this.state, requested);
  }

  /** Resolves `runWithLifecycle`; does nothing outside a run. */
  finish(): void {
    if (!this.#settle) return;
    this.#settle.resolve();
    this.#settle = undefined;
    this.end = 'stopped';
  }

  /** Rejects `runWithLifecycle`; does nothing outside a run. */
  crash(nonError: boolean): void {
    if (!this.#settle) return;
    this.crashValue = nonError
      ? `${this.name} failed (run ${this.runs})`
      : new Error(`${this.name} failed (run ${this.runs})`);
    this.#settle.reject(this.crashValue);
    this.#settle = undefined;
    this.end = 'crashed';
  }

  #react(run: number): void {
    const act = (): void => {
      if (this.runs !== run || !this.#settle) return;
      const shutdown = this.stopping();
      if (this.spec.reaction === 'stop') this.finish();
      else if (this.spec.reaction === 'crash') this.crash(false);
      else if (shutdown.aborted) this.finish();
      else {
        shutdown.addEventListener(
          'abort',
          () => {
            this.#later(run);
          },
          { once: true },
        );
      }
    };
    if (this.spec.timing === 'sync') act();
    else queueMicrotask(act);
  }

  #later(run: number): void {
    const act = (): void => {
      if (this.runs === run) this.finish();
    };
    if (this.spec.timing === 'sync') act();
    else queueMicrotask(act);
  }
}

/** One lifecycle of the tree and what the model knows about its current run. */
class Node {
  readonly name: string;
  readonly lifecycle: Lifecycle;
  readonly parent: Node | undefined;
  readonly children: Node[] = [];
  readonly leaf: Leaf | undefined;
  /** The last state the hooks reported, and a state whose own hook is still due. */
  prev: State = 'stopped';
  due: State | undefined;
  /** Its hooks are running (from its stateChange hooks to the last hook of the state). */
  emitting = false;
  /** Runs so far (counted at `starting`), and each run's final state and error. */
  runNo = 0;
  readonly endStates: State[] = [];
  readonly endErrors: (Error | undefined)[] = [];
  // Per run, reset at `starting`:
  parentRun = -1;
  reportedRunning = false;
  reportedStopping = false;
  directStop = false;
  expire: Expire | undefined;
  deadlineAt = Infinity;
  ended: Node[] = [];

  constructor(name: string, lifecycle: Lifecycle, parent: Node | undefined, leaf?: Leaf) {
    this.name = name;
    this.lifecycle = lifecycle;
    this.parent = parent;
    this.leaf = leaf;
  }

  get isPool(): boolean {
    return this.leaf === undefined;
  }

  /** Whether the pool has begun draining, by the SPEC: asked to stop, or a child ended. */
  get draining(): boolean {
    return this.lifecycle.shouldStop() || this.ended.length > 0;
  }

  /** The children its current run started. */
  get started(): Node[] {
    return this.children.filter((child) => child.parentRun === this.runNo);
  }

  /** What a call may not change on any other lifecycle: its state, signals, its service's runs. */
  get observed(): string {
    const { state, signal, shutdownSignal } = this.lifecycle;
    return `${state}, signal ${signal.aborted}, shutdownSignal ${shutdownSignal.aborted}, ${this.leaf?.runs ?? 0} service runs`;
  }
}

/** A `run()` or `wait()` call. */
interface RunRecord {
  readonly call: 'run()' | 'wait()';
  readonly node: Node;
  /** `run()` during a run: it must reject with AlreadyRunningError. */
  readonly already: boolean;
  /** The run it settles with; undefined when it settles at once (with `idleError`, if any). */
  readonly runNo: number | undefined;
  readonly idleError: Error | undefined;
  readonly result: { outcome: Outcome };
}

interface StopRecord {
  readonly node: Node;
  readonly promise: Promise<State>;
  /** The run it waits for, or the state it must resolve with at once. */
  readonly runNo: number | undefined;
  readonly immediate: State;
  readonly result: { outcome: Outcome };
}

interface CallerRecord {
  readonly controller: AbortController;
  readonly node: Node;
  readonly runNo: number;
  readonly registered: boolean;
}

export class Harness {
  readonly #time = fakeClock();
  readonly #faults: unknown[];
  readonly #violations: string[] = [];
  readonly #nodes: Node[] = [];
  readonly #leaves: Leaf[] = [];
  readonly #runs: RunRecord[] = [];
  readonly #stops: StopRecord[] = [];
  readonly #callers: CallerRecord[] = [];
  /**
   * While a call into the library is under way: the one node it may change before it returns,
   * its own hooks included (`null`: none). No call runs a service, another lifecycle's hooks or
   * an owner's reaction before it returns.
   */
  #inCall: Node | null | undefined;
  /** Every node as last seen once microtasks had run (see `Node.observed`). */
  #seen = new Map<Node, string>();
  readonly root: Node;

  /** `faults` collects the process's unhandled rejections and uncaught exceptions. */
  constructor(spec: NodeSpec, faults: unknown[]) {
    this.#faults = faults;
    this.root = this.#build(spec, undefined);
    this.#see();
  }

  /** Applies one operation, checks what it did at once, flushes microtasks, checks everything. */
  async step(op: Op): Promise<void> {
    if (op.op === 'tick') await this.#tick(op.ms);
    else this.#check(false, this.#apply(op));
    await this.#time.fake.tickAsync(0);
    this.#check(true);
    for (const leaf of this.#leaves) leaf.settled();
    this.#see();
  }

  /** Ends everything (stop with timeout 0, finish every leaf still running) and checks the end. */
  async end(): Promise<void> {
    await this.step({ op: 'stop', how: { kind: 'timeout', ms: 0 } });
    for (let round = 0; round < 2; round++) {
      for (const leaf of this.#leaves) leaf.finish();
      await this.#time.fake.tickAsync(0);
      this.#check(true);
    }
    for (const node of this.#nodes) {
      if (isActive(node.lifecycle.state))
        this.#fail(`${node.name} is still ${node.lifecycle.state}`);
    }
    for (const { node, result } of this.#stops) {
      const { outcome } = result;
      if (
        outcome.status !== 'fulfilled' ||
        (outcome.value !== 'stopped' && outcome.value !== 'crashed')
      ) {
        this.#fail(
          `a stop() of ${node.name} did not resolve 'stopped' or 'crashed': ${show(outcome)}`,
        );
      }
    }
    for (const run of this.#runs) {
      if (run.result.outcome.status === 'pending') this.#fail(`a ${run.call} never settled`);
    }
    if (this.#time.pending() !== 0) this.#fail(`${this.#time.pending()} timer(s) left behind`);
  }

  #build(spec: NodeSpec, parent: Node | undefined): Node {
    const name = `${spec.kind}-${this.#nodes.length}`;
    const host: LeafHost = {
      violate: (message) => void this.#violations.push(message),
      inCall: () => (this.#inCall === undefined ? undefined : (this.#inCall?.name ?? 'nothing')),
    };
    const service: Leaf | Pool =
      spec.kind === 'leaf' ? new Leaf(name, spec, host) : new Pool({ name });
    const lifecycle =
      parent === undefined
        ? new Lifecycle(service, { clock: this.#time.clock })
        : (parent.lifecycle.service as Pool).add(service);
    const leaf = service instanceof Leaf ? service : undefined;
    if (leaf) {
      leaf.lifecycle = lifecycle;
      this.#leaves.push(leaf);
    }
    const node = new Node(name, lifecycle, parent, leaf);
    if (leaf) leaf.node = node;
    this.#nodes.push(node);
    parent?.children.push(node);
    // Added before the checking hooks, so those run after it and see whether its request waited.
    if (spec.onRunning === 'stopping') lifecycle.onRunning(() => leaf?.stopping());
    if (spec.onRunning === 'stop') {
      lifecycle.onRunning(() => {
        this.#stop(node, { kind: 'plain' });
      });
    }
    this.#watch(node);
    if (spec.kind === 'pool') for (const child of spec.children) this.#build(child, node);
    return node;
  }

  /** Invariants 1 and 2: legal transitions only, and every hook sees the state it was added for. */
  #watch(node: Node): void {
    const { lifecycle } = node;
    const violate = (message: string): void =>
      void this.#violations.push(`${node.name}: ${message}`);
    const sameTarget = (service: Service, target: Lifecycle): void => {
      if (service !== lifecycle.service || target !== lifecycle)
        violate('a hook got a foreign service or lifecycle');
    };
    lifecycle.onStateChange((service, target, state) => {
      const call = this.#inCall;
      if (call !== undefined && call !== node) {
        violate(
          `moved to ${state} before the call on ${call?.name ?? 'another lifecycle'} returned`,
        );
      }
      node.emitting = true;
      sameTarget(service, target);
      if (target.state !== state) violate(`onStateChange(${state}) saw state ${target.state}`);
      if (!(transitions[node.prev] as readonly State[]).includes(state)) {
        violate(`illegal transition ${node.prev} -> ${state}`);
      }
      if (node.due !== undefined) violate(`the ${node.due} hook did not run after its stateChange`);
      node.prev = state;
      node.due = state;
      this.#transitioned(node, state);
    });
    const hook = (event: State) => (service: Service, target: Lifecycle, extra?: unknown) => {
      sameTarget(service, target);
      if (target.state !== event) violate(`an on${event} hook saw state ${target.state}`);
      if (node.due !== event) violate(`the ${event} hook ran without its stateChange first`);
      node.due = undefined;
      // Added last: the lifecycle's hooks for this transition are done.
      node.emitting = false;
      node.leaf?.hooksDone();
      if (event === 'stopping' && extra !== target.shutdownSignal)
        violate('onStopping got a foreign signal');
      if (event === 'crashed' && (!(extra instanceof Error) || extra !== target.error)) {
        violate('onCrashed did not get lifecycle.error');
      }
    };
    lifecycle
      .onStarting(hook('starting'))
      .onRunning(hook('running'))
      .onStopping(hook('stopping'))
      .onStopped(hook('stopped'))
      .onCrashed(hook('crashed'))
      .on('hookError', (error, event) => {
        violate(`a ${event} hook failed: ${String(error)}`);
      });
  }

  /** Transition-time checks of invariant 6, and the per-run bookkeeping of the model. */
  #transitioned(node: Node, state: State): void {
    const violate = (message: string): void =>
      void this.#violations.push(`${node.name}: ${message}`);
    const { parent } = node;
    if (parent && !isActive(parent.lifecycle.state)) {
      violate(`moved to ${state} while its pool was ${parent.lifecycle.state}`);
    }
    if (state === 'starting') {
      node.leaf?.begin();
      node.runNo++;
      node.parentRun = parent?.runNo ?? -1;
      node.reportedRunning = node.reportedStopping = node.directStop = false;
      node.expire = undefined;
      node.deadlineAt = Infinity;
      node.ended = [];
      if (parent && parent.lifecycle.state !== 'starting') {
        violate(`started while its pool was ${parent.lifecycle.state}`);
      }
      if (parent?.lifecycle.shouldStop()) violate('started after its pool was asked to stop');
    } else if (state === 'running') {
      node.reportedRunning = true;
      if (node.reportedStopping) violate('reported running after it reported stopping');
      const late = node.children.filter(
        (child) => child.parentRun !== node.runNo || !child.reportedRunning,
      );
      if (late.length > 0) violate(`reported running before ${names(late)} did`);
      // A child already stopping keeps its pool from reporting running.
      const stopping = node.children.filter((child) => child.lifecycle.state !== 'running');
      if (stopping.length > 0) violate(`reported running while ${names(stopping)} did not run`);
    } else if (state === 'stopping') {
      node.reportedStopping = true;
    } else {
      node.endStates[node.runNo] = state;
      node.endErrors[node.runNo] = node.lifecycle.error;
      // A child stopped directly while its pool does not drain leaves the pool (issue 13).
      if (parent && node.directStop && !parent.draining) {
        parent.children.splice(parent.children.indexOf(node), 1);
      } else if (parent) parent.ended.push(node);
      if (node.isPool) this.#poolEnded(node, state, violate);
    }
  }

  #poolEnded(node: Node, state: State, violate: (message: string) => void): void {
    const running = node.children.filter((child) => isActive(child.lifecycle.state));
    if (running.length > 0) violate(`ended ${state} while ${names(running)} still ran`);
    if (node.ended.length !== node.started.length)
      violate(`ended ${state} before all the children it started ended`);
    const crashed = node.ended.filter((child) => child.lifecycle.state === 'crashed');
    if ((state === 'crashed') !== crashed.length > 0) {
      violate(`ended ${state} although ${crashed.length} child(ren) crashed`);
    }
    const { error } = node.lifecycle;
    const matches = (candidate: unknown, child: Node): boolean =>
      candidate instanceof ServiceCrashedError &&
      codeOf(candidate) === 'ERR_OVERSEER_SERVICE_CRASHED' &&
      candidate.service === child.name &&
      candidate.message.includes(child.name) &&
      candidate.cause === child.lifecycle.error;
    const [first] = crashed;
    if (crashed.length === 1 && first && !matches(error, first)) {
      violate(`its error does not name ${first.name} with its error as cause: ${String(error)}`);
    }
    if (crashed.length > 1) {
      const ok =
        error instanceof ServicesCrashedError &&
        codeOf(error) === 'ERR_OVERSEER_SERVICES_CRASHED' &&
        error.errors.length === crashed.length &&
        crashed.every((child, index) => matches(error.errors[index], child));
      if (!ok) violate(`its error does not aggregate ${names(crashed)} in order: ${String(error)}`);
    }
  }

  /** Applies `op`; returns the node it may change before it returns (`null`: none). */
  #apply(op: Exclude<Op, { op: 'tick' }>): Node | null {
    // A tree without leaves (empty pools only) has nothing to drive: such ops do nothing.
    const leaf = (index: number): Leaf | undefined => this.#leaves[index % this.#leaves.length];
    switch (op.op) {
      case 'run':
        return this.#run();
      case 'wait':
        this.#wait(this.#nodes[op.target % this.#nodes.length]!);
        return null;
      case 'stop':
        return this.#stop(this.root, op.how);
      case 'stopChild':
        return this.#stop(this.#nodes[op.target % this.#nodes.length]!, {
          kind: op.aborted ? 'aborted' : 'plain',
        });
      case 'abortCaller':
        return this.#abortCaller(op.index);
      case 'running':
      case 'stopping': {
        const target = leaf(op.leaf);
        if (target === undefined) return null;
        this.#within(target.node, () => {
          if (op.op === 'running') target.running();
          else target.stopping();
        });
        return target.node;
      }
      // The service's run settles: its lifecycle hears of it in a later microtask.
      case 'finish': {
        const target = leaf(op.leaf);
        this.#within(null, () => target?.finish());
        return null;
      }
      case 'crash': {
        const target = leaf(op.leaf);
        const { nonError } = op;
        this.#within(null, () => target?.crash(nonError));
        return null;
      }
    }
  }

  /** Makes `call`, which may change `target` and nothing else before it returns. */
  #within<T>(target: Node | null, call: () => T): T {
    const outer = this.#inCall;
    this.#inCall = target;
    try {
      return call();
    } finally {
      this.#inCall = outer;
    }
  }

  /** run() moves the root to starting and returns; the service runs in a later microtask. */
  #run(): Node | null {
    const { root } = this;
    const before = root.lifecycle.state;
    const already = isActive(before);
    const target = already ? null : root;
    const result = track(this.#within(target, () => root.lifecycle.run()));
    this.#runs.push({
      call: 'run()',
      node: root,
      already,
      runNo: already ? undefined : root.runNo,
      idleError: undefined,
      result,
    });
    const expected = already ? before : 'starting';
    const after = root.lifecycle.state;
    if (after !== expected) this.#fail(`run() left the root ${after}, expected ${expected}`);
    return target;
  }

  /** Calls `wait()`: it settles at once when idle, else with the end of the current run. */
  #wait(node: Node): void {
    const { lifecycle } = node;
    const active = isActive(lifecycle.state);
    this.#runs.push({
      call: 'wait()',
      node,
      already: false,
      runNo: active ? node.runNo : undefined,
      idleError: lifecycle.state === 'crashed' ? lifecycle.error : undefined,
      result: track(this.#within(null, () => lifecycle.wait())),
    });
  }

  /**
   * Calls `stop()` and checks what must happen before it returns: the signal aborts, and the
   * shutdownSignal too for a deadline already passed. A pool reports stopping, and its children
   * hear of the stop, in its reactions. Returns the node the call may have changed.
   */
  #stop(node: Node, how: StopHow): Node | null {
    const { lifecycle } = node;
    const before = lifecycle.state;
    const active = isActive(before);
    let reason: unknown;
    let controller: AbortController | undefined;
    let options: { timeout: number } | { signal: AbortSignal } | undefined;
    if (how.kind === 'timeout') options = { timeout: how.ms };
    else if (how.kind === 'aborted') {
      reason = new Error(`caller of ${node.name} gave up at once`);
      options = { signal: AbortSignal.abort(reason) };
    } else if (how.kind === 'signal') {
      controller = new AbortController();
      options = { signal: controller.signal };
    }
    const promise = this.#within(active ? node : null, () => lifecycle.stop(options));
    const previous = this.#stops.findLast(
      (stop) => stop.node === node && stop.runNo === node.runNo,
    );
    if (active && previous && previous.promise !== promise) {
      this.#fail(`a second stop() of ${node.name} did not return the in-flight promise`);
    }
    this.#stops.push({
      node,
      promise,
      runNo: active ? node.runNo : undefined,
      immediate: before,
      result: track(promise),
    });
    if (!active) return null;
    node.directStop = true;
    if (!lifecycle.signal.aborted)
      this.#fail(`stop() did not abort the signal of ${node.name} at once`);
    if (how.kind === 'timeout' && how.ms === 0) node.expire ??= { timeout: true };
    if (how.kind === 'timeout' && how.ms > 0 && how.ms !== Infinity) {
      node.deadlineAt = Math.min(node.deadlineAt, this.#time.fake.now + how.ms);
    }
    if (how.kind === 'aborted') node.expire ??= { reason };
    if (controller) {
      const registered = !lifecycle.shutdownSignal.aborted;
      this.#callers.push({ controller, node, runNo: node.runNo, registered });
    }
    if (node.expire && !lifecycle.shutdownSignal.aborted) {
      this.#fail(`stop() did not abort the shutdownSignal of ${node.name} at once`);
    }
    return node;
  }

  #abortCaller(index: number): Node | null {
    const caller = this.#callers[index % Math.max(this.#callers.length, 1)];
    if (caller === undefined || caller.controller.signal.aborted) return null;
    const { node } = caller;
    const reason = new Error(`caller ${index} gave up`);
    const live = node.runNo === caller.runNo && isActive(node.lifecycle.state);
    this.#within(live ? node : null, () => {
      caller.controller.abort(reason);
    });
    if (!live) return null;
    node.expire ??= { reason };
    if (!node.lifecycle.shutdownSignal.aborted)
      this.#fail(`aborting the caller's signal did not abort ${node.name}'s shutdownSignal`);
    return node;
  }

  async #tick(ms: number): Promise<void> {
    const { root } = this;
    if (isActive(root.lifecycle.state) && root.deadlineAt <= this.#time.fake.now + ms) {
      root.expire ??= { timeout: true };
    }
    await this.#time.fake.tickAsync(ms);
  }

  #fail(message: string): never {
    throw new Error(message);
  }

  /**
   * Every invariant. Right after a call (`flushed` false) only `target` may have changed; once
   * microtasks have run, owners have reacted, runs have ended and promises have settled.
   */
  #check(flushed: boolean, target?: Node | null): void {
    if (this.#violations.length > 0) this.#fail(this.#violations.join('\n'));
    if (this.#faults.length > 0) this.#fail(`unhandled: ${this.#faults.map(String).join(', ')}`);
    for (const node of this.#nodes) {
      if (!flushed && node !== target && node.observed !== this.#seen.get(node)) {
        this.#fail(
          `${node.name} changed before ${target ? `the call on ${target.name}` : 'a call that changes nothing'} returned: ${this.#seen.get(node)!} -> ${node.observed}`,
        );
      }
      this.#checkNode(node, flushed);
    }
    const { root } = this;
    const timers =
      isActive(root.lifecycle.state) && !root.expire && root.deadlineAt < Infinity ? 1 : 0;
    if (this.#time.pending() !== timers)
      this.#fail(`${this.#time.pending()} timers pending, expected ${timers}`);
    for (const caller of this.#callers) {
      const live = caller.node.runNo === caller.runNo && isActive(caller.node.lifecycle.state);
      const expected = caller.registered && live && !caller.controller.signal.aborted ? 1 : 0;
      if (getEventListeners(caller.controller.signal, 'abort').length !== expected) {
        this.#fail(
          `a caller's signal of ${caller.node.name} does not have ${expected} listener(s)`,
        );
      }
    }
    if (flushed) this.#checkPromises();
  }

  /** Records every node as it is now that microtasks have run. */
  #see(): void {
    for (const node of this.#nodes) this.#seen.set(node, node.observed);
  }

  #checkNode(node: Node, flushed: boolean): void {
    const { lifecycle, leaf, parent } = node;
    const { state, error, signal, shutdownSignal } = lifecycle;
    const fail = (message: string): never => this.#fail(`${node.name}: ${message}`);
    if (node.prev !== state) fail(`the hooks last saw ${node.prev} but state is ${state}`);
    if ((state === 'crashed') !== (error !== undefined))
      fail(`state ${state} with error ${String(error)}`);
    if (shutdownSignal.aborted && !signal.aborted) fail('shutdownSignal aborted before signal');
    if (lifecycle.shouldStop() !== signal.aborted)
      fail('shouldStop() disagrees with signal.aborted');
    if ((lifecycle.since === undefined) !== (node.runNo === 0)) {
      fail(`since is ${String(lifecycle.since)} after ${node.runNo} run(s)`);
    }
    if (leaf) this.#checkLeaf(leaf, flushed, fail);
    if (!isActive(state)) {
      const running = node.children.filter((child) => isActive(child.lifecycle.state));
      if (running.length > 0) fail(`is ${state} while ${names(running)} still run`);
      return;
    }
    // What stop() does at once, before it returns.
    if (node.directStop && !signal.aborted) fail('was stopped but its signal has not aborted');
    if (node.expire && !shutdownSignal.aborted) {
      fail('its deadline passed but its shutdownSignal has not aborted');
    }
    if (parent && shutdownSignal === parent.lifecycle.shutdownSignal) {
      fail("holds its pool's shutdownSignal: every run has its own");
    }
    if (signal.aborted && !this.#stopReasonOk(node, signal.reason))
      fail(`bad stop reason ${String(signal.reason)}`);
    const inherited = parent?.lifecycle.shutdownSignal.aborted ?? false;
    if (shutdownSignal.aborted) {
      const reason: unknown = shutdownSignal.reason;
      const own = node.expire !== undefined && expireMatches(node.expire, reason);
      if (!own && !(inherited && reason === parent?.lifecycle.shutdownSignal.reason)) {
        fail(`bad shutdown reason ${String(reason)}`);
      }
    }
    if (!flushed) return;
    // What pools pass down to their children, in reactions: seen once microtasks have run.
    const draining = parent?.draining ?? false;
    if (signal.aborted !== (node.directStop || draining)) {
      fail(`signal.aborted is ${signal.aborted}, expected ${!signal.aborted}`);
    }
    if (shutdownSignal.aborted !== (node.expire !== undefined || inherited)) {
      fail(
        `shutdownSignal.aborted is ${shutdownSignal.aborted}, expected ${!shutdownSignal.aborted}`,
      );
    }
    if (node.isPool) this.#checkPool(node, fail);
  }

  /** The leaf's end is processed asynchronously: it only shows once microtasks have run. */
  #checkLeaf(leaf: Leaf, flushed: boolean, fail: (message: string) => never): void {
    const { state, error } = leaf.lifecycle;
    const expected = leaf.expected(flushed);
    if (state !== expected) fail(`is ${state}, but the service's own actions give ${expected}`);
    if (state !== 'crashed') return;
    const value = leaf.crashValue;
    const ok =
      value instanceof Error
        ? error === value
        : error instanceof NonErrorThrownError &&
          codeOf(error) === 'ERR_OVERSEER_NON_ERROR_THROWN' &&
          error.cause === value;
    if (!ok) fail(`crashed with ${String(error)} instead of what the service threw`);
  }

  /** A signal aborts with an AbortError: the stop's own, or the pool's reason passed down. */
  #stopReasonOk(node: Node, reason: unknown): boolean {
    if (!isDomException(reason, 'AbortError')) return false;
    const { parent } = node;
    if (node.directStop || !parent) return true;
    if (reason === parent.lifecycle.signal.reason) return true;
    return parent.ended.some(
      (child) =>
        (reason as DOMException).message ===
        `pool "${parent.name}" is stopping because "${child.name}" ${
          child.lifecycle.state === 'crashed' ? 'crashed' : 'stopped on its own'
        }`,
    );
  }

  /** Invariant 6 once microtasks have run: a running pool's state follows from its children's. */
  #checkPool(node: Node, fail: (message: string) => never): void {
    const { state } = node.lifecycle;
    const { started, children } = node;
    // All at once, in one reaction; none when the pool was asked to stop before it began.
    if (started.length > 0 && started.length < children.length) {
      fail(`started only ${names(started)} of its children`);
    }
    if (started.length === 0 && children.length > 0 && !node.lifecycle.shouldStop()) {
      fail('started none of its children');
    }
    if (node.draining) {
      if (node.ended.length === started.length) {
        fail(`is still ${state} although every child it started ended`);
      }
      if (state !== 'stopping') fail(`is ${state} while draining, expected stopping`);
      return;
    }
    // It reports running once every child has; a child already stopping by then keeps it from it.
    const allRunning = children.every(
      (child) => child.reportedRunning && child.lifecycle.state === 'running',
    );
    if (allRunning && state !== 'running') fail(`is ${state} although every child runs`);
    if (state !== 'running' && state !== 'starting') fail(`is ${state} but is not draining`);
  }

  /** Invariant 3: run() and stop() promises settle exactly when their run has ended, as the SPEC says. */
  #checkPromises(): void {
    for (const run of this.#runs) {
      const { outcome } = run.result;
      if (run.already) {
        const { reason } = outcome as { reason?: unknown };
        if (
          !(reason instanceof AlreadyRunningError) ||
          codeOf(reason) !== 'ERR_OVERSEER_ALREADY_RUNNING' ||
          !/already running/.test(reason.message)
        ) {
          this.#fail(
            `run() during a run did not reject with AlreadyRunningError: ${show(outcome)}`,
          );
        }
        continue;
      }
      const { node, runNo } = run;
      const end = runNo === undefined ? undefined : node.endStates[runNo];
      const error = runNo === undefined ? run.idleError : node.endErrors[runNo];
      const ok =
        runNo !== undefined && end === undefined
          ? outcome.status === 'pending'
          : error === undefined
            ? outcome.status === 'fulfilled'
            : outcome.status === 'rejected' && outcome.reason === error;
      if (!ok) {
        const expected =
          runNo !== undefined && end === undefined
            ? 'pending'
            : error === undefined
              ? 'fulfilled'
              : `rejected with ${String(error)}`;
        this.#fail(`${node.name}: ${run.call} is ${show(outcome)}, expected ${expected}`);
      }
    }
    for (const stop of this.#stops) {
      const { outcome } = stop.result;
      const expected = stop.runNo === undefined ? stop.immediate : stop.node.endStates[stop.runNo];
      const ok =
        expected === undefined
          ? outcome.status === 'pending'
          : outcome.status === 'fulfilled' && outcome.value === expected;
      if (!ok)
        this.#fail(
          `stop() of ${stop.node.name} is ${show(outcome)}, expected ${expected ?? 'pending'}`,
        );
    }
  }
}

/** An error's `code`, read without trusting its declared type: the assertion is that it is right. */
function codeOf(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}

function expireMatches(expire: Expire, reason: unknown): boolean {
  return 'timeout' in expire ? isDomException(reason, 'TimeoutError') : reason === expire.reason;
}

function names(nodes: readonly Node[]): string {
  return nodes.map((node) => node.name).join(', ');
}
