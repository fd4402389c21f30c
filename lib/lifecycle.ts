import { systemClock, type Clock } from './clock.js';
import { AlreadyRunningError, toError } from './errors.js';
import { assertEvent, Hooks } from './internal/hook-dispatch.js';
import type { HookEvent, LifecycleEvents } from './lifecycle-events.js';
import { keepShape } from './internal/keep-shape.js';
import { silentLogger, type Logger } from './logger.js';
import { enqueue, runNow, type Step } from './internal/scheduler.js';
import { stopRequestedReason } from './internal/reasons.js';
import { Run } from './internal/run.js';
import { snapshotOf, type Snapshot } from './snapshot.js';
import type { StopObserver, Supervisor } from './internal/protocol.js';
import { assertService, type Service } from './service.js';
import { canTransition, type State } from './state.js';
import {
  assertWaitOptions,
  listenForEnd,
  listenForRunning,
  noWaitOptions,
  waitWithin,
  type WaitOptions,
} from './internal/waits.js';
import {
  assertAbortSignal,
  assertClock,
  assertDuration,
  assertFunction,
  assertLogger,
  assertObject,
} from './internal/validate.js';

/** Options of {@link Lifecycle.stop}. */
export interface StopOptions {
  /** Milliseconds until `shutdownSignal` aborts. @default no deadline */
  timeout?: number;
  /** `shutdownSignal` aborts when this signal aborts (at once if it already has). */
  signal?: AbortSignal;
}

/** Options of the {@link Lifecycle} constructor. */
export interface LifecycleOptions {
  /** Where hook failures are logged. @default a silent logger */
  logger?: Logger;
  /** Timers for stop deadlines; inject a fake clock in tests. @default the real timers */
  clock?: Clock;
  /**
   * The longest a run waits for a promise one of its hooks returned, in ms (`Infinity`: no
   * limit); a promise still pending then, or when the run's shutdown deadline passes, is
   * abandoned with a `HookTimeoutError` (`'hookError'`) and the run settles. @default 10_000
   */
  hookTimeout?: number;
}

/** What the composite services in this package (pools) may do with lifecycles beyond the public API. */
export interface LifecycleInternals {
  /**
   * Starts a run of `child` owned by `supervisor`, whose own lifecycle is `parent`, at once (call
   * it from a step, so that nested composites do not grow the stack); returns false if `child`
   * is already running.
   */
  startChild(child: Lifecycle, supervisor: Supervisor, parent: Lifecycle): boolean;
  /** Asks a child to stop, without a deadline of its own, if `supervisor` runs it. */
  stopChild(child: Lifecycle, supervisor: Supervisor, reason: unknown): void;
  /** Passes a deadline on, if `supervisor` runs the child: its `shutdownSignal` aborts. */
  expireChild(child: Lifecycle, supervisor: Supervisor, reason: unknown): void;
  /** Tells `observer` when `lifecycle` is asked to stop or hits its deadline, for this run. */
  observeStops(lifecycle: Lifecycle, observer: StopObserver): void;
  /** `lifecycle.stopping()` for a composite that does not need the shutdown signal built. */
  reportStopping(lifecycle: Lifecycle): void;
}

// The default of stop()'s options: one shared object rather than a new one per call.
const noOptions: StopOptions = Object.freeze({});

/**
 * A lifecycle's logger and clock, checked. A group builds one for all its children, so a pool
 * of 100k services checks its options once, and each child keeps one field rather than two.
 */
export class LifecycleSettings {
  readonly logger: Logger;
  readonly clock: Clock;

  constructor(logger: Logger, clock: Clock) {
    this.logger = logger;
    this.clock = clock;
    Object.freeze(this);
  }
}

const defaultSettings = new LifecycleSettings(silentLogger, systemClock);

function settingsOf(options: LifecycleOptions): LifecycleSettings {
  if (options instanceof LifecycleSettings) return options;
  assertObject(options, 'options');
  const { logger = silentLogger, clock = systemClock } = options;
  assertLogger(logger, 'options.logger');
  assertClock(clock, 'options.clock');
  if (logger === silentLogger && clock === systemClock) return defaultSettings;
  return new LifecycleSettings(logger, clock);
}

/** Lifecycle operations for the composite services of this package; set by Lifecycle's static block. */
export let internals!: LifecycleInternals;

