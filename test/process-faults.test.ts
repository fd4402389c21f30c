import { request } from 'node:http';
import { inspect } from 'node:util';
import test from 'ava';
import { faultReason, printFault } from '../lib/internal/process-faults.js';
import { spawnFixture, type FixtureProcess } from './helpers/child-process.js';

// Each test runs test/fixtures/process-faults.ts (a pool `app` under handleSignals that makes a
// fault at each SIGUSR2) or test/fixtures/fault-during-request.ts as a real process: faults are
// process-wide, and what they do is end it.

/** Sends SIGUSR2 (one fault) and waits until handleSignals has logged `message` for it. */
async function fault(program: FixtureProcess, message: string): Promise<void> {
  program.kill('SIGUSR2');
  await program.logged({ message });
}

test('an uncaught exception is logged with its error, stops every service and exits 1', async (t) => {
  const program = spawnFixture(t, 'process-faults', ['web:stop', 'db:stop']);
  let stderr = '';
  program.child.stderr?.on('data', (chunk: string) => (stderr += chunk));
  await program.ready();
  program.kill('SIGUSR2');
  t.deepEqual(await program.exited(), { code: 1, signal: null });
  const logged = program.log('uncaught exception, stopping');
  t.like(logged, {
    level: 'error',
    service: 'app',
    timeout: 10_000,
    error: { name: 'Error', message: 'boom 1' },
  });
  t.regex((logged.error as { stack: string }).stack, /^Error: boom 1\n\s+at /);
  t.true(program.lines.includes('REASON stop requested: uncaught exception: boom 1 | boom 1'));
  const stopped = program.logs.filter(
    (line) => line.message === 'service stopped' && line.pool === 'app',
  );
  t.deepEqual(stopped.map((line) => line.service).sort(), ['db', 'web']);
  t.deepEqual(program.logs.at(-1), {
    level: 'info',
    message: 'exiting',
    service: 'app',
    state: 'stopped',
    code: 1,
  });
  // Given a logger, handleSignals writes nothing to stderr.
  t.is(stderr, '');
});

test('an unhandled rejection is logged with its error, stops every service and exits 1', async (t) => {
  const program = spawnFixture(t, 'process-faults', ['--fault', 'reject', 'web:stop']);
  await program.ready();
  program.kill('SIGUSR2');
  t.deepEqual(await program.exited(), { code: 1, signal: null });
  t.like(program.log('unhandled rejection, stopping'), {
    level: 'error',
    service: 'app',
    error: { name: 'Error', message: 'nope 1' },
  });
  t.true(program.lines.includes('REASON stop requested: unhandled rejection: nope 1 | nope 1'));
  t.like(program.logs.at(-1), { message: 'exiting', state: 'stopped', code: 1 });
});

test('a thrown value that is not an Error is the fault as it is', async (t) => {
  const program = spawnFixture(t, 'process-faults', ['--fault', 'throw-value', 'web:stop']);
  await program.ready();
  program.kill('SIGUSR2');
  t.deepEqual(await program.exited(), { code: 1, signal: null });
  t.like(program.log('uncaught exception, stopping'), { error: 'boom 1' });
  t.true(program.lines.includes('REASON stop requested: uncaught exception: boom 1 | boom 1'));
});

test('a fault during a stop that crashes still exits 1', async (t) => {
  const program = spawnFixture(t, 'process-faults', ['web:stop', 'db:crash']);
  await program.ready();
  program.kill('SIGUSR2');
  t.deepEqual(await program.exited(), { code: 1, signal: null });
  t.like(program.logs.at(-1), { message: 'exiting', state: 'crashed', code: 1 });
});

test('a second fault while stopping forces exit 2 and logs it with the unstopped services', async (t) => {
  const program = spawnFixture(t, 'process-faults', ['web:stop', 'hang:hang']);
  await program.ready();
  await fault(program, 'uncaught exception, stopping');
  await program.logged({ message: 'service stopped', service: 'web' });
  program.kill('SIGUSR2');
  t.deepEqual(await program.exited(), { code: 2, signal: null });
  t.like(program.logs.at(-1), {
    level: 'error',
    message: 'forcing exit',
    reason: 'uncaught exception while stopping',
    unstopped: ['app', 'app/hang'],
    error: { name: 'Error', message: 'boom 2' },
  });
  t.false(program.logs.some((line) => line.message === 'exiting'));
});

