import type { Clock } from '../clock.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { isActive, type State } from '../state.js';
import { flushLogger } from './flush-logger.js';
import { log } from './log.js';
import { faultReason, listenForFaults, printFault, type FaultKind } from './process-faults.js';
import { activeServices } from './tree.js';
import { maxTimeout } from './validate.js';

/** The exit codes `handleSignals` uses: a clean stop, a crash or a fault, and a forced exit. */
export const exitCodes = Object.freeze({ stopped: 0, crashed: 1, forced: 2 });

/** The checked options of `handleSignals`. */
export interface SignalSettings {
  signals: readonly NodeJS.Signals[];
  timeout: number;
  grace: number;
  exit: (code: number) => void;
  logger: Logger;
  clock: Clock;
  faults: boolean;
  flushTimeout: number;
  /** No logger was given: faults are written to stderr, as Node would have. */
  printFaults: boolean;
}

/**
 * A terminal and a wrapper (npm, tsx) each deliver Ctrl+C: the same signal this soon after the
 * first is the same request, not a second one that forces the exit.
 */
const sameSignalWindow = 250;

/**
 * What happens to the process: nothing yet, a stop under way, the logs flushing before the exit,
 * or done (exited, or the listeners removed).
 */
type Phase = 'waiting' | 'stopping' | 'exiting' | 'done';

/** The listeners and timers of one `handleSignals` call. */
export class SignalHandler {
  readonly #lifecycle: Lifecycle;
  readonly #settings: SignalSettings;
  #phase: Phase = 'waiting';
  /** The signal that started the stop, and when. */
  #first: { signal: NodeJS.Signals; at: number } | undefined;
  /** A fault requested the stop: the exit code is `crashed` whatever the final state. */
  #faulted = false;
  #forceTimer: unknown;
  #cancelFlush: (() => void) | undefined;
  #stopListeningForFaults: (() => void) | undefined;
  /** The ref'd handle that keeps the process alive while the root runs. */
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  /** The end of the run the keep-alive is held for. */
  #runEnd: Promise<void> | undefined;

  constructor(lifecycle: Lifecycle, settings: SignalSettings) {
    this.#lifecycle = lifecycle;
    this.#settings = settings;
  }

  /** Adds the listeners (all signal listeners or none); returns the function that removes them. */
  listen(): () => void {
    const { signals, faults } = this.#settings;
    const added: NodeJS.Signals[] = [];
    try {
      for (const signal of signals) {
        process.on(signal, this.#onSignal);
        added.push(signal);
      }
    } catch (error) {
      for (const signal of added) process.off(signal, this.#onSignal);
      throw error;
    }
    if (faults) this.#stopListeningForFaults = listenForFaults(this.#onFault);
    this.#lifecycle.on('stateChange', this.#onStateChange);
    if (isActive(this.#lifecycle.state)) this.#holdWhileRunning();
    return () => {
      this.#remove();
    };
  }

  readonly #onSignal = (signal: NodeJS.Signals): void => {
    const { logger, timeout, clock } = this.#settings;
    const service = this.#lifecycle.name;
    if (this.#phase === 'done') return;
    if (this.#phase === 'waiting') {
      this.#first = { signal, at: clock.now() };
      log(logger, 'info', 'received signal, stopping', { service, signal, timeout });
      this.#stop(signal);
    } else if (this.#repeatsFirst(signal)) {
      log(logger, 'debug', 'received signal again, same request', { service, signal });
    } else {
      this.#force(`received ${signal} again`);
    }
  };

  #repeatsFirst(signal: NodeJS.Signals): boolean {
    const first = this.#first;
    if (first?.signal !== signal) return false;
    return this.#settings.clock.now() - first.at < sameSignalWindow;
  }

  readonly #onFault = (kind: FaultKind, error: unknown): void => {
    const { logger, timeout, printFaults } = this.#settings;
    if (printFaults) printFault(kind, error);
    if (this.#phase !== 'waiting') {
      this.#force(`${kind} while stopping`, error);
      return;
    }
    this.#faulted = true;
    log(logger, 'error', `${kind}, stopping`, { service: this.#lifecycle.name, error, timeout });
    this.#stop(faultReason(kind, error));
  };

  #stop(reason: string | Error): void {
    const { timeout, grace, clock } = this.#settings;
    this.#phase = 'stopping';
    if (timeout + grace !== Infinity) {
      this.#forceTimer = clock.setTimeout(() => {
        this.#forceTimer = undefined;
        this.#force(`the stop took longer than ${timeout} ms + ${grace} ms grace`);
      }, timeout + grace);
    }
    void this.#lifecycle.stop({ timeout, reason }).then((state) => {
      this.#finish(state);
    });
  }

  #finish(state: State): void {
    if (this.#phase !== 'stopping') return;
    const code = this.#faulted || state === 'crashed' ? exitCodes.crashed : exitCodes.stopped;
    log(this.#settings.logger, 'info', 'exiting', { service: this.#lifecycle.name, state, code });
    this.#exit(code);
  }

  #force(reason: string, error?: unknown): void {
    // While the logs flush, a second request cuts the wait short.
    if (this.#phase === 'exiting') this.#exitNow(exitCodes.forced);
    if (this.#phase !== 'stopping') return;
    const unstopped = activeServices(this.#lifecycle);
    const meta = error === undefined ? { reason, unstopped } : { reason, unstopped, error };
    log(this.#settings.logger, 'error', 'forcing exit', meta);
    this.#exit(exitCodes.forced);
  }

  /** Waits for the logger to write its lines (bounded by `flushTimeout`), then exits. */
  #exit(code: number): void {
    const { logger, flushTimeout, clock } = this.#settings;
    this.#phase = 'exiting';
    this.#clearForceTimer();
    this.#cancelFlush = flushLogger(logger, flushTimeout, clock, () => {
      this.#exitNow(code);
    });
  }

  /** Exits now: called once, since the flush calls back at most once and never once cancelled. */
  #exitNow(code: number): void {
    this.#phase = 'done';
    this.#cancelFlush?.();
    // An exit that returns (one that only sets process.exitCode) leaves faults to Node again.
    this.#stopListeningForFaults?.();
    try {
      this.#settings.exit(code);
    } catch (error) {
      log(this.#settings.logger, 'error', 'exit failed', { service: this.#lifecycle.name, error });
    }
  }

  readonly #onStateChange = (_service: unknown, _lifecycle: unknown, state: State): void => {
    if (state === 'starting') this.#holdWhileRunning();
  };

  /**
   * Signal and fault listeners do not keep Node alive: a program whose services only await their
   * signal would exit at once, stopping nothing. One ref'd handle does, until the run ends.
   */
  #holdWhileRunning(): void {
    this.#keepAlive ??= setInterval(ignore, maxTimeout);
    const runEnd = this.#lifecycle.wait();
    this.#runEnd = runEnd;
    const release = () => {
      if (this.#runEnd === runEnd) this.#release();
    };
    runEnd.then(release, release);
  }

  #release(): void {
    clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
    this.#runEnd = undefined;
  }

  #remove(): void {
    for (const signal of this.#settings.signals) process.off(signal, this.#onSignal);
    this.#stopListeningForFaults?.();
    this.#lifecycle.off('stateChange', this.#onStateChange);
    this.#release();
    this.#phase = 'done';
    this.#clearForceTimer();
    this.#cancelFlush?.();
  }

  #clearForceTimer(): void {
    if (this.#forceTimer !== undefined) this.#settings.clock.clearTimeout(this.#forceTimer);
    this.#forceTimer = undefined;
  }
}

function ignore(): void {
  // The interval only holds the event loop open; it has nothing to do.
}
