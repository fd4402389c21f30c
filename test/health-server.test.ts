import test, { type ExecutionContext } from 'ava';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { Lifecycle, Pool, Restarter, type Clock } from '../lib/index.js';
import {
  HealthServer,
  type HealthServerOptions,
  type MetricsSource,
} from '../lib/health-server.js';
import { fakeClock } from './helpers/clock.js';
import { runToEnd } from './helpers/pool.js';
import { CheckedService, controlledCheck } from './helpers/probes.js';
import { recordStates } from './helpers/record.js';
import { ControlledService } from './helpers/service.js';

/** What a probe answered. */
interface Answer {
  status: number;
  body: string;
  type: string | null;
  cacheControl: string | null;
  allow: string | null;
}

/** An app pool on a fake clock, a HealthServer inside it on a free loopback port, running. */
interface App {
  pool: Pool;
  root: Lifecycle<Pool>;
  server: HealthServer;
  serverLifecycle: Lifecycle<HealthServer>;
  fake: ReturnType<typeof fakeClock>['fake'];
  done: Promise<Error | undefined>;
  port: number;
  /** Sends a request to the server and reads the whole answer. */
  probe(path: string, method?: string): Promise<Answer>;
}

interface AppOptions {
  /** Adds the other children of the pool, after the health server. */
  children?: (pool: Pool, clock: Clock) => void;
  drainDelay?: number;
  server?: HealthServerOptions;
}

/**
 * Builds and runs the app; resolves once the health server listens. The root is stopped (with
 * an immediate deadline) when the test ends, whatever happened.
 */
async function startApp(t: ExecutionContext, options: AppOptions = {}): Promise<App> {
  const { clock, fake } = fakeClock();
  const pool = new Pool({ name: 'app', clock, drainDelay: options.drainDelay });
  const root = new Lifecycle(pool, { clock });
  const server = new HealthServer(root, { port: 0, clock, ...options.server });
  const serverLifecycle = pool.add(server);
  options.children?.(pool, clock);
  const done = runToEnd(root);
  t.teardown(async () => {
    await root.stop({ timeout: 0 });
  });
  await serverLifecycle.whenRunning();
  const port = server.port;
  if (port === undefined) throw new Error('the health server runs without a port');
  const probe = (path: string, method = 'GET') => request(port, path, method);
  return { pool, root, server, serverLifecycle, fake, done, port, probe };
}

/**
 * Sends a request on a connection of its own (no agent: nothing stays open after the answer)
 * and reads the whole answer.
 */
function request(port: number, path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sent = httpRequest({ host: '127.0.0.1', port, path, method, agent: false });
    sent.on('error', reject).end();
    sent.on('response', (response: IncomingMessage) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('error', reject);
      response.on('end', () => {
        const header = (name: string) => (response.headers[name] as string | undefined) ?? null;
        resolve({
          status: response.statusCode ?? 0,
          body,
          type: header('content-type'),
          cacheControl: header('cache-control'),
          allow: header('allow'),
        });
      });
    });
  });
}

/**
 * Resolves once `count` requests have reached the server listening on `port` (Node publishes
 * each on the `http.server.request.start` channel just before its handler runs).
 */
function requestsArriving(t: ExecutionContext, port: number, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onRequest = (message: unknown) => {
      const { socket } = message as { socket: Socket };
      if (socket.localPort === port && ++seen === count) resolve();
    };
    subscribe('http.server.request.start', onRequest);
    t.teardown(() => {
      unsubscribe('http.server.request.start', onRequest);
    });
  });
}

