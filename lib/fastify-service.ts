import type { Lifecycle } from './lifecycle.js';
import { silentLogger, type Logger } from './logger.js';
import type { Service } from './service.js';
import {
  assertHttpServer,
  HttpDrain,
  isHttpServer,
  type NodeHttpServer,
} from './internal/http-drain.js';
import { assertListenOptions } from './internal/http-listen.js';
import { log } from './internal/log.js';
import { assertLogger, assertName, assertOptions, describe } from './internal/validate.js';

/**
 * What {@link FastifyService} uses of a Fastify instance: a Fastify 4 or 5 app (`Fastify()`)
 * serving HTTP/1.1 over `node:http` or `node:https` satisfies it as is. overseer does not depend
 * on Fastify: it drives the app it is given.
 */
export interface FastifyApp {
  /** The app's `node:http` or `node:https` server. */
  readonly server: NodeHttpServer;
  /** Loads the plugins (`ready()`), listens, then runs the `onListen` hooks. */
  listen(options: { port: number; host: string }): PromiseLike<unknown>;
  /** Runs the `preClose` hooks, closes the server, then runs the `onClose` hooks. */
  close(): PromiseLike<unknown>;
}

/** Options of {@link FastifyService}. */
export interface FastifyServiceOptions {
  /** The service's name, in logs, errors and health reports. @default 'fastify' */
  name?: string;
  /** The TCP port to listen on; 0 lets the operating system pick a free one (see `.port`). @default 0 */
  port?: number;
  /**
   * The address to listen on. Prefer `127.0.0.1` or `::1` to `localhost`: for `localhost`
   * Fastify binds a second server (one per address), whose connections overseer cannot drain.
   * @default every interface, as `HttpServerService` (not Fastify's `localhost`): `::` (which
   * on most systems also accepts IPv4), or `0.0.0.0` where IPv6 is unavailable
   */
  host?: string;
  /**
   * Where the service logs: a `warn` line with the number of requests in flight when the
   * shutdown deadline cuts them off, and an `error` line if the app's close fails after the
   * deadline. @default a silent logger
   */
  logger?: Logger;
}

// Every option, listed once; the compiler checks the list against FastifyServiceOptions.
const optionNames = Object.keys({
  name: true,
  port: true,
  host: true,
  logger: true,
} satisfies Record<keyof FastifyServiceOptions, true>);

/**
 * A Fastify app as a service: `app.listen()` to start (plugins load then, so calling `ready()`
 * first is not needed), `app.close()` to stop, so the app's `onListen`, `preClose` and `onClose`
 * hooks run as Fastify documents. It reports `running` once the app listens; a failed start
 * (a plugin's error, `EADDRINUSE`) closes the app, so plugins loaded so far release what they
 * hold, and crashes the service with that error.
 *
 * On stop it drains the app's server as `HttpServerService` does: no new connections,
 * connections with no request in flight closed at once (idle keep-alive ones too, so a
 * keep-alive client does not hold the stop), in-flight requests finished with `Connection:
 * close`, every connection cut at the shutdown deadline (with a `warn` line counting the
 * requests cut off). Requests that arrive on open connections while the app closes get Fastify's
 * own `503` (its `return503OnClosing` route option). The service ends once `app.close()` has
 * resolved, or, past the deadline, once the server has closed; an `onClose` hook that throws
 * crashes it with that error.
 *
 * An app that already listens is adopted (`port` and `host` are not used). A Fastify app cannot
 * listen again once closed: a second run crashes with Fastify's error.
 *
 * @example
 * ```ts
 * const app = Fastify();
 * app.get('/', async () => 'hello');
 * const web = new FastifyService(app, { name: 'web', port: 8080 });
 * ```
 */
export class FastifyService<App extends FastifyApp = FastifyApp> implements Service {
  /** The service's name. */
  readonly name: string;
  /** The Fastify app this service runs. */
  readonly app: App;
  readonly #port: number;
  readonly #host: string | undefined;
  readonly #logger: Logger;

