import test from 'ava';
import { Lifecycle, Restarter, Sequence, type Service } from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { flush, runToEnd } from './helpers/pool.js';
import { ControlledService } from './helpers/service.js';

/** A sequence of services named by `names`, with `stopOrder`, whose stops are journaled. */
function journaled(names: readonly string[], stopOrder: (services: Service[]) => unknown) {
  const services = names.map((name) => new ControlledService(name));
  const sequence = new Sequence({
    name: 'boot',
    stopOrder: stopOrder(services) as readonly Service[],
  });
  const journal: string[] = [];
  for (const service of services) {
    const child = sequence.add(service);
    child.onStopping(() => void journal.push(`${service.name} stopping`));
    child.onStopped(() => void journal.push(`${service.name} stopped`));
  }
  return { sequence, services, journal, lifecycle: new Lifecycle(sequence) };
}

test('a sequence with a stopOrder list stops its children in that order, each once the one before has ended', async (t) => {
  const { services, journal, lifecycle } = journaled(['db', 'cache', 'web'], ([db, cache, web]) => [
    web,
    db,
    cache,
  ]);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal, [
    'web stopping',
    'web stopped',
    'db stopping',
    'db stopped',
    'cache stopping',
    'cache stopped',
  ]);
  t.true(services.every((service) => service.runs.length === 1));
});

test('stopOrder "reverse" is the default order: the last started stops first', async (t) => {
  const { journal, lifecycle } = journaled(['a', 'b'], () => 'reverse');
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await lifecycle.stop();
  t.is(await done, undefined);
  t.deepEqual(journal, ['b stopping', 'b stopped', 'a stopping', 'a stopped']);
});

test('with a stopOrder list, a stop during the start skips the children never started', async (t) => {
  const services = ['a', 'b', 'c'].map(
    (name) => new ControlledService(name, { running: name === 'b' ? 'manually' : 'immediately' }),
  );
  const [a, b, c] = services as [ControlledService, ControlledService, ControlledService];
  const sequence = new Sequence({ stopOrder: [c, a, b] });
  const journal: string[] = [];
  for (const service of services) {
    sequence.add(service).onStopped(() => void journal.push(service.name));
  }
  const lifecycle = new Lifecycle(sequence);
  const done = runToEnd(lifecycle);
  await b.started();
  t.is(await lifecycle.stop(), 'stopped');
  t.is(await done, undefined);
  t.deepEqual(journal, ['a', 'b']);
  t.is(c.runs.length, 0);
});

test('a stopOrder list may name a child added with a restart policy by its service', async (t) => {
  const { clock } = fakeClock();
  const db = new ControlledService('db');
  const worker = new ControlledService('worker');
  const sequence = new Sequence({ clock, stopOrder: [db, worker] });
  const journal: string[] = [];
  sequence.add(db).onStopped(() => void journal.push('db'));
  const restarted = sequence.add(worker, { restart: 'on-crash' });
  t.true(restarted.service instanceof Restarter);
  restarted.onStopped(() => void journal.push('worker'));
  const lifecycle = new Lifecycle(sequence);
  const done = runToEnd(lifecycle);
  await lifecycle.whenRunning();
  await lifecycle.stop();
  t.is(await done, undefined);
  t.deepEqual(journal, ['db', 'worker']);
});

test('run() rejects with a TypeError, before any child starts, when stopOrder leaves a child out', async (t) => {
  const { services, lifecycle } = journaled(['a', 'b', 'c'], ([a, b]) => [b, a]);
  const error = await runToEnd(lifecycle);
  t.true(error instanceof TypeError);
  t.is(
    error?.message,
    'Expected `options.stopOrder` to name every child of sequence "boot", got no "c"',
  );
  await flush();
  t.true(services.every((service) => service.runs.length === 0));
});

test('run() rejects with a TypeError when stopOrder names a child twice or a service not in the sequence', async (t) => {
  const twice = journaled(['a', 'b'], ([a, b]) => [a, b, a]);
  const error = await runToEnd(twice.lifecycle);
  t.is(
    error?.message,
    'Expected `options.stopOrder` to name each child of sequence "boot" once, got service "a" twice',
  );
  const stranger = new ControlledService('stranger');
  const foreign = journaled(['a'], ([a]) => [a, stranger]);
  const second = await runToEnd(foreign.lifecycle);
  t.true(second instanceof TypeError);
  t.is(
    second?.message,
    'Expected `options.stopOrder[1]` to be a child of sequence "boot", got service "stranger", which is not in it',
  );
  t.is(foreign.services[0]?.runs.length, 0);
});

test('new Sequence() throws a TypeError naming stopOrder when it is neither "reverse" nor a list of services', (t) => {
  t.throws(() => new Sequence({ stopOrder: 'forward' as never }), {
    instanceOf: TypeError,
    message: /^Expected `options\.stopOrder` to be 'reverse' or an array of services/,
  });
  t.throws(() => new Sequence({ stopOrder: [{}] as never }), {
    instanceOf: TypeError,
    message: /^Expected `options\.stopOrder\[0\]` to be a Service/,
  });
  t.throws(() => new Sequence('boot' as never), {
    instanceOf: TypeError,
    message: /^Expected `options` to be an object/,
  });
});
