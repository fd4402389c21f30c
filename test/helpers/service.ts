import { once } from 'node:events';
import type { Lifecycle, Service } from '../../lib/index.js';

/** How a {@link ControlledService} behaves on its own, before the test steps in. */
export interface Behaviour {
  /** Report `running` as soon as it starts (default), or only when `reportRunning()` is called. */
  running?: 'immediately' | 'manually';
  /**
   * What it does once its signal aborts: `'stop'` (default) reports stopping and returns;
   * `'crash'` reports stopping and throws; `'await-deadline'` reports stopping and returns only
   * once the shutdown signal aborts; `'ignore'` does nothing (the test ends it by hand).
   */
  whenAsked?: 'stop' | 'crash' | 'await-deadline' | 'ignore';
}

/**
 * A service a test drives step by step: it records what happened to it and exposes promises for
 * "it started" and "its run ended", so tests wait on events, never on sleeps.
 */
export class ControlledService implements Service {
  readonly name: string;
  readonly behaviour: Required<Behaviour>;
  /** Every lifecycle that ran it, one entry per run. */
  readonly runs: Lifecycle[] = [];
  /** The error `crash()` and `whenAsked: 'crash'` throw, unless one is given. */
  readonly error: Error;
  #finish: (() => void) | undefined;
  #fail: ((error: unknown) => void) | undefined;
  #started: Promise<Lifecycle> | undefined;
  #resolveStarted: ((lifecycle: Lifecycle) => void) | undefined;

  constructor(name = 'service', behaviour: Behaviour = {}) {
    this.name = name;
    this.behaviour = { running: 'immediately', whenAsked: 'stop', ...behaviour };
    this.error = new Error(`${name} failed`);
  }

  /** The lifecycle of the current (latest) run. */
  get lifecycle(): Lifecycle {
    const lifecycle = this.runs.at(-1);
    if (lifecycle === undefined) throw new Error(`${this.name} has not run`);
    return lifecycle;
  }

  /** Resolves once `runWithLifecycle` has been called (again, after the runs so far). */
  started(): Promise<Lifecycle> {
    this.#started ??= new Promise((resolve) => (this.#resolveStarted = resolve));
    return this.#started;
  }

  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    this.runs.push(lifecycle);
    const ended = new Promise<void>((resolve, reject) => {
      this.#finish = resolve;
      this.#fail = reject;
    });
    if (this.behaviour.running === 'immediately') lifecycle.running();
    if (this.behaviour.whenAsked !== 'ignore') void this.#reactToStop(lifecycle);
    this.#resolveStarted?.(lifecycle);
    this.#started = undefined;
    return ended;
  }

  /** Reports `running` from inside the service. */
  reportRunning(): void {
    this.lifecycle.running();
  }

  /** Reports `stopping` from inside the service. */
  reportStopping(): AbortSignal {
    return this.lifecycle.stopping();
  }

  /** Ends the current run cleanly (resolves `runWithLifecycle`). */
  finish(): void {
    this.#finish?.();
  }

  /** Ends the current run with an error (rejects `runWithLifecycle`). */
  crash(error: unknown = this.error): void {
    this.#fail?.(error);
  }

  async #reactToStop(lifecycle: Lifecycle): Promise<void> {
    if (!lifecycle.signal.aborted) await once(lifecycle.signal, 'abort');
    const shutdown = lifecycle.stopping();
    switch (this.behaviour.whenAsked) {
      case 'crash':
        this.crash();
        return;
      case 'await-deadline':
        if (!shutdown.aborted) await once(shutdown, 'abort');
        this.finish();
        return;
      default:
        this.finish();
    }
  }
}

/** A service with the given name whose run is the given function. */
export function serviceOf(
  name: string,
  run: (lifecycle: Lifecycle) => Promise<void> | void,
): Service {
  return { name, runWithLifecycle: run };
}
