// What importing overseer costs: the modules it loads, and the types it publishes. The time
// itself is measured by the bench (`npm run bench -- --only import`), never by a test.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

/** The URLs of the scripts compiled while a fresh process imports overseer (see the fixture). */
async function loadedModules(args: string[] = []): Promise<string[]> {
  const fixture = fileURLToPath(new URL('fixtures/loaded-modules.ts', import.meta.url));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture, ...args], {
    cwd: root,
  });
  return JSON.parse(stdout) as string[];
}

/** The packages of node_modules that `urls` come from, by name. */
function packagesOf(urls: readonly string[]): Set<string> {
  const names = urls.map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]);
  return new Set(names.filter((name) => name !== undefined));
}

const optional = ['winston', 'logform', 'winston-transport', 'prom-client', 'pino', 'fastify'];

test('importing overseer loads neither winston nor prom-client, pino or fastify', async (t) => {
  const urls = await loadedModules();
  // The recording works: it saw overseer's own modules and its one dependency.
  t.true(urls.some((url) => url.endsWith('/lib/logger.ts')));
  const packages = packagesOf(urls);
  t.true(packages.has('eventemitter3'));
  t.deepEqual(
    optional.filter((name) => packages.has(name)),
    [],
  );
});

test('createLogger() loads winston on its first call', async (t) => {
  const packages = packagesOf(await loadedModules(['--create-logger']));
  t.true(packages.has('winston'));
  t.true(packages.has('logform'));
});

test('the published declarations import nothing from winston, and createLogger returns a type of overseer', async (t) => {
  const outDir = await mkdtemp(join(tmpdir(), 'overseer-types-'));
  t.teardown(() => rm(outDir, { recursive: true, force: true }));
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  await run(
    process.execPath,
    [tsc, '-p', 'tsconfig.build.json', '--emitDeclarationOnly', '--declarationMap', 'false'].concat(
      ['--outDir', outDir],
    ),
    { cwd: root },
  );
  const files = (await readdir(outDir, { recursive: true })).filter((file) =>
    file.endsWith('.d.ts'),
  );
  t.true(files.includes('index.d.ts'));
  // A module specifier naming winston or its parts, in any import form: prose may name it.
  const importsWinston =
    /(?:from\s*|import\s*\(\s*|require\s*\(\s*|types=)["'](?:winston|logform|winston-transport)(?:\/[^"']*)?["']/;
  const importing: string[] = [];
  for (const file of files) {
    if (importsWinston.test(await readFile(join(outDir, file), 'utf8'))) importing.push(file);
  }
  t.deepEqual(importing, []);
  t.regex(
    await readFile(join(outDir, 'logger.d.ts'), 'utf8'),
    /export declare function createLogger\(options\?: CreateLoggerOptions\): WinstonLogger;/,
  );
});
