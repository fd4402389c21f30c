/**
 * The timer functions overseer uses for deadlines, so tests can drive time by hand (for example
 * with `@sinonjs/fake-timers`' `createClock()`).
 */
export interface Clock {
  /**
   * Milliseconds since the Unix epoch (the system clock's is monotonic: `performance.timeOrigin +
   * performance.now()`). Deadlines use differences only; `lifecycle.since` and snapshots show it.
   */
  now(): number;
  /** Calls `callback` once, `ms` milliseconds from now; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a callback scheduled by `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

// Read once: it never changes, and its getter calls into Node's bindings.
const timeOrigin = performance.timeOrigin;

/**
 * The real clock. It looks the global timer functions (and `performance.now`) up at each call,
 * so globally installed fake timers apply to it too.
 */
export const systemClock: Clock = Object.freeze({
  // Monotonic, unlike Date.now(), so a clock adjustment never shortens a deadline.
  now: () => timeOrigin + performance.now(),
  setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms),
  clearTimeout: (handle: unknown) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
});
