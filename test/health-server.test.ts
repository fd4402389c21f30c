import test, { type ExecutionContext } from 'ava';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';
import {
  HealthServer,
  Lifecycle,
  Pool,
  Restarter,
  type Clock,
  type HealthServerOptions,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { runToEnd } from './helpers/pool.js';
import { recordStates } from './helpers/record.js';
import { ControlledService, type Behaviour } from './helpers/service.js';

/** A {@link ControlledService} with its own `healthCheck()`, which counts its calls. */
class CheckedService extends ControlledService {
  calls = 0;
  readonly #check: () => Promise<void> | void;

  constructor(name: string, check: () => Promise<void> | void, behaviour: Behaviour = {}) {
    super(name, behaviour);
    this.#check = check;
  }

  healthCheck(): Promise<void> | void {
    this.calls++;
    return this.#check();
  }
}

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
  const probe = async (path: string, method = 'GET'): Promise<Answer> => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
    return {
      status: response.status,
      body: await response.text(),
      type: response.headers.get('content-type'),
      cacheControl: response.headers.get('cache-control'),
      allow: response.headers.get('allow'),
    };
  };
  return { pool, root, server, serverLifecycle, fake, done, port, probe };
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

test('a failing check makes /readyz answer 503 not ready and /livez 503 not live', async (t) => {
  const db = new CheckedService('db', () => Promise.reject(dbDown()));
  const app = await startApp(t, {
    children: (pool) => {
      pool.add(db);
    },
  });

  t.deepEqual(await app.probe('/readyz'), plain(503, 'not ready'));
  t.deepEqual(await app.probe('/livez'), plain(503, 'not live'));
  t.is(db.calls, 2, 'each probe runs the checks');
  t.is(app.root.state, 'running', 'a failing check stops nothing');

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('a check that hangs past the server timeout makes /readyz answer 503 not ready', async (t) => {
  let called!: () => void;
  const checkCalled = new Promise<void>((resolve) => (called = resolve));
  const db = new CheckedService('db', () => {
    called();
    return new Promise<void>(() => undefined);
  });
  const app = await startApp(t, {
    server: { timeout: 250 },
    children: (pool) => {
      pool.add(db);
    },
  });

  const answer = app.probe('/readyz?verbose');
  await checkCalled;
  await app.fake.tickAsync(250);
  const { status, body } = await answer;

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
    tree: { name: 'app', state: 'stopping', ready: false, healthy: true },
  });
  t.deepEqual(webStates, [], 'nothing was asked to stop before the delay passed');
  t.deepEqual(serverStates, []);

  await app.fake.tickAsync(5_000);
  t.is(await stopped, 'stopped');
  t.is(await app.done, undefined);
  t.deepEqual(webStates, ['stopping', 'stopped']);
  t.deepEqual(serverStates, ['stopping', 'stopped']);
});

// --- ?verbose ---

test('?verbose answers the report as JSON, with errors as name, message, code and cause and no stack', async (t) => {
  const app = await startApp(t, {
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
    live: false,
    ready: false,
    tree: {
      name: 'app',
      state: 'running',
      since: 0,
      startupMs: 0,
      ready: false,
      healthy: false,
      children: [
        {
          name: 'health',
          state: 'running',
          since: 0,
          startupMs: 0,
          ready: true,
          healthy: true,
          children: [],
        },
        {
          name: 'db',
          state: 'running',
          since: 0,
          startupMs: 0,
          ready: false,
          healthy: false,
          check: {
            ok: false,
            error: {
              name: 'Error',
              message: 'db down',
              code: 'E_DB',
              cause: { name: 'Error', message: 'connect ECONNREFUSED' },
            },
            durationMs: 0,
          },
          children: [],
        },
      ],
    },
  });
  const livez = await app.probe('/livez?verbose');
  t.is(livez.status, 503);
  t.deepEqual(JSON.parse(livez.body), JSON.parse(answer.body));

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('?verbose answers 200 with the report when the probe passes', async (t) => {
  const app = await startApp(t);

  const answer = await app.probe('/livez?verbose');

  t.is(answer.status, 200);
  t.is(answer.type, 'application/json');
  t.deepEqual(JSON.parse(answer.body), {
    live: true,
    ready: true,
    tree: {
      name: 'app',
      state: 'running',
      since: 0,
      startupMs: 0,
      ready: true,
      healthy: true,
      children: [
        {
          name: 'health',
          state: 'running',
          since: 0,
          startupMs: 0,
          ready: true,
          healthy: true,
          children: [],
        },
      ],
    },
  });

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test('a crashed service a restarter is about to restart leaves /livez 200 and makes /readyz 503, with its crash error in ?verbose', async (t) => {
  const worker = new ControlledService('worker');
  let restarter!: Restarter;
  const app = await startApp(t, {
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
  const verbose = await app.probe('/readyz?verbose');
  t.is(verbose.status, 503);
  const report = JSON.parse(verbose.body) as { live: boolean; tree: { children: unknown[] } };
  t.true(report.live);
  t.deepEqual(report.tree.children[1], {
    name: 'worker',
    state: 'running',
    since: 0,
    startupMs: 0,
    ready: false,
    healthy: true,
    children: [
      {
        name: 'worker',
        state: 'crashed',
        since: 0,
        startupMs: 0,
        error: { name: 'Error', message: 'worker failed' },
        ready: false,
        healthy: false,
        children: [],
      },
    ],
  });

  t.is(await app.root.stop(), 'stopped');
  t.is(await app.done, undefined);
});

test("with verbose: true, ?verbose errors include their stack, and their cause's", async (t) => {
  const failure = dbDown();
  const app = await startApp(t, {
    server: { verbose: true },
    children: (pool) => {
      pool.add(
        new CheckedService('db', () => {
          throw failure;
        }),
      );
    },
  });

  const answer = await app.probe('/readyz?verbose');

  const report = JSON.parse(answer.body) as {
    tree: { children: { check?: { error?: unknown } }[] };
  };
  t.deepEqual(report.tree.children[1]!.check?.error, {
    name: 'Error',
    message: 'db down',
    code: 'E_DB',
    stack: failure.stack,
    cause: {
      name: 'Error',
      message: 'connect ECONNREFUSED',
      stack: (failure.cause as Error).stack,
    },
  });

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
  t.is(body, 'bad request: TypeError: Invalid URL\n');
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
  const app = await startApp(t, { server: { name: 'probes' } });
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
      'Unknown option `options.verbos`; the known options are `name`, `host`, `port`, `verbose`, `timeout`, `clock`',
  });
  t.true(error.message.includes('verbos`') && error.message.includes('`verbose`'));
});

test('new HealthServer() takes a known option set to undefined as its default', (t) => {
  const root = new Lifecycle(new Pool({ name: 'app' }));
  const options = { name: undefined, host: undefined, port: undefined, timeout: undefined };
  t.is(new HealthServer(root, options).name, 'health');
});
