import test from 'ava';
import {
  health,
  Lifecycle,
  NonErrorThrownError,
  Pool,
  ServiceCrashedError,
  type Clock,
  type HealthNode,
  type HealthOptions,
  type Service,
} from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { nextImmediate } from './helpers/lifecycle.js';
import { withoutFaults } from './helpers/property-run.js';
import { runToEnd } from './helpers/pool.js';
import { reach } from './helpers/record.js';
import { CheckedService, controlledCheck, hang } from './helpers/probes.js';
import { ControlledService } from './helpers/service.js';

/** A promise with its resolve function, for a check the test settles by hand. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** A pool named 'app' and its lifecycle, both on a fake clock (children get it too). */
function app(options: { drainDelay?: number } = {}) {
  const { clock, fake, pending } = fakeClock();
  const pool = new Pool({ name: 'app', clock, ...options });
  const root = new Lifecycle(pool, { clock });
  return { clock, fake, pending, pool, root };
}

/** Whether `promise` has settled; read after the microtasks that could settle it ran. */
function track(promise: Promise<unknown>): { readonly settled: boolean } {
  const state = { settled: false };
  const mark = () => {
    state.settled = true;
  };
  void promise.then(mark, mark);
  return state;
}

// --- readiness and liveness from the tree ---

test('a running tree is live and ready, and the report mirrors every service', async (t) => {
  const { clock, fake, pool, root } = app();
  const db = new CheckedService('db', () => undefined);
  const web = new ControlledService('web', { running: 'manually' });
  pool.add(db);
  pool.add(web);
  await fake.tickAsync(10);
  const done = runToEnd(root);
  await fake.tickAsync(25);
  web.reportRunning();
  await root.whenRunning();
  t.is(root.state, 'running');

  const report = await health(root, { clock });

  t.deepEqual(report, {
    live: true,
    ready: true,
    tree: {
      name: 'app',
      state: 'running',
      since: 35,
      startupMs: 25,
      ready: true,
      live: true,
      children: [
        {
          name: 'db',
          state: 'running',
          since: 10,
          startupMs: 0,
          ready: true,
          live: true,
          check: { ok: true, durationMs: 0 },
          children: [],
        },
        {
          name: 'web',
          state: 'running',
          since: 35,
          startupMs: 25,
          ready: true,
          live: true,
          children: [],
        },
      ],
    },
  });
  t.false('check' in report.tree, 'a pool has no healthCheck: no check entry');
  t.false('check' in report.tree.children[1]!, 'a service without healthCheck: no check entry');
  t.false('error' in report.tree, 'error only appears on crashed services');
  t.is(db.calls, 1);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a starting child makes the tree not ready but it stays live', async (t) => {
  const { clock, fake, pool, root } = app();
  const web = new ControlledService('web', { running: 'manually' });
  pool.add(web);
  const done = runToEnd(root);
  await fake.tickAsync(40);

  const report = await health(root, { clock });

  t.deepEqual(report, {
    live: true,
    ready: false,
    tree: {
      name: 'app',
      state: 'starting',
      since: 0,
      startupMs: undefined,
      ready: false,
      live: true,
      children: [
        {
          name: 'web',
          state: 'starting',
          since: 0,
          startupMs: undefined,
          ready: false,
          live: true,
          children: [],
        },
      ],
    },
  });

  web.reportRunning();
  await root.whenRunning();
  const later = await health(root, { clock });
  t.true(later.live);
  t.true(later.ready);
  t.is(later.tree.startupMs, 40);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a crashed child makes the tree not live while its pool drains and after the pool crashed', async (t) => {
  const { clock, pool, root } = app();
  const worker = new ControlledService('worker');
  // Ignores the pool's stop request, so the pool stays draining until the test ends it.
  const web = new ControlledService('web', { whenAsked: 'ignore' });
  pool.add(worker);
  pool.add(web);
  const done = runToEnd(root);
  await root.whenRunning();
  t.is(root.state, 'running');

  const stopping = reach(root, 'stopping');
  worker.crash();
  await stopping;
  const draining = await health(root, { clock });

  t.deepEqual(draining, {
    live: false,
    ready: false,
    tree: {
      name: 'app',
      state: 'stopping',
      since: 0,
      startupMs: 0,
      ready: false,
      live: false,
      children: [
        {
          name: 'worker',
          state: 'crashed',
          since: 0,
          startupMs: 0,
          error: worker.error,
          ready: false,
          live: false,
          children: [],
        },
        {
          name: 'web',
          state: 'running',
          since: 0,
          startupMs: 0,
          ready: true,
          live: true,
          children: [],
        },
      ],
    },
  });

  web.finish();
  const error = await done;
  t.true(error instanceof ServiceCrashedError);
  const crashed = await health(root, { clock });
  t.false(crashed.live);
  t.false(crashed.ready);
  t.is(crashed.tree.state, 'crashed');
  t.is(crashed.tree.error, error);
  t.false(crashed.tree.live);
  t.deepEqual(
    crashed.tree.children.map(({ name, state, live }) => ({ name, state, live })),
    [
      { name: 'worker', state: 'crashed', live: false },
      { name: 'web', state: 'stopped', live: true },
    ],
  );
});

