import { getEventListeners } from 'node:events';
import {
  AlreadyRunningError,
  Lifecycle,
  Pool,
  RestartLimitError,
  Restarter,
  Sequence,
  ServiceCrashedError,
  ServicesCrashedError,
  StartFailedError,
  transitions,
  type Dependency,
  type Logger,
  type RestarterOptions,
  type Service,
  type State,
} from '../../lib/index.js';
import { ReturnedBeforeRunningError } from '../../lib/group-errors.js';
import { fakeClock } from './clock.js';
import { isActive, show, track, type Outcome } from './outcome.js';

/**
 * A model-driven harness for property tests of supervision trees: pools (with `dependsOn` edges),
 * sequences and restarters over leaf services the scenario drives. It keeps a global event log
 * (every lifecycle's start, report of running, stop request and end; every leaf run's start and
 * end) and checks, at every event and after every step, the ordering rules of the brief: start
 * in dependency order, stop in reverse, never twice, legal transitions only, everything at rest
 * (no timer, no listener on a caller's signal) once the root has ended.
 *
 * Owners react to their children in microtasks, in the order the events were queued: a call
 * (`run()`, `stop()`, a service's `running()`) makes events of its own lifecycle only, and a group
 * may hear that a child ran before it hears that an earlier-ended sibling ended. A stop request is
 * different: once a group's or restarter's own signal has aborted, it starts nothing more.
 */

/** How a leaf's run begins: report running at once, after `startDelay` ms, only when told, or fail. */
export type StartHow = 'running' | 'delayed' | 'manual' | 'throw' | 'reject' | 'return';
/** What a leaf's run does `lifeDelay` ms after it began: nothing, crash, or return on its own. */
export type Life = 'forever' | 'crash' | 'return';
/**
 * What a leaf does once asked to stop: report stopping and return (`prompt`), return once the
 * shutdown deadline passes (`hang`), return `stopDelay` ms later (`slow`), throw (`crash`), or
 * return without reporting stopping (`silent`).
 */
export type WhenAsked = 'prompt' | 'hang' | 'slow' | 'crash' | 'silent';

export interface LeafSpec {
  readonly kind: 'leaf';
  readonly start: StartHow;
  readonly startDelay: number;
  readonly life: Life;
  readonly lifeDelay: number;
  readonly whenAsked: WhenAsked;
  readonly stopDelay: number;
  /** Reacts to a stop request inside the abort event, or a microtask later. */
  readonly timing: 'sync' | 'microtask';
}

/**
 * A dependency on an earlier sibling, named by its lifecycle or its service; for a restarter, also
 * by the service it restarts or that service's lifecycle (`inner…`; the sibling's own otherwise).
 */
export interface DependencySpec {
  readonly sibling: number;
  readonly by: 'lifecycle' | 'service' | 'innerService' | 'innerLifecycle';
}

export interface PoolChildSpec {
  readonly node: NodeSpec;
  /** Earlier siblings only (so no cycle), each at most once. */
  readonly dependsOn: readonly DependencySpec[];
}

export interface PoolSpec {
  readonly kind: 'pool';
  readonly children: readonly PoolChildSpec[];
}

export interface SequenceSpec {
  readonly kind: 'sequence';
  readonly children: readonly NodeSpec[];
}

export interface RestartSpec {
  readonly mode: 'on-crash' | 'always';
  readonly initialDelay: number;
  readonly maxDelay: number;
  readonly factor: number;
  readonly jitter: number;
  readonly maxRestarts: number;
  readonly window: number;
  /** What the injected `random` returns, in turn. */
  readonly randoms: readonly number[];
  /** `new Restarter(…)`, or `add(service, { restart })` of the parent group (a class at the root). */
  readonly via: 'class' | 'option';
}

export interface RestarterSpec {
  readonly kind: 'restarter';
  readonly child: NodeSpec;
  readonly policy: RestartSpec;
}

export type NodeSpec = LeafSpec | PoolSpec | SequenceSpec | RestarterSpec;

/** The tree, and whether its groups log (to a logger that checks what is logged). */
export interface TreeSpec {
  readonly root: PoolSpec | SequenceSpec | RestarterSpec;
  readonly logs: boolean;
}

/** How `stop()` is called: no options, `{ timeout }`, an already aborted `{ signal }`, or a live one. */
export type StopHow =
  | { readonly kind: 'plain' }
  | { readonly kind: 'timeout'; readonly ms: number }
  | { readonly kind: 'signal' }
  | { readonly kind: 'aborted' };

/** One step of a scenario. Indices are taken modulo the number of candidates. */
export type Op =
  | { readonly op: 'run' }
  | { readonly op: 'tick'; readonly ms: number }
  | { readonly op: 'stop'; readonly how: StopHow }
  | { readonly op: 'abortCaller'; readonly index: number }
  | { readonly op: 'stopChild'; readonly target: number; readonly timeout: number | undefined }
  | {
      readonly op: 'leaf';
      readonly leaf: number;
      readonly action: 'running' | 'stopping' | 'finish' | 'crash';
    };

const allowedLogs: Readonly<Record<string, readonly string[]>> = {
  error: ['service crashed', 'service failed too often, giving up'],
  warn: ['service failed, restarting', 'shutdown deadline passed with'],
  info: ['service '],
  debug: [],
};

