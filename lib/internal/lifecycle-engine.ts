import type { HookEvent, LifecycleEvents } from '../lifecycle-events.js';
import type { Lifecycle, LifecycleOptions } from '../lifecycle.js';
import { toError } from '../errors.js';
import { assertService, type Service } from '../service.js';
import { canTransition, type State } from '../state.js';
import { logOwnChange } from './group-log.js';
import { assertEvent, Hooks } from './hook-dispatch.js';
import { defaultSettings, settingsOf, type LifecycleSettings } from './lifecycle-settings.js';
import * as protocol from './protocol.js';
import { Run, type Moments } from './run.js';
import { reactionFailed, schedule, scheduleFromMicrotask } from './scheduler.js';
import { reportedErrors, ServiceErrors } from './service-errors.js';
import { armStartTimeout } from './start-timeout.js';
import { Moment } from './stop-wait.js';
import { assertFunction } from './validate.js';

/** How a service's run ended when it threw: what it threw. */
interface Failure {
  readonly thrown: unknown;
}

/**
 * The state machine under {@link Lifecycle}: the state, the runs, the transitions and their
 * hooks, and the owner's side of the protocol. `Lifecycle` adds the owner's and the monitors'
 * public API on top (`run`, `stop`, waits, hook registration).
 */
export abstract class LifecycleEngine implements protocol.OwnedLifecycle {
  /** The service this lifecycle runs. */
  readonly service: Service;
  #state: State = 'stopped';
  #since: number | undefined;
  #startupMs: number | undefined;
  // The current or last run; before the first, an idle one is built if a signal is read.
  #run: Run | undefined;
  #hooks: Hooks | undefined;
  readonly #settings: LifecycleSettings;
  // Asked for while idle: handed to the next run.
  #next: Moments | undefined;
  #errors: ServiceErrors | undefined;

