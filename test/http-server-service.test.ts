import test, { type ExecutionContext } from 'ava';
import { getEventListeners, once } from 'node:events';
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import {
  Agent as HttpsAgent,
  createServer as createHttpsServer,
  request as httpsRequest,
} from 'node:https';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Lifecycle, type Logger } from '../lib/index.js';
import {
  HttpServerService,
  type HttpServerServiceOptions,
  type NodeHttpServer,
} from '../lib/http-server-service.js';
import { fakeClock } from './helpers/clock.js';
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

/** A request the server received, waiting for the test to answer it. */
interface Arrival {
  request: IncomingMessage;
  response: ServerResponse;
  /** Whether the server was still accepting connections when the handler was called. */
  listening: boolean;
}

/** Hands out, in order, the requests a server receives; waits for the next one if need be. */
class Arrivals {
  readonly #items: Arrival[] = [];
  readonly #waiters: ((arrival: Arrival) => void)[] = [];

  push(arrival: Arrival): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(arrival);
    else this.#items.push(arrival);
  }

  next(): Promise<Arrival> {
    const item = this.#items.shift();
    if (item) return Promise.resolve(item);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** An HTTP server whose handler leaves every request to the test, closed when the test ends. */
function heldServer(t: ExecutionContext): { server: Server; arrivals: Arrivals } {
  const arrivals = new Arrivals();
  const server = createServer((request, response) => {
    arrivals.push({ request, response, listening: server.listening });
  });
  // Node closes an idle keep-alive connection after 5 s by itself; with no such timeout, only
  // the drain can close it, so a broken drain shows as a test timeout.
  server.keepAliveTimeout = 0;
  return { server: closedAtEnd(t, server), arrivals };
}

/** A service for `server` on loopback, run by a lifecycle with a fake clock. */
function serve(server: NodeHttpServer, name = 'web', options: HttpServerServiceOptions = {}) {
  const service = new HttpServerService(server, { name, host, ...options });
  const time = fakeClock();
  const lifecycle = new Lifecycle(service, { clock: time.clock });
  const states = recordStates(lifecycle);
  return { service, lifecycle, states, time };
}

/** Log entries as their JSON fields, without winston's symbol-keyed copies. */
function plain(entries: readonly object[]): unknown {
  return JSON.parse(JSON.stringify(entries));
}

/** The port the service listens on, once it runs. */
async function runningPort(service: HttpServerService, lifecycle: Lifecycle): Promise<number> {
  await lifecycle.whenRunning();
  const { port } = service;
  if (port === undefined) throw new Error('the service runs but has no port');
  return port;
}

test('the service reports running once the server listens, with .port set', async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(
    t,
    createServer((_request, response) => response.end('hello')),
  );
  const { service, lifecycle, states } = serve(server);
  t.is(service.name, 'web');
  t.is(service.server, server);
  t.is(service.port, undefined);
  const done = lifecycle.run();
  t.deepEqual(states, ['starting']);
  const port = await runningPort(service, lifecycle);
  t.deepEqual(states, ['starting', 'running']);
  t.true(server.listening);
  t.true(port > 0);
  t.deepEqual(server.address(), { address: host, family: 'IPv4', port });
  const reply = await get(port, keepAliveAgent(t));
  t.is(reply.body, 'hello');
  t.is(reply.headers.connection, 'keep-alive');
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.false(server.listening);
  t.is(service.port, undefined);
});