/** One run of a leaf service: how to end it, and what to clean up when it ends. */
interface LeafRun {
  readonly number: number;
  readonly lifecycle: Lifecycle;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timers: Set<unknown>;
  /** Aborted at the end of the run: removes the listeners the leaf put on its signals. */
  readonly cleanup: AbortController;
}

/** Where the leaves report to the harness. */
interface LeafHost {
  readonly clock: ReturnType<typeof fakeClock>['clock'];
  event(node: Node, what: string): void;
  violate(node: Node, message: string): void;
}

/** A service the scenario drives: its spec says what it does on its own, ops make it do more. */
class Leaf implements Service {
  readonly name: string;
  readonly spec: LeafSpec;
  readonly #host: LeafHost;
  node!: Node;
  run: LeafRun | undefined;
  runs = 0;

  constructor(name: string, spec: LeafSpec, host: LeafHost) {
    this.name = name;
    this.spec = spec;
    this.#host = host;
  }

  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    const host = this.#host;
    if (lifecycle !== this.node.lifecycle) host.violate(this.node, 'run by a foreign lifecycle');
    if (this.run) host.violate(this.node, 'run again while its previous run was in progress');
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const ended = new Promise<void>((onResolve, onReject) => {
      resolve = onResolve;
      reject = onReject;
    });
    const number = ++this.runs;
    const run: LeafRun = {
      number,
      lifecycle,
      resolve,
      reject,
      timers: new Set(),
      cleanup: new AbortController(),
    };
    this.run = run;
    host.event(this.node, `service run ${number} begins`);
    const { start, startDelay, life, lifeDelay } = this.spec;
    if (start === 'throw') {
      this.#end(run, 'threw');
      throw new Error(`${this.name} failed to start (run ${number})`);
    }
    if (start === 'return') {
      this.finish();
      return ended;
    }
    if (start === 'reject') {
      queueMicrotask(() => {
        if (this.run === run) this.crash();
      });
    } else if (start === 'running') lifecycle.running();
    else if (start === 'delayed') {
      this.#after(run, startDelay, () => {
        lifecycle.running();
      });
    }
    if (life !== 'forever') {
      this.#after(run, lifeDelay, () => {
        if (life === 'crash') this.crash();
        else this.finish();
      });
    }
    const asked = (): void => {
      if (this.spec.timing === 'sync') this.#react(run);
      else {
        queueMicrotask(() => {
          this.#react(run);
        });
      }
    };
    // A stop may come before the run begins: run() calls the service in a later microtask.
    if (lifecycle.signal.aborted) asked();
    else {
      lifecycle.signal.addEventListener('abort', asked, {
        once: true,
        signal: run.cleanup.signal,
      });
    }
    return ended;
  }

  /** Ends the current run cleanly; does nothing outside a run. */
  finish(): void {
    const run = this.run;
    if (run === undefined) return;
    this.#end(run, 'returned');
    run.resolve();
  }

  /** Ends the current run with an error; does nothing outside a run. */
  crash(): void {
    const run = this.run;
    if (run === undefined) return;
    this.#end(run, 'threw');
    run.reject(new Error(`${this.name} failed (run ${run.number})`));
  }

  #react(run: LeafRun): void {
    if (this.run !== run) return;
    const { whenAsked, stopDelay } = this.spec;
    if (whenAsked === 'silent') {
      this.finish();
      return;
    }
    const shutdown = run.lifecycle.stopping();
    if (whenAsked === 'prompt') this.finish();
    else if (whenAsked === 'crash') this.crash();
    else if (whenAsked === 'slow') {
      this.#after(run, stopDelay, () => {
        this.finish();
      });
    } else if (shutdown.aborted) this.finish();
    else {
      shutdown.addEventListener(
        'abort',
        () => {
          if (this.spec.timing === 'sync') this.finish();
          else {
            queueMicrotask(() => {
              if (this.run === run) this.finish();
            });
          }
        },
        { once: true, signal: run.cleanup.signal },
      );
    }
  }

  #after(run: LeafRun, ms: number, action: () => void): void {
    const { clock } = this.#host;
    const timer = clock.setTimeout(() => {
      run.timers.delete(timer);
      if (this.run === run) action();
    }, ms);
    run.timers.add(timer);
  }

  #end(run: LeafRun, how: string): void {
    this.run = undefined;
    for (const timer of run.timers) this.#host.clock.clearTimeout(timer);
    run.timers.clear();
    run.cleanup.abort();
    this.#host.event(this.node, `service run ${run.number} ${how}`);
  }
}

/** A child's end as its group saw it, for the group's outcome. */
interface ChildEnd {
  readonly node: Node;
  readonly error: Error | undefined;
  /** The child had reported running in this run of the group. */
  readonly ran: boolean;
  /** The group was already stopping (asked to, or an earlier child had ended). */
  readonly draining: boolean;
}

/** What a restarter must do after its child's end, by the brief's rules. */
type Decision =
  | { readonly kind: 'end'; readonly error: Error | undefined }
  | { readonly kind: 'giveUp'; readonly restarts: number; readonly error: Error | undefined }
  | {
      readonly kind: 'restart';
      readonly attempt: number;
      readonly count: number;
      readonly error: Error | undefined;
    };