test('a root that never ran is live but not ready, and no check is called', async (t) => {
  const { clock, pool, root } = app();
  const db = new CheckedService('db', () => undefined);
  pool.add(db);

  const report = await health(root, { clock });

  t.deepEqual(report, {
    live: true,
    ready: false,
    tree: {
      name: 'app',
      state: 'stopped',
      since: undefined,
      startupMs: undefined,
      ready: false,
      live: true,
      children: [
        {
          name: 'db',
          state: 'stopped',
          since: undefined,
          startupMs: undefined,
          ready: false,
          live: true,
          children: [],
        },
      ],
    },
  });
  t.is(db.calls, 0);
});

test('a root that ran and stopped is live but not ready', async (t) => {
  const { clock, fake, pool, root } = app();
  pool.add(new ControlledService('web'));
  const done = runToEnd(root);
  await fake.tickAsync(70);
  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);

  const report = await health(root, { clock });

  t.true(report.live);
  t.false(report.ready);
  t.deepEqual(
    { ...report.tree, children: report.tree.children.map((child) => child.state) },
    {
      name: 'app',
      state: 'stopped',
      since: 70,
      startupMs: 0,
      ready: false,
      live: true,
      children: ['stopped'],
    },
  );
});

// --- the services' own checks ---

const failures = [
  {
    how: 'throws',
    check: (error: unknown) => () => {
      throw error;
    },
  },
  {
    how: 'rejects',
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- non-Errors on purpose
    check: (error: unknown) => () => Promise.reject(error),
  },
] as const;

for (const { how, check } of failures) {
  test(`a healthCheck that ${how} makes the service, its ancestors and the report not ready, and leaves them live`, async (t) => {
    const { clock, pool, root } = app();
    const inner = new Pool({ name: 'inner', clock });
    const failure = new Error('db unreachable');
    const db = new CheckedService('db', check(failure));
    inner.add(db);
    pool.add(new ControlledService('web'));
    pool.add(inner);
    const done = runToEnd(root);
    await root.whenRunning();
    t.is(root.state, 'running');

    const report = await health(root, { clock });

    t.true(report.live, 'a dependency that fails is no reason to restart the process');
    t.false(report.ready);
    const [web, innerNode] = report.tree.children as [HealthNode, HealthNode];
    const dbNode = innerNode.children[0]!;
    t.deepEqual(dbNode, {
      name: 'db',
      state: 'running',
      since: 0,
      startupMs: 0,
      ready: false,
      live: true,
      check: { ok: false, error: failure, durationMs: 0 },
      children: [],
    });
    t.is(dbNode.check?.error, failure, 'the very error the check failed with');
    t.deepEqual(
      [report.tree, innerNode, web].map(({ name, state, ready, live }) => ({
        name,
        state,
        ready,
        live,
      })),
      [
        { name: 'app', state: 'running', ready: false, live: true },
        { name: 'inner', state: 'running', ready: false, live: true },
        { name: 'web', state: 'running', ready: true, live: true },
      ],
    );
    t.is(db.lifecycle.state, 'running', 'a failing check changes no state');

    t.is(await root.stop(), 'stopped');
    t.is(await done, undefined);
  });

  test(`a healthCheck that ${how} a non-Error fails with a NonErrorThrownError holding the value`, async (t) => {
    const { clock, pool, root } = app();
    const db = new CheckedService('db', check('connection refused'));
    pool.add(db);
    const done = runToEnd(root);
    await root.whenRunning();

    const report = await health(root, { clock });

    t.true(report.live);
    t.false(report.ready);
    const result = report.tree.children[0]!.check!;
    t.false(result.ok);
    t.is(result.durationMs, 0);
    const error = result.error;
    t.true(error instanceof NonErrorThrownError);
    t.like(error, {
      name: 'NonErrorThrownError',
      code: 'ERR_OVERSEER_NON_ERROR_THROWN',
      message: 'Service "db" failed with a value that is not an Error: connection refused',
      cause: 'connection refused',
    });

    t.is(await root.stop(), 'stopped');
    t.is(await done, undefined);
  });
}

