import { EventEmitter } from 'eventemitter3';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import type { Service } from '../service.js';
import type { HookEvent, LifecycleEvents } from '../lifecycle-events.js';
import { invalid } from './validate.js';

type Hook = (...args: unknown[]) => unknown;

/** Where a run keeps the promises its hooks return; the list is created by the first one. */
export interface HookPromises {
  hookPromises: Promise<unknown>[] | undefined;
}

/** Where the hooks of one emission report: set for the duration of `emit` and `report`. */
let currentHooks: Hooks | undefined;
let currentEvent: HookEvent = 'stateChange';
let currentPending: HookPromises | undefined;

/**
 * Every hook is registered as `invokeHook` with the user's function as the listener's context,
 * so eventemitter3 keeps handling `on`/`once`/`off` while each call is isolated: eventemitter3
 * lets a throwing listener throw into `emit` (skipping the rest) and ignores returned promises.
 */
function invokeHook(this: Hook, service: unknown, lifecycle: unknown, extra: unknown): void {
  const hooks = currentHooks as Hooks;
  const event = currentEvent;
  try {
    // Fixed parameters, not a rest array: this runs for every hook at every transition.
    const result = extra === undefined ? this(service, lifecycle) : this(service, lifecycle, extra);
    if (isThenable(result) && currentPending) {
      (currentPending.hookPromises ??= []).push(hooks.guard(result, event));
    }
  } catch (error) {
    hooks.report(error, event);
  }
}

/** The same isolation for `'hookError'` listeners, whose own failures are only logged. */
function invokeHookErrorListener(this: Hook, error: unknown, event: HookEvent): void {
  const hooks = currentHooks as Hooks;
  try {
    const result = this(error, event);
    if (isThenable(result)) {
      Promise.resolve(result).then(undefined, (listenerError: unknown) => {
        hooks.log('hookError listener failed', 'hookError', listenerError);
      });
    }
  } catch (listenerError) {
    hooks.log('hookError listener failed', 'hookError', listenerError);
  }
}

function invokerOf(event: keyof LifecycleEvents): Hook {
  return event === 'hookError' ? (invokeHookErrorListener as Hook) : invokeHook;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** A lifecycle's listeners, and the isolation every hook call goes through. */
export class Hooks {
  /** True while the lifecycle's hooks run (kept here: only a lifecycle with hooks needs it). */
  emitting = false;
  readonly #emitter = new EventEmitter();
  readonly #logger: Logger;
  readonly #service: string;

  constructor(logger: Logger, service: string) {
    this.#logger = logger;
    this.#service = service;
  }

  /** Whether `event` has listeners, so a caller can skip building its arguments. */
  listens(event: HookEvent): boolean {
    return this.#emitter.listenerCount(event) > 0;
  }

  /** How many listeners `event` has. */
  count(event: keyof LifecycleEvents): number {
    return this.#emitter.listenerCount(event);
  }

  add(event: keyof LifecycleEvents, listener: Hook, once: boolean): void {
    if (once) this.#emitter.once(event, invokerOf(event), listener);
    else this.#emitter.on(event, invokerOf(event), listener);
  }

  /** Removes `listener` from `event`, or every listener of `event` when it is undefined. */
  remove(event: keyof LifecycleEvents, listener: Hook | undefined): void {
    if (listener === undefined) this.#emitter.off(event);
    else this.#emitter.off(event, invokerOf(event), listener);
  }

  /**
   * Calls the listeners of `event` in the order they were added; each promise they return is
   * added (already guarded against rejection) to `pending.hookPromises`.
   */
  emit(
    pending: HookPromises,
    event: HookEvent,
    service: Service,
    lifecycle: Lifecycle,
    extra?: unknown,
  ): void {
    if (!this.listens(event)) return;
    const outerHooks = currentHooks;
    const outerEvent = currentEvent;
    const outerPending = currentPending;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the emission's sink, restored below
    currentHooks = this;
    currentEvent = event;
    currentPending = pending;
    try {
      if (extra === undefined) this.#emitter.emit(event, service, lifecycle);
      else this.#emitter.emit(event, service, lifecycle, extra);
    } finally {
      currentHooks = outerHooks;
      currentEvent = outerEvent;
      currentPending = outerPending;
    }
  }

  /** A promise that fulfils once `result` settles, reporting a rejection instead of passing it on. */
  guard(result: PromiseLike<unknown>, event: HookEvent): Promise<unknown> {
    return Promise.resolve(result).then(undefined, (error: unknown) => {
      this.report(error, event);
    });
  }

  /** Logs a hook's failure and emits `'hookError'` `(error, event)`. */
  report(error: unknown, event: HookEvent): void {
    this.log('lifecycle hook failed', event, error);
    const outer = currentHooks;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the emission's sink, restored below
    currentHooks = this;
    try {
      this.#emitter.emit('hookError', error, event);
    } finally {
      currentHooks = outer;
    }
  }

  /** Logs at error level; a logger that throws is ignored. */
  log(message: string, event: keyof LifecycleEvents, error: unknown): void {
    try {
      this.#logger.error(message, { service: this.#service, event, error });
    } catch {
      // A hook's failure must never change the service's state (SPEC), and a broken logger is
      // no reason to crash a service either: the report is dropped.
    }
  }
}

const events: ReadonlySet<string> = new Set<keyof LifecycleEvents>([
  'stateChange',
  'starting',
  'running',
  'stopping',
  'stopped',
  'crashed',
  'hookError',
]);

/** Throws a `TypeError` unless `event` is a lifecycle event name. */
export function assertEvent(event: unknown): asserts event is keyof LifecycleEvents {
  if (typeof event !== 'string' || !events.has(event)) {
    invalid('event', `one of ${[...events].join(', ')}`, event);
  }
}
