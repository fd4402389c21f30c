import test, { type ExecutionContext } from 'ava';
import Fastify, { type FastifyInstance } from 'fastify';
import { getEventListeners, once } from 'node:events';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { Lifecycle, silentLogger, type Logger, type State } from '../lib/index.js';
import {
  FastifyService,
  type FastifyApp,
  type FastifyServiceOptions,
} from '../lib/fastify-service.js';
import { fakeClock } from './helpers/clock.js';
import { deferred } from './helpers/deferred.js';
import {
  closedAtEnd,
  get,
  host,
  keepAliveAgent,
  nextConnection,
  RawClient,
  untilRead,
} from './helpers/http.js';
import { captureLogs } from './helpers/logs.js';
import { reach, recordStates } from './helpers/record.js';

/** A Fastify app (no logger) whose server does not outlive the test. */
function fastifyApp(t: ExecutionContext): FastifyInstance {
  const app = Fastify();
  closedAtEnd(t, app.server);
  return app;
}

/** A route whose requests wait for the test: `entered` resolves once one has reached it. */
function heldRoute(app: FastifyInstance, path = '/held') {
  const entered = deferred();
  const release = deferred<string>();
  app.get(path, async () => {
    entered.resolve();
    return release.promise;
  });
  return { entered: entered.promise, release: release.resolve };
}

/** A service for `app` on loopback, run by a lifecycle with a fake clock. */
function serve(app: FastifyApp, options: FastifyServiceOptions = {}) {
  const service = new FastifyService(app, { name: 'web', host, ...options });
  const time = fakeClock();
  const lifecycle = new Lifecycle(service, { clock: time.clock });
  const states = recordStates(lifecycle);
  return { service, lifecycle, states, time };
}

/** The port the service listens on, once it runs. */
async function runningPort(service: FastifyService, lifecycle: Lifecycle): Promise<number> {
  await lifecycle.whenRunning();
  const { port } = service;
  if (port === undefined) throw new Error('the service runs but has no port');
  return port;
}

const cycle: State[] = ['starting', 'running', 'stopping', 'stopped'];

test('the service listens, runs the onListen hooks and reports running, with .port set', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const listened: unknown[] = [];
  app.addHook('onListen', async function () {
    listened.push(this.server.address());
  });
  app.get('/', async () => 'hello');
  const { service, lifecycle, states } = serve(app);
  t.is(service.name, 'web');
  t.is(service.app, app);
  t.is(service.port, undefined);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  t.deepEqual(states, ['starting', 'running']);
  t.deepEqual(app.server.address(), { address: host, family: 'IPv4', port });
  const reply = await get(port, keepAliveAgent(t));
  t.is(reply.body, 'hello');
  t.deepEqual(listened, [{ address: host, family: 'IPv4', port }]);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.deepEqual(states, cycle);
  t.is(service.port, undefined);
});

test('the app needs no ready() call: its plugins load when the service starts', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  await app.register(async (plugin) => {
    plugin.decorate('greeting', 'from a plugin');
    plugin.get('/plugin', async () => 'from a plugin');
  });
  const { service, lifecycle } = serve(app);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  t.is((await get(port, keepAliveAgent(t), '/plugin')).body, 'from a plugin');
  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

test('stop closes the app: preClose hooks, the server, then onClose hooks, and ends stopped', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const events: string[] = [];
  app.addHook('preClose', async () => {
    events.push('preClose');
  });
  app.addHook('onClose', async (instance) => {
    events.push(`onClose, server listening: ${String(instance.server.listening)}`);
  });
  const { service, lifecycle, states } = serve(app);
  lifecycle.onStopped(() => {
    events.push('stopped');
  });
  const done = lifecycle.run();
  await runningPort(service, lifecycle);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.deepEqual(events, ['preClose', 'onClose, server listening: false', 'stopped']);
  t.deepEqual(states, cycle);
});