test('a signal while a fault stops the program forces exit 2', async (t) => {
  const program = spawnFixture(t, 'process-faults', ['--fault', 'reject', 'hang:hang']);
  await program.ready();
  await fault(program, 'unhandled rejection, stopping');
  program.kill('SIGTERM');
  t.deepEqual(await program.exited(), { code: 2, signal: null });
  t.like(program.logs.at(-1), {
    message: 'forcing exit',
    reason: 'received SIGTERM again',
    unstopped: ['app', 'app/hang'],
  });
});

test('a fault while a signal stops the program forces exit 2', async (t) => {
  const program = spawnFixture(t, 'process-faults', ['--fault', 'reject', 'hang:hang']);
  await program.ready();
  program.kill('SIGTERM');
  await program.logged({ message: 'received signal, stopping' });
  program.kill('SIGUSR2');
  t.deepEqual(await program.exited(), { code: 2, signal: null });
  t.like(program.logs.at(-1), {
    message: 'forcing exit',
    reason: 'unhandled rejection while stopping',
    error: { message: 'nope 1' },
  });
});

test('with faults: false an uncaught exception is left to Node: no stop, exit 1', async (t) => {
  const program = spawnFixture(t, 'process-faults', ['--no-faults', 'web:stop']);
  let stderr = '';
  program.child.stderr?.on('data', (chunk: string) => (stderr += chunk));
  await program.ready();
  program.kill('SIGUSR2');
  t.deepEqual(await program.exited(), { code: 1, signal: null });
  t.regex(stderr, /Error: boom 1/);
  const own = ['uncaught exception, stopping', 'service stopping', 'exiting'];
  t.false(program.logs.some((line) => own.includes(line.message)));
});

test('with faults: false an unhandled rejection is left to Node: no stop, exit 1', async (t) => {
  const program = spawnFixture(t, 'process-faults', ['--no-faults', '--fault', 'reject', 'a:stop']);
  await program.ready();
  program.kill('SIGUSR2');
  t.deepEqual(await program.exited(), { code: 1, signal: null });
  t.false(program.logs.some((line) => line.message === 'unhandled rejection, stopping'));
});

test('without a logger, a fault is written to stderr with its stack, and the program exits 1', async (t) => {
  const program = spawnFixture(t, 'process-faults', ['--no-logger', 'web:stop']);
  let stderr = '';
  program.child.stderr?.on('data', (chunk: string) => (stderr += chunk));
  await program.ready();
  program.kill('SIGUSR2');
  t.deepEqual(await program.exited(), { code: 1, signal: null });
  t.regex(stderr, /^uncaught exception: Error: boom 1\n\s+at /);
  t.true(program.lines.includes('REASON stop requested: uncaught exception: boom 1 | boom 1'));
});

/** Sends `GET path` to 127.0.0.1:`port`; resolves with the status and the body. */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sent = request({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body });
      });
      response.on('error', reject);
    });
    sent.on('error', reject);
    sent.end();
  });
}

test('an HTTP request in flight when an uncaught exception happens completes while the program drains; it then exits 1', async (t) => {
  const program = spawnFixture(t, 'fault-during-request');
  const port = Number((await program.line((line) => line.startsWith('LISTENING '))).slice(10));
  await program.ready();
  const response = get(port, '/slow');
  t.deepEqual(await response, { status: 200, body: 'done' });
  t.deepEqual(await program.exited(), { code: 1, signal: null });
  t.true(program.lines.includes('REQUEST'));
  t.like(program.log('uncaught exception, stopping'), { error: { message: 'handler bug' } });
  t.like(
    program.logs.find((line) => line.message === 'service stopped' && line.pool === 'app'),
    { service: 'web' },
  );
  t.like(program.logs.at(-1), { message: 'exiting', state: 'stopped', code: 1 });
});

// How a fault is described, in this process: no fault is raised.

test('the reason of a fault names it, with the message of an Error, a string, or what inspect shows', (t) => {
  const error = new Error('boom');
  t.like(faultReason('uncaught exception', error), {
    message: 'uncaught exception: boom',
    cause: error,
  });
  t.is(faultReason('unhandled rejection', 'nope').message, 'unhandled rejection: nope');
  t.is(faultReason('unhandled rejection', undefined).message, 'unhandled rejection: undefined');
  t.is(
    faultReason('unhandled rejection', { code: 42 }).message,
    'unhandled rejection: { code: 42 }',
  );
});

test('a fault that cannot be described or printed is a fault all the same', (t) => {
  const unprintable = {
    [inspect.custom]() {
      throw new Error('no');
    },
  };
  const reason = faultReason('unhandled rejection', unprintable);
  t.is(reason.message, 'unhandled rejection: a value that cannot be described');
  t.is(reason.cause, unprintable);
  t.notThrows(() => {
    printFault('unhandled rejection', unprintable);
  });
});