test('the defaults are the name "http", port 0 and every interface', async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(t, createServer());
  const service = new HttpServerService(server);
  t.is(service.name, 'http');
  const lifecycle = new Lifecycle(service);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const address = server.address();
  t.true(typeof address === 'object' && ['::', '0.0.0.0'].includes(address?.address ?? ''));
  t.true((service.port ?? 0) > 0);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

test('a listen error (EADDRINUSE) crashes the service with that error', async (t) => {
  t.timeout(10_000);
  const taken = createNetServer();
  taken.listen(0, host);
  await once(taken, 'listening');
  t.teardown(() => taken.close());
  const { port } = taken.address() as { port: number };
  const server = closedAtEnd(t, createServer());
  const errorListeners = server.listenerCount('error');
  const listeningListeners = server.listenerCount('listening');
  const lifecycle = new Lifecycle(new HttpServerService(server, { host, port }));
  const states = recordStates(lifecycle);
  const error = await t.throwsAsync(lifecycle.run());
  t.is((error as NodeJS.ErrnoException).code, 'EADDRINUSE');
  t.is(lifecycle.state, 'crashed');
  t.is(lifecycle.error, error);
  t.deepEqual(states, ['starting', 'crashed']);
  t.false(server.listening);
  t.is(server.listenerCount('error'), errorListeners);
  t.is(server.listenerCount('listening'), listeningListeners);
});

test('stop with no connections closes the server and ends stopped', async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(t, createServer());
  const { service, lifecycle, states, time } = serve(server);
  const done = lifecycle.run();
  await runningPort(service, lifecycle);
  const closed = once(server, 'close');
  t.is(await lifecycle.stop(), 'stopped');
  await closed;
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(time.pending(), 0);
});

test('a stop requested while the server is binding ends stopped without reporting running', async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(t, createServer());
  const { lifecycle, states } = serve(server);
  const done = lifecycle.run();
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.false(server.listening);
});

test('a stop requested by an onRunning hook drains at once and ends stopped', async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(t, createServer());
  const { lifecycle, states } = serve(server);
  lifecycle.onRunning(() => void lifecycle.stop());
  await lifecycle.run();
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.false(server.listening);
});

test('a stop requested before the run begins never listens', async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(t, createServer());
  const { lifecycle, states } = serve(server);
  lifecycle.onStarting(() => void lifecycle.stop());
  const listened: unknown[] = [];
  server.on('listening', () => listened.push('listening'));
  await lifecycle.run();
  t.deepEqual(states, ['starting', 'stopping', 'stopped']);
  t.deepEqual(listened, []);
});

