import test from 'ava';
import {
  formatTree,
  Lifecycle,
  Pool,
  Restarter,
  RestartLimitError,
  Sequence,
  ServiceCrashedError,
  StartFailedError,
  type FormatTreeOptions,
  type Snapshot,
} from '../lib/index.js';
import { formatDuration } from '../lib/snapshot.js';
import { fakeClock } from './helpers/clock.js';
import { runToEnd } from './helpers/pool.js';
import { ControlledService } from './helpers/service.js';

/** A manually driven service on a fake clock: it reports nothing and ignores stop requests. */
function manualLifecycle() {
  const { clock, fake, pending } = fakeClock();
  const service = new ControlledService('svc', { running: 'manually', whenAsked: 'ignore' });
  const lifecycle = new Lifecycle(service, { clock });
  return { service, lifecycle, fake, pending };
}

// --- since and startupMs ---

test('since and startupMs are undefined before the first run', (t) => {
  const { lifecycle } = manualLifecycle();
  t.is(lifecycle.since, undefined);
  t.is(lifecycle.startupMs, undefined);
});

test('since is the clock time of each transition and startupMs the time from starting to running', async (t) => {
  const { service, lifecycle, fake } = manualLifecycle();
  await fake.tickAsync(100);
  const done = lifecycle.run();
  t.is(lifecycle.state, 'starting');
  t.is(lifecycle.since, 100);
  t.is(lifecycle.startupMs, undefined);

  await fake.tickAsync(250);
  service.reportRunning();
  t.is(lifecycle.state, 'running');
  t.is(lifecycle.since, 350);
  t.is(lifecycle.startupMs, 250);

  await fake.tickAsync(400);
  service.reportStopping();
  t.is(lifecycle.state, 'stopping');
  t.is(lifecycle.since, 750);
  t.is(lifecycle.startupMs, 250);

  await fake.tickAsync(1_000);
  service.finish();
  await done;
  t.is(lifecycle.state, 'stopped');
  t.is(lifecycle.since, 1_750);
  t.is(lifecycle.startupMs, 250, 'startupMs is kept after the run ends');
});

test('since stays at the time of the last transition while the clock moves on', async (t) => {
  const { service, lifecycle, fake } = manualLifecycle();
  const done = lifecycle.run();
  await fake.tickAsync(30);
  service.reportRunning();
  await fake.tickAsync(5_000);
  t.is(lifecycle.since, 30);
  t.is(lifecycle.startupMs, 30);
  service.finish();
  await done;
  t.is(lifecycle.since, 5_030);
});

test('startupMs is the clock time from starting to running as measured, fractions of a millisecond and hours alike', async (t) => {
  let now = 1_000.123_456_7;
  const clock = { now: () => now, setTimeout, clearTimeout };
  const service = new ControlledService('svc', { running: 'manually' });
  const lifecycle = new Lifecycle(service, { clock });
  let started = service.started();
  const done = lifecycle.run();
  const began = now;
  await started;
  now += 0.250_543_4;
  service.reportRunning();
  t.is(lifecycle.startupMs, now - began, 'not rounded');
  await lifecycle.stop();
  await done;

  started = service.started();
  const slow = lifecycle.run();
  const slowBegan = now;
  await started;
  now += 3 * 60 * 60 * 1000;
  service.reportRunning();
  t.is(lifecycle.startupMs, now - slowBegan);
  await lifecycle.stop();
  await slow;
});
test('startupMs is undefined from the start of the next run until that run reports running', async (t) => {
  const { service, lifecycle, fake } = manualLifecycle();
  const first = lifecycle.run();
  await fake.tickAsync(250);
  service.reportRunning();
  service.finish();
  await first;
  t.is(lifecycle.startupMs, 250);

  await fake.tickAsync(1_000);
  const second = lifecycle.run();
  t.is(lifecycle.since, 1_250);
  t.is(lifecycle.startupMs, undefined);
  await fake.tickAsync(40);
  t.is(lifecycle.startupMs, undefined);
  service.reportRunning();
  t.is(lifecycle.startupMs, 40);
  t.is(lifecycle.since, 1_290);
  service.finish();
  await second;
  t.is(lifecycle.startupMs, 40);
});

