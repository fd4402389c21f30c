import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { isThenable } from './thenable.js';

type Listener = (...args: unknown[]) => void;

/** A writable stream, as far as waiting for its end goes. */
interface Finishable {
  once(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
  writableFinished?: boolean;
  _writableState?: { finished?: boolean };
}

/** A winston logger, recognised by its shape: winston itself is never imported. */
interface StreamLogger extends Finishable {
  on(event: string, listener: Listener): unknown;
  end(): unknown;
  readonly transports: readonly Finishable[];
}

/** A logger with `flush()`: synchronous, returning a promise, or calling back like pino's. */
interface FlushableLogger {
  flush(callback: () => void): unknown;
}

/**
 * Waits, `timeout` ms at most by `clock`, for `logger` to write out the lines it holds, then
 * calls `done`: at once (synchronously) when there is nothing to wait for. A winston logger is
 * ended and every transport waited for (its `'finish'`, or an `'error'`); another logger's
 * `flush()` is called and waited for when it calls back or returns a promise. It never throws: a
 * logger that fails to flush counts as flushed.
 *
 * @returns a function that cancels the wait: `done` is not called, and no timer or listener is
 * left behind.
 */
export function flushLogger(
  logger: Logger,
  timeout: number,
  clock: Clock,
  done: () => void,
): () => void {
  const wait = new FlushWait(done);
  if (timeout > 0) {
    try {
      if (isStreamLogger(logger)) endStreamLogger(logger, wait);
      else if (isFlushable(logger)) callFlush(logger, wait);
    } catch {
      // A logger whose shape lies (a getter that throws) is not waited for.
    }
  }
  return wait.start(timeout, clock);
}

function isStreamLogger(logger: unknown): logger is StreamLogger {
  const candidate = logger as Partial<StreamLogger>;
  return (
    typeof candidate.end === 'function' &&
    typeof candidate.on === 'function' &&
    Array.isArray(candidate.transports)
  );
}

function isFlushable(logger: unknown): logger is FlushableLogger {
  return typeof (logger as Partial<FlushableLogger>).flush === 'function';
}

function endStreamLogger(logger: StreamLogger, wait: FlushWait): void {
  // Read before end(): an ended logger unpipes its transports.
  const transports = [...logger.transports];
  // A line logged after the exit's last one would make winston throw "write after end" at its
  // caller (an uncaught exception in the middle of the exit); it is dropped instead.
  logger.on('error', ignore);
  for (const transport of transports) {
    if (transport.writableFinished !== true && transport._writableState?.finished !== true) {
      wait.forEvent(transport, 'finish');
    }
  }
  logger.end();
}

function callFlush(logger: FlushableLogger, wait: FlushWait): void {
  const flushed = wait.add();
  try {
    const result: unknown = logger.flush(flushed);
    if (isThenable(result)) result.then(flushed, flushed);
    else if (logger.flush.length === 0) flushed();
  } catch {
    flushed();
  }
}

function ignore(): void {
  // The process is exiting: there is nowhere left to report it.
}

/** What one flush waits for: a count of pending things, a bound, and how to clean up. */
class FlushWait {
  readonly #done: () => void;
  readonly #cleanups: (() => void)[] = [];
  #pending = 0;
  #started = false;
  #drainStarted = false;
  #settled = false;
  #timer: unknown;
  #clock: Clock | undefined;

  constructor(done: () => void) {
    this.#done = done;
  }

  /** One more thing to wait for; returns the function that reports it done (once). */
  add(): () => void {
    this.#pending++;
    let called = false;
    return () => {
      if (called) return;
      called = true;
      this.#pending--;
      if (this.#pending === 0 && this.#started) this.#idle();
    };
  }

  /** Waits for `event`, or an `'error'`, on `stream`; both listeners go once the wait settles. */
  forEvent(stream: Finishable, event: string): void {
    const finished = this.add();
    const listener = () => {
      finished();
    };
    this.#cleanups.push(() => {
      stream.off(event, listener);
      stream.off('error', listener);
    });
    stream.once(event, listener);
    stream.once('error', listener);
  }

  /** Arms the bound (none for `Infinity`); returns the function that cancels the wait. */
  start(timeout: number, clock: Clock): () => void {
    this.#started = true;
    if (timeout === 0) this.#settle(true);
    else if (this.#pending === 0) this.#idle();
    if (!this.#settled && timeout !== Infinity) {
      this.#clock = clock;
      this.#timer = clock.setTimeout(() => {
        this.#timer = undefined;
        this.#settle(true);
      }, timeout);
    }
    return () => {
      this.#settle(false);
    };
  }

  /** The logger is done; what it wrote to stdout or stderr may still wait in their buffers. */
  #idle(): void {
    if (!this.#drainStarted) {
      this.#drainStarted = true;
      for (const stream of [process.stdout, process.stderr]) this.#drain(stream);
    }
    if (this.#pending === 0) this.#settle(true);
  }

  #drain(stream: NodeJS.WriteStream): void {
    if (stream.writableLength === 0) return;
    const drained = this.add();
    try {
      // An empty write calls back once every write before it has reached the pipe or file.
      stream.write('', drained);
    } catch {
      drained();
    }
  }

  #settle(callDone: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#timer !== undefined) this.#clock?.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const cleanup of this.#cleanups) cleanup();
    if (callDone) this.#done();
  }
}
