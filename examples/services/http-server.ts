import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Lifecycle, Logger, Service } from '../../lib/index.js';

/** Options of {@link HttpServer}. */
export interface HttpServerOptions {
  name: string;
  /** The address to listen on; keep it on loopback unless the world should reach it. */
  host: string;
  /** 0 lets the operating system pick a free port (the log says which). */
  port: number;
  handler: RequestListener;
  logger: Logger;
}

/**
 * An HTTP server as a service: running once it listens, and on stop it closes gracefully —
 * no new connections, in-flight requests finish, and whatever is still open at the shutdown
 * deadline is cut off.
 */
export class HttpServer implements Service {
  readonly name: string;
  readonly #options: HttpServerOptions;

  constructor(options: HttpServerOptions) {
    this.name = options.name;
    this.#options = options;
  }

  async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    const { host, port, handler, logger } = this.#options;
    const server = createServer(handler);
    // A keep-alive connection whose request was in flight when the stop came would sit idle
    // until keepAliveTimeout (5 s) and hold close() up: drop it as soon as its response is sent.
    server.on('request', (_request, response) => {
      response.on('finish', () => {
        if (!server.listening) server.closeIdleConnections();
      });
    });

    // 1. Initialise. `once` rejects when 'error' comes before 'listening' (EADDRINUSE, EACCES):
    // the service throws, so its lifecycle crashes, and so does every pool above it.
    server.listen(port, host);
    await once(server, 'listening');
    // Past this point errors are per-connection (say, EMFILE on accept): log them, keep serving.
    server.on('error', (error) => logger.error('server error', { error }));
    logger.info('listening', { url: urlOf(server) });
    lifecycle.running();

    // 2. Serve until a stop is requested (it may already have been, while we were starting).
    if (!lifecycle.signal.aborted) await once(lifecycle.signal, 'abort');

    // 3. Report stopping, and drain within the shutdown deadline.
    await this.#close(server, lifecycle.stopping());
    // 4. Returning tells the lifecycle the service has stopped.
  }

  async #close(server: Server, deadline: AbortSignal): Promise<void> {
    const closed = new Promise<void>((resolve, reject) => {
      server.close((error) => {
        if (error) reject(error);
        else resolve();
      });
    });
    server.closeIdleConnections();
    const cutOff = () => {
      this.#options.logger.warn('shutdown deadline reached, closing open connections');
      server.closeAllConnections();
    };
    if (deadline.aborted) cutOff();
    else deadline.addEventListener('abort', cutOff, { once: true });
    try {
      await closed;
    } finally {
      // Leave nothing behind: the signal lives on after the run.
      deadline.removeEventListener('abort', cutOff);
    }
  }
}

function urlOf(server: Server): string {
  const { address, family, port } = server.address() as AddressInfo;
  return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}/`;
}