  /**
   * @param app a Fastify instance (`Fastify()`), with its plugins and routes registered or not.
   * @throws {TypeError} when `app` is not a Fastify instance (with a hint when it is the app's
   * server, another HTTP server, or a plugin function), when `app.server` is not a `node:http` or
   * `node:https` server (an HTTP/2 app), when an option is unknown, or when `options.name`,
   * `options.port` (an integer from 0 to 65535), `options.host` (a non-empty string) or
   * `options.logger` is wrong.
   */
  constructor(app: App, options: FastifyServiceOptions = {}) {
    assertFastifyApp(app);
    assertOptions(options, 'options', optionNames);
    const { name = 'fastify', port = 0, host, logger = silentLogger } = options;
    assertName(name, 'options.name');
    assertListenOptions(port, host);
    assertLogger(logger, 'options.logger');
    this.name = name;
    this.app = app;
    this.#port = port;
    this.#host = host;
    this.#logger = logger;
  }

  /** The port the app's server is bound to while it listens; `undefined` otherwise. */
  get port(): number | undefined {
    const address = this.app.server.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    const { server } = this.app;
    const drain = new HttpDrain(server, { name: this.name, logger: this.#logger });
    try {
      if (!server.listening) {
        if (lifecycle.signal.aborted) {
          lifecycle.stopping();
          return;
        }
        await this.#listen(lifecycle.shutdownSignal);
      }
      // A stop requested while the app was starting skips `running`: it drains at once.
      if (!lifecycle.signal.aborted) {
        lifecycle.running();
        await drain.untilAbortedOrClosed(lifecycle.signal);
      }
      // Closed by other code (`app.close()`): the service ends once the app has closed.
      if (drain.closed) await this.#close(lifecycle.shutdownSignal);
      else {
        const deadline = lifecycle.stopping();
        drain.begin();
        await Promise.all([drain.closedBy(deadline), this.#close(deadline)]);
      }
    } finally {
      drain.dispose();
    }
  }

  async #listen(deadline: AbortSignal): Promise<void> {
    // An empty host reaches Node's server.listen(), which then listens on every interface;
    // Fastify replaces only a missing host, with 'localhost'.
    const host = this.#host ?? '';
    try {
      await this.app.listen({ port: this.#port, host });
    } catch (error) {
      // Plugins loaded before the failure (a database pool) release what they hold in their
      // onClose hooks; the listen error is what the service crashes with.
      await this.#close(deadline).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Closes the app; rejects with its error. Past `deadline`, resolves without waiting for the
   * app's remaining `onClose` hooks (a failure after that is logged).
   */
  #close(deadline: AbortSignal): Promise<void> {
    const closed = Promise.resolve(this.app.close()).then(() => undefined);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        closed.catch((error: unknown) => {
          log(this.#logger, 'error', 'fastify app failed to close', { service: this.name, error });
        });
        resolve();
      };
      if (deadline.aborted) {
        onAbort();
        return;
      }
      deadline.addEventListener('abort', onAbort, { once: true });
      closed
        .finally(() => {
          deadline.removeEventListener('abort', onAbort);
        })
        .then(resolve, reject);
    });
  }
}

/** Throws a `TypeError`, with a hint for the usual mistakes, unless `app` is a Fastify instance. */
function assertFastifyApp(app: unknown): asserts app is FastifyApp {
  const candidate = app as Partial<Record<string, unknown>> | null | undefined;
  const isApp =
    typeof candidate === 'object' &&
    candidate !== null &&
    ['listen', 'close', 'addHook', 'register'].every(
      (method) => typeof candidate[method] === 'function',
    );
  if (isApp) {
    assertHttpServer(candidate.server, 'app.server');
    return;
  }
  const hint =
    typeof app === 'function'
      ? ': pass the Fastify instance (`const app = Fastify(); app.register(plugin)`), not a plugin function'
      : isHttpServer(app)
        ? ': to run a node:http or node:https server use HttpServerService; for a Fastify app pass the instance (`app`), not `app.server`'
        : '';
  throw new TypeError(
    `Expected \`app\` to be a Fastify instance (\`Fastify()\`), got ${describe(app)}${hint}`,
  );
}