/** A raw TCP connection, for what an HTTP client will not do: send half a request, keep quiet. */
class RawConnection {
  received = '';
  readonly #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8').on('data', (chunk: string) => (this.received += chunk));
    socket.on('error', () => undefined);
  }

  /** Connects to `port` on loopback; the socket is destroyed when the test ends. */
  static async open(t: ExecutionContext, port: number): Promise<RawConnection> {
    const socket = connect(port, '127.0.0.1');
    t.teardown(() => {
      socket.destroy();
    });
    await once(socket, 'connect');
    return new RawConnection(socket);
  }

  write(data: string): void {
    this.#socket.write(data);
  }

  /** Resolves once what was received matches `pattern`. */
  async until(pattern: RegExp): Promise<void> {
    while (!pattern.test(this.received)) await once(this.#socket, 'data');
  }

  /** Resolves once the server has closed the connection. */
  async closed(): Promise<void> {
    if (!this.#socket.closed) await once(this.#socket, 'close');
  }
}

/** The server side of the next connection accepted on `port` (the `net.server.socket` channel). */
function accepted(t: ExecutionContext, port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const onSocket = (message: unknown) => {
      const { socket } = message as { socket: Socket };
      if (socket.localPort === port) resolve(socket);
    };
    subscribe('net.server.socket', onSocket);
    t.teardown(() => {
      unsubscribe('net.server.socket', onSocket);
    });
  });
}

/** Resolves once the server side `socket` has read `bytes` bytes, turn by turn of the event loop. */
async function untilRead(socket: Socket, bytes: number): Promise<void> {
  while (socket.bytesRead < bytes) await turn();
}

const text = 'text/plain; charset=utf-8';

function plain(status: number, body: string): Answer {
  return { status, body: `${body}\n`, type: text, cacheControl: 'no-store', allow: null };
}

/** A check that throws a coded error with a cause, as a database client would. */
function dbDown(): Error {
  return Object.assign(new Error('db down', { cause: new Error('connect ECONNREFUSED') }), {
    code: 'E_DB',
  });
}

// --- the probes ---

