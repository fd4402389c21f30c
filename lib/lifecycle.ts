import type { Clock } from './clock.js';
import { AlreadyRunningError, toError } from './errors.js';
import type { HookEvent, LifecycleEvents } from './lifecycle-events.js';
import type { Logger } from './logger.js';
import type { Service } from './service.js';
import { snapshotOf, type Snapshot } from './snapshot.js';
import type { State } from './state.js';
import { boundLogger } from './internal/bound-logger.js';
import { assertEvent } from './internal/hook-dispatch.js';
import { LifecycleEngine } from './internal/lifecycle-engine.js';
import { stopReasonFor, stopRequestedReason } from './internal/reasons.js';
import { reportServiceError } from './internal/service-errors.js';
import { assertStopOptions, noStopOptions, type StopOptions } from './internal/stop-options.js';
import { stopReason } from './internal/protocol.js';
import { sleepUntil } from './internal/stop-wait.js';
import { assertDuration, assertFunction } from './internal/validate.js';
import {
  assertWaitOptions,
  listenForEnd,
  listenForRunning,
  noWaitOptions,
  waitWithin,
  type WaitOptions,
} from './internal/waits.js';

export type { StopOptions } from './internal/stop-options.js';
export type { WaitOptions } from './internal/waits.js';

/** Options of the {@link Lifecycle} constructor. */
export interface LifecycleOptions {
  /** Where hook failures are logged. @default a silent logger */
  logger?: Logger;
  /** Timers for stop deadlines and hook timeouts; inject a fake clock in tests. @default the real timers */
  clock?: Clock;
  /**
   * The longest a run waits for a promise one of its hooks returned, in ms (`Infinity`: no
   * limit); a promise still pending then, or when the run's shutdown deadline passes, is
   * abandoned with a `HookTimeoutError` (`'hookError'`) and the run settles. @default 10_000
   */
  hookTimeout?: number;
  /**
   * Ms the service may take to report `running`: past it, the run is asked to stop and ends
   * `crashed` with a `StartTimeoutError` (`ERR_OVERSEER_START_TIMEOUT`) once the service has
   * returned. `Infinity`: no limit. @default Infinity
   */
  startTimeout?: number;
}

/**
 * Runs one {@link Service} and tracks its state: `stopped → starting → running → stopping →
 * stopped` (or `crashed`). The owner calls `run()` and `stop()`; the service reports `running()`
 * and `stopping()`, and waits with `whenStopRequested()`, `sleep()` or `signal`. Hooks
 * (`onRunning`, …) and the same events through `on()` let monitors follow every transition.
 *
 * No call runs another service's code before it returns: `run()` calls `runWithLifecycle` in a
 * microtask, and owners (pools) react to their children in microtasks too.
 *
 * @example
 * ```ts
 * const lifecycle = new Lifecycle(serviceFromFunction('poller', async (lifecycle) => {
 *   lifecycle.running();
 *   while (await lifecycle.sleep(1_000)) lifecycle.logger.info('polled'); // false once asked to stop
 *   lifecycle.stopping();
 * })).onCrashed((service, _lifecycle, error) => console.error(service.name, error));
 * const done = lifecycle.run(); // rejects with the crash error: await it, or catch it
 * await lifecycle.stop({ timeout: 10_000, reason: 'deploy' }); // 'stopped' or 'crashed'
 * await done;
 * ```
 */
export class Lifecycle<S extends Service = Service> extends LifecycleEngine {
  /** The service this lifecycle runs. */
  declare readonly service: S;
  #logger: Logger | undefined;

  /**
   * A lifecycle for `service`, in state `stopped`; call {@link Lifecycle.run} to start it.
   * @throws {TypeError} when `service` is not a {@link Service}, or an option is malformed or unknown.
   */
  // eslint-disable-next-line @typescript-eslint/no-useless-constructor -- documents the public signature
  constructor(service: S, options?: LifecycleOptions) {
    super(service, options);
  }

