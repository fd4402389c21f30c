import test from 'ava';
import { execFile } from 'node:child_process';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { register as globalRegistry, Registry } from 'prom-client';
import { HealthServer, Lifecycle, Pool, Restarter, type State } from '../lib/index.js';
import { registerMetrics, type RegisterMetricsOptions } from '../lib/prometheus.js';
import { fakeClock } from './helpers/clock.js';
import { runToEnd } from './helpers/pool.js';
import { CheckedService } from './helpers/probes.js';
import { parseExposition, typesOf, valueOf, type Sample } from './helpers/prometheus-text.js';
import { ControlledService, type Behaviour } from './helpers/service.js';

const states: State[] = ['stopped', 'starting', 'running', 'stopping', 'crashed'];

/**
 * app ├── web
 *     └── workers ├── ticker
 *                 └── jobs (in a Restarter)
 * on a fake clock, with a registry of its own.
 */
function appTree(web: Behaviour = {}) {
  const { clock, fake } = fakeClock();
  const app = new Pool({ name: 'app', clock });
  const workers = new Pool({ name: 'workers', clock });
  const services = {
    web: new ControlledService('web', web),
    ticker: new ControlledService('ticker'),
    jobs: new ControlledService('jobs'),
  };
  const restarter = new Restarter(services.jobs, { clock, initialDelay: 1_000, jitter: 0 });
  app.add(services.web);
  workers.add(services.ticker);
  workers.add(restarter);
  app.add(workers);
  const root = new Lifecycle(app, { clock });
  const registry = new Registry();
  return { clock, fake, app, root, registry, restarter, ...services };
}

async function scrape(registry: Registry): Promise<Sample[]> {
  return parseExposition(await registry.metrics());
}

/** The state gauge's samples as `{ path: state }` for the states at 1, checking the 0s. */
function statesOf(samples: readonly Sample[]): Record<string, string> {
  const current: Record<string, string> = {};
  for (const { name, labels, value } of samples) {
    if (name !== 'overseer_service_state') continue;
    if (value === 1) current[labels.service!] = labels.state!;
    else if (value !== 0) throw new Error(`state gauge at ${value}`);
  }
  return current;
}

// --- the state gauge ---

test('the state gauge has one series per service path and state: 1 for the current state, 0 for the others', async (t) => {
  const { root, registry } = appTree();
  registerMetrics(root, { registry });

  const before = await scrape(registry);
  t.deepEqual(statesOf(before), {
    app: 'stopped',
    'app/web': 'stopped',
    'app/workers': 'stopped',
    'app/workers/ticker': 'stopped',
    'app/workers/jobs': 'stopped',
  });
  t.is(before.filter((sample) => sample.name === 'overseer_service_state').length, 5 * 5);

  const done = runToEnd(root);
  await root.whenRunning();
  const running = await scrape(registry);
  t.deepEqual(Object.values(statesOf(running)), Array<string>(5).fill('running'));
  t.is(valueOf(running, 'overseer_service_state', { service: 'app/web', state: 'stopped' }), 0);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(Object.values(statesOf(await scrape(registry))), Array<string>(5).fill('stopped'));
});

