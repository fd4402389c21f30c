import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { defer } from './internal/deferred.js';
import type { Lifecycle } from './lifecycle.js';
import type { Service } from './service.js';
import { assertName, assertOptions, invalid } from './internal/validate.js';

/** A `node:http` or `node:https` server: what {@link HttpServerService} runs. */
export type NodeHttpServer = HttpServer | HttpsServer;

/** Options of {@link HttpServerService}. */
export interface HttpServerServiceOptions {
  /** The service's name, in logs, errors and health reports. @default 'http' */
  name?: string;
  /** The TCP port to listen on; 0 lets the operating system pick a free one (see `.port`). @default 0 */
  port?: number;
  /**
   * The address to listen on.
   * @default every interface, as Node's `server.listen()` does: `::` (which on most systems also
   * accepts IPv4), or `0.0.0.0` where IPv6 is unavailable
   */
  host?: string;
}

// Every option, listed once; the compiler checks the list against HttpServerServiceOptions.
const optionNames = Object.keys({
  name: true,
  port: true,
  host: true,
} satisfies Record<keyof HttpServerServiceOptions, true>);

/**
 * A `node:http` or `node:https` server as a service (Express's or Fastify's underlying server
 * too). It reports `running` once the server listens; a listen error (`EADDRINUSE`, `EACCES`)
 * crashes it with that error. On stop it stops accepting connections, closes idle keep-alive
 * connections, lets in-flight requests finish, answers requests that arrive on open connections
 * meanwhile with `Connection: close`, and destroys every connection still open when the shutdown
 * deadline passes. It ends once the server has closed.
 *
 * A server that already listens when the run begins is adopted as it is (`port` and `host` are
 * not used) and closed on stop; a server closed by other code ends the run `stopped`.
 *
 * @example
 * ```ts
 * const web = new HttpServerService(createServer(app), { name: 'web', port: 8080 });
 * pool.add(web);
 * await new Lifecycle(pool).run();
 * ```
 */
export class HttpServerService<S extends NodeHttpServer = NodeHttpServer> implements Service {
  /** The service's name. */
  readonly name: string;
  /** The server this service runs. */
  readonly server: S;
  readonly #port: number;
  readonly #host: string | undefined;

  /**
   * @param server a `node:http` or `node:https` server, listening or not.
   * @throws {TypeError} when `server` is not an HTTP server, an option is unknown, or
   * `options.name`, `options.port` (an integer from 0 to 65535) or `options.host` (a non-empty
   * string) is wrong.
   */
  constructor(server: S, options: HttpServerServiceOptions = {}) {
    assertHttpServer(server, 'server');
    assertOptions(options, 'options', optionNames);
    const { name = 'http', port = 0, host } = options;
    assertName(name, 'options.name');
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535) {
      invalid('options.port', 'an integer from 0 to 65535', port);
    }
    if (host !== undefined) assertName(host, 'options.host');
    this.name = name;
    this.server = server;
    this.#port = port;
    this.#host = host;
  }

  /** The port the server is bound to while it listens; `undefined` otherwise. */
  get port(): number | undefined {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    const { server } = this;
    const drain = new Drain(server);
    try {
      if (!server.listening) {
        if (lifecycle.signal.aborted) {
          lifecycle.stopping();
          return;
        }
        await listen(server, this.#port, this.#host);
      }
      // A stop requested while the server was binding skips `running`: it drains at once.
      if (!lifecycle.signal.aborted) {
        lifecycle.running();
        await drain.untilAbortedOrClosed(lifecycle.signal);
      }
      if (!drain.closed) await drain.close(lifecycle.stopping());
    } finally {
      drain.dispose();
    }
  }
}

const serverMethods = ['listen', 'close', 'closeIdleConnections', 'closeAllConnections'] as const;

function assertHttpServer(value: unknown, argument: string): asserts value is NodeHttpServer {
  const ok =
    typeof value === 'object' &&
    value !== null &&
    serverMethods.every(
      (method) => typeof (value as Record<string, unknown>)[method] === 'function',
    );
  if (!ok) {
    invalid(
      argument,
      'a node:http or node:https Server (with listen, close, closeIdleConnections and closeAllConnections methods)',
      value,
    );
  }
}

/** Listens; rejects with the listen error. Leaves no listener behind either way. */
function listen(server: NodeHttpServer, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.removeListener('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.removeListener('error', onError);
      resolve();
    };
    server.once('error', onError).once('listening', onListening);
    try {
      server.listen({ port, host });
    } catch (error) {
      server.removeListener('error', onError).removeListener('listening', onListening);
      throw error;
    }
  });
}

