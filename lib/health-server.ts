import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { systemClock, type Clock } from './clock.js';
import type { HealthReport } from './health.js';
import { HttpServerService } from './http-server-service.js';
import { Lifecycle } from './lifecycle.js';
import type { Service } from './service.js';
import type { CheckSettings } from './internal/check-cache.js';
import { allProbes, evaluate, type Probes } from './internal/health-tree.js';
import { reportJson } from './internal/probe-answers.js';
import {
  assertClock,
  assertDuration,
  assertName,
  assertOptions,
  invalid,
  maxTimeout,
} from './internal/validate.js';

/** What `/metrics` serves: a prom-client `Registry`, or anything with the same two members. */
export interface MetricsSource {
  /** The exposition text, as `registry.metrics()` returns it. */
  metrics(): Promise<string> | string;
  /** Its content type, as `registry.contentType` gives it. */
  readonly contentType: string;
}

/** Options of the {@link HealthServer} constructor. */
export interface HealthServerOptions {
  /** The service's name. @default 'health' */
  name?: string;
  /** The address to listen on: loopback, so probes are not exposed by accident. @default '127.0.0.1' */
  host?: string;
  /** The port; 0 picks a free one (read it from `.port` once running). @default 9000 */
  port?: number;
  /**
   * Answer `?verbose` (or `?verbose=true`, `?verbose=1`) with the JSON report: every service's
   * name, state and checks. Off, `?verbose` is ignored and the answer is one word. @default false
   */
  verbose?: boolean;
  /** Include error names, messages, codes and causes in the JSON report (never stacks). @default false */
  exposeErrors?: boolean;
  /** How long each service's check may take, in ms. @default 1_000 */
  timeout?: number;
  /** How long a check's result is reused, in ms (see `HealthOptions.checkCacheMs`). @default 1_000 */
  checkCacheMs?: number;
  /** Also serve `GET /metrics` from this source: a prom-client `Registry`. @default none (404) */
  metrics?: MetricsSource;
  /** A connection that has not sent complete request headers within this many ms is cut (408). @default 5_000 */
  headersTimeout?: number;
  /** A connection that has not sent a complete request within this many ms is cut (408). @default 10_000 */
  requestTimeout?: number;
  /** Timers for the check timeouts and the cache. @default the real timers */
  clock?: Clock;
}

// Every option, listed once; the compiler checks the list against HealthServerOptions.
const optionNames = Object.keys({
  name: true,
  host: true,
  port: true,
  verbose: true,
  exposeErrors: true,
  timeout: true,
  checkCacheMs: true,
  metrics: true,
  headersTimeout: true,
  requestTimeout: true,
  clock: true,
} satisfies Record<keyof HealthServerOptions, true>);

const readinessOnly: Probes = Object.freeze({ ready: true, live: false });
const livenessOnly: Probes = Object.freeze({ ready: false, live: true });

/**
 * A service answering Kubernetes probes about `root` and everything under it:
 *
 * - `GET /livez`: 200 `ok` while nothing crashed (a crash a Restarter handles aside) and every
 *   `livenessCheck()` passes, else 503 `not live`. A failing `healthCheck()` (a dependency) never
 *   fails it: restarting the pod would not bring the database back.
 * - `GET /readyz`: 200 `ok` while everything runs and every `healthCheck()` passes, else 503
 *   `not ready` — and 503 `stopping` as soon as a stop of `root` has been requested, so the load
 *   balancer stops sending traffic;
 * - `GET /metrics`, with the `metrics` option: the registry's exposition text.
 *
 * The answers tell nothing else unless asked: the JSON report (names, states, durations) only
 * for `?verbose` with `verbose: true`, error messages only with `exposeErrors: true` too, stacks
 * never. Concurrent probes share each check in flight, and a result is reused for
 * `checkCacheMs`. Other methods get 405; slow clients are cut after `headersTimeout` and
 * `requestTimeout`, and a stop closes every connection no request is in flight on.
 *
 * Add it to the pool it watches (it is a service), usually with a pool `drainDelay`, so the 503
 * is seen before any server closes.
 * @example
 * ```ts
 * const app = new Pool({ name: 'app', drainDelay: 5_000 });
 * const root = new Lifecycle(app);
 * app.add(new HealthServer(root, { port: 9000 }));
 * ```
 */
