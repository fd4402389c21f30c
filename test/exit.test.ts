import test from 'ava';
import { spawnFixture } from './helpers/child-process.js';

// Each test runs a fixture as a real process that never calls process.exit, and waits for it to
// end by itself. The 10 s safety net starts once the fixture runs (READY), so a slow start under
// load does not count; the fixtures' deadlines are a minute long, far past it, so a timer or
// listener left behind fails the test instead of merely slowing it.

test('a program whose only work was a pool that has stopped exits by itself', async (t) => {
  const program = spawnFixture(t, 'exit-by-itself');
  await program.ready();
  t.deepEqual(await program.exited(10_000), { code: 0, signal: null });
  t.regex(program.lines.find((line) => line.startsWith('LISTENING')) ?? '', /^LISTENING \d+$/);
  t.is(program.lines.at(-1), 'ENDED stopped');
  const stopped = program.logs.filter(
    (line) => line.message === 'service stopped' && line.pool === 'app',
  );
  t.deepEqual(stopped.map((line) => line.service).sort(), ['http', 'ticker']);
});

test('a program under handleSignals whose pool crashed exits by itself', async (t) => {
  const program = spawnFixture(t, 'exit-by-itself', ['--crash']);
  await program.ready();
  t.deepEqual(await program.exited(10_000), { code: 0, signal: null });
  t.is(
    program.lines.at(-1),
    'ENDED crashed ServiceCrashedError: Service "broken" crashed: broken failed',
  );
  t.like(
    program.logs.find((line) => line.message === 'service crashed' && line.pool === 'app'),
    { service: 'broken' },
  );
  const stopped = program.logs.filter(
    (line) => line.message === 'service stopped' && line.pool === 'app',
  );
  t.deepEqual(stopped.map((line) => line.service).sort(), ['http', 'ticker']);
  // No signal came, so handleSignals neither stopped nor exited anything.
  t.false(program.logs.some((line) => ['exiting', 'forcing exit'].includes(line.message)));
});

test('after a signal and a clean stop, an exit that only sets process.exitCode lets the program end', async (t) => {
  const args = ['--soft-exit', '--timeout', '60000', '--grace', '60000', 'web:stop', 'db:stop'];
  const program = spawnFixture(t, 'handle-signals', args);
  await program.ready();
  program.kill('SIGTERM');
  t.deepEqual(await program.exited(10_000), { code: 0, signal: null });
  t.deepEqual(program.logs.at(-1), {
    level: 'info',
    message: 'exiting',
    service: 'app',
    state: 'stopped',
    code: 0,
  });
});

test('after a signal and a crash, an exit that only sets process.exitCode ends the program with 1', async (t) => {
  const args = ['--soft-exit', '--timeout', '60000', '--grace', '60000', 'web:stop', 'db:crash'];
  const program = spawnFixture(t, 'handle-signals', args);
  await program.ready();
  program.kill('SIGTERM');
  t.deepEqual(await program.exited(10_000), { code: 1, signal: null });
  t.like(program.logs.at(-1), { message: 'exiting', state: 'crashed', code: 1 });
});

// test/fixtures/await-signal.ts: one service that only awaits its signal, under handleSignals.

test('a program whose only service awaits its signal stays alive until SIGTERM, then exits 0', async (t) => {
  const program = spawnFixture(t, 'await-signal');
  await program.ready();
  // Printed by an unref'd timer: only a process kept alive by something else prints it.
  await program.line('ALIVE');
  program.kill('SIGTERM');
  t.deepEqual(await program.exited(10_000), { code: 0, signal: null });
  t.like(program.log('received signal, stopping'), { service: 'idle', signal: 'SIGTERM' });
  t.like(program.logs.at(-1), { message: 'exiting', service: 'idle', state: 'stopped', code: 0 });
});

test('a program under handleSignals whose root ends by itself exits by itself', async (t) => {
  const program = spawnFixture(t, 'await-signal', ['--end-by-itself']);
  await program.ready();
  t.deepEqual(await program.exited(10_000), { code: 0, signal: null });
  t.is(program.lines.at(-1), 'ENDED stopped');
  t.false(program.logs.some((line) => ['exiting', 'forcing exit'].includes(line.message)));
});
