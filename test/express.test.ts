import test, { type ExecutionContext } from 'ava';
import express, { type Express } from 'express';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { HttpServerService, Lifecycle } from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { deferred } from './helpers/deferred.js';
import { closedAtEnd, get, host, keepAliveAgent } from './helpers/http.js';
import { reach, recordStates } from './helpers/record.js';

/** An Express 5 app with a plain route and a route whose requests wait for the test. */
function expressApp() {
  const app: Express = express();
  const entered = deferred();
  const release = deferred<string>();
  app.get('/', (_request, response) => {
    response.send('hello');
  });
  app.get('/json', (_request, response) => {
    response.json({ ok: true });
  });
  // Express 5 awaits async handlers and passes their rejections to the error handler.
  app.get('/held', async (_request, response) => {
    entered.resolve();
    response.send(await release.promise);
  });
  return { app, entered: entered.promise, release: release.resolve };
}

/** The app's server run by HttpServerService on loopback, with a fake clock for deadlines. */
async function serve(t: ExecutionContext, app: Express) {
  const server = closedAtEnd(t, createServer(app));
  const service = new HttpServerService(server, { name: 'web', host });
  const time = fakeClock();
  const lifecycle = new Lifecycle(service, { clock: time.clock });
  const states = recordStates(lifecycle);
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const { port } = service;
  if (port === undefined) throw new Error('the service runs but has no port');
  return { lifecycle, states, time, done, port };
}

test('an Express 5 app run by HttpServerService serves its routes', async (t) => {
  t.timeout(10_000);
  const { app } = expressApp();
  const { lifecycle, states, done, port } = await serve(t, app);
  const agent = keepAliveAgent(t);
  const hello = await get(port, agent, '/');
  t.is(hello.status, 200);
  t.is(hello.body, 'hello');
  t.is(hello.headers.connection, 'keep-alive');
  const json = await get(port, agent, '/json');
  t.regex(json.headers['content-type'] ?? '', /^application\/json/);
  t.deepEqual(JSON.parse(json.body), { ok: true });
  t.is((await get(port, agent, '/missing')).status, 404);
  t.is(await lifecycle.stop(), 'stopped');
  await done;
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('idle keep-alive connections to an Express app do not hold the stop', async (t) => {
  t.timeout(10_000);
  const { app } = expressApp();
  const { lifecycle, time, done, port } = await serve(t, app);
  const idle = await Promise.all([
    get(port, keepAliveAgent(t), '/'),
    get(port, keepAliveAgent(t), '/json'),
  ]);
  for (const { socket } of idle) t.false(socket.destroyed);
  const closed = idle.map(({ socket }) => once(socket, 'close'));
  // A deadline far away, on a clock that never moves: the stop cannot be waiting for it.
  t.is(await lifecycle.stop({ timeout: 60_000 }), 'stopped');
  await done;
  await Promise.all(closed);
  t.is(time.fake.now, 0);
  t.is(time.pending(), 0);
});

test('a request in flight in an Express handler completes during the stop, with connection: close', async (t) => {
  t.timeout(10_000);
  const { app, entered, release } = expressApp();
  const { lifecycle, states, done, port } = await serve(t, app);
  const reply = get(port, keepAliveAgent(t), '/held');
  await entered;
  const stopped = lifecycle.stop({ timeout: 60_000 });
  await reach(lifecycle, 'stopping');
  release('finished');
  const { status, headers, body, socket } = await reply;
  t.is(status, 200);
  t.is(body, 'finished');
  t.is(headers.connection, 'close');
  t.is(await stopped, 'stopped');
  await done;
  if (!socket.destroyed) await once(socket, 'close');
  t.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
});

test('a hanging Express handler is cut at the shutdown deadline', async (t) => {
  t.timeout(10_000);
  const { app, entered } = expressApp();
  const { lifecycle, time, done, port } = await serve(t, app);
  const reply = get(port, keepAliveAgent(t), '/held');
  await entered;
  const stopped = lifecycle.stop({ timeout: 5_000 });
  await time.fake.tickAsync(5_000);
  const error = await t.throwsAsync(reply);
  t.is((error as NodeJS.ErrnoException).code, 'ECONNRESET');
  t.is(await stopped, 'stopped');
  await done;
});