  /**
   * Starts the service: moves to `starting` now, and calls `runWithLifecycle` in a microtask.
   * @returns a promise that resolves when the service has stopped (after its hooks' promises),
   * and rejects with the crash error — or with `AlreadyRunningError`
   * (`ERR_OVERSEER_ALREADY_RUNNING`) while the previous run has not settled.
   */
  run(): Promise<void> {
    const run = this.begin();
    if (run === undefined) return Promise.reject(new AlreadyRunningError(this.name));
    return run.whenDone();
  }

  /**
   * Requests a stop: aborts `signal` at once, and `shutdownSignal` at the deadline. Harmless when
   * repeated; an earlier deadline wins.
   * @returns a promise of the final state (`'stopped'` or `'crashed'`); it never rejects, and
   * resolves at once when no run is in progress.
   * @throws {TypeError} when an option is malformed or unknown.
   */
  stop(options: StopOptions = noStopOptions): Promise<State> {
    if (options !== noStopOptions) assertStopOptions(options);
    const run = this.lastRun;
    if (run === undefined || run.phase === 'settled') return Promise.resolve(this.state);
    if (run.phase === 'active') {
      const { timeout, signal, reason } = options;
      if (!run.stopRequested) {
        run.requestStop(reason === undefined ? stopRequestedReason() : stopReasonFor(reason));
      }
      if (timeout !== undefined) run.expireIn(timeout, this.settings.clock);
      if (signal !== undefined) run.expireWith(signal, this.settings.clock);
    }
    return run.whenEnded();
  }

  /**
   * Waits for the current run to end.
   * @returns a promise that resolves once stopped (at once when idle or stopped), and rejects with
   * `error` when the service crashed (at once when it already has); with `WaitTimeoutError`
   * (`ERR_OVERSEER_WAIT_TIMEOUT`) after `options.timeout` ms, or `WaitAbortedError`
   * (`ERR_OVERSEER_WAIT_ABORTED`) when `options.signal` aborts. The service goes on either way.
   * @throws {TypeError} when an option is malformed or unknown.
   */
  wait(options: WaitOptions = noWaitOptions): Promise<void> {
    if (options === noWaitOptions) return this.#outcome();
    assertWaitOptions(options);
    const outcome = () => this.#outcome();
    return waitWithin(this.name, 'to end', options, this.settings.clock, listenForEnd(outcome));
  }

