/**
 * overseer demo: an HTTP server, two background workers and a health server for Kubernetes
 * probes, run as one tree of services.
 *
 *   npm start                                # http://127.0.0.1:3000/, human-readable logs
 *   PORT=8080 LOG_FORMAT=json npm start      # another port, one JSON object per log line
 *   curl 127.0.0.1:9000/readyz?verbose       # the probes (HEALTH_PORT to change the port)
 *   curl 127.0.0.1:9000/metrics              # Prometheus metrics of every service
 *
 * Press Ctrl+C (or send SIGTERM): /readyz answers 503 at once, the pool keeps serving for
 * DRAIN_DELAY ms (1 s) so a load balancer can take the pod out, then every service stops within
 * the 5 s deadline and the process exits 0.
 *
 *   app (pool)
 *   ├── http          answers GET / on 127.0.0.1:$PORT (HttpServerService)
 *   ├── workers (pool)
 *   │   ├── ticker    logs a tick every second
 *   │   └── jobs      works through a pretend job queue, restarted if it crashes
 *   └── health        /livez, /readyz and /metrics on 127.0.0.1:$HEALTH_PORT (HealthServer)
 *
 * The workers are small classes in ./services/, each following the four steps of "what a
 * service must do": initialise and report running, watch the stop signal, report stopping and
 * finish in-flight work before the deadline, return.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  createLogger,
  exitCodes,
  formatTree,
  handleSignals,
  HealthServer,
  HttpServerService,
  Lifecycle,
  Pool,
} from '../lib/index.js';
import { registerMetrics } from '../lib/prometheus.js';
import { Registry } from 'prom-client';
import { JobWorker } from './services/job-worker.js';
import { Ticker } from './services/ticker.js';

// overseer never writes to the console on its own; a program that wants logs passes a logger.
const logger = createLogger({
  level: 'info',
  format: process.env.LOG_FORMAT === 'json' ? 'json' : 'pretty',
});

function handleRequest(request: IncomingMessage, response: ServerResponse): void {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost');
  if (request.method === 'GET' && pathname === '/') {
    sendJson(response, 200, { service: 'overseer demo', uptime: Math.round(process.uptime()) });
  } else {
    sendJson(response, 404, { error: 'not found' });
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

// A pool given a logger logs every state change of its children ("service running", …), so
// these two pools log the whole tree below the root.
const workers = new Pool({ name: 'workers', logger });
workers.add(
  new Ticker({ name: 'ticker', every: 1000, logger: logger.child({ service: 'ticker' }) }),
);
workers.add(
  new JobWorker({
    name: 'jobs',
    every: 4000,
    takes: 1000,
    logger: logger.child({ service: 'jobs' }),
  }),
  { restart: { maxRestarts: 3 } }, // a crash restarts it (logged), the fourth in a minute ends the app
);

// drainDelay: asked to stop, the pool reports stopping at once (so /readyz fails) and keeps its
// children up for this long before stopping them.
const app = new Pool({ name: 'app', logger, drainDelay: Number(process.env.DRAIN_DELAY ?? 1000) });
const root = new Lifecycle(app, { logger });

const http = app.add(
  new HttpServerService(createServer(handleRequest), {
    name: 'http',
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 3000), // PORT=0: the system picks a free port
  }),
);
http.onRunning((service) => {
  logger.info('listening', { service: 'http', url: `http://127.0.0.1:${String(service.port)}/` });
});
app.add(workers); // pools are services too, so they nest
// verbose: `?verbose` answers the tree of names and states as JSON (never error messages, which
// would need exposeErrors: true); /metrics answers the Prometheus metrics registered below.
const registry = new Registry();
const health = app.add(
  new HealthServer(root, {
    port: Number(process.env.HEALTH_PORT ?? 9000),
    verbose: true,
    metrics: registry,
  }),
);
health.onRunning((service) => {
  const url = `http://127.0.0.1:${String(service.port)}/readyz`;
  logger.info('health server listening', { service: 'health', url });
});

// Once the tree is complete: state gauges, transitions, restarts and start/stop durations of
// every service, readiness of the tree.
registerMetrics(root, { registry });

// The root logs its own states (it has a logger); once everything runs, a hook logs the whole
// tree with how long each service took to start.
root.onRunning((_service, lifecycle) => {
  logger.info(`all services running\n${formatTree(lifecycle.snapshot())}`);
});

// SIGINT/SIGTERM, or an uncaught exception or unhandled rejection, stop the tree with a 5 s
// deadline, then exit once the logs are written: 0 after a clean stop, 1 after a crash or a
// fault, 2 if the stop overran (or a second, different signal came).
handleSignals(root, { timeout: 5000, logger });

try {
  await root.run();
} catch {
  // The root has logged the crash, stack included. If a signal asked for the stop,
  // handleSignals picks the exit code; otherwise the app crashed by itself (say, the port was
  // taken), so exit 1 — once nothing is left running, as every service cleaned up after itself.
  if (!root.shouldStop()) {
    logger.error('exiting', { service: root.name, state: root.state, code: exitCodes.crashed });
    process.exitCode = exitCodes.crashed;
  }
}