// The steps a lifecycle puts on the propagation queue; defined in the static block below,
// which may touch private state.
let applyStep!: Step<Lifecycle, State, undefined>;
let startStep!: Step<Lifecycle, Run, undefined>;
let returnedStep!: Step<Lifecycle, Run, undefined>;
let threwStep!: Step<Lifecycle, Run, unknown>;

/**
 * Runs one {@link Service} and tracks its state: `stopped → starting → running → stopping →
 * stopped` (or `crashed`). The owner calls `run()` and `stop()`; the service reports
 * `running()` and `stopping()` and watches `signal`. Hooks (`onRunning`, …) and the same
 * events through `on()` let monitors follow every transition.
 *
 * @example
 * ```ts
 * const lifecycle = new Lifecycle(service)
 *   .onStateChange((service, _lifecycle, state) => console.log(service.name, state))
 *   .onCrashed((service, _lifecycle, error) => console.error(service.name, error));
 * const done = lifecycle.run(); // rejects with the crash error: await it, or catch it
 * // later
 * await lifecycle.stop({ timeout: 10_000 }); // 'stopped' or 'crashed'
 * await done;
 * ```
 */
export class Lifecycle<S extends Service = Service> {
  /** The service this lifecycle runs. */
  readonly service: S;
  #state: State = 'stopped';
  // When the state last changed (clock time; NaN before the first run): always a number, so V8
  // updates it in place instead of allocating one at each transition.
  #since = NaN;
  // How long the last start took, in whole microseconds: a small integer, which V8 keeps in the
  // field itself, where a fraction of a millisecond would cost every lifecycle a boxed number.
  #startupUs: number | undefined;
  // Built by the first run() (or the first read of a signal): most lifecycles are created by a
  // pool and run at once, so building an idle run first would be wasted.
  #run: Run | undefined;
  #hooks: Hooks | undefined;
  readonly #settings: LifecycleSettings;

  /**
   * A lifecycle for `service`, in state `stopped`; call {@link Lifecycle.run} to start it.
   * @param options.logger where hook failures are logged; default: silent.
   * @param options.clock timers for stop deadlines; default: the real timers.
   * @throws {TypeError} when `service` is not a {@link Service}, or an option is of the wrong type.
   */
  constructor(service: S, options: LifecycleOptions = defaultSettings) {
    assertService(service, 'service');
    this.service = service;
    this.#settings = settingsOf(options);
  }

  /** The service's name. */
  get name(): string {
    return this.service.name;
  }

  /** The current state. */
  get state(): State {
    return this.#state;
  }

  /**
   * When the lifecycle entered its current state: the clock's time, ms since the Unix epoch with
   * the real clock (`new Date(lifecycle.since)`); `NaN` before the first run.
   */
  get since(): number {
    return this.#since;
  }

  /**
   * How long the last run took from `starting` to `running`, in ms, to the microsecond;
   * `undefined` until a run reaches `running` (and from the start of each run until it does).
   */
  get startupMs(): number | undefined {
    const startupUs = this.#startupUs;
    return startupUs === undefined ? undefined : startupUs / 1000;
  }

  /** Why the service crashed; `undefined` unless `state` is `'crashed'`. */
  get error(): Error | undefined {
    return this.#state === 'crashed' ? this.#run?.error : undefined;
  }

  /** Aborts when a stop is requested; a new signal for every run. */
  get signal(): AbortSignal {
    return this.#current().signal;
  }

  /**
   * Aborts at the shutdown deadline; never before a stop is requested. New for every run. When
   * a pool stops this lifecycle and it has no deadline of its own, this is the pool's own
   * shutdown signal, shared by the children the pool stops (see README, "Deadlines").
   */
  get shutdownSignal(): AbortSignal {
    return this.#current().shutdownSignal;
  }

  /** Whether a stop has been requested: the same as `signal.aborted`. */
  shouldStop(): boolean {
    return this.#run?.stopRequested ?? false;
  }

  /** Called by the service once it can do its job: `starting → running`. Ignored in any other state. */
  running(): void {
    this.#transition('running');
  }

  /**
   * Called by the service when it begins to stop: `starting | running → stopping`. Ignored in any
   * other state.
   * @returns the shutdown-deadline signal: abandon in-flight work once it aborts.
   */
  stopping(): AbortSignal {
    this.#transition('stopping');
    return this.shutdownSignal;
  }