test('a run that never reaches running leaves startupMs undefined, even after a run that did', async (t) => {
  const { service, lifecycle, fake } = manualLifecycle();
  const first = lifecycle.run();
  await fake.tickAsync(10);
  service.reportRunning();
  service.finish();
  await first;
  t.is(lifecycle.startupMs, 10);

  // Crashes while starting.
  const second = runToEnd(lifecycle);
  await fake.tickAsync(70);
  service.crash();
  t.is(await second, service.error);
  t.is(lifecycle.state, 'crashed');
  t.is(lifecycle.since, 80);
  t.is(lifecycle.startupMs, undefined);

  // Stopped while starting: starting → stopping → stopped.
  const third = lifecycle.run();
  await fake.tickAsync(5);
  service.reportStopping();
  await fake.tickAsync(5);
  service.finish();
  await third;
  t.is(lifecycle.state, 'stopped');
  t.is(lifecycle.since, 90);
  t.is(lifecycle.startupMs, undefined);
});

// --- snapshot() ---

test('snapshot() of a lifecycle that never ran shows stopped, no since and no startupMs', (t) => {
  const { lifecycle } = manualLifecycle();
  const snapshot = lifecycle.snapshot();
  t.deepEqual(snapshot, {
    name: 'svc',
    state: 'stopped',
    since: undefined,
    startupMs: undefined,
    children: [],
  });
  t.false('error' in snapshot);
});

test('snapshot() of a single lifecycle holds its name, state, since, startupMs and no children', async (t) => {
  const { service, lifecycle, fake } = manualLifecycle();
  const done = lifecycle.run();
  await fake.tickAsync(120);
  service.reportRunning();
  await fake.tickAsync(1_000);
  const snapshot = lifecycle.snapshot();
  t.deepEqual(snapshot, {
    name: 'svc',
    state: 'running',
    since: 120,
    startupMs: 120,
    children: [],
  });
  t.false('error' in snapshot);
  service.finish();
  await done;
  t.deepEqual(lifecycle.snapshot(), {
    name: 'svc',
    state: 'stopped',
    since: 1_120,
    startupMs: 120,
    children: [],
  });
});

test('a snapshot is a copy: it does not change when the lifecycle does', async (t) => {
  const { service, lifecycle, fake } = manualLifecycle();
  const done = lifecycle.run();
  const snapshot = lifecycle.snapshot();
  await fake.tickAsync(20);
  service.reportRunning();
  service.finish();
  await done;
  t.deepEqual(snapshot, {
    name: 'svc',
    state: 'starting',
    since: 0,
    startupMs: undefined,
    children: [],
  });
  t.not(lifecycle.snapshot(), snapshot);
});

test('snapshot() has an error only when crashed, and it is lifecycle.error', async (t) => {
  const { service, lifecycle, fake } = manualLifecycle();
  const first = runToEnd(lifecycle);
  await service.started();
  service.reportRunning();
  await fake.tickAsync(300);
  const error = new Error('disk full');
  service.crash(error);
  t.is(await first, error);

  const crashed = lifecycle.snapshot();
  t.deepEqual(crashed, {
    name: 'svc',
    state: 'crashed',
    since: 300,
    startupMs: 0,
    error,
    children: [],
  });
  t.is(crashed.error, lifecycle.error);
  t.is(crashed.error, error);

  // The next run clears it.
  const started = service.started();
  const second = lifecycle.run();
  const starting = lifecycle.snapshot();
  t.is(starting.state, 'starting');
  t.false('error' in starting);
  await started;
  service.reportRunning();
  service.finish();
  await second;
  const stopped = lifecycle.snapshot();
  t.is(stopped.state, 'stopped');
  t.false('error' in stopped);
});