  /**
   * Waits until the service reports `running`: at once if it does; through the next run if idle.
   * Rejects with `NotRunningError` (`ERR_OVERSEER_NOT_RUNNING`) if it stops or crashes first
   * (`cause`: the crash error — a pool's names the failed child), or begins to stop when asked
   * to; and like {@link Lifecycle.wait} on a timeout or an aborted signal. A run that begins to
   * stop on its own, or past its `startTimeout`, is waited for to its end, for the `cause`.
   * @throws {TypeError} when an option is malformed or unknown.
   */
  whenRunning(options: WaitOptions = noWaitOptions): Promise<void> {
    assertWaitOptions(options);
    const { clock } = this.settings;
    const listen = listenForRunning(this, () => this.#failing());
    return waitWithin(this.name, 'to be running', options, clock, listen);
  }

  /**
   * Resolves when a stop is requested (at once if one has been), or at the latest when the
   * service has returned; never rejects. Builds no `AbortSignal`. While the lifecycle is idle it
   * waits for the next run's stop request.
   */
  whenStopRequested(): Promise<void> {
    return this.moment('stopMoment').promise();
  }

  /**
   * Resolves once the shutdown deadline passes, when `shutdownSignal` aborts (at once if it has),
   * or at the latest when the run has settled; never rejects. Builds no `AbortSignal`. While the
   * lifecycle is idle it waits for the next run's deadline.
   */
  whenDeadlinePassed(): Promise<void> {
    return this.moment('deadlineMoment').promise();
  }

  /**
   * Waits `ms` on the lifecycle's clock, unless a stop is requested first (or the service
   * returns): resolves `true` after `ms`, `false` as soon as a stop is requested (at once if one
   * has been). Its timer is cleared when it resolves `false`. Idle: sleeps until the next run's
   * stop request. `ms` may be `Infinity` (until the stop request).
   * @throws {TypeError} when `ms` is not a number of milliseconds from 0, or `Infinity`.
   */
  sleep(ms: number): Promise<boolean> {
    assertDuration(ms, 'ms');
    return sleepUntil(this.moment('stopMoment'), this.settings.clock, ms);
  }

  /**
   * The lifecycle's logger (a group's, for its children) with `{ service: name }` in the metadata
   * of every call, for the service's own lines. A logger that throws is ignored.
   */
  get logger(): Logger {
    return (this.#logger ??= boundLogger(this.settings.logger, this.name));
  }

  /**
   * Reports a non-fatal error (a value that is not an `Error` is wrapped as a thrown one is): it
   * is logged at `warn` with the service's name, emitted as `'serviceError'`, counted, and kept in
   * the snapshot's `recentErrors` (the last 10). The state never changes.
   */
  reportError(error: unknown): void {
    const { logger, clock } = this.settings;
    reportServiceError(this, toError(this.name, error), logger, clock, this.hooks, this.lastRun);
  }

  /** Stops the service (as `stop()` does) and waits for the run to end: `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * The state of this service and of everything under it (a pool's children, recursively);
   * render it with `formatTree`.
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

  /** Adds a hook called when the service reports a non-fatal error (`reportError`). */
  onServiceError(hook: LifecycleEvents<S>['serviceError']): this {
    return this.#addHook('serviceError', hook);
  }

  /**
   * Listens to a lifecycle event: the same events as the hook methods, plus `'hookError'`.
   * @throws {TypeError} for an unknown event or a listener that is not a function.
   */
  on<E extends keyof LifecycleEvents<S>>(event: E, listener: LifecycleEvents<S>[E]): this {
    this.listen(event, listener, false);
    return this;
  }

  /** Like {@link Lifecycle.on}, but the listener is removed after its first call. */
  once<E extends keyof LifecycleEvents<S>>(event: E, listener: LifecycleEvents<S>[E]): this {
    this.listen(event, listener, true);
    return this;
  }

  /** Removes a listener or hook (all of the event's, when `listener` is omitted). */
  off<E extends keyof LifecycleEvents<S>>(event: E, listener?: LifecycleEvents<S>[E]): this {
    assertEvent(event);
    this.hooks?.remove(event, listener as ((...args: unknown[]) => unknown) | undefined);
    return this;
  }

  /** How many hooks and listeners `event` has. @throws {TypeError} for an unknown event. */
  listenerCount(event: keyof LifecycleEvents): number {
    assertEvent(event);
    return this.hooks?.count(event) ?? 0;
  }

  /** @internal Why the current run was asked to stop, for log lines; see `stopReasonOf`. */
  [stopReason](): unknown {
    const run = this.lastRun;
    return run?.phase === 'settled' ? undefined : run?.stopReason;
  }

  #addHook(event: HookEvent, hook: unknown): this {
    assertFunction(hook, 'hook');
    this.listen(event, hook, false);
    return this;
  }

  /** Whether the run stops on its own (a group whose child failed) or with an error already due. */
  #failing(): boolean {
    const run = this.lastRun;
    return run?.phase === 'active' && (!run.stopRequested || run.error !== undefined);
  }

  /** What wait() settles like: the current run's end, or how the last one ended. */
  #outcome(): Promise<void> {
    const run = this.lastRun;
    if (run !== undefined && run.phase !== 'settled') return run.whenDone();
    const error = this.error;
    return error === undefined ? Promise.resolve() : Promise.reject(error);
  }
}