/** One lifecycle of the tree and what the model knows about its current run. */
class Node {
  readonly label: string;
  readonly kind: NodeSpec['kind'];
  readonly parent: Node | undefined;
  readonly children: Node[] = [];
  /** Siblings that must have reported running (in this run of the group) before it starts. */
  readonly startsAfter: Node[] = [];
  /** Siblings that, if started in this run of the group, must have ended before it is asked to stop. */
  readonly stopsAfter: Node[] = [];
  lifecycle!: Lifecycle;
  leaf: Leaf | undefined;
  policy: RestartSpec | undefined;
  /** The last value the injected `random` returned (restarters). */
  lastRandom = Number.NaN;
  prev: State = 'stopped';
  runNo = 0;
  /** The parent's run this node's current run belongs to. */
  parentRun = -1;
  lastSignal: AbortSignal | undefined;
  readonly endStates: State[] = [];
  readonly endErrors: (Error | undefined)[] = [];
  // Per run, reset at `starting`:
  asked = false;
  userStopped = false;
  reportedRunning = false;
  ends: ChildEnd[] = [];
  // Restarters, per run:
  childStarts = 0;
  attempts = 0;
  failures: number[] = [];
  decision: Decision | undefined;
  restartDueAt: number | undefined;
  restartDelay = 0;

  constructor(label: string, kind: NodeSpec['kind'], parent: Node | undefined) {
    this.label = label;
    this.kind = kind;
    this.parent = parent;
  }

  get isGroup(): boolean {
    return this.kind === 'pool' || this.kind === 'sequence';
  }

  /** A pool or sequence drains once asked to stop or once a child ended, in this run. */
  get draining(): boolean {
    return this.asked || this.ends.length > 0;
  }
}

interface StopRecord {
  readonly node: Node;
  /** The run it waits for, or undefined when it must resolve at once with `immediate`. */
  readonly runNo: number | undefined;
  readonly immediate: State;
  readonly result: { outcome: Outcome };
}

interface RunRecord {
  /** The root's run it settles with; undefined for a run() during a run (AlreadyRunningError). */
  readonly runNo: number | undefined;
  readonly result: { outcome: Outcome };
}

export class SupervisionHarness {
  readonly #time = fakeClock();
  readonly #faults: unknown[];
  readonly #violations: string[] = [];
  readonly #log: string[] = [];
  readonly #nodes: Node[] = [];
  readonly #leaves: Leaf[] = [];
  readonly #stops: StopRecord[] = [];
  readonly #runs: RunRecord[] = [];
  readonly #callers: AbortController[] = [];
  readonly #groups = new Map<Node, Pool | Sequence>();
  readonly #logger: Logger | undefined;
  readonly #host: LeafHost;
  /**
   * While an operation's call into the library runs: the one node whose events may happen before
   * the call returns (`null`: none may). No call runs another service's code, an owner's reaction
   * or another lifecycle's hooks before it returns.
   */
  #inCall: Node | null | undefined;
  readonly root: Node;

