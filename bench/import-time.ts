/**
 * S6: what `import('overseer')` costs a program. Each round starts a fresh Node process (no
 * tsx, no options) that times `await import()` of the built package, `dist/index.js`, with
 * `performance.now()`: the time to load and evaluate overseer and everything it imports, not
 * Node's own start-up. There is no baseline: the target is absolute.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Scenario } from './scenarios.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The built package's entry point: what `import('overseer')` loads. */
export const distEntry = join(root, 'dist', 'index.js');

// Runs as an ES module given on the command line; the URL to import is its first argument.
const timedImport = [
  'const begin = performance.now();',
  'await import(process.argv[1]);',
  'process.stdout.write(String(performance.now() - begin));',
].join('\n');

/** S6: a fresh process imports `url` (by default the built package, built first if stale); ms. */
export function importTime(url?: string): Scenario {
  return {
    overseer: async () => {
      if (url === undefined) ensureBuilt();
      return { ms: await measureImport(url ?? pathToFileURL(distEntry).href) };
    },
  };
}

/** The ms a fresh Node process takes to import `url`. */
export async function measureImport(url: string): Promise<number> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '--eval', timedImport, url],
    { cwd: root, env: { ...process.env, NODE_OPTIONS: '' } },
  );
  const ms = Number(stdout);
  if (!Number.isFinite(ms)) throw new Error(`the timed import printed ${JSON.stringify(stdout)}`);
  return ms;
}

/**
 * Builds the package (`npm run build`: declarations by tsc, the code bundled by esbuild) when
 * dist/index.js is missing or older than a file of lib/: the bench measures the code as it is,
 * never a stale build.
 */
export function ensureBuilt(): void {
  if (!isStale(distEntry, join(root, 'lib'))) return;
  process.stderr.write('(building dist for S6) ');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'ignore' });
}

/** Whether `built` is missing, or older than some file under `sources`. */
export function isStale(built: string, sources: string): boolean {
  let builtAt: number;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    return true;
  }
  return readdirSync(sources, { recursive: true, encoding: 'utf8' }).some(
    (file) => statSync(join(sources, file)).mtimeMs > builtAt,
  );
}