  /**
   * Starts the service.
   * @returns a promise that resolves when the service has stopped (after the hooks' promises),
   * and rejects with the crash error (`ERR_OVERSEER_ALREADY_RUNNING` if a run is in progress).
   */
  run(): Promise<void> {
    if (this.#run?.active) return Promise.reject(new AlreadyRunningError(this.service.name));
    const run = this.#begin(undefined, undefined);
    const done = run.whenDone();
    this.#schedule(startStep, run, undefined);
    return done;
  }

  /**
   * Requests a stop: aborts `signal` at once, and `shutdownSignal` at the deadline. Harmless when
   * repeated; an earlier deadline wins.
   * @returns a promise of the final state (`'stopped'` or `'crashed'`); it never rejects, and
   * resolves at once when no run is in progress.
   * @throws {TypeError} when `timeout` is not a number of ms from 0 to 2,147,483,647 (or
   * `Infinity`), or `signal` is not an `AbortSignal`.
   */
  stop(options: StopOptions = noOptions): Promise<State> {
    assertObject(options, 'options');
    const { timeout, signal } = options;
    if (timeout !== undefined) assertDuration(timeout, 'options.timeout');
    if (signal !== undefined) assertAbortSignal(signal, 'options.signal');
    const run = this.#run;
    if (!run?.active)
      return run?.settled === false ? run.whenEnded() : Promise.resolve(this.#state);
    if (!run.stopRequested) run.requestStop(stopRequestedReason());
    if (timeout !== undefined) run.expireIn(timeout, this.#settings.clock);
    if (signal !== undefined) run.expireWith(signal, this.#settings.clock);
    return run.whenEnded();
  }

  /**
   * Waits for the current run to end.
   * @param options.timeout give up after this many ms: rejects with `WaitTimeoutError`
   * (`ERR_OVERSEER_WAIT_TIMEOUT`); the service goes on.
   * @param options.signal give up when it aborts: rejects with `WaitAbortedError`
   * (`ERR_OVERSEER_WAIT_ABORTED`).
   * @returns a promise that resolves once stopped (at once when idle or stopped), and rejects with
   * `error` when the service crashed (at once when it already has).
   * @throws {TypeError} when an option is of the wrong type.
   */
  wait(options: WaitOptions = noWaitOptions): Promise<void> {
    if (options === noWaitOptions) return this.#outcome();
    assertWaitOptions(options);
    const outcome = () => this.#outcome();
    return waitWithin(this.name, 'to end', options, this.#settings.clock, listenForEnd(outcome));
  }

  /**
   * Waits until the service reports `running`: at once if it does; through the next run if the
   * lifecycle is idle.
   * @returns a promise that resolves once running, and rejects with `NotRunningError`
   * (`ERR_OVERSEER_NOT_RUNNING`, `cause`: the crash error) if the service is or begins stopping,
   * stops or crashes first, `WaitTimeoutError` when `options.timeout` passes, `WaitAbortedError`
   * when `options.signal` aborts. Its listeners and timer are removed once it settles.
   * @throws {TypeError} when an option is of the wrong type.
   * @example
   * ```ts
   * const done = lifecycle.run();
   * await lifecycle.whenRunning({ timeout: 5_000 });
   * ```
   */
  whenRunning(options: WaitOptions = noWaitOptions): Promise<void> {
    assertWaitOptions(options);
    return waitWithin(
      this.name,
      'to be running',
      options,
      this.#settings.clock,
      listenForRunning(this),
    );
  }

  /**
   * Stops the service (as `stop()` does, without a deadline) and waits for the run to end, so
   * `await using lifecycle = …` stops it when the scope ends. Never rejects.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** What wait() settles like: the current run's end, or how the last one ended. */
  #outcome(): Promise<void> {
    const run = this.#run;
    if (run?.settled === false) return run.whenDone();
    const error = this.error;
    return error === undefined ? Promise.resolve() : Promise.reject(error);
  }

  /**
   * The state of this service and of everything under it (a pool's children, recursively), with
   * when each entered its state and how long it took to start; render it with `formatTree`.
   * @example
   * ```ts
   * logger.info(formatTree(lifecycle.snapshot()));
   * ```
   */
  snapshot(): Snapshot {
    return snapshotOf(this);
  }

  /** Adds a hook called after every transition, before the hooks of the new state. */
  onStateChange(hook: LifecycleEvents<S>['stateChange']): this {
    return this.#addHook('stateChange', hook);
  }

  /** Adds a hook called when a run begins (`starting`). */
  onStarting(hook: LifecycleEvents<S>['starting']): this {
    return this.#addHook('starting', hook);
  }

  /** Adds a hook called when the service reports `running`. */
  onRunning(hook: LifecycleEvents<S>['running']): this {
    return this.#addHook('running', hook);
  }

  /** Adds a hook called when the service reports `stopping`; it receives the shutdown signal. */
  onStopping(hook: LifecycleEvents<S>['stopping']): this {
    return this.#addHook('stopping', hook);
  }

  /** Adds a hook called when the service has stopped. */
  onStopped(hook: LifecycleEvents<S>['stopped']): this {
    return this.#addHook('stopped', hook);
  }

  /** Adds a hook called when the service has crashed; it receives the error. */
  onCrashed(hook: LifecycleEvents<S>['crashed']): this {
    return this.#addHook('crashed', hook);
  }

  /**
   * Listens to a lifecycle event: the same events as the hook methods, plus `'hookError'`.
   * @throws {TypeError} for an unknown event or a listener that is not a function.
   */
  on<E extends keyof LifecycleEvents<S>>(event: E, listener: LifecycleEvents<S>[E]): this {
    return this.#listen(event, listener, false);
  }

  /** Like {@link Lifecycle.on}, but the listener is removed after its first call. */
  once<E extends keyof LifecycleEvents<S>>(event: E, listener: LifecycleEvents<S>[E]): this {
    return this.#listen(event, listener, true);
  }

  /** How many hooks and listeners `event` has. @throws {TypeError} for an unknown event. */
  listenerCount(event: keyof LifecycleEvents): number {
    assertEvent(event);
    return this.#hooks?.count(event) ?? 0;
  }

  /** Removes a listener or hook (all of the event's, when `listener` is omitted). */
  off<E extends keyof LifecycleEvents<S>>(event: E, listener?: LifecycleEvents<S>[E]): this {
    assertEvent(event);
    this.#hooks?.remove(event, listener as ((...args: unknown[]) => unknown) | undefined);
    return this;
  }

  #addHook(event: HookEvent, hook: unknown): this {
    assertFunction(hook, 'hook');
    return this.#listen(event, hook, false);
  }

  #listen(event: keyof LifecycleEvents, listener: unknown, once: boolean): this {
    assertEvent(event);
    assertFunction(listener, 'listener');
    this.#hooks ??= new Hooks(this.#settings.logger, this.service.name);
    this.#hooks.add(event, listener as (...args: unknown[]) => unknown, once);
    return this;
  }

  #begin(owner: Supervisor | undefined, parent: Run | undefined): Run {
    const run = new Run(owner, parent);
    this.#run = run;
    return run;
  }

  /** The current run; before the first run, an idle one that only holds the signals. */
  #current(): Run {
    return (this.#run ??= new Run(undefined, undefined, false));
  }

  #transition(state: State): void {
    this.#schedule(applyStep, state, undefined);
  }