  /** `faults` collects the process's unhandled rejections and uncaught exceptions. */
  constructor(spec: TreeSpec, faults: unknown[]) {
    this.#faults = faults;
    this.#logger = spec.logs ? this.#checkingLogger() : undefined;
    this.#host = {
      clock: this.#time.clock,
      event: (node, what) => {
        this.#event(node, what);
      },
      violate: (node, message) => {
        this.#violate(node, message);
      },
    };
    const root = this.#build(spec.root, undefined);
    this.#attach(root, new Lifecycle(this.#serviceOf(root), this.#options()));
    this.root = root;
  }

  /** The event log so far, oldest first (`t=<ms> <node>#<run> <event>`). */
  get events(): readonly string[] {
    return this.#log;
  }

  /** Applies one operation, lets microtasks run (or the clock move), and checks every invariant. */
  async step(op: Op): Promise<void> {
    if (op.op === 'tick') await this.#time.fake.tickAsync(op.ms);
    else {
      this.#apply(op);
      this.#throwViolations();
      await this.#time.fake.tickAsync(0);
    }
    this.#check();
  }

  /**
   * Ends the scenario: stops the root with a deadline, moves the clock until everything has
   * ended, checks that the tree is at rest, and that stopping again resolves at once.
   */
  async end(): Promise<void> {
    await this.step({ op: 'stop', how: { kind: 'timeout', ms: 50 } });
    for (let round = 0; round < 40 && isActive(this.root.lifecycle.state); round++) {
      await this.step({ op: 'tick', ms: 100 });
    }
    const { lifecycle } = this.root;
    if (isActive(lifecycle.state)) {
      this.#fail(`the root is still ${lifecycle.state} 4 s after its 50 ms deadline`);
    }
    const again = track(lifecycle.stop({ timeout: 10 }));
    await this.#time.fake.tickAsync(0);
    const { outcome } = again;
    if (outcome.status !== 'fulfilled' || outcome.value !== lifecycle.state) {
      this.#fail(`stop() after the end is ${show(outcome)}, expected ${lifecycle.state}`);
    }
    this.#check();
    for (const { runNo, result } of this.#runs) {
      if (result.outcome.status === 'pending') this.#fail(`run() of run ${runNo} never settled`);
    }
  }

  // ---- building the tree ----

  #build(spec: NodeSpec, parent: Node | undefined): Node {
    const label = `${spec.kind}-${this.#nodes.length}`;
    const node = new Node(label, spec.kind, parent);
    this.#nodes.push(node);
    parent?.children.push(node);
    if (spec.kind === 'leaf') {
      node.leaf = new Leaf(label, spec, this.#host);
      node.leaf.node = node;
      this.#leaves.push(node.leaf);
    } else if (spec.kind === 'restarter') {
      node.policy = spec.policy;
      this.#build(spec.child, node);
    } else if (spec.kind === 'pool') {
      const pool = new Pool({ name: label, ...this.#options() });
      this.#groups.set(node, pool);
      spec.children.forEach((child, index) => {
        const childNode = this.#build(child.node, node);
        const siblings = node.children;
        const dependsOn: Dependency[] = child.dependsOn.map(({ sibling, by }) => {
          const target = siblings[sibling]!;
          childNode.startsAfter.push(target);
          const named =
            target.kind === 'restarter' && by.startsWith('inner') ? target.children[0]! : target;
          return by === 'lifecycle' || by === 'innerLifecycle'
            ? named.lifecycle
            : named.lifecycle.service;
        });
        // Reverse order is transitive: what depends on what the child depends on stops first.
        for (const target of dependenciesOf(childNode)) target.stopsAfter.push(childNode);
        this.#add(pool, childNode, dependsOn);
        if (siblings[index] !== childNode) throw new Error('the model lost track of a child');
      });
    } else {
      const sequence = new Sequence({ name: label, ...this.#options() });
      this.#groups.set(node, sequence);
      for (const child of spec.children) {
        const childNode = this.#build(child, node);
        const previous = node.children.at(-2);
        if (previous) childNode.startsAfter.push(previous);
        for (const earlier of node.children.slice(0, -1)) earlier.stopsAfter.push(childNode);
        this.#add(sequence, childNode, undefined);
      }
    }
    return node;
  }

  /** Adds a built child node to its group, with `restart` when it is a restarter made by add(). */
  #add(group: Pool | Sequence, node: Node, dependsOn: Dependency[] | undefined): void {
    const { policy } = node;
    let lifecycle: Lifecycle;
    if (policy?.via === 'option') {
      const inner = node.children[0]!;
      const restart = this.#restarterOptions(node, policy, false);
      lifecycle =
        group instanceof Pool
          ? group.add(this.#serviceOf(inner), { restart, dependsOn })
          : group.add(this.#serviceOf(inner), { restart });
      const restarter = lifecycle.service as Restarter;
      this.#attach(inner, restarter.lifecycle);
      this.#watchRestarts(node, restarter);
    } else {
      const service = this.#serviceOf(node);
      lifecycle = group instanceof Pool ? group.add(service, { dependsOn }) : group.add(service);
    }
    this.#attach(node, lifecycle);
  }

  /** The service of a node (for a restarter made by `new Restarter`, builds and wires it). */
  #serviceOf(node: Node): Service {
    if (node.leaf) return node.leaf;
    const group = this.#groups.get(node);
    if (group) return group;
    const inner = node.children[0]!;
    const restarter = new Restarter(
      this.#serviceOf(inner),
      this.#restarterOptions(node, node.policy!, true),
    );
    this.#attach(inner, restarter.lifecycle);
    this.#watchRestarts(node, restarter);
    return restarter;
  }

  #restarterOptions(node: Node, policy: RestartSpec, own: boolean): RestarterOptions {
    let calls = 0;
    const random = (): number => {
      const value = policy.randoms[calls++ % policy.randoms.length]!;
      node.lastRandom = value;
      return value;
    };
    const { mode, initialDelay, maxDelay, factor, jitter, maxRestarts, window } = policy;
    return {
      restart: mode,
      initialDelay,
      maxDelay,
      factor,
      jitter,
      maxRestarts,
      window,
      random,
      // add() gives the restarter the group's logger and clock; `new Restarter` needs them.
      ...(own ? { name: node.label, ...this.#options() } : {}),
    };
  }

  #options(): { clock: ReturnType<typeof fakeClock>['clock']; logger?: Logger } {
    const clock = this.#time.clock;
    return this.#logger ? { clock, logger: this.#logger } : { clock };
  }

  #checkingLogger(): Logger {
    const entry =
      (level: string) =>
      (message: string): void => {
        const allowed = allowedLogs[level] ?? [];
        if (!allowed.some((prefix) => message.startsWith(prefix))) {
          this.#violations.push(`unexpected ${level} log: ${message}`);
        }
      };
    return {
      error: entry('error'),
      warn: entry('warn'),
      info: entry('info'),
      debug: entry('debug'),
    };
  }

  #attach(node: Node, lifecycle: Lifecycle): void {
    node.lifecycle = lifecycle;
    lifecycle.onStateChange((_service, target, state) => {
      this.#changed(node, target, state);
    });
    lifecycle.on('hookError', (error, event) => {
      this.#violate(node, `a ${event} hook failed: ${String(error)}`);
    });
  }

  // ---- the event log and the checks made at each event ----

  #event(node: Node, what: string): void {
    this.#log.push(`t=${this.#time.fake.now} ${node.label}#${node.runNo} ${what}`);
    const inCall = this.#inCall;
    if (inCall !== undefined && node !== inCall) {
      this.#violate(node, `${what} before the call on ${inCall?.label ?? 'another node'} returned`);
    }
  }

  /** Makes `call`, during which only `target`'s events may happen (none when `target` is null). */
  #within<T>(target: Node | null, call: () => T): T {
    this.#inCall = target;
    try {
      return call();
    } finally {
      this.#inCall = undefined;
    }
  }

  #violate(node: Node, message: string): void {
    this.#violations.push(`${node.label}: ${message}`);
  }

  #changed(node: Node, target: Lifecycle, state: State): void {
    const before = node.prev;
    if (target !== node.lifecycle) this.#violate(node, 'a hook got a foreign lifecycle');
    if (target.state !== state) this.#violate(node, `stateChange(${state}) saw ${target.state}`);
    if (!(transitions[before] as readonly State[]).includes(state)) {
      this.#violate(node, `illegal transition ${before} -> ${state}`);
    }
    node.prev = state;
    if (state === 'starting') this.#started(node);
    this.#event(node, state);
    if (state === 'running') this.#ran(node);
    if (state === 'stopped' || state === 'crashed') this.#ended(node, state, before);
  }

  /** Invariants 1 and 3 at a start: the group's order, no second start, a fresh signal. */
  #started(node: Node): void {
    node.runNo++;
    node.asked = node.userStopped = node.reportedRunning = false;
    node.ends = [];
    node.childStarts = node.attempts = 0;
    node.failures = [];
    node.decision = node.restartDueAt = undefined;
    const { parent } = node;
    if (parent) this.#startedIn(parent, node);
    const { signal } = node.lifecycle;
    if (signal.aborted) this.#violate(node, 'began a run with its signal already aborted');
    if (signal === node.lastSignal)
      this.#violate(node, 'began a run with the previous run’s signal');
    // Every run has a shutdown signal of its own, never its owner's.
    if (parent && node.lifecycle.shutdownSignal === parent.lifecycle.shutdownSignal) {
      this.#violate(node, 'began a run with its owner’s shutdownSignal');
    }
    node.lastSignal = signal;
    const runNo = node.runNo;
    signal.addEventListener(
      'abort',
      () => {
        this.#asked(node, runNo);
      },
      { once: true },
    );
  }

  #startedIn(parent: Node, node: Node): void {
    if (!isActive(parent.prev)) this.#violate(node, `started while its parent was ${parent.prev}`);
    const startedBefore = node.parentRun === parent.runNo;
    node.parentRun = parent.runNo;
    if (parent.kind === 'restarter') {
      if (parent.asked) this.#violate(node, 'started after its restarter was asked to stop');
      if (parent.childStarts++ > 0) {
        const due = parent.restartDueAt;
        parent.restartDueAt = undefined;
        const now = this.#time.fake.now;
        // fake-timers runs a 0 ms timer set during a tick 1 ms later.
        const late = due !== undefined && parent.restartDelay === 0 && now === due + 1;
        if (due === undefined) this.#violate(node, 'restarted without a restart event');
        else if (due !== now && !late) {
          this.#violate(node, `restarted at t=${this.#time.fake.now}, the delay ended at t=${due}`);
        }
      }
      return;
    }
    if (startedBefore) this.#violate(node, 'started twice in one run of its group');
    if (parent.prev !== 'starting')
      this.#violate(node, `started while its group was ${parent.prev}`);
    // A group hears of its children's ends in reactions, in the order they were queued: it may
    // still start a child whose dependencies reported running before a sibling's end reached it.
    // Its own stop request is another matter: the group's signal has aborted, and a group that
    // starts a child after that starts work it was told not to begin.
    if (parent.asked) this.#violate(node, 'started after its group was asked to stop');
    for (const dependency of node.startsAfter) {
      if (dependency.parentRun !== parent.runNo || !dependency.reportedRunning) {
        this.#violate(node, `started before ${dependency.label} reported running`);
      }
    }
  }

  /** Invariants 2 and 3 at a stop request: asked once, by a stopping group, dependents first. */
  #asked(node: Node, runNo: number): void {
    this.#event(node, 'asked to stop');
    if (runNo !== node.runNo || !isActive(node.prev)) {
      this.#violate(node, `the signal of run ${runNo} aborted after that run ended`);
      return;
    }
    if (node.asked) this.#violate(node, 'asked to stop twice in one run');
    node.asked = true;
    const { parent } = node;
    if (parent === undefined || node.userStopped) return;
    if (parent.kind === 'restarter') {
      if (!parent.asked) this.#violate(node, 'asked to stop while its restarter was not');
      return;
    }
    if (!parent.draining) this.#violate(node, 'asked to stop while its group was not stopping');
    for (const later of node.stopsAfter) {
      if (later.parentRun === parent.runNo && isActive(later.prev)) {
        this.#violate(
          node,
          `asked to stop while ${later.label}, which must stop first, was still ${later.prev}`,
        );
      }
    }
  }

  #ran(node: Node): void {
    node.reportedRunning = true;
    for (const child of node.children) {
      if (child.parentRun !== node.runNo || !child.reportedRunning || !isActive(child.prev)) {
        this.#violate(node, `reported running before ${child.label} ran`);
      }
    }
  }

  /** Invariant 5 at an end: nothing below still runs; the group's outcome follows from its children. */
  #ended(node: Node, state: State, before: State): void {
    const error = node.lifecycle.error;
    node.endStates[node.runNo] = state;
    node.endErrors[node.runNo] = error;
    if (node.leaf?.run) this.#violate(node, `ended ${state} while its service still runs`);
    for (const child of node.children) {
      if (isActive(child.prev)) this.#violate(node, `ended while ${child.label} was ${child.prev}`);
    }
    if (node.isGroup) {
      if (before !== 'stopping') this.#violate(node, `ended from ${before}, not stopping`);
      this.#checkGroupOutcome(node, state, error);
    }
    if (node.kind === 'restarter') this.#checkRestarterOutcome(node, state, error);
    const { parent } = node;
    if (parent && node.parentRun === parent.runNo) {
      if (parent.isGroup) {
        const ran = node.reportedRunning;
        // A pool's child stopped by its own stop() leaves the pool, unless a sibling depends on it.
        if (parent.kind === 'pool' && node.userStopped && !parent.draining && !dependedOn(node)) {
          parent.children.splice(parent.children.indexOf(node), 1);
        } else parent.ends.push({ node, error, ran, draining: parent.draining });
      } else this.#decide(parent, error);
    }
    if (parent === undefined) {
      for (const other of this.#nodes) {
        if (isActive(other.prev)) this.#violate(other, `still ${other.prev} after the root ended`);
      }
      for (const leaf of this.#leaves) {
        if (leaf.run) this.#violate(leaf.node, 'its service still runs after the root ended');
      }
    }
  }

  /** A pool ends crashed iff a child crashed; a sequence also when a child failed to start. */
  #checkGroupOutcome(node: Node, state: State, error: Error | undefined): void {
    const started = node.children.filter((child) => child.parentRun === node.runNo);
    if (node.ends.length !== started.length) {
      this.#violate(node, `ended after ${node.ends.length} of ${started.length} children ended`);
    }
    const expected = node.ends.flatMap((end) => {
      if (node.kind === 'sequence' && !end.ran && !end.draining)
        return [{ end, startFailed: true }];
      // A dependency of a pool's child that returns before it runs failed to start (issue 13).
      if (!end.ran && !end.draining && end.error === undefined && dependedOn(end.node))
        return [{ end, startFailed: true }];
      return end.error === undefined ? [] : [{ end, startFailed: false }];
    });
    const matches = (candidate: unknown, { end, startFailed }: (typeof expected)[number]) => {
      const name = end.node.lifecycle.name;
      if (!startFailed) {
        return (
          candidate instanceof ServiceCrashedError &&
          codeOf(candidate) === 'ERR_OVERSEER_SERVICE_CRASHED' &&
          candidate.service === name &&
          candidate.cause === end.error
        );
      }
      const how =
        end.error === undefined ? 'stopped before it was running' : `crashed: ${end.error.message}`;
      return (
        candidate instanceof StartFailedError &&
        codeOf(candidate) === 'ERR_OVERSEER_START_FAILED' &&
        candidate.service === name &&
        (end.error === undefined
          ? candidate.cause instanceof ReturnedBeforeRunningError
          : candidate.cause === end.error) &&
        candidate.message ===
          `Service "${name}" of "${node.lifecycle.name}" failed to start: it ${how}`
      );
    };
    const describe = expected
      .map(
        ({ end, startFailed }) =>
          `${end.node.label} ${startFailed ? 'failed to start' : 'crashed'}`,
      )
      .join(', ');
    const [only] = expected;
    const ok =
      expected.length === 0
        ? state === 'stopped'
        : expected.length === 1 && only
          ? state === 'crashed' && matches(error, only)
          : state === 'crashed' &&
            error instanceof ServicesCrashedError &&
            error.errors.length === expected.length &&
            expected.every((item, index) => matches(error.errors[index], item));
    if (!ok) {
      this.#violate(
        node,
        `ended ${state} (${String(error)}), expected ${describe === '' ? 'stopped' : describe}`,
      );
    }
  }

  /** What the restarter must do now that its child ended: the brief's budget rules. */
  #decide(restarter: Node, error: Error | undefined): void {
    const policy = restarter.policy!;
    if (restarter.decision?.kind === 'restart') {
      this.#violate(restarter, 'its child ended again before the restart event');
    }
    if (restarter.asked || (error === undefined && policy.mode === 'on-crash')) {
      restarter.decision = { kind: 'end', error: restarter.asked ? error : undefined };
      return;
    }
    const now = this.#time.fake.now;
    const { failures } = restarter;
    while (failures.length > 0 && now - failures[0]! >= policy.window) failures.shift();
    if (failures.length >= policy.maxRestarts) {
      restarter.decision = { kind: 'giveUp', restarts: failures.length, error };
      return;
    }
    failures.push(now);
    restarter.decision = {
      kind: 'restart',
      attempt: ++restarter.attempts,
      count: failures.length,
      error,
    };
  }

  #watchRestarts(node: Node, restarter: Restarter): void {
    restarter.on('restart', (attempt, error, delay) => {
      this.#event(node, `restart ${attempt} in ${delay} ms`);
      const decision = node.decision;
      node.decision = undefined;
      if (decision?.kind !== 'restart') {
        this.#violate(node, `restarted its child, expected ${decision?.kind ?? 'nothing'}`);
        return;
      }
      const { initialDelay, maxDelay, factor, jitter } = node.policy!;
      const base = Math.min(maxDelay, initialDelay * factor ** (decision.count - 1));
      const expected = Math.round(base * (1 - jitter * node.lastRandom));
      if (attempt !== decision.attempt || error !== decision.error || delay !== expected) {
        this.#violate(
          node,
          `restart (${attempt}, ${String(error)}, ${delay}) expected (${decision.attempt}, ${String(decision.error)}, ${expected})`,
        );
      }
      node.restartDueAt = this.#time.fake.now + delay;
      node.restartDelay = delay;
    });
  }

  /** A restarter ends as its last decision says; asked during a delay, it ends stopped. */
  #checkRestarterOutcome(node: Node, state: State, error: Error | undefined): void {
    const decision = node.decision;
    node.decision = undefined;
    const child = node.children[0]!;
    let ok: boolean;
    let expected: string;
    if (decision === undefined || decision.kind === 'restart') {
      ok = state === 'stopped' && node.asked && decision === undefined;
      expected = node.asked ? 'stopped' : 'a restart';
    } else if (decision.kind === 'end') {
      ok = decision.error === undefined ? state === 'stopped' : error === decision.error;
      expected = decision.error === undefined ? 'stopped' : `its child's ${String(decision.error)}`;
    } else {
      ok =
        state === 'crashed' &&
        error instanceof RestartLimitError &&
        codeOf(error) === 'ERR_OVERSEER_RESTART_LIMIT' &&
        error.service === child.lifecycle.name &&
        error.restarts === decision.restarts &&
        error.cause === decision.error;
      expected = `RestartLimitError after ${decision.restarts} restarts`;
    }
    if (!ok) this.#violate(node, `ended ${state} (${String(error)}), expected ${expected}`);
  }

  // ---- operations ----

  #apply(op: Exclude<Op, { op: 'tick' }>): void {
    switch (op.op) {
      case 'run':
        this.#run();
        return;
      case 'stop':
        this.#stop(this.root, op.how);
        return;
      case 'abortCaller': {
        const caller = this.#callers[op.index % Math.max(this.#callers.length, 1)];
        if (caller && !caller.signal.aborted) {
          this.#event(this.root, `caller ${op.index} aborts`);
          this.#within(this.root, () => {
            caller.abort(new Error(`caller ${op.index} gave up`));
          });
        }
        return;
      }
      case 'stopChild': {
        const others = this.#nodes.slice(1);
        const target = others[op.target % Math.max(others.length, 1)];
        if (target) {
          const how: StopHow =
            op.timeout === undefined ? { kind: 'plain' } : { kind: 'timeout', ms: op.timeout };
          this.#stop(target, how);
        }
        return;
      }
      case 'leaf': {
        const running = this.#leaves.filter((leaf) => leaf.run !== undefined);
        const leaf = running[op.leaf % Math.max(running.length, 1)];
        const run = leaf?.run;
        if (leaf === undefined || run === undefined) return;
        this.#event(leaf.node, `told to ${op.action}`);
        this.#within(leaf.node, () => {
          this.#act(leaf, run, op.action);
        });
        return;
      }
    }
  }

  #act(leaf: Leaf, run: LeafRun, action: Extract<Op, { op: 'leaf' }>['action']): void {
    if (action === 'running') run.lifecycle.running();
    else if (action === 'stopping') {
      // The deadline only reaches a child its group has asked to stop.
      const shutdown = run.lifecycle.stopping();
      if (shutdown.aborted && !run.lifecycle.signal.aborted) {
        this.#violate(leaf.node, 'its shutdownSignal aborted before it was asked to stop');
      }
    } else if (action === 'finish') leaf.finish();
    else leaf.crash();
  }

  /** run() moves the root to starting and returns; its service runs in a later microtask. */
  #run(): void {
    const { root } = this;
    const before = root.lifecycle.state;
    const already = isActive(before);
    this.#event(root, 'run() called');
    const result = track(this.#within(already ? null : root, () => root.lifecycle.run()));
    this.#runs.push({ runNo: already ? undefined : root.runNo, result });
    const after = root.lifecycle.state;
    const expected = already ? before : 'starting';
    if (after !== expected) this.#fail(`run() left the root ${after}, expected ${expected}`);
  }

  #stop(node: Node, how: StopHow): void {
    const { lifecycle } = node;
    const before = lifecycle.state;
    const active = isActive(before);
    // A stop by the test, not by the group: the ordering rules do not apply to it.
    if (active && !lifecycle.signal.aborted && node !== this.root) node.userStopped = true;
    this.#event(node, `stop(${JSON.stringify(how)}) called`);
    let options: { timeout: number } | { signal: AbortSignal } | undefined;
    if (how.kind === 'timeout') options = { timeout: how.ms };
    else if (how.kind === 'aborted' || how.kind === 'signal') {
      // Both kept, so that the end can check no listener was left on either.
      const controller = new AbortController();
      if (how.kind === 'aborted') controller.abort(new Error('gave up at once'));
      this.#callers.push(controller);
      options = { signal: controller.signal };
    }
    const promise = this.#within(active ? node : null, () => lifecycle.stop(options));
    this.#stops.push({
      node,
      runNo: active ? node.runNo : undefined,
      immediate: before,
      result: track(promise),
    });
    if (active && !lifecycle.signal.aborted) {
      this.#fail(`stop() did not abort the signal of ${node.label} at once`);
    }
  }

  // ---- checks after every step ----

  #fail(message: string): never {
    const tail = this.#log.slice(-60).join('\n  ');
    throw new Error(`${message}\nlast events:\n  ${tail}`);
  }

  #throwViolations(): void {
    if (this.#violations.length > 0) this.#fail(this.#violations.join('\n'));
  }

  /** Every invariant that holds between steps, once microtasks have run. */
  #check(): void {
    this.#throwViolations();
    if (this.#faults.length > 0) this.#fail(`unhandled: ${this.#faults.map(String).join(', ')}`);
    for (const node of this.#nodes) {
      const { state } = node.lifecycle;
      if (node.prev !== state)
        this.#fail(`${node.label}: hooks last saw ${node.prev}, state is ${state}`);
      if (node.parent && isActive(state) && !isActive(node.parent.lifecycle.state)) {
        this.#fail(`${node.label} is ${state} while its parent is ${node.parent.lifecycle.state}`);
      }
      if (node.leaf && isActive(state) !== (node.leaf.run !== undefined)) {
        this.#fail(
          `${node.label} is ${state} but its service run is ${node.leaf.run ? 'in progress' : 'over'}`,
        );
      }
    }
    for (const caller of this.#callers) {
      const listeners = getEventListeners(caller.signal, 'abort').length;
      if (listeners > 1) this.#fail(`a caller's signal has ${listeners} abort listeners`);
    }
    this.#checkStops();
    if (!isActive(this.root.lifecycle.state)) this.#checkRest();
  }

  /** Invariants 5 and 6: once the root has ended, nothing runs and nothing is left behind. */
  #checkRest(): void {
    for (const node of this.#nodes) {
      if (isActive(node.lifecycle.state))
        this.#fail(`${node.label} is ${node.lifecycle.state} after the root ended`);
    }
    const pending = this.#time.pending();
    if (pending !== 0) this.#fail(`${pending} timer(s) pending after the root ended`);
    for (const caller of this.#callers) {
      const listeners = getEventListeners(caller.signal, 'abort').length;
      if (listeners !== 0)
        this.#fail(`a caller's signal keeps ${listeners} listener(s) after the root ended`);
    }
    const { root } = this;
    for (const { runNo, result } of this.#runs) {
      const { outcome } = result;
      if (runNo === undefined) {
        const { reason } = outcome as { reason?: unknown };
        if (
          !(reason instanceof AlreadyRunningError) ||
          codeOf(reason) !== 'ERR_OVERSEER_ALREADY_RUNNING'
        ) {
          this.#fail(`run() during a run is ${show(outcome)}, expected AlreadyRunningError`);
        }
        continue;
      }
      const error = root.endErrors[runNo];
      const ok =
        error === undefined
          ? outcome.status === 'fulfilled'
          : outcome.status === 'rejected' && outcome.reason === error;
      if (!ok)
        this.#fail(
          `run() of run ${runNo} is ${show(outcome)}, expected ${String(error ?? 'fulfilled')}`,
        );
    }
  }

  /** stop() resolves with the final state of the run it was called in (at once when idle). */
  #checkStops(): void {
    for (const { node, runNo, immediate, result } of this.#stops) {
      const expected = runNo === undefined ? immediate : node.endStates[runNo];
      const { outcome } = result;
      const ok =
        expected === undefined
          ? outcome.status === 'pending'
          : outcome.status === 'fulfilled' && outcome.value === expected;
      if (!ok) {
        this.#fail(
          `stop() of ${node.label} is ${show(outcome)}, expected ${expected ?? 'pending'}`,
        );
      }
    }
  }
}

/** An error's `code`, read without trusting its declared type: the check is that it is right. */
function codeOf(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}

/** Every sibling `node` depends on, directly or through other siblings. */
function dependenciesOf(node: Node): Set<Node> {
  const found = new Set<Node>();
  const stack = [...node.startsAfter];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (found.has(next)) continue;
    found.add(next);
    stack.push(...next.startsAfter);
  }
  return found;
}

/** Whether a sibling still in the group depends on `node` directly (issue 13: it cannot leave). */
function dependedOn(node: Node): boolean {
  const siblings = node.parent?.children ?? [];
  return siblings.some((sibling) => sibling !== node && sibling.startsAfter.includes(node));
}
