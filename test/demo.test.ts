import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repository = fileURLToPath(new URL('..', import.meta.url));

/** One JSON line the demo logged. */
interface LogLine {
  level: string;
  message: string;
  service?: string;
  pool?: string;
  state?: string;
  [key: string]: unknown;
}

type Predicate = (line: LogLine) => boolean;

/** The demo (`npm start`) running as a child process with JSON logs, its stdout read line by line. */
class Demo {
  readonly process: ChildProcess;
  readonly lines: LogLine[] = [];
  /** stdout lines that were not JSON: there should be none. */
  readonly unparsed: string[] = [];
  /** Resolves with the exit code and signal once the process has exited and its output is read. */
  readonly closed: Promise<[number | null, NodeJS.Signals | null]>;
  #stderr = '';
  #waiters: { predicate: Predicate; resolve: (line: LogLine) => void }[] = [];

  constructor(t: ExecutionContext, port: number) {
    this.process = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], {
      cwd: repository,
      env: { ...process.env, PORT: String(port), HEALTH_PORT: '0', LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Whatever happens to the test, no demo outlives it.
    t.teardown(() => {
      if (this.process.exitCode === null && this.process.signalCode === null) {
        this.process.kill('SIGKILL');
      }
    });
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
    });
    createInterface({ input: this.process.stdout! }).on('line', (text) => {
      this.#receive(text);
    });
    this.closed = once(this.process, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  }

  /** What the demo wrote to stderr (for failure messages). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves with the first line, logged already or later, that matches; rejects if the demo exits first. */
  waitFor(predicate: Predicate): Promise<LogLine> {
    const seen = this.lines.find(predicate);
    if (seen) return Promise.resolve(seen);
    const logged = new Promise<LogLine>((resolve) => {
      this.#waiters.push({ predicate, resolve });
    });
    const exited = this.closed.then(([code, signal]) => {
      throw new Error(
        `The demo exited (code ${code}, signal ${signal}) before the awaited line\n${this.#stderr}`,
      );
    });
    return Promise.race([logged, exited]);
  }

  /** The states a pool logged for one child, in order. */
  statesOf(service: string, pool: string): (string | undefined)[] {
    return this.#transitions(service, pool).map((line) => line.state);
  }

  /**
   * The states the root logged for itself, in order: a lifecycle with a logger that no pool runs
   * logs its own transitions.
   */
  rootStates(): (string | undefined)[] {
    return this.#transitions('app', undefined).map((line) => line.state);
  }

  /** Where the line announcing that `service` reached `state` is in the log. */
  indexOf(service: string, pool: string | undefined, state: string): number {
    return this.lines.findIndex(
      (line) => isTransition(line, service, pool) && line.state === state,
    );
  }

  #transitions(service: string, pool: string | undefined): LogLine[] {
    return this.lines.filter((line) => isTransition(line, service, pool));
  }

  #receive(text: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      this.unparsed.push(text);
      return;
    }
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.predicate(line)) return true;
      waiter.resolve(line);
      return false;
    });
  }
}

function isTransition(line: LogLine, service: string, pool: string | undefined): boolean {
  return line.service === service && line.pool === pool && line.message.startsWith('service ');
}

const rootRunning: Predicate = (line) =>
  line.service === 'app' && line.pool === undefined && line.message === 'service running';

const fullRun = ['starting', 'running', 'stopping', 'stopped'];

test('the demo logs its URL and answers GET / with JSON, other paths with 404', async (t) => {
  const demo = new Demo(t, 0);
  const listening = await demo.waitFor((line) => line.message === 'listening');
  t.like(listening, { level: 'info', service: 'http' });
  t.is(typeof listening.timestamp, 'string');
  const url = listening.url as string;
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  t.not(new URL(url).port, '0');

  const response = await fetch(url);
  t.is(response.status, 200);
  t.is(response.headers.get('content-type'), 'application/json');
  const body = (await response.json()) as Record<string, unknown>;
  t.deepEqual(Object.keys(body).sort(), ['service', 'uptime']);
  t.is(body.service, 'overseer demo');
  t.is(typeof body.uptime, 'number');

  const missing = await fetch(new URL('/nope', url));
  t.is(missing.status, 404);
  t.deepEqual(await missing.json(), { error: 'not found' });

  demo.process.kill('SIGTERM');
  const [code] = await demo.closed;
  t.is(code, 0, demo.stderr);
});