  /** Runs a step now, or right after this lifecycle's hooks when called from one of them. */
  #schedule<A, B>(step: Step<Lifecycle, A, B>, a: A, b: B): void {
    if (this.#hooks?.emitting) enqueue(step, this as Lifecycle, a, b);
    else runNow(step, this as Lifecycle, a, b);
  }

  /** Moves to `state` if the table allows it, runs the hooks and tells the owner. */
  #apply(state: State): boolean {
    if (!canTransition(this.#state, state)) return false;
    this.#state = state;
    this.#time(state);
    const run = this.#current();
    if (this.#hooks) this.#emitHooks(this.#hooks, run, state);
    run.owner?.noticeChange(this as Lifecycle, state);
    return true;
  }

  #time(state: State): void {
    const now = this.#settings.clock.now();
    // The previous state of `running` is always `starting`, so `#since` is when the run began.
    if (state === 'running') this.#startupUs = Math.round((now - this.#since) * 1000);
    else if (state === 'starting') this.#startupUs = undefined;
    this.#since = now;
  }

  #emitHooks(hooks: Hooks, run: Run, state: State): void {
    const self = this as Lifecycle;
    // A transition the hooks request waits until they are done, so every hook sees the state it
    // was registered for.
    hooks.emitting = true;
    try {
      hooks.emit(run, 'stateChange', this.service, self, state);
      // Only built when heard: reading shutdownSignal creates its AbortController.
      if (hooks.listens(state)) hooks.emit(run, state, this.service, self, this.#extra(run, state));
    } finally {
      hooks.emitting = false;
    }
  }

  /** The argument a state's own hooks get after the service and the lifecycle. */
  #extra(run: Run, state: State): unknown {
    if (state === 'stopping') return run.shutdownSignal;
    return state === 'crashed' ? run.error : undefined;
  }