/**
 * One run's watch over a server: the responses in flight and the sockets open (so a drain can
 * reach them), and the drain itself. Every listener it adds is removed by `dispose()`.
 */
class Drain {
  #closed = false;
  #draining = false;
  readonly #server: NodeHttpServer;
  readonly #responses = new Set<ServerResponse>();
  // Raw sockets, because Node's own connection list misses TLS connections still in their
  // handshake and upgraded (WebSocket) connections: the deadline must cut those too.
  readonly #sockets = new Set<Socket>();
  readonly #whenClosed = defer<undefined>();
  readonly #onRequest: (request: IncomingMessage, response: ServerResponse) => void;
  readonly #onConnection: (socket: Socket) => void;
  readonly #onClose = () => {
    this.#closed = true;
    this.#whenClosed.resolve(undefined);
  };

  constructor(server: NodeHttpServer) {
    this.#server = server;
    const responses = this.#responses;
    const sockets = this.#sockets;
    const onResponseClose = (response: ServerResponse) => {
      responses.delete(response);
      // The connection of a response that had promised keep-alive is now idle: close it.
      if (this.#draining) this.#closeIdle();
    };
    this.#onRequest = (_request, response) => {
      if (this.#draining) response.shouldKeepAlive = false;
      responses.add(response);
      response.once('close', () => {
        onResponseClose(response);
      });
    };
    this.#onConnection = (socket) => {
      sockets.add(socket);
      socket.once('close', () => {
        sockets.delete(socket);
      });
    };
    // Prepended, so that a request arriving during the drain is marked before the application's
    // handler can send its headers.
    server.prependListener('request', this.#onRequest);
    server.on('connection', this.#onConnection).on('close', this.#onClose);
  }

  /** Whether the server has emitted 'close' since the run began. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when `signal` aborts or the server closes, whichever comes first. */
  async untilAbortedOrClosed(signal: AbortSignal): Promise<void> {
    // An onRunning hook may have asked for the stop already.
    if (signal.aborted) return;
    const aborted = defer<undefined>();
    const onAbort = () => {
      aborted.resolve(undefined);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([aborted.promise, this.#whenClosed.promise]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Drains the server; destroys what is left when `deadline` aborts. Resolves once it closed. */
  async close(deadline: AbortSignal): Promise<void> {
    this.#draining = true;
    for (const response of this.#responses) {
      // Headers not yet sent: they will say `Connection: close`, and Node closes the socket
      // once the response is out.
      if (!response.headersSent) response.shouldKeepAlive = false;
    }
    stopAccepting(this.#server);
    this.#closeIdle();
    // Node 20 does not count a connection that has not sent a byte as idle (nodejs/node#63470),
    // so a browser's speculative connection would hold the drain until the deadline.
    for (const socket of this.#sockets) if (socket.bytesRead === 0) socket.destroy();
    const cutOff = () => {
      this.#server.closeAllConnections();
      for (const socket of this.#sockets) socket.destroy();
    };
    if (deadline.aborted) cutOff();
    else deadline.addEventListener('abort', cutOff, { once: true });
    try {
      await this.#whenClosed.promise;
    } finally {
      deadline.removeEventListener('abort', cutOff);
    }
  }

  /** Removes the listeners this drain added to the server. */
  dispose(): void {
    this.#server
      .removeListener('request', this.#onRequest)
      .removeListener('connection', this.#onConnection)
      .removeListener('close', this.#onClose);
    this.#responses.clear();
    this.#sockets.clear();
  }

  /**
   * Closes the idle connections, unless a response is still flushing: Node counts a connection
   * whose response has ended as idle even while its bytes are still being written, and would
   * cut that response short. The response's own 'close' calls this again.
   */
  #closeIdle(): void {
    for (const response of this.#responses) {
      if (response.writableEnded && !response.writableFinished) return;
    }
    this.#server.closeIdleConnections();
  }
}

/**
 * `server.close()` without the idle sweep Node 19+ runs first (`closeIdleConnections()`), which
 * destroys connections whose response has ended but is still being written, truncating it; the
 * drain sweeps safely right after.
 */
function stopAccepting(server: NodeHttpServer): void {
  const own = Object.getOwnPropertyDescriptor(server, 'closeIdleConnections');
  Object.defineProperty(server, 'closeIdleConnections', {
    configurable: true,
    writable: true,
    value: () => undefined,
  });
  try {
    server.close();
  } finally {
    if (own === undefined) delete (server as Partial<NodeHttpServer>).closeIdleConnections;
    else Object.defineProperty(server, 'closeIdleConnections', own);
  }
}
