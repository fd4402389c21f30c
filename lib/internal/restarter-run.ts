import type { EventEmitter } from 'eventemitter3';
import { AlreadyRunningError, RestartLimitError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { RestarterEvents, RestartMode } from '../restarter.js';
import type { State } from '../state.js';
import type { BackoffSettings } from './backoff.js';
import { RestartBudget } from './backoff.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { defer } from './deferred.js';
import { log } from './log.js';
import {
  expireRun,
  observeRun,
  reportStopping,
  startRun,
  stopRun,
  type Composite,
  type Owner,
} from './protocol.js';
import { reactionFailed, schedule } from './scheduler.js';
import { logStragglersOf, stragglersOf } from './group-log.js';

/** A restarter's options, checked, with defaults filled in. */
export interface RestarterSettings {
  readonly name: string;
  readonly mode: RestartMode;
  readonly backoff: BackoffSettings;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
}

/** Where a run of a restarter is: its child runs, it waits to restart it, or it has ended. */
type Phase = 'child' | 'waiting' | 'ended';

/** One run of a restarter: the child's runs, the failures that count, and the delay timer. */
export class RestarterRun implements Owner, Composite {
  readonly #restarter: EventEmitter<RestarterEvents>;
  readonly #settings: RestarterSettings;
  readonly #lifecycle: Lifecycle;
  readonly #child: Lifecycle;
  readonly #budget: RestartBudget;
  readonly #done = defer<undefined>();
  // 'waiting' also covers the moment before the first start, which is a step away.
  #phase: Phase = 'waiting';
  #stopping = false;
  #stopRequestedAt = 0;
  #timer: unknown;
  #attempts = 0;
  #failure: Error | undefined;

  constructor(
    restarter: EventEmitter<RestarterEvents>,
    settings: RestarterSettings,
    lifecycle: Lifecycle,
    child: Lifecycle,
  ) {
    this.#restarter = restarter;
    this.#settings = settings;
    this.#lifecycle = lifecycle;
    this.#child = child;
    this.#budget = new RestartBudget(settings.backoff, settings.random);
  }

  start(): Promise<undefined> {
    this.#lifecycle[observeRun](this);
    if (this.#lifecycle.shouldStop()) this.stopRequested(this.#lifecycle.signal.reason);
    else schedule(startChild, this, undefined, undefined);
    return this.#done.promise;
  }

  /** Starts the child (again); a reaction. */
  startChild(): void {
    this.#timer = undefined;
    if (this.#phase !== 'waiting') return;
    if (this.#stopping) {
      this.#finish(this.#failure);
      return;
    }
    // Asked to stop, but the reaction that tells it is still queued: it will end the run.
    if (this.#lifecycle.shouldStop()) return;
    if (!this.#child[startRun](this)) {
      this[reactionFailed](new AlreadyRunningError(this.#child.name));
      return;
    }
    this.#phase = 'child';
  }

  childChanged(_child: Lifecycle, state: State): void {
    // Ignored by the restarter's lifecycle after the first time: it stays running.
    if (state === 'running') this.#lifecycle.running();
  }

  childEnded(_child: Lifecycle, error: Error | undefined): void {
    this.#phase = 'waiting';
    if (this.#stopping) this.#finish(this.#failure ?? error);
    else if (error === undefined && this.#settings.mode === 'on-crash') this.#finish(undefined);
    else this.#restartLater(error);
  }

  stopRequested(reason: unknown): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stopRequestedAt = this.#settings.clock.now();
    this.#lifecycle[reportStopping]();
    if (this.#phase === 'child') this.#child[stopRun](this, reason);
    // Waiting: the stop cuts the delay short.
    else this.#finish(this.#failure);
  }

  deadlinePassed(reason: unknown): void {
    if (this.#phase !== 'child') return;
    const { logger, clock, name } = this.#settings;
    const supervisor = { kind: 'restarter', name, logger, clock } as const;
    const stragglers = stragglersOf(supervisor, [this.#child], () => this.#stopRequestedAt);
    this.#child[expireRun](this, reason);
    // Only now: the deadline must reach the child whatever the logger does.
    logStragglersOf(supervisor, stragglers);
  }

  [reactionFailed](error: Error): void {
    this.#failure ??= error;
    this.stopRequested(error);
  }

  #restartLater(error: Error | undefined): void {
    const { clock, backoff } = this.#settings;
    const delay = this.#budget.fail(clock.now());
    if (delay === undefined) {
      const failure = new RestartLimitError(
        this.#child.name,
        this.#budget.restarts,
        backoff.window,
        error,
      );
      this.#log('error', 'service failed too often, giving up', {
        restarts: failure.restarts,
        error,
      });
      this.#finish(failure);
      return;
    }
    const attempt = ++this.#attempts;
    this.#log('warn', 'service failed, restarting', { attempt, delay, error });
    this.#emitRestart(attempt, error, delay);
    this.#timer = clock.setTimeout(() => {
      schedule(startChild, this, undefined, undefined);
    }, delay);
  }

  /** Emits `'restart'`; a listener that throws is logged, and changes nothing. */
  #emitRestart(attempt: number, error: Error | undefined, delay: number): void {
    try {
      this.#restarter.emit('restart', attempt, error, delay);
    } catch (listenerError) {
      this.#log('error', 'restart listener failed', { error: listenerError });
    }
  }

  #finish(error: Error | undefined): void {
    if (this.#phase === 'ended') return;
    this.#phase = 'ended';
    if (this.#timer !== undefined) this.#settings.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (error === undefined) this.#done.resolve(undefined);
    else this.#done.reject(error);
  }

  #log(level: 'warn' | 'error', message: string, meta: Record<string, unknown>): void {
    const { logger, name } = this.#settings;
    log(logger, level, message, { service: this.#child.name, restarter: name, ...meta });
  }
}

function startChild(run: RestarterRun): void {
  run.startChild();
}