  #start(run: Run): void {
    let result: unknown;
    try {
      this.#apply('starting');
      result = this.service.runWithLifecycle(this);
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- any value: threwStep wraps it
      result = Promise.reject(error);
    }
    try {
      // Two closures, not two bound functions: on Node 20 the closures retain less memory. They
      // only schedule a step, so whatever goes wrong next is caught there, never left unhandled.
      void Promise.resolve(result).then(
        () => {
          this.#schedule(returnedStep, run, undefined);
        },
        (error: unknown) => {
          this.#schedule(threwStep, run, error);
        },
      );
    } catch (error) {
      // A promise whose then() throws: the service's end can never be heard, so it ends now.
      this.#schedule(threwStep, run, error);
    }
  }

  #end(run: Run, outcome: Error | undefined): void {
    if (!run.active) return;
    run.release();
    const error = run.error ?? outcome;
    if (error !== undefined) run.error = error;
    const state = error === undefined ? 'stopped' : 'crashed';
    this.#apply(state);
    const pending = run.hookPromises;
    if (pending === undefined || pending.length === 0) run.settle(this as Lifecycle, state, error);
    else {
      void Promise.all(pending).then(() => {
        run.settle(this as Lifecycle, state, error);
      });
    }
  }

  /**
   * The library's own reaction failed (a bug, a stack overflow): rather than hang, tell the
   * service to stop at once and end the run crashed with `error` once the service has returned,
   * so an owner never sees the run end while the service still works.
   */
  #fail(error: Error): void {
    const run = this.#run;
    if (!run?.active) {
      this.#settings.logger.error('lifecycle failed after its run ended', {
        service: this.name,
        error,
      });
      return;
    }
    run.error ??= error;
    run.expire(error);
  }

  /** Like {@link Lifecycle.#fail}, once the service has returned: the run ends crashed now. */
  #failAtEnd(error: Error): void {
    const run = this.#run;
    if (!run?.active) {
      this.#fail(error);
      return;
    }
    run.error ??= error;
    this.#end(run, error);
  }

  static {
    const fail = (lifecycle: Lifecycle, error: Error) => {
      lifecycle.#fail(error);
    };
    applyStep = {
      run: (lifecycle, state) => {
        lifecycle.#apply(state);
      },
      fail,
    };
    startStep = {
      run: (lifecycle, run) => {
        lifecycle.#start(run);
      },
      fail,
    };
    const failAtEnd = (lifecycle: Lifecycle, error: Error) => {
      lifecycle.#failAtEnd(error);
    };
    returnedStep = {
      run: (lifecycle, run) => {
        lifecycle.#end(run, undefined);
      },
      fail: failAtEnd,
    };
    threwStep = {
      run: (lifecycle, run, error) => {
        lifecycle.#end(run, toError(lifecycle.service.name, error));
      },
      fail: failAtEnd,
    };
    internals = {
      startChild: (child, supervisor, parent) => {
        if (child.#run?.active) return false;
        runNow(startStep, child, child.#begin(supervisor, parent.#run), undefined);
        return true;
      },
      // A run the supervisor did not start (the user ran the child by hand) is not its to stop.
      stopChild: (child, supervisor, reason) => {
        const run = child.#run;
        if (run?.active && run.owner === supervisor) run.requestStop(reason, true);
      },
      expireChild: (child, supervisor, reason) => {
        const run = child.#run;
        if (run?.active && run.owner === supervisor) run.expire(reason, true);
      },
      observeStops: (lifecycle, observer) => {
        lifecycle.#current().stopObserver = observer;
      },
      reportStopping: (lifecycle) => {
        lifecycle.#transition('stopping');
      },
    };
  }
}

// See keep-shape.ts: every child of a pool is a Lifecycle with a Run.
const idle = new Lifecycle({ name: 'idle', runWithLifecycle: () => undefined });
keepShape(idle);
keepShape(new Run(undefined, undefined, false));
