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

/** A service the model drives: it knows which state its own actions must have produced. */
class Leaf implements Service {
  readonly name: string;
  readonly spec: LeafSpec;
  lifecycle!: Lifecycle;
  /** The state the SPEC table gives for what this service reported, and how its run ended. */
  state: State = 'stopped';
  end: 'stopped' | 'crashed' | undefined;
  crashValue: unknown;
  runs = 0;
  #settle: { resolve: () => void; reject: (reason: unknown) => void } | undefined;
  readonly #violate: (message: string) => void;

  constructor(name: string, spec: LeafSpec, violate: (message: string) => void) {
    this.name = name;
    this.spec = spec;
    this.#violate = violate;
  }

  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    if (lifecycle !== this.lifecycle) this.#violate(`${this.name} was run by a foreign lifecycle`);
    if (this.#settle) this.#violate(`${this.name} was run again while its run was in progress`);
    const run = ++this.runs;
    this.state = 'starting';
    this.end = undefined;
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
    if (this.#settle && this.state === 'starting') this.state = 'running';
  }

  stopping(): AbortSignal {
    const shutdown = this.lifecycle.stopping();
    if (this.#settle && (this.state === 'starting' || this.state === 'running')) {
      this.state = 'stopping';
    }
    return shutdown;
  }

  /** Microtasks have run: the lifecycle has processed the end of the run. */
  settled(): void {
    this.state = this.end ?? this.state;
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
  readonly root: Node;

  /** `faults` collects the process's unhandled rejections and uncaught exceptions. */
  constructor(spec: NodeSpec, faults: unknown[]) {
    this.#faults = faults;
    this.root = this.#build(spec, undefined);
  }

  /** Applies one operation, flushes microtasks, and checks every invariant. */
  async step(op: Op): Promise<void> {
    if (op.op === 'tick') await this.#tick(op.ms);
    else if (this.#apply(op)) this.#check(false);
    await this.#time.fake.tickAsync(0);
    this.#check(true);
    for (const leaf of this.#leaves) leaf.settled();
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
    const violate = (message: string): void => void this.#violations.push(message);
    const service: Leaf | Pool =
      spec.kind === 'leaf' ? new Leaf(name, spec, violate) : new Pool({ name });
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
    this.#nodes.push(node);
    parent?.children.push(node);
    // Added before the checking hooks, so those run after it and see whether its request waited.
    if (spec.onRunning === 'stopping') lifecycle.onRunning(() => leaf?.stopping());
    if (spec.onRunning === 'stop') {
      lifecycle.onRunning(() => {
        this.#stop(node, { kind: 'plain' }, true);
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
      node.runNo++;
      node.parentRun = parent?.runNo ?? -1;
      node.reportedRunning = node.reportedStopping = node.directStop = false;
      node.expire = undefined;
      node.deadlineAt = Infinity;
      node.ended = [];
      if (parent && parent.lifecycle.state !== 'starting') {
        violate(`started while its pool was ${parent.lifecycle.state}`);
      }
    } else if (state === 'running') {
      node.reportedRunning = true;
      if (node.reportedStopping) violate('reported running after it reported stopping');
      const late = node.children.filter(
        (child) => child.parentRun !== node.runNo || !child.reportedRunning,
      );
      if (late.length > 0) violate(`reported running before ${names(late)} did`);
    } else if (state === 'stopping') {
      node.reportedStopping = true;
    } else {
      node.endStates[node.runNo] = state;
      node.endErrors[node.runNo] = node.lifecycle.error;
      if (parent) parent.ended.push(node);
      if (node.isPool) this.#poolEnded(node, state, violate);
    }
  }

  #poolEnded(node: Node, state: State, violate: (message: string) => void): void {
    const running = node.children.filter((child) => isActive(child.lifecycle.state));
    if (running.length > 0) violate(`ended ${state} while ${names(running)} still ran`);
    if (node.ended.length !== node.children.length)
      violate(`ended ${state} before all its children ended`);
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

  /** Applies `op`; returns whether the tree must already agree with the model synchronously. */
  #apply(op: Exclude<Op, { op: 'tick' }>): boolean {
    // A tree without leaves (empty pools only) has nothing to drive: such ops do nothing.
    const leaf = (index: number): Leaf | undefined => this.#leaves[index % this.#leaves.length];
    switch (op.op) {
      case 'run':
        this.#run();
        return true;
      case 'wait':
        this.#wait(this.#nodes[op.target % this.#nodes.length]!);
        return true;
      case 'stop':
        this.#stop(this.root, op.how);
        return false;
      case 'stopChild':
        this.#stop(this.#nodes[op.target % this.#nodes.length]!, {
          kind: op.aborted ? 'aborted' : 'plain',
        });
        return false;
      case 'abortCaller':
        this.#abortCaller(op.index);
        return false;
      case 'running':
        leaf(op.leaf)?.running();
        return true;
      case 'stopping':
        leaf(op.leaf)?.stopping();
        return true;
      case 'finish':
        leaf(op.leaf)?.finish();
        return false;
      case 'crash':
        leaf(op.leaf)?.crash(op.nonError);
        return false;
    }
  }

  #run(): void {
    const { root } = this;
    const already = isActive(root.lifecycle.state);
    const result = track(root.lifecycle.run());
    this.#runs.push({
      call: 'run()',
      node: root,
      already,
      runNo: already ? undefined : root.runNo,
      idleError: undefined,
      result,
    });
    if (!isActive(root.lifecycle.state)) this.#fail(`run() left the root ${root.lifecycle.state}`);
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
      result: track(lifecycle.wait()),
    });
  }

  /**
   * Calls `stop()` and checks what must happen before it returns. From a hook, inside a drain, a
   * pool only reports stopping once the drain gets there.
   */
  #stop(node: Node, how: StopHow, fromHook = false): void {
    const { lifecycle } = node;
    const before = lifecycle.state;
    const active = isActive(before);
    let reason: unknown;
    let controller: AbortController | undefined;
    let promise: Promise<State>;
    if (how.kind === 'timeout') promise = lifecycle.stop({ timeout: how.ms });
    else if (how.kind === 'aborted') {
      reason = new Error(`caller of ${node.name} gave up at once`);
      promise = lifecycle.stop({ signal: AbortSignal.abort(reason) });
    } else if (how.kind === 'signal') {
      controller = new AbortController();
      promise = lifecycle.stop({ signal: controller.signal });
    } else promise = lifecycle.stop();
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
    if (!active) return;
    node.directStop = true;
    if (!lifecycle.signal.aborted)
      this.#fail(`stop() did not abort the signal of ${node.name} at once`);
    if (node.isPool && !fromHook && lifecycle.state !== 'stopping') {
      this.#fail(`stop() left the pool ${node.name} ${lifecycle.state} instead of stopping`);
    }
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
  }

  #abortCaller(index: number): void {
    const caller = this.#callers[index % Math.max(this.#callers.length, 1)];
    if (caller === undefined || caller.controller.signal.aborted) return;
    const { node } = caller;
    const reason = new Error(`caller ${index} gave up`);
    caller.controller.abort(reason);
    if (node.runNo !== caller.runNo || !isActive(node.lifecycle.state)) return;
    node.expire ??= { reason };
    if (!node.lifecycle.shutdownSignal.aborted)
      this.#fail(`aborting the caller's signal did not abort ${node.name}'s shutdownSignal`);
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

  /** Every invariant; `flushed` (microtasks have run) adds the ends of runs and the promises. */
  #check(flushed: boolean): void {
    if (this.#violations.length > 0) this.#fail(this.#violations.join('\n'));
    if (this.#faults.length > 0) this.#fail(`unhandled: ${this.#faults.map(String).join(', ')}`);
    for (const node of this.#nodes) this.#checkNode(node, flushed);
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
    if (leaf) this.#checkLeaf(leaf, flushed, fail);
    if (!isActive(state)) {
      const running = node.children.filter((child) => isActive(child.lifecycle.state));
      if (running.length > 0) fail(`is ${state} while ${names(running)} still run`);
      return;
    }
    const draining = parent?.draining ?? false;
    if (signal.aborted !== (node.directStop || draining)) {
      fail(`signal.aborted is ${signal.aborted}, expected ${!signal.aborted}`);
    }
    if (signal.aborted && !this.#stopReasonOk(node, signal.reason))
      fail(`bad stop reason ${String(signal.reason)}`);
    const inherited = parent?.lifecycle.shutdownSignal.aborted ?? false;
    if (shutdownSignal.aborted !== (node.expire !== undefined || inherited)) {
      fail(
        `shutdownSignal.aborted is ${shutdownSignal.aborted}, expected ${!shutdownSignal.aborted}`,
      );
    }
    if (shutdownSignal.aborted) {
      const reason: unknown = shutdownSignal.reason;
      const own = node.expire !== undefined && expireMatches(node.expire, reason);
      if (!own && !(inherited && reason === parent?.lifecycle.shutdownSignal.reason)) {
        fail(`bad shutdown reason ${String(reason)}`);
      }
    }
    if (node.isPool) this.#checkPool(node, flushed, fail);
  }

  /** The leaf's end is processed asynchronously: it only shows once microtasks have run. */
  #checkLeaf(leaf: Leaf, flushed: boolean, fail: (message: string) => never): void {
    const { state, error } = leaf.lifecycle;
    const expected = flushed ? (leaf.end ?? leaf.state) : leaf.state;
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
        `Pool "${parent.name}" is stopping because service "${child.name}" ${
          child.lifecycle.state === 'crashed' ? 'crashed' : 'stopped on its own'
        }`,
    );
  }

  /** Invariant 6 between steps: a running pool's state follows from its children's. */
  #checkPool(node: Node, flushed: boolean, fail: (message: string) => never): void {
    const { state } = node.lifecycle;
    const stale = node.children.filter((child) => child.parentRun !== node.runNo);
    if (stale.length > 0) fail(`${names(stale)} were not started by this run`);
    if (node.draining) {
      // The pool's own end is processed asynchronously, like every run's.
      if (flushed && node.ended.length === node.children.length) {
        fail(`is still ${state} although every child ended`);
      }
      if (state !== 'stopping') fail(`is ${state} while draining, expected stopping`);
      return;
    }
    const expected = node.children.every((child) => child.reportedRunning) ? 'running' : 'starting';
    if (state !== expected) fail(`is ${state}, expected ${expected}`);
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