test('snapshot() of a pool lists its children in order, a sequence with its children and a restarter as its service, once', async (t) => {
  const { clock, fake } = fakeClock();
  const manually = { running: 'manually' } as const;
  const api = new ControlledService('api', manually);
  const db = new ControlledService('db', manually);
  const cache = new ControlledService('cache', manually);
  const job = new ControlledService('job', manually);
  const app = new Pool({ name: 'app', clock });
  app.add(api);
  const startup = new Sequence({ name: 'startup', clock });
  startup.add(db);
  startup.add(cache);
  app.add(startup);
  app.add(new Restarter(job, { name: 'worker', clock }));
  const lifecycle = new Lifecycle(app, { clock });

  const done = lifecycle.run();
  await fake.tickAsync(10);
  db.reportRunning(); // the sequence starts cache now
  await fake.tickAsync(20);
  cache.reportRunning();
  await fake.tickAsync(15);
  job.reportRunning();
  await fake.tickAsync(15);
  api.reportRunning();
  await fake.tickAsync(40);

  t.deepEqual(lifecycle.snapshot(), {
    name: 'app',
    state: 'running',
    since: 60,
    startupMs: 60,
    children: [
      { name: 'api', state: 'running', since: 60, startupMs: 60, children: [] },
      {
        name: 'startup',
        state: 'running',
        since: 30,
        startupMs: 30,
        children: [
          { name: 'db', state: 'running', since: 10, startupMs: 10, children: [] },
          { name: 'cache', state: 'running', since: 30, startupMs: 20, children: [] },
        ],
      },
      { name: 'worker', state: 'running', since: 45, startupMs: 45, children: [] },
    ],
  });

  t.is(await lifecycle.stop(), 'stopped');
  await done;
  const stopped = (
    name: string,
    since: number,
    startupMs: number,
    children: Snapshot[] = [],
  ): Snapshot => ({
    name,
    state: 'stopped',
    since,
    startupMs,
    children,
  });
  t.deepEqual(
    lifecycle.snapshot(),
    stopped('app', 100, 60, [
      stopped('api', 100, 60),
      stopped('startup', 100, 30, [stopped('db', 100, 10), stopped('cache', 100, 20)]),
      stopped('worker', 100, 45),
    ]),
  );
});

test('snapshot() shows a crashed child with its error and its pool with the pool error', async (t) => {
  const { clock, fake } = fakeClock();
  const a = new ControlledService('a');
  const b = new ControlledService('b');
  const pool = new Pool({ name: 'app', clock });
  const aLifecycle = pool.add(a);
  const bLifecycle = pool.add(b);
  const lifecycle = new Lifecycle(pool, { clock });
  const done = runToEnd(lifecycle);
  await fake.tickAsync(200);
  b.crash();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);

  const snapshot = lifecycle.snapshot();
  t.deepEqual(snapshot, {
    name: 'app',
    state: 'crashed',
    since: 200,
    startupMs: 0,
    error,
    children: [
      { name: 'a', state: 'stopped', since: 200, startupMs: 0, children: [] },
      { name: 'b', state: 'crashed', since: 200, startupMs: 0, error: b.error, children: [] },
    ],
  });
  t.is(snapshot.error, lifecycle.error);
  t.is(snapshot.children[1]?.error, bLifecycle.error);
  t.is(snapshot.children[1]?.error, b.error);
  t.false('error' in (snapshot.children[0] as Snapshot));
  t.is(aLifecycle.state, 'stopped');
});

