import { once } from 'node:events';
import type { Lifecycle, Logger, Service } from '../../lib/index.js';

/** Logs a tick every `every` ms: the smallest possible background worker. */
export class Ticker implements Service {
  readonly name: string;
  readonly #every: number;
  readonly #logger: Logger;

  constructor(options: { name: string; every: number; logger: Logger }) {
    this.name = options.name;
    this.#every = options.every;
    this.#logger = options.logger;
  }

  async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    let ticks = 0;
    const timer = setInterval(() => {
      this.#logger.info('tick', { ticks: ++ticks });
    }, this.#every);
    lifecycle.running();

    if (!lifecycle.signal.aborted) await once(lifecycle.signal, 'abort');
    lifecycle.stopping();
    // A timer left behind would keep the process alive after everything else has stopped.
    clearInterval(timer);
  }
}