test('GET /livez and /readyz answer 200 ok as uncached text while the tree runs', async (t) => {
  const app = await startApp(t, {
    children: (pool) => {
      pool.add(new CheckedService('db', () => undefined));
    },
  });
  t.is(app.root.state, 'running');

  t.deepEqual(await app.probe('/livez'), plain(200, 'ok'));
  t.deepEqual(await app.probe('/readyz'), plain(200, 'ok'));

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('/readyz answers 503 not ready while a child is starting, /livez 200, and both 200 once it runs', async (t) => {
  const web = new ControlledService('web', { running: 'manually' });
  const app = await startApp(t, {
    children: (pool) => {
      pool.add(web);
    },
  });
  t.is(app.root.state, 'starting');

  t.deepEqual(await app.probe('/readyz'), plain(503, 'not ready'));
  t.deepEqual(await app.probe('/livez'), plain(200, 'ok'));

  web.reportRunning();
  t.deepEqual(await app.probe('/readyz'), plain(200, 'ok'));

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('/livez answers 200 while a dependency check fails, and /readyz 503 not ready', async (t) => {
  const db = new CheckedService('db', () => Promise.reject(dbDown()));
  const app = await startApp(t, {
    children: (pool) => {
      pool.add(db);
    },
  });

  t.deepEqual(await app.probe('/livez'), plain(200, 'ok'));
  t.deepEqual(await app.probe('/readyz'), plain(503, 'not ready'));
  t.is(db.calls, 1, '/livez does not ask the dependency checks');
  t.is(app.root.state, 'running', 'a failing check stops nothing');

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('/livez answers 503 not live when a livenessCheck fails, while /readyz stays 200', async (t) => {
  const jobs = new CheckedService('jobs', {
    liveness: () => {
      throw new Error('the loop has not turned for 30 s');
    },
  });
  const app = await startApp(t, {
    children: (pool) => {
      pool.add(jobs);
    },
  });

  t.deepEqual(await app.probe('/livez'), plain(503, 'not live'));
  t.deepEqual(await app.probe('/readyz'), plain(200, 'ok'));
  t.is(jobs.livenessCalls, 1, '/readyz does not ask the liveness checks');

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('/livez answers at once while a dependency check hangs', async (t) => {
  const answer = controlledCheck();
  const db = new CheckedService('db', { health: answer.check, liveness: () => undefined });
  const app = await startApp(t, {
    children: (pool) => {
      pool.add(db);
    },
  });

  const readyz = app.probe('/readyz');
  await answer.called;
  t.deepEqual(await app.probe('/livez'), plain(200, 'ok'), 'answered while the check hangs');
  answer.resolve();
  t.deepEqual(await readyz, plain(200, 'ok'));

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('a check that hangs past the server timeout makes /readyz answer 503 not ready', async (t) => {
  const answer = controlledCheck();
  const db = new CheckedService('db', answer.check);
  const app = await startApp(t, {
    server: { timeout: 250, verbose: true, exposeErrors: true },
    children: (pool) => {
      pool.add(db);
    },
  });

  const probe = app.probe('/readyz?verbose');
  await answer.called;
  await app.fake.tickAsync(250);
  const { status, body } = await probe;

  t.is(status, 503);
  t.deepEqual(
    (JSON.parse(body) as { tree: { children: { check?: unknown }[] } }).tree.children[1]!.check,
    {
      ok: false,
      error: { name: 'Error', message: 'health check of "db" timed out after 250 ms' },
      durationMs: 250,
    },
  );

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('/readyz answers 503 stopping as soon as root.stop() is called, while everything still serves through the drain delay', async (t) => {
  const web = new ControlledService('web');
  const app = await startApp(t, {
    drainDelay: 5_000,
    server: { verbose: true },
    children: (pool) => {
      pool.add(web);
    },
  });
  const webStates = recordStates(web.lifecycle);
  const serverStates = recordStates(app.serverLifecycle);
  t.deepEqual(await app.probe('/readyz'), plain(200, 'ok'));

  const stopped = app.root.stop();

  t.deepEqual(await app.probe('/readyz'), plain(503, 'stopping'));
  t.deepEqual(await app.probe('/livez'), plain(200, 'ok'), 'still live while it drains');
  const verbose = await app.probe('/readyz?verbose');
  t.is(verbose.status, 503);
  t.like(JSON.parse(verbose.body), {
    live: true,
    ready: false,
    tree: { name: 'app', state: 'stopping', ready: false, live: true },
  });
  t.deepEqual(webStates, [], 'nothing was asked to stop before the delay passed');
  t.deepEqual(serverStates, []);

  await app.fake.tickAsync(5_000);
  t.is(await stopped, 'stopped');
  t.is(await app.done, undefined);
  t.deepEqual(webStates, ['stopping', 'stopped']);
  t.deepEqual(serverStates, ['stopping', 'stopped']);
});

test('200 concurrent probes run each check once', async (t) => {
  const health = controlledCheck();
  const liveness = controlledCheck();
  const db = new CheckedService('db', { health: health.check, liveness: liveness.check });
  // No cache: only sharing the checks in flight can keep them to one call each.
  const app = await startApp(t, {
    server: { checkCacheMs: 0 },
    children: (pool) => {
      pool.add(db);
    },
  });
  const arrived = requestsArriving(t, app.port, 200);

  const probes = Array.from({ length: 200 }, (_, index) =>
    app.probe(index % 2 === 0 ? '/livez' : '/readyz'),
  );
  await arrived;
  // The last request's handler runs right after the event that counted it.
  await turn();
  health.resolve();
  liveness.resolve();
  const answers = await Promise.all(probes);

  t.deepEqual([db.calls, db.livenessCalls], [1, 1]);
  t.true(answers.every((answer) => answer.status === 200 && answer.body === 'ok\n'));

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('probes within checkCacheMs reuse the last result; later ones run the check again', async (t) => {
  const db = new CheckedService('db', () => undefined);
  const app = await startApp(t, {
    server: { checkCacheMs: 5_000 },
    children: (pool) => {
      pool.add(db);
    },
  });

  await app.probe('/readyz');
  await app.fake.tickAsync(4_999);
  await app.probe('/readyz');
  t.is(db.calls, 1);
  await app.fake.tickAsync(1);
  await app.probe('/readyz');
  t.is(db.calls, 2);

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

// --- what the answers tell: verbose, exposeErrors ---

/**
 * Adds services whose check, liveness check and crash errors hold a password and an internal
 * address, as a careless driver's messages would; returns the one that will crash.
 */
function leakyChildren(
  pool: Pool,
  clock: Clock,
): { crashing: ControlledService; restarter: Restarter } {
  pool.add(
    new CheckedService('db', () =>
      Promise.reject(new Error('connect postgres://app:hunter2@10.0.3.7/orders failed')),
    ),
  );
  const crashing = new ControlledService('cache');
  const restarter = new Restarter(crashing, { clock, initialDelay: 5_000, jitter: 0 });
  pool.add(restarter);
  pool.add(
    new CheckedService('jobs', {
      liveness: () => {
        throw new Error('stuck with token hunter2 on 10.0.3.9');
      },
    }),
  );
  return { crashing, restarter };
}

const probePaths = ['/livez', '/readyz', '/livez?verbose', '/readyz?verbose', '/readyz?verbose=1'];

for (const server of [{}, { verbose: true }] as const) {
  test(`a password in a check's or a crash's error is in no answer with ${JSON.stringify(server)}`, async (t) => {
    let leaky!: ReturnType<typeof leakyChildren>;
    const app = await startApp(t, {
      server,
      children: (pool, clock) => {
        leaky = leakyChildren(pool, clock);
      },
    });
    await app.root.whenRunning();
    const restarted = new Promise((resolve) => leaky.restarter.once('restart', resolve));
    leaky.crashing.crash(new Error('redis://:hunter2@10.0.3.8 refused'));
    await restarted;

    for (const path of probePaths) {
      for (const method of ['GET', 'HEAD']) {
        const answer = await app.probe(path, method);
        t.false(answer.body.includes('hunter2'), `${method} ${path}`);
        t.false(answer.body.includes('10.0.3'), `${method} ${path}`);
        t.is(answer.status, 503, `${method} ${path}`);
      }
    }
    t.is((await app.probe('/livez?verbose')).type, server.verbose ? 'application/json' : text);

    t.is(await app.root.stop(), 'stopped');
    t.is(await app.done, undefined);
  });
}

test('without verbose: true, ?verbose answers one word', async (t) => {
  const app = await startApp(t);

  for (const path of ['/livez?verbose', '/readyz?verbose', '/livez?verbose=true']) {
    t.deepEqual(await app.probe(path), plain(200, 'ok'), path);
  }

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('with verbose: true, ?verbose, ?verbose=true and ?verbose=1 answer JSON, ?verbose=false and ?verbose=0 one word', async (t) => {
  const app = await startApp(t, { server: { verbose: true } });

  for (const query of ['verbose', 'verbose=', 'verbose=true', 'verbose=1']) {
    t.is((await app.probe(`/livez?${query}`)).type, 'application/json', query);
  }
  for (const query of ['verbose=false', 'verbose=0', 'verbose=no', 'verbos', '']) {
    t.deepEqual(await app.probe(`/livez?${query}`), plain(200, 'ok'), query);
  }

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('with verbose: true, ?verbose answers the report: names, states and checks, and no error', async (t) => {
  const app = await startApp(t, {
    server: { verbose: true },
    children: (pool) => {
      pool.add(
        new CheckedService('db', () => {
          throw dbDown();
        }),
      );
    },
  });

  const answer = await app.probe('/readyz?verbose');

  t.is(answer.status, 503);
  t.is(answer.type, 'application/json');
  t.is(answer.cacheControl, 'no-store');
  t.deepEqual(JSON.parse(answer.body), {
    live: true,
    ready: false,
    tree: {
      name: 'app',
      state: 'running',
      since: 0,
      startupMs: 0,
      ready: false,
      live: true,
      children: [
        {
          name: 'health',
          state: 'running',
          since: 0,
          startupMs: 0,
          ready: true,
          live: true,
          children: [],
        },
        {
          name: 'db',
          state: 'running',
          since: 0,
          startupMs: 0,
          ready: false,
          live: true,
          check: { ok: false, durationMs: 0 },
          children: [],
        },
      ],
    },
  });
  const livez = await app.probe('/livez?verbose');
  t.is(livez.status, 200, 'the failing dependency does not fail /livez');
  t.deepEqual(JSON.parse(livez.body), JSON.parse(answer.body));

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('with exposeErrors: true, errors are name, message, code and cause, and never a stack', async (t) => {
  const app = await startApp(t, {
    server: { verbose: true, exposeErrors: true },
    children: (pool) => {
      pool.add(
        new CheckedService('db', () => {
          throw dbDown();
        }),
      );
      pool.add(
        new CheckedService('queue', () => {
          throw new AggregateError([new Error('broker 1 down'), 'broker 2 down'], 'no broker', {
            cause: 'all of them',
          });
        }),
      );
    },
  });

  const answer = await app.probe('/readyz?verbose');

  t.false(answer.body.includes('stack'));
  t.false(answer.body.includes('    at '));
  const report = JSON.parse(answer.body) as {
    tree: { children: { check?: { error?: unknown } }[] };
  };
  t.deepEqual(report.tree.children[1]!.check?.error, {
    name: 'Error',
    message: 'db down',
    code: 'E_DB',
    cause: { name: 'Error', message: 'connect ECONNREFUSED' },
  });
  t.deepEqual(report.tree.children[2]!.check?.error, {
    name: 'AggregateError',
    message: 'no broker',
    cause: '`"all of them"` (string)',
    errors: [{ name: 'Error', message: 'broker 1 down' }, 'broker 2 down'],
  });
  t.is((await app.probe('/readyz')).body, 'not ready\n', 'the plain answer is one word still');

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('a crashed service a restarter is about to restart leaves /livez 200 and makes /readyz 503', async (t) => {
  const worker = new ControlledService('worker');
  let restarter!: Restarter;
  const app = await startApp(t, {
    server: { verbose: true },
    children: (pool, clock) => {
      restarter = new Restarter(worker, { clock, initialDelay: 1_000, jitter: 0 });
      pool.add(restarter);
    },
  });
  const restarted = new Promise((resolve) => restarter.once('restart', resolve));
  worker.crash();
  await restarted;

  // The restarter handles the crash: the process is alive, but not ready until the restart.
  t.deepEqual(await app.probe('/livez'), plain(200, 'ok'));
  t.deepEqual(await app.probe('/readyz'), plain(503, 'not ready'));
  const report = JSON.parse((await app.probe('/readyz?verbose')).body) as {
    live: boolean;
    tree: { children: unknown[] };
  };
  t.true(report.live);
  t.like(report.tree.children[1], { name: 'worker', ready: false, live: true });
  t.false(JSON.stringify(report).includes('worker failed'), 'no error without exposeErrors');

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

// --- HTTP ---

test('other paths answer 404 not found', async (t) => {
  const app = await startApp(t);

  for (const path of ['/', '/healthz', '/livez/extra', '/readyz/', '/LIVEZ']) {
    t.deepEqual(await app.probe(path), plain(404, 'not found'), path);
  }

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('other methods on a probe answer 405 with allow: GET, HEAD', async (t) => {
  const app = await startApp(t);

  for (const [method, path] of [
    ['POST', '/livez'],
    ['PUT', '/readyz'],
    ['DELETE', '/readyz?verbose'],
  ] as const) {
    t.deepEqual(
      await app.probe(path, method),
      { ...plain(405, 'method not allowed'), allow: 'GET, HEAD' },
      `${method} ${path}`,
    );
  }

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('HEAD answers the probe status and headers without a body', async (t) => {
  const web = new ControlledService('web', { running: 'manually' });
  const app = await startApp(t, {
    children: (pool) => {
      pool.add(web);
    },
  });

  t.deepEqual(await app.probe('/livez', 'HEAD'), { ...plain(200, ''), body: '' });
  t.deepEqual(await app.probe('/readyz', 'HEAD'), { ...plain(503, ''), body: '' });
  web.reportRunning();
  t.deepEqual(await app.probe('/readyz', 'HEAD'), { ...plain(200, ''), body: '' });

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('a malformed request URL is answered 400 and the server keeps serving', async (t) => {
  const app = await startApp(t);

  const request = httpRequest({ host: '127.0.0.1', port: app.port, path: '//[' });
  request.end();
  const [response] = (await once(request, 'response')) as [IncomingMessage];
  response.setEncoding('utf8');
  let body = '';
  for await (const chunk of response) body += chunk as string;

  t.is(response.statusCode, 400);
  t.is(body, 'bad request\n', 'nothing of the parse error');
  t.deepEqual(await app.probe('/livez'), plain(200, 'ok'));

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

// --- connections ---

test('a client that sent part of its headers is cut after headersTimeout, with 408', async (t) => {
  const app = await startApp(t, { server: { headersTimeout: 50, requestTimeout: 100 } });

  const partial = await RawConnection.open(t, app.port);
  partial.write('GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  const silent = await RawConnection.open(t, app.port);
  await Promise.all([partial.closed(), silent.closed()]);

  t.regex(partial.received, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  t.regex(silent.received, /^HTTP\/1\.1 408 Request Timeout\r\n/, 'one that sent nothing too');
  t.deepEqual(await app.probe('/livez'), plain(200, 'ok'), 'the server goes on serving');

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('a stop closes idle and half-open connections at once, and lets a probe in flight finish', async (t) => {
  const liveness = controlledCheck();
  const app = await startApp(t, {
    children: (pool) => {
      pool.add(new CheckedService('jobs', { liveness: liveness.check }));
    },
  });
  // Kept alive after its answer.
  const idle = await RawConnection.open(t, app.port);
  idle.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await idle.until(/\r\n\r\nok\n$/);
  // Part of a request's headers, read by the server.
  const serverSide = accepted(t, app.port);
  const halfOpen = await RawConnection.open(t, app.port);
  const part = 'GET /livez HTTP/1.1\r\nHo';
  halfOpen.write(part);
  await untilRead(await serverSide, part.length);
  const inFlight = app.probe('/livez');
  await liveness.called;

  // No deadline: only closing them can end the stop while the two connections stay open.
  const stopped = app.root.stop();
  await Promise.all([idle.closed(), halfOpen.closed()]);
  t.is(halfOpen.received, '', 'closed, not answered');
  liveness.resolve();

  t.deepEqual(await inFlight, plain(200, 'ok'));
  t.is(await stopped, 'stopped');
  t.is(await app.done, undefined);
});

// --- /metrics ---

/** A metrics source counting its calls, answering `text`. */
function metricsSource(metrics: () => Promise<string> | string): MetricsSource & { calls: number } {
  const source = {
    calls: 0,
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    metrics() {
      source.calls++;
      return metrics();
    },
  };
  return source;
}

test("with metrics, GET /metrics answers the source's text with its content type", async (t) => {
  const source = metricsSource(() => Promise.resolve('# TYPE up gauge\nup 1\n'));
  const app = await startApp(t, { server: { metrics: source } });

  t.deepEqual(await app.probe('/metrics'), {
    status: 200,
    body: '# TYPE up gauge\nup 1\n',
    type: 'text/plain; version=0.0.4; charset=utf-8',
    cacheControl: 'no-store',
    allow: null,
  });
  t.like(await app.probe('/metrics', 'HEAD'), { status: 200, body: '' });
  t.deepEqual(await app.probe('/metrics', 'POST'), {
    ...plain(405, 'method not allowed'),
    allow: 'GET, HEAD',
  });
  t.is(source.calls, 2);

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('without metrics, /metrics answers 404 not found', async (t) => {
  const app = await startApp(t);

  t.deepEqual(await app.probe('/metrics'), plain(404, 'not found'));

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('a metrics source that throws or rejects answers 500 with nothing of its error, and the server goes on', async (t) => {
  const failures: (() => Promise<string> | string)[] = [
    () => {
      throw new Error('collect failed: password hunter2');
    },
    () => Promise.reject(new Error('collect failed: password hunter2')),
  ];
  for (const failure of failures) {
    const app = await startApp(t, { server: { metrics: metricsSource(failure) } });

    t.deepEqual(await app.probe('/metrics'), plain(500, 'internal error'));
    t.deepEqual(await app.probe('/livez'), plain(200, 'ok'));

    t.is(await app.root.stop(), 'stopped');
    t.is(await app.done, undefined);
  }
});

test('a metrics source whose answer Node cannot send closes the connection, and the server goes on', async (t) => {
  const source = { contentType: 'text/plain\nx-injected: 1', metrics: () => 'up 1\n' };
  const app = await startApp(t, { server: { metrics: source } });

  const error = await t.throwsAsync(app.probe('/metrics'));
  t.is((error as NodeJS.ErrnoException).code, 'ECONNRESET');
  t.deepEqual(await app.probe('/livez'), plain(200, 'ok'));

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

// --- the service ---

// Serial: it patches net.Server.prototype.listen for its duration to see the server it binds.
test.serial('the server binds 127.0.0.1 by default', async (t) => {
  const bound: NetServer[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with its own `this` below
  const listen = NetServer.prototype.listen;
  NetServer.prototype.listen = function (this: NetServer, ...args: unknown[]) {
    bound.push(this);
    return (listen as (...rest: unknown[]) => NetServer).apply(this, args);
  } as typeof listen;
  let app: App;
  try {
    app = await startApp(t);
  } finally {
    NetServer.prototype.listen = listen;
  }

  const server = bound.find((candidate) => {
    const address = candidate.address() as AddressInfo | null;
    return address?.port === app.port;
  });
  t.deepEqual(server?.address(), { address: '127.0.0.1', family: 'IPv4', port: app.port });

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('.port is undefined before the server runs and after it stopped, and the bound port while it runs', async (t) => {
  const app = await startApp(t);
  t.is(typeof app.server.port, 'number');
  t.true(app.port > 0);

  t.is(await app.root.stop(), 'stopped');
  t.is(app.server.port, undefined);

  const idle = new HealthServer(new Lifecycle(new Pool()), { port: 0 });
  t.is(idle.port, undefined);
});

test('a HealthServer is a service of the pool it watches: it reports itself and stops with the pool', async (t) => {
  const app = await startApp(t, { server: { name: 'probes', verbose: true } });
  const states = recordStates(app.serverLifecycle);
  t.is(app.server.name, 'probes');
  t.deepEqual(app.pool.lifecycles, [app.serverLifecycle]);
  t.is(app.serverLifecycle.service, app.server);
  const answer = await app.probe('/readyz?verbose');
  t.like(JSON.parse(answer.body), {
    ready: true,
    tree: { children: [{ name: 'probes', state: 'running', ready: true }] },
  });

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
  t.deepEqual(states, ['stopping', 'stopped']);
  t.is(app.server.port, undefined);
});

test('the default name is health', (t) => {
  t.is(new HealthServer(new Lifecycle(new Pool())).name, 'health');
});

// --- arguments ---

test('new HealthServer() throws a TypeError naming a bad root or option', (t) => {
  const root = new Lifecycle(new Pool({ name: 'app' }));
  const cases: [() => unknown, string][] = [
    [
      () => new HealthServer(new Pool() as unknown as Lifecycle),
      'Expected `root` to be a Lifecycle, got an object (Pool)',
    ],
    [
      () => new HealthServer(root, null as unknown as HealthServerOptions),
      'Expected `options` to be an object, got `null`',
    ],
    [
      () => new HealthServer(root, { verbose: 'yes' as unknown as boolean }),
      'Expected `options.verbose` to be a boolean, got `"yes"` (string)',
    ],
    [
      () => new HealthServer(root, { name: '' }),
      'Expected `options.name` to be a non-empty string, got `""` (string)',
    ],
    [
      () => new HealthServer(root, { timeout: -1 }),
      'Expected `options.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `-1` (number)',
    ],
    [
      () => new HealthServer(root, { clock: {} as Clock }),
      'Expected `options.clock` to be a clock with now, setTimeout and clearTimeout methods, got an object (Object)',
    ],
    [
      () => new HealthServer(root, { port: 70_000 }),
      'Expected `options.port` to be an integer from 0 to 65535, got `70000` (number)',
    ],
    [
      () => new HealthServer(root, { host: '' }),
      'Expected `options.host` to be a non-empty string, got `""` (string)',
    ],
    [
      () => new HealthServer(root, { exposeErrors: 1 as unknown as boolean }),
      'Expected `options.exposeErrors` to be a boolean, got `1` (number)',
    ],
    [
      () => new HealthServer(root, { checkCacheMs: NaN }),
      'Expected `options.checkCacheMs` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `NaN` (number)',
    ],
    [
      () => new HealthServer(root, { metrics: { metrics: () => '' } as unknown as MetricsSource }),
      'Expected `options.metrics` to be a metrics registry (an object with a metrics() method and a contentType string), got an object (Object)',
    ],
    [
      () => new HealthServer(root, { metrics: null as unknown as MetricsSource }),
      'Expected `options.metrics` to be a metrics registry (an object with a metrics() method and a contentType string), got `null`',
    ],
    [
      () => new HealthServer(root, { headersTimeout: 0 }),
      'Expected `options.headersTimeout` to be a whole number of milliseconds from 1 to 2147483647, got `0` (number)',
    ],
    [
      () => new HealthServer(root, { headersTimeout: 1.5 }),
      'Expected `options.headersTimeout` to be a whole number of milliseconds from 1 to 2147483647, got `1.5` (number)',
    ],
    [
      () => new HealthServer(root, { headersTimeout: 2_000, requestTimeout: 1_000 }),
      'Expected `options.requestTimeout` to be a whole number of milliseconds from options.headersTimeout (2000) to 2147483647, got `1000` (number)',
    ],
    [
      () => new HealthServer(root, { requestTimeout: Infinity }),
      'Expected `options.requestTimeout` to be a whole number of milliseconds from options.headersTimeout (5000) to 2147483647, got `Infinity` (number)',
    ],
  ];
  for (const [build, message] of cases) {
    t.throws(build, { instanceOf: TypeError, message });
  }
});

test('new HealthServer() rejects an unknown option with a TypeError naming it', (t) => {
  const root = new Lifecycle(new Pool({ name: 'app' }));
  const options = { port: 0, verbos: true } as HealthServerOptions;
  const error = t.throws(() => new HealthServer(root, options), {
    instanceOf: TypeError,
    message:
      'Unknown option `options.verbos`; the known options are `name`, `host`, `port`, `verbose`, `exposeErrors`, `timeout`, `checkCacheMs`, `metrics`, `headersTimeout`, `requestTimeout`, `clock`',
  });
  t.true(error.message.includes('verbos`') && error.message.includes('`verbose`'));
});

test('new HealthServer() takes a known option set to undefined as its default', (t) => {
  const root = new Lifecycle(new Pool({ name: 'app' }));
  const options = { name: undefined, host: undefined, port: undefined, timeout: undefined };
  t.is(new HealthServer(root, options).name, 'health');
});
