import type { Lifecycle } from './lifecycle.js';
import { silentLogger, type Logger } from './logger.js';
import type { Service } from './service.js';
import { assertHttpServer, HttpDrain, type NodeHttpServer } from './internal/http-drain.js';
import { assertListenOptions, listen } from './internal/http-listen.js';
import { assertLogger, assertName, assertOptions } from './internal/validate.js';

export type { NodeHttpServer } from './internal/http-drain.js';

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
  /**
   * Where the service logs: a `warn` line with the number of requests in flight when the
   * shutdown deadline cuts them off. @default a silent logger
   */
  logger?: Logger;
}

// Every option, listed once; the compiler checks the list against HttpServerServiceOptions.
const optionNames = Object.keys({
  name: true,
  port: true,
  host: true,
  logger: true,
} satisfies Record<keyof HttpServerServiceOptions, true>);

/**
 * A `node:http` or `node:https` server as a service (an Express app's too: `createServer(app)`;
 * for Fastify use `FastifyService`). It reports `running` once the server listens; a listen error
 * (`EADDRINUSE`, `EACCES`) crashes it with that error. On stop it stops accepting connections,
 * closes every connection with no request in flight (idle keep-alive connections, connections
 * that sent nothing, and connections that sent only part of a request's headers), lets in-flight
 * requests finish, answers requests that arrive on open connections meanwhile (`Expect:
 * 100-continue` ones too) with `Connection: close`, and destroys every connection still open when
 * the shutdown deadline passes, logging how many requests it cut off. It ends once the server has
 * closed.
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
  readonly #logger: Logger;

  /**
   * @param server a `node:http` or `node:https` server, listening or not.
   * @throws {TypeError} when `server` is not an HTTP server, an option is unknown, or
   * `options.name`, `options.port` (an integer from 0 to 65535), `options.host` (a non-empty
   * string) or `options.logger` is wrong.
   */
  constructor(server: S, options: HttpServerServiceOptions = {}) {
    assertHttpServer(server, 'server');
    assertOptions(options, 'options', optionNames);
    const { name = 'http', port = 0, host, logger = silentLogger } = options;
    assertName(name, 'options.name');
    assertListenOptions(port, host);
    assertLogger(logger, 'options.logger');
    this.name = name;
    this.server = server;
    this.#port = port;
    this.#host = host;
    this.#logger = logger;
  }

  /** The port the server is bound to while it listens; `undefined` otherwise. */
  get port(): number | undefined {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    const { server } = this;
    const drain = new HttpDrain(server, { name: this.name, logger: this.#logger });
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
      if (!drain.closed) {
        const deadline = lifecycle.stopping();
        drain.begin();
        await drain.closedBy(deadline);
      }
    } finally {
      drain.dispose();
    }
  }
}