test('an in-flight request completes with its full body during shutdown, with connection: close', async (t) => {
  t.timeout(10_000);
  const { server, arrivals } = heldServer(t);
  const { service, lifecycle, states } = serve(server);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const reply = get(port, keepAliveAgent(t));
  const { response } = await arrivals.next();
  const stopped = lifecycle.stop();
  await reach(lifecycle, 'stopping');
  // No new connection is accepted during the drain.
  const refused = connect(port, host);
  const [refusal] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  t.is(refusal.code, 'ECONNREFUSED');
  const body = 'x'.repeat(1_000_000);
  response.end(body);
  const { status, headers, body: received, complete, socket } = await reply;
  t.is(status, 200);
  t.true(complete);
  t.is(received, body);
  t.is(headers.connection, 'close');
  t.is(await stopped, 'stopped');
  await done;
  if (!socket.destroyed) await once(socket, 'close');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('a response still being written when the stop comes is delivered in full', async (t) => {
  t.timeout(20_000);
  const size = 32 * 1024 * 1024;
  const server = closedAtEnd(t, createServer());
  const { service, lifecycle } = serve(server);
  let stopped: Promise<unknown> | undefined;
  const flushing: boolean[] = [];
  server.on('request', (_request, response: ServerResponse) => {
    response.end(Buffer.alloc(size, 'a'));
    // More than any socket buffer: most of the body is still queued in the process here.
    flushing.push(!response.writableFinished);
    stopped = lifecycle.stop();
  });
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const reply = await get(port, keepAliveAgent(t));
  t.deepEqual(flushing, [true]);
  t.true(reply.complete);
  t.is(reply.body.length, size);
  t.is(await stopped, 'stopped');
  await done;
});

test('an idle keep-alive connection is closed as soon as the stop comes', async (t) => {
  t.timeout(10_000);
  const { server, arrivals } = heldServer(t);
  const { service, lifecycle } = serve(server);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const first = get(port, keepAliveAgent(t), '/first');
  (await arrivals.next()).response.end('first');
  const { socket: idle } = await first;
  t.false(idle.destroyed);
  // A second connection keeps a request in flight, so the service is still draining.
  const held = get(port, keepAliveAgent(t), '/held');
  const { response } = await arrivals.next();
  const idleClosed = once(idle, 'close');
  const stopped = lifecycle.stop();
  await idleClosed;
  t.is(lifecycle.state, 'stopping');
  response.end('held');
  t.is((await held).body, 'held');
  t.is(await stopped, 'stopped');
  await done;
});

test('a connection that never sent a request is closed as soon as the stop comes', async (t) => {
  t.timeout(10_000);
  const { server, arrivals } = heldServer(t);
  const { service, lifecycle } = serve(server);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const held = get(port, keepAliveAgent(t));
  const { response } = await arrivals.next();
  const silent = connect(port, host);
  await Promise.all([once(silent, 'connect'), once(server, 'connection')]);
  const silentClosed = once(silent, 'close');
  const stopped = lifecycle.stop();
  await silentClosed;
  t.is(lifecycle.state, 'stopping');
  response.end('held');
  t.is((await held).body, 'held');
  t.is(await stopped, 'stopped');
  await done;
});

test("a client that sent part of a request's headers does not hold a stop without a deadline", async (t) => {
  t.timeout(10_000);
  const { server } = heldServer(t);
  const { service, lifecycle, states } = serve(server);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const accepted = nextConnection(server);
  const client = await RawClient.open(t, port);
  const head = 'GET /slow HTTP/1.1\r\nHost: test\r\nX-Half: ';
  client.write(head);
  // The server has read the half request: the connection is neither idle nor in flight.
  await untilRead(await accepted, head.length);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.is(await client.closed(), '');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test("a connection holding part of a request's headers is closed as soon as the stop comes", async (t) => {
  t.timeout(10_000);
  const { server, arrivals } = heldServer(t);
  const { service, lifecycle } = serve(server);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  // A keep-alive connection that served one request, then began a second one.
  const client = await RawClient.open(t, port);
  const first = 'GET /first HTTP/1.1\r\nHost: test\r\n\r\n';
  client.write(first);
  (await arrivals.next()).response.end('first');
  await client.until(/\r\n\r\nfirst$/);
  const half = 'GET /second HTTP/1.1\r\nHost: te';
  client.write(half);
  // Another request in flight keeps the service draining.
  const held = get(port, keepAliveAgent(t), '/held');
  const { request, response } = await arrivals.next();
  await untilRead(request.socket, first.length + half.length);
  const stopped = lifecycle.stop();
  await client.closed();
  t.is(lifecycle.state, 'stopping');
  response.end('held');
  t.is((await held).body, 'held');
  t.is(await stopped, 'stopped');
  await done;
});

test('a 100-continue request arriving during the drain is served, with connection: close', async (t) => {
  t.timeout(10_000);
  const { server, arrivals } = heldServer(t);
  const { service, lifecycle } = serve(server);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const client = await RawClient.open(t, port);
  client.write('GET /first HTTP/1.1\r\nHost: test\r\n\r\n');
  const first = await arrivals.next();
  first.response.write('first ');
  const stopped = lifecycle.stop();
  await reach(lifecycle, 'stopping');
  client.write(
    'POST /upload HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n',
  );
  const upload = await arrivals.next();
  t.is(upload.request.url, '/upload');
  first.response.end('done');
  // Node answers 100 Continue by itself: the client sends its body only then.
  await client.until(/HTTP\/1\.1 100 Continue\r\n\r\n$/);
  client.write('hello');
  const [body] = (await once(upload.request.setEncoding('utf8'), 'data')) as [string];
  upload.response.end(`got ${body}`);
  const received = await client.closed();
  const reply = received.slice(received.indexOf('HTTP/1.1 100 Continue\r\n\r\n'));
  t.regex(reply, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  t.regex(reply, /^Connection: close\r\n/im);
  t.regex(reply, /\r\n\r\ngot hello$/);
  t.is(await stopped, 'stopped');
  await done;
});

test("a 100-continue request handled by the application's checkContinue listener gets connection: close during the drain", async (t) => {
  t.timeout(10_000);
  const { server, arrivals } = heldServer(t);
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    arrivals.push({ request, response, listening: server.listening });
  });
  const { service, lifecycle } = serve(server);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const client = await RawClient.open(t, port);
  client.write(
    'POST /upload HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n',
  );
  const upload = await arrivals.next();
  // The application decides: no 100 Continue was sent for it.
  t.is(client.received, '');
  const stopped = lifecycle.stop();
  await reach(lifecycle, 'stopping');
  upload.response.writeContinue();
  await client.until(/100 Continue\r\n\r\n$/);
  client.write('hello');
  const [body] = (await once(upload.request.setEncoding('utf8'), 'data')) as [string];
  upload.response.end(`got ${body}`);
  const received = await client.closed();
  t.regex(received, /^Connection: close\r\n/im);
  t.regex(received, /\r\n\r\ngot hello$/);
  t.is(await stopped, 'stopped');
  await done;
});

test("expectations other than 100-continue get Node's 417, or the application's checkExpectation listener", async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(
    t,
    createServer((_request, response) => response.end('served')),
  );
  const { service, lifecycle } = serve(server);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const ask = async () => {
    const client = await RawClient.open(t, port);
    client.write('GET / HTTP/1.1\r\nHost: test\r\nExpect: something-else\r\n\r\n');
    return client.until(/\r\n\r\n/);
  };
  t.regex(await ask(), /^HTTP\/1\.1 417 Expectation Failed\r\n/);
  server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    response.end('expectation handled');
  });
  t.regex(await ask(), /^HTTP\/1\.1 200 OK\r\n/);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

test('a response that promised keep-alive before the stop has its connection closed once it ends', async (t) => {
  t.timeout(10_000);
  const { server, arrivals } = heldServer(t);
  const { service, lifecycle } = serve(server);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const reply = get(port, keepAliveAgent(t));
  const { response } = await arrivals.next();
  response.write('part one, ');
  const stopped = lifecycle.stop();
  await reach(lifecycle, 'stopping');
  response.end('part two');
  const { headers, body, socket } = await reply;
  t.is(headers.connection, 'keep-alive');
  t.is(body, 'part one, part two');
  if (!socket.destroyed) await once(socket, 'close');
  t.is(await stopped, 'stopped');
  await done;
});

test('a request arriving on an open connection during the drain is answered with connection: close', async (t) => {
  t.timeout(10_000);
  const { server, arrivals } = heldServer(t);
  const { service, lifecycle } = serve(server);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const client = connect(port, host);
  let received = '';
  client.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  client.write('GET /first HTTP/1.1\r\nHost: test\r\n\r\n');
  const first = await arrivals.next();
  // Headers out with keep-alive before the stop: this response stays keep-alive.
  first.response.write('first ');
  const stopped = lifecycle.stop();
  client.write('GET /second HTTP/1.1\r\nHost: test\r\n\r\n');
  const second = await arrivals.next();
  t.false(second.listening);
  t.is(second.request.url, '/second');
  second.response.end('second');
  first.response.end('done');
  await once(client, 'close');
  const [, reply1 = '', reply2 = ''] = received.split('HTTP/1.1 200 OK\r\n');
  t.regex(reply1, /^Connection: keep-alive\r\n/im);
  t.regex(reply2, /^Connection: close\r\n/im);
  t.regex(reply2, /\r\n\r\nsecond$/);
  t.is(await stopped, 'stopped');
  await done;
});

test('a hanging request is cut at the shutdown deadline and the service ends stopped', async (t) => {
  t.timeout(10_000);
  const { server, arrivals } = heldServer(t);
  const { logger, entries } = captureLogs();
  const { service, lifecycle, states, time } = serve(server, 'web', { logger });
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const reply = get(port, keepAliveAgent(t));
  await arrivals.next();
  const stopped = lifecycle.stop({ timeout: 5_000 });
  await time.fake.tickAsync(4_999);
  t.is(lifecycle.state, 'stopping');
  t.deepEqual(entries, []);
  await time.fake.tickAsync(1);
  const error = await t.throwsAsync(reply);
  t.is((error as NodeJS.ErrnoException).code, 'ECONNRESET');
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.is(time.pending(), 0);
  t.deepEqual(plain(entries), [
    {
      level: 'warn',
      message: 'shutdown deadline passed: 1 request in flight cut off',
      service: 'web',
      requests: 1,
    },
  ]);
});

test('the deadline logs one warn line counting every request in flight it cuts, pipelined ones too', async (t) => {
  t.timeout(10_000);
  const { server, arrivals } = heldServer(t);
  const { logger, entries } = captureLogs();
  const { service, lifecycle, time } = serve(server, 'api', { logger });
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const agent = keepAliveAgent(t);
  const replies = [get(port, agent, '/a'), get(port, agent, '/b')];
  const pipelined = await RawClient.open(t, port);
  pipelined.write('GET /c HTTP/1.1\r\nHost: test\r\n\r\nGET /d HTTP/1.1\r\nHost: test\r\n\r\n');
  for (let n = 0; n < 4; n++) await arrivals.next();
  const stopped = lifecycle.stop({ timeout: 1_000 });
  await time.fake.tickAsync(1_000);
  for (const reply of replies) await t.throwsAsync(reply);
  await pipelined.closed();
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(plain(entries), [
    {
      level: 'warn',
      message: 'shutdown deadline passed: 4 requests in flight cut off',
      service: 'api',
      requests: 4,
    },
  ]);
});

test('a stop whose deadline has already passed cuts every connection at once', async (t) => {
  t.timeout(10_000);
  const { server, arrivals } = heldServer(t);
  const { logger, entries } = captureLogs();
  const { service, lifecycle, states } = serve(server, 'web', { logger });
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const reply = get(port, keepAliveAgent(t));
  await arrivals.next();
  const stopped = lifecycle.stop({ signal: AbortSignal.abort() });
  const error = await t.throwsAsync(reply);
  t.is((error as NodeJS.ErrnoException).code, 'ECONNRESET');
  t.is(await stopped, 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  t.like(entries, [{ level: 'warn', requests: 1 }]);
});

test('an upgraded connection is cut when the stop({ signal }) deadline aborts', async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(t, createServer());
  server.on('upgrade', (_request, socket: Socket) => {
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n',
    );
  });
  const { service, lifecycle } = serve(server);
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const client = connect(port, host);
  client.write('GET / HTTP/1.1\r\nHost: test\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
  await once(client, 'data');
  const deadline = new AbortController();
  const stopped = lifecycle.stop({ signal: deadline.signal });
  await reach(lifecycle, 'stopping');
  t.false(client.destroyed);
  const clientClosed = once(client, 'close');
  deadline.abort();
  await clientClosed;
  t.is(await stopped, 'stopped');
  await done;
});

test('a bounded load run during shutdown loses no request the server accepted', async (t) => {
  t.timeout(30_000);
  const clients = 20;
  const perClient = 50;
  const stopAfter = 200;
  const invoked = new Set<string>();
  const server = closedAtEnd(t, createServer());
  const { service, lifecycle } = serve(server);
  let stopped: Promise<unknown> | undefined;
  let inFlightAtStop = 0;
  let inFlight = 0;
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const id = request.url ?? '';
    invoked.add(id);
    inFlight += 1;
    if (invoked.size === stopAfter) {
      inFlightAtStop = inFlight;
      stopped = lifecycle.stop();
    }
    setImmediate(() => {
      inFlight -= 1;
      response.end(`${id}:${'y'.repeat(2_000)}`);
    });
  });
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const agent = keepAliveAgent(t);
  const completed = new Set<string>();
  const failures: string[] = [];
  const client = async (c: number) => {
    for (let n = 0; n < perClient; n++) {
      const id = `/${c}/${n}`;
      try {
        const reply = await get(port, agent, id);
        if (reply.complete && reply.body === `${id}:${'y'.repeat(2_000)}`) completed.add(id);
      } catch (error) {
        failures.push(`${id} ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  t.is(await stopped, 'stopped');
  await done;
  t.true(inFlightAtStop > 0);
  t.true(completed.size >= stopAfter);
  // Every client ran into the shutdown: none finished its requests.
  t.is(failures.length, clients);
  t.deepEqual(
    [...invoked].filter((id) => !completed.has(id)),
    [],
  );
  // Whatever failed never reached the handler, and failed for want of a server.
  for (const failure of failures) {
    const [id = '', code = ''] = failure.split(' ');
    t.false(invoked.has(id), failure);
    t.true(['ECONNREFUSED', 'ECONNRESET'].includes(code), failure);
  }
});

test('the listeners the service adds are removed when the run ends', async (t) => {
  t.timeout(10_000);
  const handler: RequestListener = (_request, response) => response.end('ok');
  const server = closedAtEnd(t, createServer(handler));
  const events = [
    'request',
    'checkContinue',
    'checkExpectation',
    'connection',
    'secureConnection',
    'close',
    'error',
    'listening',
  ];
  const before = events.map((event) => server.listenerCount(event));
  const { service, lifecycle } = serve(server);
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
  t.deepEqual(server.listeners('request'), [handler]);
  // The drain's own closeIdleConnections is gone: the prototype's is back.
  t.false(Object.hasOwn(server, 'closeIdleConnections'));
  t.is(getEventListeners(signal, 'abort').length, 0);
  t.is(getEventListeners(shutdownSignal, 'abort').length, 0);
});

test("a closeIdleConnections of the server's own is put back after the run", async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(t, createServer());
  const calls: string[] = [];
  const original = server.closeIdleConnections.bind(server);
  const own = () => {
    calls.push('own');
    original();
  };
  server.closeIdleConnections = own;
  const { service, lifecycle } = serve(server);
  const done = lifecycle.run();
  await runningPort(service, lifecycle);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  // The drain called it through its own guarded sweep.
  t.true(calls.length > 0);
  t.true(Object.hasOwn(server, 'closeIdleConnections'));
  t.is(Object.getOwnPropertyDescriptor(server, 'closeIdleConnections')?.value, own);
});

test('a listen() that throws crashes the service with its error and leaves no listener behind', async (t) => {
  const server = closedAtEnd(t, createServer());
  const before = server.listenerCount('error') + server.listenerCount('listening');
  const refused = new Error('listen refused');
  server.listen = () => {
    throw refused;
  };
  const { lifecycle, states } = serve(server);
  t.is(await t.throwsAsync(lifecycle.run()), refused);
  t.deepEqual(states, ['starting', 'crashed']);
  t.is(server.listenerCount('error') + server.listenerCount('listening'), before);
});

test('the service runs again after it stopped, on a new listen', async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(
    t,
    createServer((_request, response) => response.end('again')),
  );
  const { service, lifecycle, states } = serve(server);
  const agent = keepAliveAgent(t);
  for (let run = 0; run < 2; run++) {
    const done = lifecycle.run();
    const port = await runningPort(service, lifecycle);
    t.is((await get(port, agent)).body, 'again');
    t.is(await lifecycle.stop(), 'stopped');
    await done;
  }
  t.deepEqual(states, [
    ...['starting', 'running', 'stopping', 'stopped'],
    ...['starting', 'running', 'stopping', 'stopped'],
  ]);
  t.is(server.listenerCount('request'), 1);
});

test('a server that already listens is adopted: running as soon as the service starts, closed on stop', async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(
    t,
    createServer((_request, response) => response.end('adopted')),
  );
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const { service, lifecycle, states } = serve(server);
  const done = lifecycle.run();
  // run() calls the service in the next microtask; it reports running there, with no I/O.
  await Promise.resolve();
  t.deepEqual(states, ['starting', 'running']);
  t.is(service.port, port);
  t.is((await get(port, keepAliveAgent(t))).body, 'adopted');
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.false(server.listening);
});

test('a server closed by other code ends the service stopped', async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(t, createServer());
  const { service, lifecycle, states } = serve(server);
  const done = lifecycle.run();
  await runningPort(service, lifecycle);
  server.close();
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopped']);
  t.is(server.listenerCount('close'), 0);
});

// A self-signed certificate for 127.0.0.1 (EC P-256, valid until 2126), for the https test only.
const tls = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIqSKF/GH7VkJ1EKZ
xJofSSC87nEgBCeN+0JwG9l4NaahRANCAATqjcHNodNrOByT40EZdWwJdKzOxJu6
EVeJivlDJsY5ipL7QU+ju+Hr1DmWrytSF04YoipcQytMS4t7r041dU2A
-----END PRIVATE KEY-----
`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBnDCCAUGgAwIBAgIUXE4DIeWFZIpOZ+MOGA8aHozK2FEwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMTIzMjM0NloYDzIxMjYxMDI4
MjMyMzQ2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATqjcHNodNrOByT40EZdWwJdKzOxJu6EVeJivlDJsY5ipL7QU+ju+Hr
1DmWrytSF04YoipcQytMS4t7r041dU2Ao28wbTAdBgNVHQ4EFgQUQEvZYtAJnlQl
Xr65SGb/TLo8DAwwHwYDVR0jBBgwFoAUQEvZYtAJnlQlXr65SGb/TLo8DAwwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI
zj0EAwIDSQAwRgIhAPAOMvHysrO9uWPRTTWURPez6dO6v/Uv7WssKUg1K7NfAiEA
0cFsOsAHQBf59DsbbzIkVvI0nrWzYxTBAYUGUYUKdnY=
-----END CERTIFICATE-----
`,
};

test('an https server drains too: idle and half-sent TLS connections close at once, a stalled handshake at the deadline', async (t) => {
  t.timeout(10_000);
  const server = closedAtEnd(
    t,
    createHttpsServer(tls, (_request, response) => response.end('secure')),
  );
  const { service, lifecycle, time } = serve(server, 'https');
  const done = lifecycle.run();
  const port = await runningPort(service, lifecycle);
  const agent = new HttpsAgent({ keepAlive: true, ca: tls.cert });
  t.teardown(() => {
    agent.destroy();
  });
  const reply = await new Promise<{ body: string; connection: string | undefined }>(
    (resolve, reject) => {
      const request = httpsRequest({ host, port, agent }, (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          resolve({ body, connection: response.headers.connection });
        });
      });
      request.on('error', reject).end();
    },
  );
  t.deepEqual(reply, { body: 'secure', connection: 'keep-alive' });
  const secure = async () => {
    const socket = tlsConnect({ host, port, ca: tls.cert, servername: 'localhost' });
    t.teardown(() => socket.destroy());
    const [[accepted]] = (await Promise.all([
      once(server, 'secureConnection'),
      once(socket, 'secureConnect'),
    ])) as [[Socket], unknown];
    return { socket, accepted };
  };
  const silent = await secure();
  const half = await secure();
  const head = 'GET / HTTP/1.1\r\nHost: te';
  half.socket.write(head);
  await untilRead(half.accepted, head.length);
  // A client that began its TLS handshake and stalled: no HTTP yet, only TLS bytes.
  const stalled = connect(port, host);
  t.teardown(() => stalled.destroy());
  const [[raw]] = (await Promise.all([once(server, 'connection'), once(stalled, 'connect')])) as [
    [Socket],
    unknown,
  ];
  stalled.write(Buffer.from([0x16, 0x03, 0x01]));
  await untilRead(raw, 3);
  const stopped = lifecycle.stop({ timeout: 1_000 });
  await Promise.all([once(silent.socket, 'close'), once(half.socket, 'close')]);
  t.is(lifecycle.state, 'stopping');
  t.false(stalled.destroyed);
  const stalledClosed = once(stalled, 'close');
  await time.fake.tickAsync(1_000);
  await stalledClosed;
  t.is(await stopped, 'stopped');
  await done;
});

test('bad arguments throw TypeErrors naming them', (t) => {
  const server = createServer();
  const cases: [() => unknown, string][] = [
    [
      () => new HttpServerService(undefined as unknown as Server),
      'Expected `server` to be a node:http or node:https Server (with listen, close, closeIdleConnections and closeAllConnections methods), got `undefined` (undefined)',
    ],
    [
      () => new HttpServerService(createNetServer() as unknown as Server),
      'Expected `server` to be a node:http or node:https Server (with listen, close, closeIdleConnections and closeAllConnections methods), got an object (Server)',
    ],
    [
      () => new HttpServerService(server, null as unknown as object),
      'Expected `options` to be an object, got `null`',
    ],
    [
      () => new HttpServerService(server, { name: '' }),
      'Expected `options.name` to be a non-empty string, got `""` (string)',
    ],
    [
      () => new HttpServerService(server, { port: -1 }),
      'Expected `options.port` to be an integer from 0 to 65535, got `-1` (number)',
    ],
    [
      () => new HttpServerService(server, { port: 65_536 }),
      'Expected `options.port` to be an integer from 0 to 65535, got `65536` (number)',
    ],
    [
      () => new HttpServerService(server, { port: 80.5 }),
      'Expected `options.port` to be an integer from 0 to 65535, got `80.5` (number)',
    ],
    [
      () => new HttpServerService(server, { port: '80' as unknown as number }),
      'Expected `options.port` to be an integer from 0 to 65535, got `"80"` (string)',
    ],
    [
      () => new HttpServerService(server, { host: '' }),
      'Expected `options.host` to be a non-empty string, got `""` (string)',
    ],
    [
      () => new HttpServerService(server, { host: 127 as unknown as string }),
      'Expected `options.host` to be a non-empty string, got `127` (number)',
    ],
    [
      () => new HttpServerService(server, { logger: console.log as unknown as Logger }),
      'Expected `options.logger` to be a logger with error, warn, info and debug methods, got a function',
    ],
  ];
  for (const [create, message] of cases) t.throws(create, { instanceOf: TypeError, message });
});

test('the constructor rejects an unknown option with a TypeError naming it', (t) => {
  const options = { name: 'web', prot: 8080 } as HttpServerServiceOptions;
  const error = t.throws(() => new HttpServerService(createServer(), options), {
    instanceOf: TypeError,
    message:
      'Unknown option `options.prot`; the known options are `name`, `port`, `host`, `logger`',
  });
  t.true(error.message.includes('prot`') && error.message.includes('`port`'));
});

test('the constructor takes a known option set to undefined as its default', async (t) => {
  const server = closedAtEnd(t, createServer());
  const service = new HttpServerService(server, {
    name: undefined,
    port: undefined,
    host: undefined,
    logger: undefined,
  });
  t.is(service.name, 'http');
  const lifecycle = new Lifecycle(service);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  // Port 0, the default: the operating system picked one.
  t.true((service.port ?? 0) > 0);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
});
