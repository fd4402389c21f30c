import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseExposition, valueOf } from './helpers/prometheus-text.js';

const repository = fileURLToPath(new URL('..', import.meta.url));

interface LogLine {
  message: string;
  service?: string;
  state?: string;
  [key: string]: unknown;
}

/** The example running in a child process, its log lines, and its two ports once listening. */
interface Example {
  child: ChildProcess;
  lines: LogLine[];
  logged(match: (line: LogLine) => boolean): Promise<LogLine>;
  closed: Promise<[number | null]>;
  /** `http://127.0.0.1:<health port>` */
  probes: string;
  /** `http://127.0.0.1:<web port>` */
  web: string;
}

/** Starts examples/kubernetes/main.ts on free ports; killed when the test ends, if still running. */
async function startExample(
  t: ExecutionContext,
  env: Record<string, string> = {},
): Promise<Example> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/kubernetes/main.ts'], {
    cwd: repository,
    env: { ...process.env, PORT: '0', HEALTH_PORT: '0', DRAIN_DELAY: '1000', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: LogLine[] = [];
  const waiters: [(line: LogLine) => boolean, (line: LogLine) => void][] = [];
  createInterface({ input: child.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as LogLine;
    lines.push(line);
    for (const [match, resolve] of waiters) if (match(line)) resolve(line);
  });
  const logged = (match: (line: LogLine) => boolean) =>
    new Promise<LogLine>((resolve) => {
      const seen = lines.find(match);
      if (seen) resolve(seen);
      else waiters.push([match, resolve]);
    });
  const closed = once(child, 'close') as Promise<[number | null]>;
  const listening = (service: string) =>
    logged((line) => line.message === 'listening' && line.service === service);
  const { port: healthPort } = await listening('health');
  const { port: webPort } = await listening('web');
  return {
    child,
    lines,
    logged,
    closed,
    probes: `http://127.0.0.1:${String(healthPort)}`,
    web: `http://127.0.0.1:${String(webPort)}`,
  };
}

/** The report's nodes as `{ name, state, ready, live }`, depth first. */
function nodes(tree: Record<string, unknown>): Record<string, unknown>[] {
  const { name, state, ready, live, children } = tree as {
    children: Record<string, unknown>[];
  } & Record<string, unknown>;
  return [{ name, state, ready, live }, ...children.flatMap(nodes)];
}

test('the Kubernetes example fails readiness at once on SIGTERM, drains, and exits 0', async (t) => {
  t.timeout(20_000);
  const example = await startExample(t);
  const readyz = `${example.probes}/readyz`;
  t.is((await fetch(readyz)).status, 200);
  t.is((await fetch(`${example.probes}/livez`)).status, 200);

  example.child.kill('SIGTERM');
  await example.logged((line) => line.message === 'received signal, stopping');
  const stopping = await fetch(readyz);
  t.is(stopping.status, 503);
  t.is(await stopping.text(), 'stopping\n');
  // Within the drain delay, the app itself still serves.
  t.false(example.lines.some((line) => line.service === 'web' && line.state === 'stopping'));
  t.is((await fetch(`${example.web}/`)).status, 200);

  const [code] = await example.closed;
  t.is(code, 0);
  t.true(example.lines.some((line) => line.service === 'web' && line.state === 'stopped'));
  t.like(example.lines.at(-1), { message: 'exiting', state: 'stopped', code: 0 });
});

test('the Kubernetes example tells names and states on ?verbose, and serves Prometheus metrics', async (t) => {
  t.timeout(20_000);
  const example = await startExample(t);

  const verbose = await fetch(`${example.probes}/readyz?verbose`);
  t.is(verbose.status, 200);
  const report = (await verbose.json()) as { live: boolean; ready: boolean; tree: object };
  t.like(report, { live: true, ready: true });
  t.deepEqual(
    nodes(report.tree as Record<string, unknown>).map(
      ({ name, state }) => `${String(name)}: ${String(state)}`,
    ),
    ['app: running', 'web: running', 'jobs: running', 'health: running'],
  );
  const metrics = await fetch(`${example.probes}/metrics`);
  t.is(metrics.status, 200);
  const samples = parseExposition(await metrics.text());
  for (const service of ['app', 'app/web', 'app/jobs', 'app/health']) {
    t.is(valueOf(samples, 'overseer_service_state', { service, state: 'running' }), 1, service);
  }
  t.is(valueOf(samples, 'overseer_service_restarts_total', { service: 'app/jobs' }), 0);
  t.is(valueOf(samples, 'overseer_ready'), 1);

  example.child.kill('SIGTERM');
  const [code] = await example.closed;
  t.is(code, 0);
});

test('with its broker down, the Kubernetes example is live but not ready, and tells no error message', async (t) => {
  t.timeout(20_000);
  const example = await startExample(t, { BROKER_DOWN: '1' });

  const livez = await fetch(`${example.probes}/livez`);
  t.is(livez.status, 200, 'a dependency that is down is no reason to restart the pod');
  const readyz = await fetch(`${example.probes}/readyz`);
  t.is(readyz.status, 503);
  t.is(await readyz.text(), 'not ready\n');
  const verbose = await (await fetch(`${example.probes}/readyz?verbose`)).text();
  t.like(JSON.parse(verbose), { live: true, ready: false });
  t.false(verbose.includes('ECONNREFUSED'));
  t.false(verbose.includes('amqp://'));
  t.like(
    nodes((JSON.parse(verbose) as { tree: Record<string, unknown> }).tree).find(
      (node) => node.name === 'jobs',
    ),
    { state: 'running', ready: false, live: true },
  );

  example.child.kill('SIGTERM');
  const [code] = await example.closed;
  t.is(code, 0);
});
