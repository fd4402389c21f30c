/**
 * A service tree ready for Kubernetes: the app's HTTP server, a queue consumer, and the probe
 * server with Prometheus metrics, stopped in the order Kubernetes expects (see deployment.yaml
 * and the README's recipe).
 *
 *   node --import tsx examples/kubernetes/main.ts      # PORT=8080, HEALTH_PORT=9000
 *   curl 127.0.0.1:9000/readyz?verbose                 # names and states, no error messages
 *   curl 127.0.0.1:9000/metrics                        # Prometheus metrics
 *   BROKER_DOWN=1 node --import tsx examples/kubernetes/main.ts   # not ready, still live
 *
 * The probes:
 *   - /readyz: 503 while anything starts or stops, while a `healthCheck()` fails (the consumer's
 *     broker is down), and at once on SIGTERM;
 *   - /livez: 503 only when something crashed for good or a `livenessCheck()` fails (the
 *     consumer's loop is stuck) — never because a dependency is down.
 *
 * On SIGTERM:
 *   1. `/readyz` answers 503 at once (a stop of the root was requested);
 *   2. the pool keeps everything up for DRAIN_DELAY ms, while the endpoints controller and the
 *      load balancers notice and stop sending new requests;
 *   3. the HTTP server stops accepting, finishes in-flight requests (closing keep-alive
 *      connections as they finish) and is cut off at the shutdown deadline;
 *   4. the process exits 0 — before terminationGracePeriodSeconds, so never by SIGKILL.
 */
import { createServer } from 'node:http';
import { Registry } from 'prom-client';
import {
  createLogger,
  handleSignals,
  HealthServer,
  HttpServerService,
  Lifecycle,
  Pool,
} from '../../lib/index.js';
import { registerMetrics } from '../../lib/prometheus.js';
import { QueueConsumer } from './queue-consumer.js';

const logger = createLogger({ format: 'json' });

// terminationGracePeriodSeconds (30 s) > DRAIN_DELAY (5 s) + TIMEOUT (20 s) + grace (1 s).
const drainDelay = Number(process.env.DRAIN_DELAY ?? 5_000);
const timeout = Number(process.env.SHUTDOWN_TIMEOUT ?? 20_000);

const app = new Pool({ name: 'app', logger, drainDelay });
const root = new Lifecycle(app, { logger });

const server = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'text/plain' });
  response.end('hello from overseer\n');
});
// Traffic and the kubelet's probes arrive at the pod's IP, so both servers listen on every
// interface (HealthServer's default is loopback, right for programs outside a cluster).
const web = app.add(
  new HttpServerService(server, { name: 'web', port: Number(process.env.PORT ?? 8080) }),
);
// A pretend broker: BROKER_DOWN=1 makes its ping fail, to see readiness fail and liveness hold.
const broker = {
  ping: () =>
    process.env.BROKER_DOWN === '1'
      ? Promise.reject(new Error('connect ECONNREFUSED amqp://queue:5672'))
      : Promise.resolve(),
};
app.add(new QueueConsumer({ every: 1_000, broker }), {
  restart: { maxRestarts: 5, window: 60_000 },
});

const registry = new Registry();
const health = app.add(
  new HealthServer(root, {
    host: '0.0.0.0',
    port: Number(process.env.HEALTH_PORT ?? 9000),
    // `?verbose` answers with every service's name and state, never an error message: the probe
    // port is reachable by anything in the cluster (exposeErrors: true would add them).
    verbose: true,
    metrics: registry,
  }),
);
// Once the tree is complete: the metrics follow the services there are when they are registered.
registerMetrics(root, { registry });

// The ports in the log: useful with PORT=0 / HEALTH_PORT=0, and to see what listens where.
web.onRunning((service) => {
  logger.info('listening', { service: service.name, port: service.port });
});
health.onRunning((service) => {
  logger.info('listening', { service: service.name, port: service.port });
});

// The deadline must cover the drain delay, which the pool spends before stopping anything.
handleSignals(root, { timeout: drainDelay + timeout, grace: 1_000, logger });
await root.run().catch(() => {
  // Logged by the pool; handleSignals (or the crash itself) sets the exit code.
  process.exitCode ||= 1;
});