test('on SIGTERM the demo stops every service, logs each transition and exits 0', async (t) => {
  const demo = new Demo(t, 0);
  await demo.waitFor(rootRunning);

  t.true(demo.process.kill('SIGTERM'));
  const [code, signal] = await demo.closed;

  t.is(code, 0, demo.stderr);
  t.is(signal, null);
  t.deepEqual(demo.unparsed, []);
  t.deepEqual(demo.rootStates(), fullRun);
  t.deepEqual(demo.statesOf('http', 'app'), fullRun);
  t.deepEqual(demo.statesOf('workers', 'app'), fullRun);
  t.deepEqual(demo.statesOf('ticker', 'workers'), fullRun);
  t.deepEqual(demo.statesOf('jobs', 'workers'), fullRun);
  t.deepEqual(demo.statesOf('health', 'app'), fullRun);
  t.like(
    demo.lines.find((line) => line.message === 'received signal, stopping'),
    { level: 'info', service: 'app', signal: 'SIGTERM', timeout: 5000 },
  );
  t.like(demo.lines.at(-1), {
    level: 'info',
    message: 'exiting',
    service: 'app',
    state: 'stopped',
    code: 0,
  });
  // The root reports stopped only after everything below it has stopped.
  const rootStopped = demo.indexOf('app', undefined, 'stopped');
  for (const [service, pool] of [
    ['http', 'app'],
    ['workers', 'app'],
    ['ticker', 'workers'],
    ['jobs', 'workers'],
    ['health', 'app'],
  ] as const) {
    t.true(demo.indexOf(service, pool, 'stopped') < rootStopped, `${service} stopped first`);
  }
});

test('when the port is taken, the http service crashes, the rest stops and the demo exits 1', async (t) => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => blocker.close());
  const { port } = blocker.address() as AddressInfo;

  const demo = new Demo(t, port);
  // No signal is sent: the demo must end by itself, with nothing left running.
  const [code, signal] = await demo.closed;

  t.is(code, 1, demo.stderr);
  t.is(signal, null);
  t.deepEqual(demo.unparsed, []);
  t.false(demo.lines.some((line) => line.message === 'listening'));
  t.deepEqual(demo.statesOf('http', 'app'), ['starting', 'crashed']);
  t.deepEqual(demo.statesOf('workers', 'app'), fullRun);
  t.deepEqual(demo.statesOf('ticker', 'workers'), fullRun);
  t.deepEqual(demo.statesOf('jobs', 'workers'), fullRun);
  t.deepEqual(demo.statesOf('health', 'app'), fullRun);
  t.deepEqual(demo.rootStates(), ['starting', 'stopping', 'crashed']);

  const httpCrash = demo.lines.find((line) => line.service === 'http' && line.state === 'crashed');
  t.like(httpCrash, {
    level: 'error',
    message: 'service crashed',
    pool: 'app',
    error: { code: 'EADDRINUSE' },
  });
  const rootCrash = demo.lines.find(
    (line) => line.service === 'app' && line.pool === undefined && line.state === 'crashed',
  );
  t.like(rootCrash, {
    level: 'error',
    message: 'service crashed',
    error: {
      name: 'ServiceCrashedError',
      code: 'ERR_OVERSEER_SERVICE_CRASHED',
      cause: { code: 'EADDRINUSE' },
    },
  });
  t.regex((rootCrash?.error as { message: string }).message, /"http" crashed.*EADDRINUSE/);
  t.like(demo.lines.at(-1), {
    level: 'error',
    message: 'exiting',
    service: 'app',
    state: 'crashed',
    code: 1,
  });
});

test('once everything runs the demo logs the service tree, /readyz answers 200, ?verbose the tree and /metrics every service', async (t) => {
  const demo = new Demo(t, 0);
  const tree = await demo.waitFor((line) => line.message.startsWith('all services running'));
  t.regex(tree.message, /^all services running\napp: running for \d+ ms \(started in \d+ ms\)$/m);
  for (const name of ['http', 'workers', 'ticker', 'jobs', 'health']) {
    t.regex(tree.message, new RegExp(`[├└]── ${name}: running for`));
  }
  const { url } = await demo.waitFor((line) => line.message === 'health server listening');
  const ready = await fetch(url as string);
  t.is(ready.status, 200);
  t.is(await ready.text(), 'ok\n');
  const verbose = await fetch(`${url as string}?verbose`);
  t.like(await verbose.json(), { ready: true, tree: { name: 'app', state: 'running' } });
  const metrics = await (await fetch(new URL('/metrics', url as string))).text();
  t.regex(metrics, /overseer_service_state\{[^}]*service="app\/http"[^}]*state="running"[^}]*\} 1/);
  demo.process.kill('SIGTERM');
  const [code] = await demo.closed;
  t.is(code, 0, demo.stderr);
});

test('on SIGTERM /readyz answers 503 at once while the HTTP server still serves during the drain delay', async (t) => {
  const demo = new Demo(t, 0);
  const { url: healthUrl } = await demo.waitFor(
    (line) => line.message === 'health server listening',
  );
  const { url: appUrl } = await demo.waitFor((line) => line.message === 'listening');
  await demo.waitFor(rootRunning);

  demo.process.kill('SIGTERM');
  await demo.waitFor((line) => line.message === 'received signal, stopping');
  const readiness = await fetch(healthUrl as string);
  t.is(readiness.status, 503);
  t.is(await readiness.text(), 'stopping\n');
  // The drain delay (1 s by default) has not passed: the app still answers.
  t.false(demo.lines.some((line) => line.service === 'http' && line.state === 'stopping'));
  const response = await fetch(appUrl as string);
  t.is(response.status, 200);

  const [code] = await demo.closed;
  t.is(code, 0, demo.stderr);
  t.true(
    demo.indexOf('http', 'app', 'stopping') >
      demo.lines.findIndex((line) => line.message === 'received signal, stopping'),
  );
});