  /** @throws {TypeError} when `service` is not a Service, or an option is malformed or unknown. */
  constructor(service: Service, options: LifecycleOptions = defaultSettings) {
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
   * the real clock (`new Date(lifecycle.since)`); `undefined` before the first run.
   */
  get since(): number | undefined {
    return this.#since;
  }

  /** How long the last run took from `starting` to `running`, in ms; `undefined` until one did. */
  get startupMs(): number | undefined {
    return this.#startupMs;
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
   * Aborts at the shutdown deadline (the earliest of this run's own and every owner's); never
   * before a stop is requested. A new signal for every run.
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

  /** @internal The lifecycle's checked options. */
  protected get settings(): LifecycleSettings {
    return this.#settings;
  }

  /** @internal The current or last run, if any. */
  protected get lastRun(): Run | undefined {
    return this.#run;
  }

  /** @internal Starts a run owned by nobody; undefined if the previous run has not settled. */
  protected begin(): Run | undefined {
    return this.#begin(undefined);
  }

  /** @internal Registers a hook or listener, isolated by {@link Hooks}. */
  protected listen(event: keyof LifecycleEvents, listener: unknown, once: boolean): void {
    assertEvent(event);
    assertFunction(listener, 'listener');
    const { logger, clock, hookTimeout } = this.#settings;
    this.#hooks ??= new Hooks(logger, clock, hookTimeout, this.name);
    this.#hooks.add(event, listener as (...args: unknown[]) => unknown, once);
  }

  /** @internal The current run's stop request or deadline; the next run's while idle. */
  protected moment(which: keyof Moments): Moment {
    const run = this.#run;
    if (run !== undefined && run.phase !== 'settled') return run[which];
    return ((this.#next ??= {})[which] ??= new Moment());
  }

  /** @internal The registered hooks, if any. */
  protected get hooks(): Hooks | undefined {
    return this.#hooks;
  }

  // Hooks and owners get the public type: this engine only ever runs as a Lifecycle.
  get #self(): Lifecycle {
    return this as unknown as Lifecycle;
  }

  /** The current run; before the first run, an idle, settled one that only holds the signals. */
  #current(): Run {
    if (this.#run === undefined) {
      this.#run = new Run(undefined);
      this.#run.phase = 'settled';
    }
    return this.#run;
  }

  /** Starts a run: `starting` now, the service in a reaction. Undefined if one is in progress. */
  #begin(owner: protocol.Owner | undefined): Run | undefined {
    if (this.#run !== undefined && this.#run.phase !== 'settled') return undefined;
    const run = new Run(owner);
    if (this.#next) run.adopt(this.#next);
    this.#next = undefined;
    this.#run = run;
    this.#apply('starting');
    armStartTimeout(this.#self, run, this.#settings);
    schedule(LifecycleEngine.#runService, this, run, undefined);
    return run;
  }

  /** A transition the service asks for; one its own hooks ask for is made right after them. */
  #transition(state: State): void {
    if (this.#hooks?.emitting !== undefined) this.#hooks.requested.push(state);
    else this.#apply(state);
  }

  /** Moves to `state` if the table allows it, runs this lifecycle's hooks, tells the owner. */
  #apply(state: State): void {
    if (!canTransition(this.#state, state)) return;
    const run = this.#current();
    const now = this.#settings.clock.now();
    // Before any change: a call that overflows the stack here leaves the state as it was.
    if (state !== 'starting') run.clearStartTimer();
    this.#state = state;
    // `running` always follows `starting`, so `#since` is when the run began.
    if (state === 'running') this.#startupMs = now - (this.#since ?? now);
    else if (state === 'starting') this.#startupMs = undefined;
    this.#since = now;
    if (this.#hooks) this.#emit(this.#hooks, run, state);
    if (run.owner) schedule(protocol.tellChildChanged, run.owner, this.#self, state);
    else logOwnChange(this.#settings.logger, this.#self, state);
    const requested = this.#hooks?.requested.shift();
    if (requested !== undefined) this.#apply(requested);
  }

  #emit(hooks: Hooks, run: Run, state: State): void {
    hooks.emit(run, 'stateChange', this.service, this.#self, state);
    // Only built when heard: reading shutdownSignal creates its AbortController.
    if (!hooks.listens(state)) return;
    const extra =
      state === 'stopping' ? run.shutdownSignal : state === 'crashed' ? run.error : undefined;
    hooks.emit(run, state, this.service, this.#self, extra);
  }

  /** The reaction that calls the service, and hears how it ends. */
  static #runService(lifecycle: LifecycleEngine, run: Run): void {
    let result: unknown;
    try {
      result = lifecycle.service.runWithLifecycle(lifecycle.#self);
    } catch (error) {
      schedule(LifecycleEngine.#endRun, lifecycle, run, { thrown: error });
      return;
    }
    try {
      Promise.resolve(result).then(
        () => {
          scheduleFromMicrotask(LifecycleEngine.#endRun, lifecycle, run, undefined);
        },
        (error: unknown) => {
          scheduleFromMicrotask(LifecycleEngine.#endRun, lifecycle, run, { thrown: error });
        },
      );
    } catch (error) {
      // A promise whose own then() throws: its end can never be heard, so the run ends now.
      schedule(LifecycleEngine.#endRun, lifecycle, run, { thrown: error });
    }
  }

  static #endRun(lifecycle: LifecycleEngine, run: Run, failure: Failure | undefined): void {
    lifecycle.#end(run, failure);
  }

  /** The service has returned, or threw `failure.thrown`: the final transition, then the hooks. */
  #end(run: Run, failure: Failure | undefined): void {
    if (run.phase !== 'active') return;
    if (failure !== undefined) run.error ??= this.#errorOf(failure.thrown);
    const state = run.error === undefined ? 'stopped' : 'crashed';
    this.#apply(state);
    run.finish(this.#self, state);
  }

  /** What the service threw, as an `Error`; converting it runs user code (a `name` getter). */
  #errorOf(thrown: unknown): Error {
    try {
      return toError(this.name, thrown);
    } catch (error) {
      return error instanceof Error ? error : toError('', error);
    }
  }

  /**
   * A reaction of this lifecycle failed (a bug, a stack overflow): rather than hang, the service
   * is told to stop at once, and the run ends crashed with `error` once it has returned.
   */
  [reactionFailed](error: Error): void {
    const run = this.#run;
    if (run === undefined || run.phase !== 'active') throw error;
    run.error ??= error;
    run.expire(error);
  }

  /** @internal The errors the service reported; made on first use when `create`. */
  [reportedErrors](create: boolean): ServiceErrors | undefined {
    return create ? (this.#errors ??= new ServiceErrors()) : this.#errors;
  }

  /** @internal */
  [protocol.startRun](owner: protocol.Owner): boolean {
    return this.#begin(owner) !== undefined;
  }

  /** @internal A run the owner did not start (the user ran the child by hand) is not its to stop. */
  [protocol.stopRun](owner: protocol.Owner, reason: unknown): void {
    const run = this.#run;
    if (run?.phase === 'active' && run.owner === owner) run.requestStop(reason);
  }

  /** @internal */
  [protocol.expireRun](owner: protocol.Owner, reason: unknown): void {
    const run = this.#run;
    if (run !== undefined && run.phase !== 'settled' && run.owner === owner) run.expire(reason);
  }

  /** @internal */
  [protocol.observeRun](composite: protocol.Composite): void {
    this.#current().composite = composite;
  }

  /** @internal */
  [protocol.reportStopping](): void {
    this.#transition('stopping');
  }

  /** @internal */
  [protocol.heldByHook](): HookEvent | undefined {
    return this.#run?.phase === 'ending' ? this.#run.heldByHook : undefined;
  }
}
