import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lifecycle, Logger, Service } from '../../lib/index.js';

/** Options of {@link JobWorker}. */
export interface JobWorkerOptions {
  name: string;
  /** How often a job is taken off the queue, in ms. */
  every: number;
  /** How long a job takes, in ms. */
  takes: number;
  logger: Logger;
}

/**
 * Works through a pretend job queue, one job at a time. It shows the two signals of a stop:
 * `lifecycle.signal` (take no new job) and the shutdown signal (give up on the job in hand).
 */
export class JobWorker implements Service {
  readonly name: string;
  readonly #options: JobWorkerOptions;

  constructor(options: JobWorkerOptions) {
    this.name = options.name;
    this.#options = options;
  }

  async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    let taken = 0;
    let current: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (current) return; // still busy: one job at a time
      current = this.#work(++taken, lifecycle.shutdownSignal).finally(() => {
        current = undefined;
      });
    }, this.#options.every);
    lifecycle.running();

    if (!lifecycle.signal.aborted) await once(lifecycle.signal, 'abort');
    lifecycle.stopping();
    clearInterval(timer);
    if (current) {
      this.#options.logger.info('finishing the job in hand before stopping', { job: taken });
      await current;
    }
  }

  /** Does one job; never rejects, so a job cut off by the deadline cannot crash the worker. */
  async #work(job: number, deadline: AbortSignal): Promise<void> {
    const { logger, takes } = this.#options;
    logger.info('job started', { job });
    try {
      await sleep(takes, undefined, { signal: deadline });
      logger.info('job done', { job });
    } catch {
      logger.warn('job abandoned at the shutdown deadline', { job });
    }
  }
}
