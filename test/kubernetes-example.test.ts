import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repository = fileURLToPath(new URL('..', import.meta.url));

interface LogLine {
  message: string;
  service?: string;
  state?: string;
  [key: string]: unknown;
}

test('the Kubernetes example fails readiness at once on SIGTERM, drains, and exits 0', async (t) => {
  t.timeout(20_000);
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/kubernetes/main.ts'], {
    cwd: repository,
    env: { ...process.env, PORT: '0', HEALTH_PORT: '0', DRAIN_DELAY: '1000' },
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

  const { port: healthPort } = await logged(
    (line) => line.message === 'listening' && line.service === 'health',
  );
  const { port: webPort } = await logged(
    (line) => line.message === 'listening' && line.service === 'web',
  );
  const readyz = `http://127.0.0.1:${String(healthPort)}/readyz`;
  t.is((await fetch(readyz)).status, 200);

  child.kill('SIGTERM');
  await logged((line) => line.message === 'received signal, stopping');
  const stopping = await fetch(readyz);
  t.is(stopping.status, 503);
  t.is(await stopping.text(), 'stopping\n');
  // Within the drain delay, the app itself still serves.
  t.false(lines.some((line) => line.service === 'web' && line.state === 'stopping'));
  t.is((await fetch(`http://127.0.0.1:${String(webPort)}/`)).status, 200);

  const [code] = await closed;
  t.is(code, 0);
  t.true(lines.some((line) => line.service === 'web' && line.state === 'stopped'));
  t.like(lines.at(-1), { message: 'exiting', state: 'stopped', code: 0 });
});
