import { once } from 'node:events';
import type { Lifecycle, Service } from '../../lib/index.js';

/** Options of {@link QueueConsumer}. */
export interface QueueConsumerOptions {
  /** How often the consumer's loop takes a message, in ms. */
  every: number;
  /** The broker it reads from: here a pretend one, whose `ping()` a real client would send. */
  broker: { ping(): Promise<void> };
}

/**
 * A pretend queue consumer with both checks a service can have:
 *
 * - `healthCheck()` (readiness): can it serve now? It pings its broker. A broker that is down
 *   makes the pod not ready (`/readyz` 503), and never not live: restarting the pod would not
 *   bring the broker back.
 * - `livenessCheck()` (liveness): is it stuck? Its loop must have turned within three periods;
 *   a loop that stopped turning is what only a restart fixes (`/livez` 503).
 */
export class QueueConsumer implements Service {
  readonly name = 'jobs';
  readonly #options: QueueConsumerOptions;
  #lastTurn = performance.now();

  constructor(options: QueueConsumerOptions) {
    this.#options = options;
  }

  async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    this.#lastTurn = performance.now();
    const loop = setInterval(() => {
      this.#lastTurn = performance.now(); // … and take a message
    }, this.#options.every);
    lifecycle.running();
    if (!lifecycle.signal.aborted) await once(lifecycle.signal, 'abort');
    lifecycle.stopping();
    clearInterval(loop);
  }

  healthCheck(): Promise<void> {
    return this.#options.broker.ping();
  }

  livenessCheck(): void {
    const idle = performance.now() - this.#lastTurn;
    if (idle > 3 * this.#options.every) {
      throw new Error(`the consumer loop has not turned for ${Math.round(idle)} ms`);
    }
  }
}