export class HealthServer implements Service {
  /** The service's name. */
  readonly name: string;
  readonly #http: HttpServerService<Server>;
  readonly #root: Lifecycle;
  readonly #verbose: boolean;
  readonly #exposeErrors: boolean;
  readonly #metrics: MetricsSource | undefined;
  readonly #checks: CheckSettings;
  // Each open connection, with how many requests are in flight on it.
  readonly #connections = new Map<Socket, number>();

  /** @throws {TypeError} when `root` is not a Lifecycle or an option is unknown or malformed. */
  constructor(root: Lifecycle, options: HealthServerOptions = {}) {
    if (!(root instanceof Lifecycle)) invalid('root', 'a Lifecycle', root);
    assertOptions(options, 'options', optionNames);
    const { name = 'health', host = '127.0.0.1', port = 9000 } = options;
    const { verbose = false, exposeErrors = false, metrics } = options;
    const { timeout = 1_000, checkCacheMs = 1_000, clock = systemClock } = options;
    assertName(name, 'options.name');
    if (typeof verbose !== 'boolean') invalid('options.verbose', 'a boolean', verbose);
    if (typeof exposeErrors !== 'boolean') {
      invalid('options.exposeErrors', 'a boolean', exposeErrors);
    }
    if (metrics !== undefined) assertMetricsSource(metrics);
    assertDuration(timeout, 'options.timeout');
    assertDuration(checkCacheMs, 'options.checkCacheMs');
    assertClock(clock, 'options.clock');
    const server = probeServer(options);
    this.#http = new HttpServerService(server, { name, host, port });
    this.#track(server);
    this.name = name;
    this.#root = root;
    this.#verbose = verbose;
    this.#exposeErrors = exposeErrors;
    this.#metrics = metrics;
    this.#checks = Object.freeze({ timeout, cacheMs: checkCacheMs, clock });
  }

  /** The port the server listens on, once running. */
  get port(): number | undefined {
    return this.#http.port;
  }

  /** Serves the probes until stopped; called by the service's lifecycle. */
  async runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    // The drain lets probes in flight finish; a connection with no request in flight (idle, or
    // still sending its headers) would only hold the stop: it is closed at once.
    const closeWaiting = () => {
      for (const [socket, inFlight] of this.#connections) if (inFlight === 0) socket.destroy();
    };
    lifecycle.signal.addEventListener('abort', closeWaiting, { once: true });
    try {
      await this.#http.runWithLifecycle(lifecycle);
    } finally {
      lifecycle.signal.removeEventListener('abort', closeWaiting);
    }
  }