test("the default host is every interface, not Fastify's localhost", async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const service = new FastifyService(app);
  t.is(service.name, 'fastify');
  const lifecycle = new Lifecycle(service);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const address = app.server.address();
  t.true(typeof address === 'object' && ['::', '0.0.0.0'].includes(address?.address ?? ''));
  t.true((service.port ?? 0) > 0);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

test('a request in flight at stop completes, with connection: close', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const { entered, release } = heldRoute(app);
  const { service, lifecycle, states } = serve(app);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const reply = get(port, keepAliveAgent(t), '/held');
  await entered;
  const stopped = lifecycle.stop();
  await reach(lifecycle, 'stopping');
  release('done');
  const { status, headers, body, socket } = await reply;
  t.is(status, 200);
  t.is(body, 'done');
  t.is(headers.connection, 'close');
  t.is(await stopped, 'stopped');
  await done;
  if (!socket.destroyed) await once(socket, 'close');
  t.deepEqual(states, cycle);
});

test('a keep-alive client does not make stop wait for the deadline', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  app.get('/', async () => 'hello');
  const { entered, release } = heldRoute(app);
  const { service, lifecycle, time } = serve(app);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  // One idle keep-alive connection (Fastify keeps those open for 72 s) and one in flight.
  const { socket: idle, headers } = await get(port, keepAliveAgent(t), '/');
  t.is(headers.connection, 'keep-alive');
  const held = get(port, keepAliveAgent(t), '/held');
  await entered;
  const idleClosed = once(idle, 'close');
  const stopped = lifecycle.stop({ timeout: 60_000 });
  await idleClosed;
  release('done');
  t.is((await held).headers.connection, 'close');
  // Stopped with the fake clock never advanced: the deadline played no part.
  t.is(await stopped, 'stopped');
  await done;
  t.is(time.fake.now, 0);
  t.is(time.pending(), 0);
});

test("a client that sent part of a request's headers does not hold the stop", async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const { service, lifecycle } = serve(app);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const accepted = nextConnection(app.server);
  const client = await RawClient.open(t, port);
  const head = 'GET / HTTP/1.1\r\nHost: te';
  client.write(head);
  await untilRead(await accepted, head.length);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.is(await client.closed(), '');
});

test('stop with a deadline cuts a hanging request and logs how many it cut', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const { entered } = heldRoute(app);
  const closed = deferred();
  app.addHook('onClose', async () => {
    closed.resolve();
  });
  const { logger, entries } = captureLogs();
  const { service, lifecycle, states, time } = serve(app, { logger });
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const reply = get(port, keepAliveAgent(t), '/held');
  await entered;
  const stopped = lifecycle.stop({ timeout: 5_000 });
  await time.fake.tickAsync(4_999);
  t.is(lifecycle.state, 'stopping');
  await time.fake.tickAsync(1);
  const error = await t.throwsAsync(reply);
  t.is((error as NodeJS.ErrnoException).code, 'ECONNRESET');
  t.is(await stopped, 'stopped');
  await done;
  await closed.promise;
  t.deepEqual(states, cycle);
  t.is(time.pending(), 0);
  t.deepEqual(
    entries.map(({ level, message, service: name, requests }) => ({
      level,
      message,
      name,
      requests,
    })),
    [
      {
        level: 'warn',
        message: 'shutdown deadline passed: 1 request in flight cut off',
        name: 'web',
        requests: 1,
      },
    ],
  );
});

test('a stop whose deadline has already passed cuts the connections and does not wait for onClose hooks', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const { entered } = heldRoute(app);
  const hook = deferred();
  app.addHook('onClose', () => hook.promise);
  const { service, lifecycle, states } = serve(app);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const reply = get(port, keepAliveAgent(t), '/held');
  await entered;
  const stopped = lifecycle.stop({ signal: AbortSignal.abort() });
  const error = await t.throwsAsync(reply);
  t.is((error as NodeJS.ErrnoException).code, 'ECONNRESET');
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, cycle);
  hook.resolve();
});

