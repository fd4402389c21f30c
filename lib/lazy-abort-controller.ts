/**
 * An `AbortController` whose signal is only built when someone asks for it: creating a signal
 * costs about 3.5 µs and 768 bytes on Node 20, and most services in a large pool never read
 * theirs.
 */
export class LazyAbortController {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Whether the signal has been built (someone holds it). */
  get created(): boolean {
    return this.#controller !== undefined;
  }

  get signal(): AbortSignal {
    this.#controller ??= this.#createController();
    return this.#controller.signal;
  }

  /** Aborts with `reason`; returns false (and changes nothing) when already aborted. */
  abort(reason: unknown): boolean {
    if (this.#aborted) return false;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    return true;
  }

  #createController(): AbortController {
    const controller = new AbortController();
    if (this.#aborted) controller.abort(this.#reason);
    return controller;
  }
}