test('a check that hangs fails at exactly the timeout with an error naming the service and the timeout', async (t) => {
  const { clock, fake, pending, pool, root } = app();
  const db = new CheckedService('db', hang);
  pool.add(db);
  const done = runToEnd(root);
  await root.whenRunning();

  const report = health(root, { timeout: 500, clock });
  const progress = track(report);
  t.is(pending(), 1, 'one timer for the one check');
  await fake.tickAsync(499);
  t.false(progress.settled, 'still waiting 1 ms before the timeout');
  await fake.tickAsync(1);
  const { live, ready, tree } = await report;

  t.true(live);
  t.false(ready);
  const node = tree.children[0]!;
  t.false(node.ready);
  t.true(node.live);
  t.false(node.check?.ok);
  t.is(node.check?.durationMs, 500);
  t.true(node.check?.error instanceof Error);
  t.is(node.check?.error?.message, 'health check of "db" timed out after 500 ms');
  t.is(pending(), 0);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('the default check timeout is 1,000 ms', async (t) => {
  const { clock, fake, pool, root } = app();
  pool.add(new CheckedService('db', hang));
  const done = runToEnd(root);
  await root.whenRunning();

  const report = health(root, { clock });
  const progress = track(report);
  await fake.tickAsync(999);
  t.false(progress.settled);
  await fake.tickAsync(1);
  const result = (await report).tree.children[0]!.check;
  t.is(result?.error?.message, 'health check of "db" timed out after 1000 ms');
  t.is(result?.durationMs, 1_000);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('the timer of a check is cleared when the check settles in time, and its duration is reported', async (t) => {
  const { clock, fake, pending, pool, root } = app();
  const answer = deferred();
  pool.add(new CheckedService('db', () => answer.promise));
  const done = runToEnd(root);
  await root.whenRunning();

  const report = health(root, { timeout: 500, clock });
  t.is(pending(), 1);
  await fake.tickAsync(120);
  answer.resolve();
  const { live, ready, tree } = await report;

  t.true(live);
  t.true(ready);
  t.deepEqual(tree.children[0]!.check, { ok: true, durationMs: 120 });
  t.is(pending(), 0, 'no timer outlives the checks');

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a check that fails after its timeout is ignored: the timeout stands and nothing goes unhandled', async (t) => {
  const { clock, fake, pending, pool, root } = app();
  let fail!: (error: Error) => void;
  pool.add(
    new CheckedService(
      'db',
      () =>
        new Promise<void>((_resolve, reject) => {
          fail = reject;
        }),
    ),
  );
  const done = runToEnd(root);
  await root.whenRunning();

  const report = health(root, { timeout: 100, clock });
  await fake.tickAsync(100);
  fail(new Error('too late'));
  const result = (await report).tree.children[0]!.check;

  t.is(result?.error?.message, 'health check of "db" timed out after 100 ms');
  t.is(result?.durationMs, 100);
  t.is(pending(), 0);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('timeout: Infinity sets no timer and waits for the check', async (t) => {
  const { clock, fake, pending, pool, root } = app();
  const answer = deferred();
  pool.add(new CheckedService('db', () => answer.promise));
  const done = runToEnd(root);
  await root.whenRunning();

  const report = health(root, { timeout: Infinity, clock });
  t.is(pending(), 0);
  await fake.tickAsync(1_000_000);
  answer.resolve();
  const result = (await report).tree.children[0]!.check;

  t.deepEqual(result, { ok: true, durationMs: 1_000_000 });

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('checks run in parallel: two hanging checks both time out at the same tick', async (t) => {
  const { clock, fake, pending, pool, root } = app();
  const db = new CheckedService('db', hang);
  const cache = new CheckedService('cache', hang);
  pool.add(db);
  pool.add(cache);
  const done = runToEnd(root);
  await root.whenRunning();

  const report = health(root, { timeout: 300, clock });
  const progress = track(report);
  t.deepEqual([db.calls, cache.calls], [1, 1], 'both checks start at once');
  t.is(pending(), 2);
  await fake.tickAsync(299);
  t.false(progress.settled);
  await fake.tickAsync(1);
  const { tree } = await report;

  t.deepEqual(
    tree.children.map((child) => [child.check?.error?.message, child.check?.durationMs]),
    [
      ['health check of "db" timed out after 300 ms', 300],
      ['health check of "cache" timed out after 300 ms', 300],
    ],
  );
  t.is(pending(), 0);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('the checks of services that do not run are not called', async (t) => {
  const { clock, pool, root } = app();
  const starting = new CheckedService('starting', () => undefined, { running: 'manually' });
  // Asked to stop, it reports stopping and stays there until the test ends it.
  const stopping = new CheckedService('stopping', () => undefined, { whenAsked: 'ignore' });
  const running = new CheckedService('running', () => undefined);
  pool.add(starting);
  const stoppingLifecycle = pool.add(stopping);
  pool.add(running);
  const started = Promise.all([starting.started(), stopping.started(), running.started()]);
  const done = runToEnd(root);
  await started;
  stopping.reportStopping();
  t.is(stoppingLifecycle.state, 'stopping');

  const report = await health(root, { clock });

  t.deepEqual(
    [starting.calls, stopping.calls, running.calls],
    [0, 0, 1],
    'only the running service is asked',
  );
  t.deepEqual(
    report.tree.children.map((child) => [child.name, child.state, 'check' in child]),
    [
      ['starting', 'starting', false],
      ['stopping', 'stopping', false],
      ['running', 'running', true],
    ],
  );

  const stopped = root.stop();
  stopping.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
});

test('a lifecycle reachable twice (the same pool added twice) is reported once and checked once', async (t) => {
  const inner = new Pool({ name: 'inner' });
  const c = new CheckedService('c', () => undefined);
  inner.add(c);
  const outer = new Pool({ name: 'outer' });
  outer.add(inner);
  outer.add(inner);

  const { tree } = await health(new Lifecycle(outer));

  t.deepEqual(
    tree.children.map((child) => [child.name, child.children.map(({ name }) => name)]),
    [
      ['inner', ['c']],
      ['inner', []],
    ],
  );
  t.is(c.calls, 0, 'not running: not asked');
});

// --- liveness: livenessCheck() ---

test('a livenessCheck that throws makes the service, its ancestors and the report not live, and leaves them ready', async (t) => {
  const { clock, pool, root } = app();
  const inner = new Pool({ name: 'inner', clock });
  const stuck = new Error('the loop has not turned for 30 s');
  const jobs = new CheckedService('jobs', {
    liveness: () => {
      throw stuck;
    },
  });
  inner.add(jobs);
  pool.add(inner);
  const done = runToEnd(root);
  await root.whenRunning();

  const report = await health(root, { clock });

  t.false(report.live);
  t.true(report.ready, 'a stuck service is a reason to restart, not to stop the traffic first');
  const innerNode = report.tree.children[0]!;
  t.deepEqual(innerNode.children[0], {
    name: 'jobs',
    state: 'running',
    since: 0,
    startupMs: 0,
    ready: true,
    live: false,
    liveness: { ok: false, error: stuck, durationMs: 0 },
    children: [],
  });
  t.deepEqual(
    [report.tree, innerNode].map(({ name, ready, live }) => ({ name, ready, live })),
    [
      { name: 'app', ready: true, live: false },
      { name: 'inner', ready: true, live: false },
    ],
  );
  t.is(jobs.lifecycle.state, 'running', 'a failing check changes no state');

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a livenessCheck that rejects a non-Error fails with a NonErrorThrownError', async (t) => {
  const { clock, pool, root } = app();
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a non-Error on purpose
  pool.add(new CheckedService('jobs', { liveness: () => Promise.reject('wedged') }));
  const done = runToEnd(root);
  await root.whenRunning();

  const { live, tree } = await health(root, { clock });

  t.false(live);
  const error = tree.children[0]!.liveness?.error;
  t.true(error instanceof NonErrorThrownError);
  t.like(error, { cause: 'wedged' });

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a livenessCheck that hangs fails at the timeout with an error naming it', async (t) => {
  const { clock, fake, pending, pool, root } = app();
  pool.add(new CheckedService('jobs', { liveness: hang }));
  const done = runToEnd(root);
  await root.whenRunning();

  const report = health(root, { timeout: 300, clock });
  const progress = track(report);
  await fake.tickAsync(299);
  t.false(progress.settled);
  await fake.tickAsync(1);
  const { live, ready, tree } = await report;

  t.false(live);
  t.true(ready);
  t.is(
    tree.children[0]!.liveness?.error?.message,
    'liveness check of "jobs" timed out after 300 ms',
  );
  t.is(tree.children[0]!.liveness?.durationMs, 300);
  t.is(pending(), 0);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a service with both checks is reported with each: check (readiness) and liveness', async (t) => {
  const { clock, pool, root } = app();
  const db = new CheckedService('db', {
    health: () => Promise.reject(new Error('db unreachable')),
    liveness: () => undefined,
  });
  pool.add(db);
  const done = runToEnd(root);
  await root.whenRunning();

  const { live, ready, tree } = await health(root, { clock });

  t.true(live);
  t.false(ready);
  t.like(tree.children[0], {
    ready: false,
    live: true,
    check: { ok: false, error: { message: 'db unreachable' } },
    liveness: { ok: true, durationMs: 0 },
  });
  t.deepEqual([db.calls, db.livenessCalls], [1, 1]);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a livenessCheck is asked only while its service runs', async (t) => {
  const { clock, pool, root } = app();
  const starting = new CheckedService('starting', { liveness: hang }, { running: 'manually' });
  const running = new CheckedService('running', { liveness: () => undefined });
  pool.add(starting);
  pool.add(running);
  const started = Promise.all([starting.started(), running.started()]);
  const done = runToEnd(root);
  await started;

  const report = await health(root, { clock });

  t.deepEqual([starting.livenessCalls, running.livenessCalls], [0, 1]);
  t.true(report.live);
  t.false('liveness' in report.tree.children[0]!);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a check is called as a method of its service', async (t) => {
  const { clock } = fakeClock();
  class Database {
    readonly name = 'db';
    readonly seen: unknown[] = [];
    runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
      lifecycle.running();
      return new Promise((resolve) => {
        lifecycle.signal.addEventListener('abort', () => {
          resolve();
        });
      });
    }
    healthCheck(): void {
      this.seen.push(this);
    }
    livenessCheck(): void {
      this.seen.push(this);
    }
  }
  const db = new Database();
  const root = new Lifecycle(db, { clock });
  const done = runToEnd(root);
  await root.whenRunning();

  t.like(await health(root, { clock }), { live: true, ready: true });
  t.deepEqual(db.seen, [db, db]);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

// --- shared checks: single-flight and checkCacheMs ---

test('concurrent reports share one check in flight per service, even with checkCacheMs: 0', async (t) => {
  const { clock, pool, root } = app();
  const answer = controlledCheck();
  const jobsLiveness = controlledCheck();
  const db = new CheckedService('db', answer.check);
  const jobs = new CheckedService('jobs', { liveness: jobsLiveness.check });
  pool.add(db);
  pool.add(jobs);
  const done = runToEnd(root);
  await root.whenRunning();

  const reports = Array.from({ length: 50 }, () => health(root, { clock, checkCacheMs: 0 }));
  answer.resolve();
  jobsLiveness.resolve();
  const settled = await Promise.all(reports);

  t.deepEqual([db.calls, jobs.livenessCalls], [1, 1], 'each check ran once for 50 reports');
  for (const report of settled) t.like(report, { live: true, ready: true });
  t.is(settled[0]!.tree.children[0]!.check, settled[49]!.tree.children[0]!.check, 'one result');

  // With checkCacheMs: 0, a check that has settled is run again.
  await health(root, { clock, checkCacheMs: 0 });
  t.deepEqual([db.calls, jobs.livenessCalls], [2, 2]);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a settled result, failed or not, is reused for checkCacheMs (default 1,000 ms), then the check runs again', async (t) => {
  const { clock, fake, pool, root } = app();
  let failing = true;
  const db = new CheckedService('db', () => {
    if (failing) throw new Error('db unreachable');
  });
  pool.add(db);
  const done = runToEnd(root);
  await root.whenRunning();

  t.false((await health(root, { clock })).ready);
  failing = false;
  await fake.tickAsync(999);
  t.false((await health(root, { clock })).ready, 'the failure is reused for 999 ms');
  t.is(db.calls, 1);
  await fake.tickAsync(1);
  t.true((await health(root, { clock })).ready, 'run again once 1,000 ms have passed');
  t.is(db.calls, 2);

  await fake.tickAsync(250);
  await health(root, { clock, checkCacheMs: 200 });
  t.is(db.calls, 3, 'a shorter checkCacheMs of a caller makes it run again');

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

test('a check shared in flight keeps the timeout of the report that started it', async (t) => {
  const { clock, fake, pool, root } = app();
  const db = new CheckedService('db', hang);
  pool.add(db);
  const done = runToEnd(root);
  await root.whenRunning();

  const first = health(root, { clock, timeout: 100 });
  const second = health(root, { clock, timeout: 5_000 });
  await fake.tickAsync(100);
  const [a, b] = await Promise.all([first, second]);

  t.is(db.calls, 1);
  t.is(a.tree.children[0]!.check?.error?.message, 'health check of "db" timed out after 100 ms');
  t.is(b.tree.children[0]!.check, a.tree.children[0]!.check);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

// --- a stop of the root ---

test('the report is not ready once a stop of the root was requested, even while the root still runs', async (t) => {
  const { clock } = fakeClock();
  // A root that does not report stopping when asked: only the stop request itself says so.
  const service = new CheckedService('root', () => undefined, { whenAsked: 'ignore' });
  const root = new Lifecycle(service, { clock });
  const done = runToEnd(root);
  await service.started();
  t.true((await health(root, { clock })).ready);

  const stopped = root.stop();
  t.is(root.state, 'running');
  const report = await health(root, { clock });

  t.true(report.live);
  t.false(report.ready);
  t.is(report.tree.state, 'running');
  t.true(report.tree.ready, 'the tree itself still runs and passes its check');
  t.deepEqual(report.tree.check, { ok: true, durationMs: 0 });

  service.finish();
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
});

test('during a pool drain delay the report is live but not ready while the children still run', async (t) => {
  const { clock, fake, pending, pool, root } = app({ drainDelay: 1_000 });
  const db = new CheckedService('db', () => undefined);
  const dbLifecycle = pool.add(db);
  const webLifecycle = pool.add(new ControlledService('web'));
  const done = runToEnd(root);
  await root.whenRunning();
  t.true((await health(root, { clock })).ready);

  // The pool reports stopping in a reaction, once stop() has returned.
  const stopping = reach(root, 'stopping');
  const stopped = root.stop();
  await stopping;
  const report = await health(root, { clock });

  t.true(report.live);
  t.false(report.ready);
  t.deepEqual(
    [report.tree, ...report.tree.children].map(({ name, state, ready, live }) => ({
      name,
      state,
      ready,
      live,
    })),
    [
      { name: 'app', state: 'stopping', ready: false, live: true },
      { name: 'db', state: 'running', ready: true, live: true },
      { name: 'web', state: 'running', ready: true, live: true },
    ],
  );
  t.deepEqual(report.tree.children[0]!.check, { ok: true, durationMs: 0 });
  t.deepEqual([dbLifecycle.state, webLifecycle.state], ['running', 'running']);

  await fake.tickAsync(1_000);
  t.is(await stopped, 'stopped');
  t.is(await done, undefined);
  t.is(pending(), 0);
});

// --- arguments ---

test('health() throws a TypeError for a lifecycle that is not a Lifecycle', async (t) => {
  const pool = new Pool({ name: 'app' });
  t.throws(() => health(pool as unknown as Lifecycle), {
    instanceOf: TypeError,
    message: 'Expected `lifecycle` to be a Lifecycle, got an object (Pool)',
  });
  t.throws(() => health(undefined as unknown as Lifecycle), {
    instanceOf: TypeError,
    message: 'Expected `lifecycle` to be a Lifecycle, got `undefined` (undefined)',
  });
});

test('health() throws a TypeError naming the option for malformed options', async (t) => {
  const root = new Lifecycle(new Pool({ name: 'app' }));
  t.throws(() => health(root, null as unknown as object), {
    instanceOf: TypeError,
    message: 'Expected `options` to be an object, got `null`',
  });
  t.throws(() => health(root, { timeout: -1 }), {
    instanceOf: TypeError,
    message:
      'Expected `options.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `-1` (number)',
  });
  t.throws(() => health(root, { timeout: '5' as unknown as number }), {
    instanceOf: TypeError,
    message:
      'Expected `options.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `"5"` (string)',
  });
  t.throws(() => health(root, { checkCacheMs: -1 }), {
    instanceOf: TypeError,
    message:
      'Expected `options.checkCacheMs` to be a number of milliseconds from 0 to 2147483647, or Infinity, got `-1` (number)',
  });
  t.throws(() => health(root, { clock: { now: () => 0 } as unknown as Clock }), {
    instanceOf: TypeError,
    message:
      'Expected `options.clock` to be a clock with now, setTimeout and clearTimeout methods, got an object (Object)',
  });
});

test('health() throws a TypeError at once naming an unknown option, and runs no check', async (t) => {
  const { clock, fake, pool, root } = app();
  const db = new CheckedService('db', () => undefined);
  pool.add(db);
  const done = runToEnd(root);
  await fake.tickAsync(0);
  t.is(root.state, 'running');
  await withoutFaults(t, async () => {
    // Thrown by the call, like every other bad argument of health(): no promise is returned,
    // so none can be left rejected and unhandled.
    const error = t.throws(() => health(root, { clock, timout: 50 } as HealthOptions), {
      instanceOf: TypeError,
      message:
        'Unknown option `options.timout`; the known options are `timeout`, `checkCacheMs`, `clock`',
    });
    t.true(error.message.includes('timout') && error.message.includes('`timeout`'));
    await nextImmediate();
  });
  t.is(db.calls, 0);
  t.like(await health(root, { clock, timeout: undefined }), { live: true, ready: true });
  t.is(db.calls, 1);
  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});

// --- depth ---

test('a chain of 10,000 nested pools is reported to the leaf without overflowing the stack', async (t) => {
  const depth = 10_000;
  const leaf = new CheckedService('leaf', () => undefined);
  let top: Service = leaf;
  for (let level = 0; level < depth; level++) {
    const pool = new Pool({ name: `p${level}` });
    pool.add(top);
    top = pool;
  }
  const root = new Lifecycle(top);
  const done = runToEnd(root);
  await root.whenRunning();

  const report = await health(root);

  t.true(report.live);
  t.true(report.ready);
  let node = report.tree;
  let levels = 1;
  for (let child = node.children[0]; child !== undefined; child = node.children[0]) {
    node = child;
    levels++;
  }
  t.is(levels, depth + 1);
  t.is(report.tree.name, `p${depth - 1}`);
  t.is(node.name, 'leaf');
  t.true(node.check?.ok);
  t.is(leaf.calls, 1);

  t.is(await root.stop(), 'stopped');
  t.is(await done, undefined);
});