  #track(server: Server): void {
    const connections = this.#connections;
    server.on('connection', (socket: Socket) => {
      connections.set(socket, 0);
      socket.once('close', () => {
        connections.delete(socket);
      });
    });
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const { socket } = request;
      connections.set(socket, (connections.get(socket) ?? 0) + 1);
      response.once('close', () => {
        const inFlight = connections.get(socket);
        if (inFlight !== undefined) connections.set(socket, inFlight - 1);
      });
      this.#answerTo(request)
        // A metrics source that failed: nothing of its error is told.
        .catch(() => text(500, 'internal error'))
        .then((answer) => {
          send(response, answer);
        })
        // A header Node refuses (a content type with a newline): never an unhandled rejection.
        .catch(() => response.destroy());
    });
  }

  async #answerTo(request: IncomingMessage): Promise<Answer> {
    const url = URL.parse(request.url ?? '/', 'http://localhost');
    if (url === null) return text(400, 'bad request');
    const route = url.pathname;
    const metrics = route === '/metrics' ? this.#metrics : undefined;
    if (route !== '/livez' && route !== '/readyz' && metrics === undefined) {
      return text(404, 'not found');
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return { ...text(405, 'method not allowed'), allow: 'GET, HEAD' };
    }
    if (metrics !== undefined) {
      return { status: 200, type: metrics.contentType, body: await metrics.metrics() };
    }
    const verbose = this.#verbose && verboseAsked(url.searchParams);
    // Once a stop was requested, no check can make the tree ready again: answer at once.
    if (route === '/readyz' && !verbose && this.#root.shouldStop()) return text(503, 'stopping');
    const probes = verbose ? allProbes : route === '/livez' ? livenessOnly : readinessOnly;
    const report = await evaluate(this.#root, this.#checks, probes);
    const ok = route === '/livez' ? report.live : report.ready;
    const status = ok ? 200 : 503;
    if (verbose) return this.#json(status, report);
    return text(status, ok ? 'ok' : route === '/livez' ? 'not live' : 'not ready');
  }

  #json(status: number, report: HealthReport): Answer {
    return { status, type: 'application/json', body: reportJson(report, this.#exposeErrors) };
  }
}

/** What a request is answered with. */
interface Answer {
  status: number;
  type: string;
  body: string;
  allow?: string;
}

function send(response: ServerResponse, answer: Answer): void {
  if (answer.allow !== undefined) response.setHeader('allow', answer.allow);
  response.writeHead(answer.status, {
    'content-type': answer.type,
    'content-length': Buffer.byteLength(answer.body),
    'cache-control': 'no-store',
  });
  response.end(answer.body);
}

function text(status: number, word: string): Answer {
  return { status, type: 'text/plain; charset=utf-8', body: `${word}\n` };
}

/** `?verbose`, `?verbose=true` and `?verbose=1` ask for the report; `?verbose=false`, anything else, does not. */
function verboseAsked(query: URLSearchParams): boolean {
  const value = query.get('verbose');
  return value === '' || value === 'true' || value === '1';
}

/**
 * The probe server, with its slow clients bounded. Node checks `headersTimeout` and
 * `requestTimeout` only every `connectionsCheckingInterval` (30 s by default), so a client that
 * sent half its headers would hold a connection for up to 30 s more: check every second at most.
 */
// node:http is loaded by the first HealthServer, not by `import 'overseer'`: most programs that
// import the package never serve probes, and the import is on every program's start-up path.
const load = createRequire(import.meta.url);

function probeServer(options: HealthServerOptions): Server {
  const { headersTimeout = 5_000, requestTimeout = 10_000 } = options;
  assertWholeMs(headersTimeout, 'options.headersTimeout', 1, '1');
  assertWholeMs(
    requestTimeout,
    'options.requestTimeout',
    headersTimeout,
    `options.headersTimeout (${headersTimeout})`,
  );
  const { createServer } = load('node:http') as typeof import('node:http');
  const server = createServer({
    headersTimeout,
    requestTimeout,
    connectionsCheckingInterval: Math.min(1_000, headersTimeout),
  });
  // Node's default, stated: an idle keep-alive connection is closed after 5 s.
  server.keepAliveTimeout = 5_000;
  return server;
}

function assertWholeMs(value: unknown, argument: string, min: number, minText: string): void {
  const ok =
    typeof value === 'number' && Number.isInteger(value) && value >= min && value <= maxTimeout;
  if (!ok) {
    invalid(argument, `a whole number of milliseconds from ${minText} to ${maxTimeout}`, value);
  }
}

function assertMetricsSource(value: unknown): asserts value is MetricsSource {
  const source = value as Partial<MetricsSource> | null;
  const ok =
    typeof source === 'object' &&
    source !== null &&
    typeof source.metrics === 'function' &&
    typeof source.contentType === 'string';
  if (!ok) {
    invalid(
      'options.metrics',
      'a metrics registry (an object with a metrics() method and a contentType string)',
      value,
    );
  }
}
