import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { systemClock, type Clock } from './clock.js';
import { health, type HealthReport } from './health.js';
import { HttpServerService } from './http-server-service.js';
import { Lifecycle } from './lifecycle.js';
import type { Service } from './service.js';
import {
  assertClock,
  assertDuration,
  assertName,
  assertOptions,
  describe,
  invalid,
} from './internal/validate.js';

/** Options of the {@link HealthServer} constructor. */
export interface HealthServerOptions {
  /** The service's name. @default 'health' */
  name?: string;
  /** The address to listen on: loopback, so probes are not exposed by accident. @default '127.0.0.1' */
  host?: string;
  /** The port; 0 picks a free one (read it from `.port` once running). @default 9000 */
  port?: number;
  /** Include error stacks in `?verbose` answers. @default false */
  verbose?: boolean;
  /** How long each service's `healthCheck()` may take, in ms. @default 1_000 */
  timeout?: number;
  /** Timers for the check timeouts and the server's shutdown. @default the real timers */
  clock?: Clock;
}

// Every option, listed once; the compiler checks the list against HealthServerOptions.
const optionNames = Object.keys({
  name: true,
  host: true,
  port: true,
  verbose: true,
  timeout: true,
  clock: true,
} satisfies Record<keyof HealthServerOptions, true>);

/**
 * A service answering Kubernetes probes about `root` and everything under it:
 *
 * - `GET /livez`: 200 while nothing crashed and every check passes, else 503;
 * - `GET /readyz`: 200 while everything runs and every check passes, else 503 — and 503 as soon
 *   as a stop of `root` has been requested, so the load balancer stops sending traffic;
 * - add `?verbose` for a JSON body with the whole tree (errors without stacks unless
 *   `verbose: true`); otherwise the body is one word.
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
  readonly #http: HttpServerService;
  readonly #root: Lifecycle;
  readonly #verbose: boolean;
  readonly #timeout: number;
  readonly #clock: Clock;

  /** @throws {TypeError} when `root` is not a Lifecycle or an option is unknown or malformed. */
  constructor(root: Lifecycle, options: HealthServerOptions = {}) {
    if (!(root instanceof Lifecycle)) invalid('root', 'a Lifecycle', root);
    assertOptions(options, 'options', optionNames);
    const {
      name = 'health',
      host = '127.0.0.1',
      port = 9000,
      verbose = false,
      timeout = 1_000,
      clock = systemClock,
    } = options;
    assertName(name, 'options.name');
    if (typeof verbose !== 'boolean') invalid('options.verbose', 'a boolean', verbose);
    assertDuration(timeout, 'options.timeout');
    assertClock(clock, 'options.clock');
    const server = createServer((request, response) => {
      void this.#answer(request, response);
    });
    this.#http = new HttpServerService(server, { name, host, port });
    this.name = name;
    this.#root = root;
    this.#verbose = verbose;
    this.#timeout = timeout;
    this.#clock = clock;
  }

  /** The port the server listens on, once running. */
  get port(): number | undefined {
    return this.#http.port;
  }

  /** Serves the probes until stopped; called by the service's lifecycle. */
  runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    return this.#http.runWithLifecycle(lifecycle);
  }

  async #answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let answer: Answer;
    try {
      answer = await this.#answerTo(request);
    } catch (error) {
      // A malformed URL: never an unhandled rejection inside the server.
      answer = { status: 400, body: `bad request: ${String(error)}` };
    }
    if (answer.allow) response.setHeader('allow', answer.allow);
    const type = typeof answer.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
    response.writeHead(answer.status, { 'content-type': type, 'cache-control': 'no-store' });
    response.end(typeof answer.body === 'string' ? `${answer.body}\n` : this.#json(answer.body));
  }

  async #answerTo(request: IncomingMessage): Promise<Answer> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const probe = url.pathname;
    if (probe !== '/livez' && probe !== '/readyz') return { status: 404, body: 'not found' };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return { status: 405, body: 'method not allowed', allow: 'GET, HEAD' };
    }
    const verbose = url.searchParams.has('verbose');
    // Once a stop was requested, no check can make the tree ready again: answer at once.
    if (probe === '/readyz' && this.#root.shouldStop() && !verbose) {
      return { status: 503, body: 'stopping' };
    }
    const report = await health(this.#root, { timeout: this.#timeout, clock: this.#clock });
    const ok = probe === '/livez' ? report.live : report.ready;
    const status = ok ? 200 : 503;
    if (verbose) return { status, body: report };
    return { status, body: ok ? 'ok' : probe === '/livez' ? 'not live' : 'not ready' };
  }

  /** The report as JSON; errors as name, message, code and cause (and stack, if configured). */
  #json(report: HealthReport): string {
    return JSON.stringify(report, (_key, value: unknown) =>
      value instanceof Error ? errorJson(value, this.#verbose) : value,
    );
  }
}

/** What a probe request is answered with: a word, or the whole report. */
interface Answer {
  status: number;
  body: string | HealthReport;
  allow?: string;
}

function errorJson(error: Error, stacks: boolean): Record<string, unknown> {
  const json: Record<string, unknown> = { name: error.name, message: error.message };
  const { code } = error as { code?: unknown };
  if (code !== undefined) json.code = code;
  if (stacks) json.stack = error.stack;
  const { cause } = error;
  if (cause instanceof Error) json.cause = errorJson(cause, stacks);
  else if (cause !== undefined) json.cause = describe(cause);
  if (error instanceof AggregateError) {
    json.errors = (error.errors as unknown[]).map((inner) =>
      inner instanceof Error ? errorJson(inner, stacks) : String(inner),
    );
  }
  return json;
}