test('snapshot() of a chain of 10,000 nested pools does not overflow the stack', async (t) => {
  const { clock } = fakeClock();
  const depth = 10_000;
  const leaf = new ControlledService('leaf');
  const root = new Pool({ name: 'pool-0', clock });
  let parent = root;
  for (let level = 1; level < depth; level++) {
    const pool = new Pool({ name: `pool-${level}`, clock });
    parent.add(pool);
    parent = pool;
  }
  parent.add(leaf);
  const lifecycle = new Lifecycle(root, { clock });
  const done = lifecycle.run();
  await lifecycle.whenRunning();

  const snapshot = lifecycle.snapshot();
  // Walked with a loop: a recursive deepEqual would itself overflow.
  let node: Snapshot = snapshot;
  for (let level = 0; level < depth; level++) {
    t.is(node.name, `pool-${level}`);
    t.is(node.state, 'running');
    t.is(node.startupMs, 0);
    t.is(node.children.length, 1);
    node = node.children[0] as Snapshot;
  }
  t.deepEqual(node, { name: 'leaf', state: 'running', since: 0, startupMs: 0, children: [] });

  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

/** The outer pool holds the same inner pool twice, so `c` is reachable through both. */
function poolAddedTwice(): Lifecycle<Pool> {
  const inner = new Pool({ name: 'inner' });
  inner.add(new ControlledService('c'));
  const outer = new Pool({ name: 'outer' });
  outer.add(inner);
  outer.add(inner);
  return new Lifecycle(outer);
}

test('a lifecycle reachable twice (the same pool added twice) is listed once', (t) => {
  const snapshot = poolAddedTwice().snapshot();
  t.deepEqual(
    snapshot.children.map((child) => child.name),
    ['inner', 'inner'],
  );
  const grandchildren = snapshot.children.flatMap((child) => child.children);
  t.deepEqual(
    grandchildren.map((child) => child.name),
    ['c'],
  );
});

test('a lifecycle reachable twice is listed under its first parent, the one formatTree draws first', (t) => {
  const never = { state: 'stopped', since: undefined, startupMs: undefined } as const;
  const snapshot = poolAddedTwice().snapshot();
  t.deepEqual(snapshot, {
    name: 'outer',
    ...never,
    children: [
      { name: 'inner', ...never, children: [{ name: 'c', ...never, children: [] }] },
      { name: 'inner', ...never, children: [] },
    ],
  });
  t.is(
    formatTree(snapshot),
    [
      'outer: stopped (never run)',
      '├── inner: stopped (never run)',
      '│   └── c: stopped (never run)',
      '└── inner: stopped (never run)',
    ].join('\n'),
  );
});

test('a pool added to itself snapshots without looping', (t) => {
  const pool = new Pool({ name: 'loop' });
  pool.add(pool);
  const never = { state: 'stopped', since: undefined, startupMs: undefined } as const;
  t.deepEqual(new Lifecycle(pool).snapshot(), {
    name: 'loop',
    ...never,
    children: [{ name: 'loop', ...never, children: [] }],
  });
});

// --- restarted services ---

test("a restarted pool appears once: its node has the restarter's state and the pool's children", async (t) => {
  const { clock, fake } = fakeClock();
  const ticker = new ControlledService('ticker');
  const jobs = new ControlledService('jobs', { running: 'manually' });
  const workers = new Pool({ name: 'workers', clock });
  workers.add(ticker);
  workers.add(jobs);
  const app = new Pool({ name: 'app', clock });
  const restarted = app.add(workers, { restart: 'on-crash' });
  const lifecycle = new Lifecycle(app, { clock });

  const done = lifecycle.run();
  await fake.tickAsync(25);
  jobs.reportRunning();
  await lifecycle.whenRunning();

  const running = { state: 'running', since: 25, startupMs: 25 } as const;
  t.deepEqual(lifecycle.snapshot(), {
    name: 'app',
    ...running,
    children: [
      {
        name: 'workers',
        ...running,
        children: [
          { name: 'ticker', state: 'running', since: 0, startupMs: 0, children: [] },
          { name: 'jobs', ...running, children: [] },
        ],
      },
    ],
  });
  t.is(restarted.service instanceof Restarter, true, "the node is the restarter's lifecycle");

  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

test('formatTree draws a restarted service once, with no copy of itself under it', async (t) => {
  const { clock } = fakeClock();
  const workers = new Pool({ name: 'workers', clock });
  workers.add(new ControlledService('ticker'));
  workers.add(new ControlledService('jobs'), { restart: { maxRestarts: 3 } });
  const lifecycle = new Lifecycle(workers, { clock });
  const done = lifecycle.run();
  await lifecycle.whenRunning();

  t.is(
    formatTree(lifecycle.snapshot(), { now: 0 }),
    [
      'workers: running for 0 ms (started in 0 ms)',
      '├── ticker: running for 0 ms (started in 0 ms)',
      '└── jobs: running for 0 ms (started in 0 ms)',
    ].join('\n'),
  );

  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

test("while its service waits to be restarted, the restarter's node stays running; once it gives up it shows the RestartLimitError", async (t) => {
  const { clock, fake } = fakeClock();
  const jobs = new ControlledService('jobs');
  const restarter = new Restarter(jobs, { clock, maxRestarts: 1, initialDelay: 500, jitter: 0 });
  const lifecycle = new Lifecycle(restarter, { clock });
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();

  const restarting = new Promise((resolve) => restarter.once('restart', resolve));
  jobs.crash();
  await restarting;
  t.is(restarter.lifecycle.state, 'crashed');
  t.deepEqual(lifecycle.snapshot(), {
    name: 'jobs',
    state: 'running',
    since: 0,
    startupMs: 0,
    children: [],
  });

  const started = jobs.started();
  await fake.tickAsync(500);
  await started;
  jobs.crash();
  const error = await done;
  t.true(error instanceof RestartLimitError);
  t.deepEqual(lifecycle.snapshot(), {
    name: 'jobs',
    state: 'crashed',
    since: 500,
    startupMs: 0,
    error,
    children: [],
  });
  t.is(formatTree(lifecycle.snapshot(), { now: 500 }).split('\n').length, 1);
});

test("restarters nested in each other are drawn as one node over the service's children", async (t) => {
  const { clock } = fakeClock();
  const inner = new Pool({ name: 'workers', clock });
  inner.add(new ControlledService('jobs'));
  const outer = new Restarter(new Restarter(inner, { clock }), { clock });
  const lifecycle = new Lifecycle(outer, { clock });
  const done = lifecycle.run();
  await lifecycle.whenRunning();

  t.is(
    formatTree(lifecycle.snapshot(), { now: 0 }),
    [
      'workers: running for 0 ms (started in 0 ms)',
      '└── jobs: running for 0 ms (started in 0 ms)',
    ].join('\n'),
  );

  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

test('a pool restarted inside itself snapshots without looping', (t) => {
  const pool = new Pool({ name: 'loop' });
  pool.add(pool, { restart: 'always' });
  const never = { state: 'stopped', since: undefined, startupMs: undefined } as const;
  t.deepEqual(new Lifecycle(pool).snapshot(), {
    name: 'loop',
    ...never,
    children: [{ name: 'loop', ...never, children: [] }],
  });
});

// --- formatTree ---

test('formatTree draws a running tree with ├──, └── and │ down to depth 3', async (t) => {
  const { clock, fake } = fakeClock();
  const manually = { running: 'manually' } as const;
  const redis = new ControlledService('redis', manually);
  const db = new ControlledService('db', manually);
  const job = new ControlledService('job', manually);
  const caches = new Pool({ name: 'caches', clock });
  caches.add(redis);
  caches.add(new ControlledService('memcached'));
  const startup = new Sequence({ name: 'startup', clock });
  startup.add(caches);
  startup.add(db);
  const app = new Pool({ name: 'app', clock });
  app.add(new ControlledService('api'));
  app.add(startup);
  app.add(new Restarter(job, { name: 'worker', clock }));
  const lifecycle = new Lifecycle(app, { clock });

  const done = lifecycle.run();
  await fake.tickAsync(400);
  job.reportRunning();
  await fake.tickAsync(1_100);
  redis.reportRunning(); // caches runs at 1,500 ms: the sequence starts db
  await fake.tickAsync(700);
  db.reportRunning(); // everything runs at 2,200 ms
  await lifecycle.whenRunning();

  t.is(
    formatTree(lifecycle.snapshot(), { now: 12_200 }),
    [
      'app: running for 10.0 s (started in 2.2 s)',
      '├── api: running for 12.2 s (started in 0 ms)',
      '├── startup: running for 10.0 s (started in 2.2 s)',
      '│   ├── caches: running for 10.7 s (started in 1.5 s)',
      '│   │   ├── redis: running for 10.7 s (started in 1.5 s)',
      '│   │   └── memcached: running for 12.2 s (started in 0 ms)',
      '│   └── db: running for 10.0 s (started in 700 ms)',
      '└── worker: running for 11.8 s (started in 400 ms)',
    ].join('\n'),
  );
  t.is(
    formatTree(lifecycle.snapshot(), { now: 3_602_200 }).split('\n')[0],
    'app: running for 1 h 0 min (started in 2.2 s)',
  );

  t.is(await lifecycle.stop(), 'stopped');
  await done;
});

test('formatTree shows services that never ran and the errors of crashed ones', async (t) => {
  const { clock, fake } = fakeClock();
  const migrate = new ControlledService('migrate', { running: 'manually' });
  const startup = new Sequence({ name: 'startup', clock });
  startup.add(new ControlledService('db'));
  startup.add(migrate);
  startup.add(new ControlledService('api'));
  const app = new Pool({ name: 'app', clock });
  app.add(startup);
  app.add(new ControlledService('web'));
  const lifecycle = new Lifecycle(app, { clock });

  const done = runToEnd(lifecycle);
  await fake.tickAsync(300);
  migrate.crash(new Error('no schema'));
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  t.true(error?.cause instanceof StartFailedError);

  t.is(
    formatTree(lifecycle.snapshot(), { now: 1_300 }),
    [
      'app: crashed for 1.0 s: ServiceCrashedError: Service "startup" crashed: Service "migrate" of "startup" failed to start: it crashed: no schema',
      '├── startup: crashed for 1.0 s: StartFailedError: Service "migrate" of "startup" failed to start: it crashed: no schema',
      '│   ├── db: stopped for 1.0 s (started in 0 ms)',
      '│   ├── migrate: crashed for 1.0 s: Error: no schema',
      '│   └── api: stopped (never run)',
      '└── web: stopped for 1.0 s (started in 0 ms)',
    ].join('\n'),
  );
});

test('formatTree of a lifecycle that never ran is one "(never run)" line', (t) => {
  const { lifecycle } = manualLifecycle();
  t.is(formatTree(lifecycle.snapshot(), { now: 5_000 }), 'svc: stopped (never run)');
});

test('formatTree shows a negative age (now before since) as 0 ms', (t) => {
  const snapshot: Snapshot = {
    name: 'svc',
    state: 'running',
    since: 1_000,
    startupMs: 5,
    children: [],
  };
  t.is(formatTree(snapshot, { now: 400 }), 'svc: running for 0 ms (started in 5 ms)');
});

test('with the real clock, since is ms since the Unix epoch and formatTree measures to Date.now() by default', async (t) => {
  const service = new ControlledService('svc');
  const lifecycle = new Lifecycle(service);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const since = lifecycle.since ?? Number.NaN;
  // A sanity bound on the clock's origin, not a timing measurement: `performance.now()` alone
  // would be a few hundred ms here, not ~1.7e12.
  t.true(Math.abs(since - Date.now()) < 1_000, `since: ${since}`);
  t.regex(formatTree(lifecycle.snapshot()), /^svc: running for \d+ ms \(started in \d+ ms\)$/);
  await lifecycle.stop();
  await done;
});

test('formatTree throws a TypeError naming the argument for a bad snapshot, options or options.now', (t) => {
  const snapshot = manualLifecycle().lifecycle.snapshot();
  const bad: [() => unknown, RegExp][] = [
    [
      () => formatTree(null as unknown as Snapshot),
      /^Expected `snapshot` to be an object, got `null`$/,
    ],
    [
      () => formatTree('app' as unknown as Snapshot),
      /^Expected `snapshot` to be an object, got `"app"` \(string\)$/,
    ],
    [
      () => formatTree(undefined as unknown as Snapshot),
      /^Expected `snapshot` to be an object, got `undefined` \(undefined\)$/,
    ],
    [() => formatTree(snapshot, null as unknown as object), /^Expected `options` to be an object/],
    [
      () => formatTree(snapshot, { now: '5' as unknown as number }),
      /^Expected `options\.now` to be a finite number, got `"5"` \(string\)$/,
    ],
    [
      () => formatTree(snapshot, { now: null as unknown as number }),
      /^Expected `options\.now` to be a finite number, got `null`$/,
    ],
    [
      () => formatTree(snapshot, { now: new Date(0) as unknown as number }),
      /^Expected `options\.now` to be a finite number, got an object \(Date\)$/,
    ],
  ];
  for (const [call, message] of bad) t.throws(call, { instanceOf: TypeError, message });
});

test('formatTree throws a TypeError when options.now is NaN or infinite', (t) => {
  const snapshot: Snapshot = {
    name: 'svc',
    state: 'running',
    since: 0,
    startupMs: 0,
    children: [],
  };
  for (const now of [NaN, Infinity, -Infinity]) {
    t.throws(() => formatTree(snapshot, { now }), {
      instanceOf: TypeError,
      message: /`options\.now`/,
    });
  }
});

test('formatTree rejects an unknown option with a TypeError naming it', (t) => {
  const snapshot: Snapshot = {
    name: 'svc',
    state: 'running',
    since: 0,
    startupMs: 0,
    children: [],
  };
  const error = t.throws(() => formatTree(snapshot, { now: 0, color: true } as FormatTreeOptions), {
    instanceOf: TypeError,
    message: 'Unknown option `options.color`; the known options are `now`',
  });
  t.true(error.message.includes('color`') && error.message.includes('`now`'));
});

test('formatTree takes options.now set to undefined as the current time', (t) => {
  const snapshot: Snapshot = {
    name: 'svc',
    state: 'running',
    since: 0,
    startupMs: 3,
    children: [],
  };
  t.is(formatTree(snapshot, { now: 0 }), 'svc: running for 0 ms (started in 3 ms)');
  // Decades since the epoch, shown in hours.
  t.regex(
    formatTree(snapshot, { now: undefined }),
    /^svc: running for \d{6,} h \d+ min \(started in 3 ms\)$/,
  );
});

// --- formatDuration ---

test('formatDuration shows ms under a second, tenths of a second under a minute, then min and s, then h and min', (t) => {
  const cases: [number, string][] = [
    [0, '0 ms'],
    [1, '1 ms'],
    [999, '999 ms'],
    [999.4, '999 ms'],
    [999.5, '1.0 s'],
    [1_000, '1.0 s'],
    [12_500, '12.5 s'],
    [59_949, '59.9 s'],
    [60_000, '1 min 0 s'],
    [61_000, '1 min 1 s'],
    [185_000, '3 min 5 s'],
    [3_599_999, '1 h 0 min'], // rounded to the second first, like 59,950 ms → '1 min 0 s'
    [3_600_000, '1 h 0 min'],
    [8_100_000, '2 h 15 min'],
    [-5, '0 ms'],
  ];
  for (const [ms, text] of cases) t.is(formatDuration(ms), text, `formatDuration(${ms})`);
});

test('formatDuration carries into minutes when the seconds round up to 60', (t) => {
  t.is(formatDuration(59_950), '1 min 0 s');
  t.is(formatDuration(59_999), '1 min 0 s');
});