test('past the deadline, the service ends without waiting for a stuck onClose hook, and logs its later failure', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const hook = deferred();
  app.addHook('onClose', () => hook.promise);
  const logged = deferred<[string, Record<string, unknown> | undefined]>();
  const logger: Logger = {
    ...silentLogger,
    error: (message, meta) => {
      logged.resolve([message, meta]);
    },
  };
  const { service, lifecycle, time } = serve(app, { logger });
  const done = lifecycle.run();
  await runningPort(service, lifecycle);
  const stopped = lifecycle.stop({ timeout: 1_000 });
  await time.fake.tickAsync(1_000);
  t.is(await stopped, 'stopped');
  await done;
  const failure = new Error('database gone');
  hook.reject(failure);
  t.deepEqual(await logged.promise, [
    'fastify app failed to close',
    { service: 'web', error: failure },
  ]);
});

test('an onClose hook that throws crashes the service with its error', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const failure = new Error('could not flush');
  app.addHook('onClose', async () => {
    throw failure;
  });
  const { service, lifecycle, states } = serve(app);
  const done = lifecycle.run();
  await runningPort(service, lifecycle);
  t.is(await lifecycle.stop(), 'crashed');
  t.is(await t.throwsAsync(done), failure);
  t.deepEqual(states, ['starting', 'running', 'stopping', 'crashed']);
});

test('a listen error (EADDRINUSE) closes the app and crashes the service with that error', async (t) => {
  t.timeout(10_000);
  const taken = createNetServer();
  taken.listen(0, host);
  await once(taken, 'listening');
  t.teardown(() => taken.close());
  const { port } = taken.address() as { port: number };
  const app = fastifyApp(t);
  const events: string[] = [];
  app.addHook('onClose', async () => {
    events.push('onClose');
  });
  const { lifecycle, states } = serve(app, { port });
  const error = await t.throwsAsync(lifecycle.run());
  t.is((error as NodeJS.ErrnoException).code, 'EADDRINUSE');
  t.is(lifecycle.state, 'crashed');
  t.deepEqual(states, ['starting', 'crashed']);
  t.deepEqual(events, ['onClose']);
});

test('a plugin that fails to load crashes the service with its error', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const failure = new Error('no database');
  void app.register(async () => {
    throw failure;
  });
  const { lifecycle, states } = serve(app);
  t.is(await t.throwsAsync(lifecycle.run()), failure);
  t.deepEqual(states, ['starting', 'crashed']);
  t.false(app.server.listening);
});

test('a stop requested before the run begins never listens', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const listened: string[] = [];
  app.addHook('onListen', async () => {
    listened.push('onListen');
  });
  const { lifecycle, states } = serve(app);
  lifecycle.onStarting(() => void lifecycle.stop());
  await lifecycle.run();
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.deepEqual(listened, []);
  t.false(app.server.listening);
});

test('a stop requested while the app starts skips running and closes the app', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const loading = deferred();
  const loaded = deferred();
  void app.register(async () => {
    loading.resolve();
    await loaded.promise;
  });
  const events: string[] = [];
  app.addHook('onClose', async () => {
    events.push('onClose');
  });
  const { lifecycle, states } = serve(app);
  const done = lifecycle.run();
  await loading.promise;
  const stopped = lifecycle.stop();
  loaded.resolve();
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.deepEqual(events, ['onClose']);
  t.false(app.server.listening);
});

test('an app closed by other code ends the service stopped once its onClose hooks ran', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const events: string[] = [];
  app.addHook('onClose', async () => {
    events.push('onClose');
  });
  const { service, lifecycle, states } = serve(app);
  const done = lifecycle.run();
  await runningPort(service, lifecycle);
  await app.close();
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopped']);
  t.deepEqual(events, ['onClose']);
});

test('an app that already listens is adopted and closed on stop', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  app.get('/', async () => 'adopted');
  await app.listen({ port: 0, host });
  const { port } = app.server.address() as { port: number };
  const { service, lifecycle, states } = serve(app);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  t.is(service.port, port);
  t.is((await get(port, keepAliveAgent(t))).body, 'adopted');
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.deepEqual(states, cycle);
  t.false(app.server.listening);
});

