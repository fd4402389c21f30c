import { EventEmitter } from 'eventemitter3';
import type { Clock } from '../clock.js';
import type { Lifecycle } from '../lifecycle.js';
import type { HookEvent, LifecycleEvents } from '../lifecycle-events.js';
import type { Logger } from '../logger.js';
import type { Service } from '../service.js';
import type { State } from '../state.js';
import { log } from './log.js';
import { isThenable } from './thenable.js';
import { invalid } from './validate.js';

type Hook = (...args: unknown[]) => unknown;

/** Where the promises a run's hooks return are kept until the run settles. */
export interface HookSink {
  hookReturned(promise: PromiseLike<unknown>, event: HookEvent, hooks: Hooks): void;
}

/**
 * Every hook is registered as `invokeHook` with the user's function as the listener's context,
 * so eventemitter3 keeps handling `on`/`once`/`off` while each call is isolated: eventemitter3
 * lets a throwing listener throw into `emit` (skipping the rest) and ignores returned promises.
 */
function invokeHook(
  this: Hook,
  service: unknown,
  lifecycle: unknown,
  extra: unknown,
  hooks: Hooks,
): void {
  try {
    const result = extra === undefined ? this(service, lifecycle) : this(service, lifecycle, extra);
    if (isThenable(result)) hooks.returned(result);
  } catch (error) {
    hooks.report(error, hooks.emitting as HookEvent);
  }
}

/** The same isolation for `'hookError'` listeners, whose own failures are only logged. */
function invokeHookErrorListener(this: Hook, error: unknown, event: HookEvent, hooks: Hooks): void {
  try {
    const result = this(error, event);
    if (isThenable(result)) {
      result.then(undefined, (listenerError: unknown) => {
        hooks.log('hookError listener failed', 'hookError', listenerError);
      });
    }
  } catch (listenerError) {
    hooks.log('hookError listener failed', 'hookError', listenerError);
  }
}

function invokerOf(event: keyof LifecycleEvents): Hook {
  return event === 'hookError' ? (invokeHookErrorListener as Hook) : (invokeHook as Hook);
}

/** A lifecycle's hooks and listeners, and the isolation every call of one goes through. */
export class Hooks {
  /**
   * The event whose hooks are running, if any: a transition they ask for waits until they are
   * done, and what they return or throw is attributed to it.
   */
  emitting: HookEvent | undefined;
  // Where the promises of the hooks running now go (set for the duration of `emit`).
  #sink: HookSink | undefined;
  /** The transitions the hooks asked for while they ran, made once they are done, in order. */
  readonly requested: State[] = [];
  /** When hooks' promises began, for `hookTimeout`. */
  readonly clock: Clock;
  /** How long a run waits for a promise a hook returned, in ms. */
  readonly hookTimeout: number;
  /** The service's name, for logs and `HookTimeoutError`. */
  readonly service: string;
  readonly #emitter = new EventEmitter();
  readonly #logger: Logger;

  constructor(logger: Logger, clock: Clock, hookTimeout: number, service: string) {
    this.#logger = logger;
    this.clock = clock;
    this.hookTimeout = hookTimeout;
    this.service = service;
  }

  /** Whether `event` has listeners, so a caller can skip building its arguments. */
  listens(event: keyof LifecycleEvents): boolean {
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
   * Calls the listeners of `event` in the order they were added, each isolated; the promises they
   * return go to `sink`.
   */
  emit(sink: HookSink, event: HookEvent, service: Service, lifecycle: Lifecycle, extra?: unknown) {
    if (!this.listens(event)) return;
    // Saved and restored, not assumed empty: a hook may make another lifecycle emit, but never
    // this one (its transitions wait in `requested`), so nesting here is only defensive.
    const outerEvent = this.emitting;
    const outerSink = this.#sink;
    this.emitting = event;
    this.#sink = sink;
    try {
      this.#emitter.emit(event, service, lifecycle, extra, this);
    } finally {
      this.emitting = outerEvent;
      this.#sink = outerSink;
    }
  }

  /** A hook of the event being emitted returned a promise: the run waits for it. */
  returned(promise: PromiseLike<unknown>): void {
    const event = this.emitting;
    if (this.#sink !== undefined && event !== undefined)
      this.#sink.hookReturned(promise, event, this);
  }

  /** Logs a hook's failure and emits `'hookError'` `(error, event)`. */
  report(error: unknown, event: HookEvent): void {
    this.log('lifecycle hook failed', event, error);
    this.#emitter.emit('hookError', error, event, this);
  }

  /** Logs at error level, through the guard: a broken logger changes nothing. */
  log(message: string, event: keyof LifecycleEvents, error: unknown): void {
    log(this.#logger, 'error', message, { service: this.service, event, error });
  }
}

const events: ReadonlySet<string> = new Set<keyof LifecycleEvents>([
  'stateChange',
  'starting',
  'running',
  'stopping',
  'stopped',
  'crashed',
  'serviceError',
  'hookError',
]);

/** Throws a `TypeError` unless `event` is a lifecycle event name. */
export function assertEvent(event: unknown): asserts event is keyof LifecycleEvents {
  if (typeof event !== 'string' || !events.has(event)) {
    invalid('event', `one of ${[...events].join(', ')}`, event);
  }
}