test('a service run by a Restarter is one series, with its own state while it restarts', async (t) => {
  const { fake, root, registry, restarter, jobs } = appTree();
  registerMetrics(root, { registry });
  const done = runToEnd(root);
  await root.whenRunning();

  const restarted = new Promise((resolve) => restarter.once('restart', resolve));
  jobs.crash();
  await restarted;
  const crashed = await scrape(registry);

  t.is(statesOf(crashed)['app/workers/jobs'], 'crashed');
  t.false(Object.keys(statesOf(crashed)).includes('app/workers/jobs/jobs'));
  t.is(valueOf(crashed, 'overseer_service_restarts_total', { service: 'app/workers/jobs' }), 1);

  const again = jobs.started();
  await fake.tickAsync(1_000);
  await again;
  const running = await scrape(registry);
  t.is(statesOf(running)['app/workers/jobs'], 'running');
  const transitions = (state: string) =>
    valueOf(running, 'overseer_service_transitions_total', {
      service: 'app/workers/jobs',
      state,
    });
  t.deepEqual(
    states.map((state) => transitions(state)),
    [0, 2, 2, 0, 1],
  );

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('services with the same path are told apart with #2', async (t) => {
  const app = new Pool({ name: 'app' });
  app.add(new ControlledService('worker'));
  app.add(new ControlledService('worker'));
  const registry = new Registry();
  registerMetrics(new Lifecycle(app), { registry });

  t.deepEqual(Object.keys(statesOf(await scrape(registry))), ['app', 'app/worker', 'app/worker#2']);
});

test('a lifecycle reachable twice (the same pool added twice) is followed once', async (t) => {
  const inner = new Pool({ name: 'inner' });
  inner.add(new ControlledService('c'));
  const outer = new Pool({ name: 'outer' });
  outer.add(inner);
  outer.add(inner);
  const registry = new Registry();
  registerMetrics(new Lifecycle(outer), { registry });

  t.deepEqual(Object.keys(statesOf(await scrape(registry))), [
    'outer',
    'outer/inner',
    'outer/inner/c',
    'outer/inner#2',
  ]);
});

test('the metrics follow the tree as it was registered: a child added later is not in them', async (t) => {
  const { app, root, registry } = appTree();
  registerMetrics(root, { registry });
  app.add(new ControlledService('late'));

  t.false('app/late' in statesOf(await scrape(registry)));
});

// --- counters and histograms ---

test('the transition counters count every state entered, across runs, from 0', async (t) => {
  const { root, registry } = appTree();
  registerMetrics(root, { registry });
  const zero = await scrape(registry);
  for (const state of states) {
    t.is(valueOf(zero, 'overseer_service_transitions_total', { service: 'app/web', state }), 0);
  }

  for (let run = 0; run < 2; run++) {
    const done = runToEnd(root);
    await root.whenRunning();
    t.is(await root.stop(), 'stopped');
    t.is(await done, undefined);
  }

  const samples = await scrape(registry);
  for (const service of ['app', 'app/web', 'app/workers/jobs']) {
    t.deepEqual(
      states.map((state) =>
        valueOf(samples, 'overseer_service_transitions_total', { service, state }),
      ),
      [2, 2, 2, 2, 0],
      service,
    );
  }
  t.is(valueOf(samples, 'overseer_service_restarts_total', { service: 'app/workers/jobs' }), 0);
  t.is(valueOf(samples, 'overseer_service_restarts_total', { service: 'app/web' }), undefined);
});

test('the start duration histogram observes how long each service took to run, in seconds', async (t) => {
  const { fake, root, registry, web } = appTree({ running: 'manually' });
  registerMetrics(root, { registry });
  const done = runToEnd(root);
  await web.started();
  await fake.tickAsync(250);
  web.reportRunning();
  await root.whenRunning();

  const samples = await scrape(registry);
  const web_ = { service: 'app/web' };
  t.is(valueOf(samples, 'overseer_service_start_duration_seconds_count', web_), 1);
  t.is(valueOf(samples, 'overseer_service_start_duration_seconds_sum', web_), 0.25);
  const bucket = (le: string) =>
    valueOf(samples, 'overseer_service_start_duration_seconds_bucket', { ...web_, le });
  t.deepEqual([bucket('0.1'), bucket('0.25'), bucket('60'), bucket('+Inf')], [0, 1, 1, 1]);
  t.is(valueOf(samples, 'overseer_service_start_duration_seconds_sum', { service: 'app' }), 0.25);
  t.is(
    valueOf(samples, 'overseer_service_start_duration_seconds_count', { service: 'app/workers' }),
    1,
  );

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('the stop duration histogram observes from stopping to stopped or crashed, in seconds', async (t) => {
  const { fake, root, registry, web } = appTree({ whenAsked: 'ignore' });
  registerMetrics(root, { registry });
  const done = runToEnd(root);
  await root.whenRunning();
  const zero = await scrape(registry);
  t.is(valueOf(zero, 'overseer_service_stop_duration_seconds_count', { service: 'app/web' }), 0);

  const stopped = root.stop();
  web.reportStopping();
  await fake.tickAsync(1_500);
  web.crash(new Error('stopped badly'));
  t.is(await stopped, 'crashed');
  await done;

  const samples = await scrape(registry);
  const sum = (service: string) =>
    valueOf(samples, 'overseer_service_stop_duration_seconds_sum', { service });
  t.is(sum('app/web'), 1.5, 'stopping to crashed');
  t.is(sum('app'), 1.5);
  t.is(sum('app/workers/ticker'), 0);
  t.is(valueOf(samples, 'overseer_service_stop_duration_seconds_count', { service: 'app' }), 1);
});

// --- readiness ---

test('the ready gauge is 1 while the tree is ready, and 0 before it runs, when a check fails, and once a stop is requested', async (t) => {
  const { root, registry } = appTree();
  registerMetrics(root, { registry });
  t.is(valueOf(await scrape(registry), 'overseer_ready'), 0, 'not running yet');

  const done = runToEnd(root);
  await root.whenRunning();
  t.is(valueOf(await scrape(registry), 'overseer_ready'), 1);
  const stopped = root.stop();
  t.is(valueOf(await scrape(registry), 'overseer_ready'), 0, 'a stop was requested');
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);

  const failing = new Pool({ name: 'failing' });
  failing.add(new CheckedService('db', () => Promise.reject(new Error('db down'))));
  const other = new Lifecycle(failing);
  const otherRegistry = new Registry();
  registerMetrics(other, { registry: otherRegistry });
  const otherDone = runToEnd(other);
  await other.whenRunning();
  t.is(valueOf(await scrape(otherRegistry), 'overseer_ready'), 0, 'a check fails');
  t.is(await other.stop(), 'stopped');
  t.is(await otherDone, undefined);
});

// --- over HTTP ---

test('a HealthServer with { metrics: registry } serves them on GET /metrics in the exposition format', async (t) => {
  const { app, root, registry } = appTree();
  const health = app.add(new HealthServer(root, { port: 0, metrics: registry }));
  registerMetrics(root, { registry, prefix: 'shop_' });
  const done = runToEnd(root);
  t.teardown(async () => {
    await root.stop({ timeout: 0 });
  });
  await root.whenRunning();

  const { status, type, body } = await get(health.service.port!, '/metrics');

  t.is(status, 200);
  t.is(type, registry.contentType);
  t.deepEqual(typesOf(body), {
    shop_service_state: 'gauge',
    shop_service_transitions_total: 'counter',
    shop_service_restarts_total: 'counter',
    shop_service_start_duration_seconds: 'histogram',
    shop_service_stop_duration_seconds: 'histogram',
    shop_ready: 'gauge',
  });
  const samples = parseExposition(body);
  t.is(valueOf(samples, 'shop_service_state', { service: 'app/health', state: 'running' }), 1);
  t.is(
    valueOf(samples, 'shop_service_state', { service: 'app/workers/jobs', state: 'running' }),
    1,
  );
  t.is(
    valueOf(samples, 'shop_service_transitions_total', { service: 'app/health', state: 'running' }),
    1,
  );
  t.is(valueOf(samples, 'shop_ready'), 1);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

// --- registering and unregistering ---

test('the function registerMetrics() returns removes the metrics and every listener it added', async (t) => {
  const { app, root, registry, restarter } = appTree();
  const listeners = () => [
    root.listenerCount('stateChange'),
    app.lifecycles[0]!.listenerCount('stateChange'),
    restarter.lifecycle.listenerCount('stateChange'),
    restarter.listenerCount('restart'),
  ];
  const before = listeners();
  const unregister = registerMetrics(root, { registry });
  t.deepEqual(before, [0, 0, 0, 0]);
  t.deepEqual(listeners(), [1, 1, 1, 1]);

  unregister();
  unregister();

  t.deepEqual(listeners(), before);
  t.is(await registry.metrics(), '\n');
  registerMetrics(root, { registry });
  t.truthy(registry.getSingleMetric('overseer_service_state'), 'registered again');
});

test('registering a second tree in a registry with the same prefix throws a TypeError; another prefix works', (t) => {
  const { root, registry } = appTree();
  registerMetrics(root, { registry });

  t.throws(() => registerMetrics(root, { registry }), {
    instanceOf: TypeError,
    message:
      'Expected `options.registry` to hold no metric named "overseer_service_state", but it does: register each tree once, or give another `prefix`',
  });
  registerMetrics(root, { registry, prefix: 'other_' });
  t.truthy(registry.getSingleMetric('other_ready'));
});

test("without a registry, the metrics go to prom-client's global registry", (t) => {
  const { root } = appTree();
  const unregister = registerMetrics(root);
  t.teardown(unregister);

  t.truthy(globalRegistry.getSingleMetric('overseer_service_state'));
  unregister();
  t.is(globalRegistry.getSingleMetric('overseer_service_state'), undefined);
});

test('registerMetrics() throws a TypeError naming a bad root or option', (t) => {
  const { root, registry } = appTree();
  const cases: [() => unknown, string][] = [
    [
      () => registerMetrics(new Pool() as unknown as Lifecycle, { registry }),
      'Expected `root` to be a Lifecycle, got an object (Pool)',
    ],
    [
      () => registerMetrics(root, { registry, prefx: 'a' } as RegisterMetricsOptions),
      'Unknown option `options.prefx`; the known options are `registry`, `prefix`',
    ],
    [
      () => registerMetrics(root, { registry: {} as Registry }),
      'Expected `options.registry` to be a prom-client Registry, got an object (Object)',
    ],
    [
      () => registerMetrics(root, { registry, prefix: 'my-app_' }),
      'Expected `options.prefix` to be a metric name prefix (letters, digits, _ and :), got `"my-app_"` (string)',
    ],
    [
      () => registerMetrics(root, { registry, prefix: 3 as unknown as string }),
      'Expected `options.prefix` to be a metric name prefix (letters, digits, _ and :), got `3` (number)',
    ],
  ];
  for (const [call, message] of cases) t.throws(call, { instanceOf: TypeError, message });
  t.is(registry.getMetricsAsArray().length, 0, 'nothing registered by a failed call');
  registerMetrics(root, { registry, prefix: '' });
  t.truthy(registry.getSingleMetric('ready'), 'an empty prefix is allowed');
});

// --- prom-client stays optional ---

test('importing overseer never loads prom-client; importing overseer/prometheus does', async (t) => {
  const repository = fileURLToPath(new URL('..', import.meta.url));
  const script = (entry: string) => `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(`./lib/${entry}.ts`)});
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(loaded.some((path) => path.includes('/node_modules/prom-client/')));
  `;
  const run = async (entry: string) => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', script(entry)],
      { cwd: repository },
    );
    return stdout.trim();
  };

  t.is(await run('index'), 'false');
  t.is(await run('prometheus'), 'true');
});

/** A GET on a connection of its own: status, content type and body. */
function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const sent = httpRequest({ host: '127.0.0.1', port, path, agent: false });
    sent.on('error', reject).end();
    sent.on('response', (response: IncomingMessage) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        resolve({
          status: response.statusCode ?? 0,
          type: response.headers['content-type'] ?? '',
          body,
        });
      });
    });
  });
}