test("a second run crashes with Fastify's error: a closed app cannot listen again", async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  const { service, lifecycle } = serve(app);
  const done = lifecycle.run();
  await runningPort(service, lifecycle);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  // Fastify's errors are not native errors (@fastify/error).
  const error = await t.throwsAsync(lifecycle.run(), { any: true });
  t.is((error as { code?: string }).code, 'FST_ERR_REOPENED_CLOSE_SERVER');
  t.is(lifecycle.state, 'crashed');
});

test('the listeners the service adds are removed when the run ends', async (t) => {
  t.timeout(10_000);
  const app = fastifyApp(t);
  app.get('/', async () => 'ok');
  const { server } = app;
  const events = ['request', 'checkContinue', 'connection', 'close', 'error', 'listening'];
  const before = events.map((event) => server.listenerCount(event));
  const { service, lifecycle } = serve(app);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const { signal } = lifecycle;
  t.is((await get(port, keepAliveAgent(t))).body, 'ok');
  const stopped = lifecycle.stop({ timeout: 1_000 });
  const { shutdownSignal } = lifecycle;
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(
    events.map((event) => server.listenerCount(event)),
    before,
  );
  t.false(Object.hasOwn(server, 'closeIdleConnections'));
  t.is(getEventListeners(signal, 'abort').length, 0);
  t.is(getEventListeners(shutdownSignal, 'abort').length, 0);
});

test('what is not a Fastify instance is a TypeError with a hint', (t) => {
  const app = Fastify();
  const expected = 'Expected `app` to be a Fastify instance (`Fastify()`), got';
  const cases: [unknown, string][] = [
    [
      app.server,
      `${expected} an object (Server): to run a node:http or node:https server use HttpServerService; for a Fastify app pass the instance (\`app\`), not \`app.server\``,
    ],
    [
      createServer(),
      `${expected} an object (Server): to run a node:http or node:https server use HttpServerService; for a Fastify app pass the instance (\`app\`), not \`app.server\``,
    ],
    [
      async (plugin: FastifyInstance) => plugin.get('/', async () => 'x'),
      `${expected} a function: pass the Fastify instance (\`const app = Fastify(); app.register(plugin)\`), not a plugin function`,
    ],
    [
      Fastify,
      `${expected} a function: pass the Fastify instance (\`const app = Fastify(); app.register(plugin)\`), not a plugin function`,
    ],
    [undefined, `${expected} \`undefined\` (undefined)`],
    [{ listen() {}, close() {} }, `${expected} an object (Object)`],
    [
      Fastify({ http2: true }),
      'Expected `app.server` to be a node:http or node:https Server (with listen, close, closeIdleConnections and closeAllConnections methods), got an object (Http2Server)',
    ],
  ];
  for (const [value, message] of cases) {
    t.throws(() => new FastifyService(value as FastifyApp), { instanceOf: TypeError, message });
  }
});

test('bad options throw TypeErrors naming them', (t) => {
  const app = Fastify();
  const cases: [FastifyServiceOptions, string][] = [
    [{ name: '' }, 'Expected `options.name` to be a non-empty string, got `""` (string)'],
    [
      { port: 70_000 },
      'Expected `options.port` to be an integer from 0 to 65535, got `70000` (number)',
    ],
    [{ host: '' }, 'Expected `options.host` to be a non-empty string, got `""` (string)'],
    [
      { logger: {} as FastifyServiceOptions['logger'] },
      'Expected `options.logger` to be a logger with error, warn, info and debug methods, got an object (Object)',
    ],
    [
      { name: 'web', prot: 8080 } as FastifyServiceOptions,
      'Unknown option `options.prot`; the known options are `name`, `port`, `host`, `logger`',
    ],
  ];
  for (const [options, message] of cases) {
    t.throws(() => new FastifyService(app, options), { instanceOf: TypeError, message });
  }
  t.throws(() => new FastifyService(app, null as unknown as FastifyServiceOptions), {
    instanceOf: TypeError,
    message: 'Expected `options` to be an object, got `null`',
  });
});
