import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import {
  anchorsOf,
  extractBlocks,
  fenceProblems,
  proseProblems,
  slugOf,
  typeProblems,
} from '../scripts/check-readme.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const readmeConfig = join(root, 'scripts', 'readme.tsconfig.json');

/** Writes `code` as an ES module in a fresh temporary directory, removed after the test. */
async function writeModule(t: ExecutionContext, code: string): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'overseer-readme-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const file = join(directory, 'main.mts');
  await writeFile(file, code);
  return file;
}

test('the first example of the README runs as shown: it serves HTTP and exits 0 on SIGTERM', async (t) => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const first = extractBlocks(readme).find((block) => block.lang === 'ts');
  if (!first) throw new Error('the README has no ```ts block');
  t.true(first.code.includes("from 'overseer'"));
  // The same program, importing the library from its source (dist/ may not be built yet).
  const library = pathToFileURL(join(root, 'lib', 'index.ts')).href;
  const file = await writeModule(t, first.code.replaceAll("from 'overseer'", `from '${library}'`));

  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    env: { ...process.env, PORT: '0' }, // the example reads PORT, 3000 by default
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = once(child, 'exit');
  const lines: string[] = [];
  const listening = new Promise<string>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      const url = /listening on (http:\S+)/.exec(line)?.[1];
      if (url !== undefined) resolve(url);
    });
  });

  const url = await listening;
  const response = await fetch(url);
  t.is(response.status, 200);
  t.is(await response.text(), 'hello from overseer\n');

  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  t.is(code, 0);
  const messages = lines.map((line) => (JSON.parse(line) as { message: string }).message);
  t.true(messages.includes('received signal, stopping'));
  t.is(messages.at(-1), 'exiting');
});

test('extractBlocks finds every fenced block with its language and the line of its fence', (t) => {
  const markdown = [
    '# Title', // 1
    '```ts', // 2
    'const a = 1;', // 3
    '```', // 4
    '', // 5
    '````text', // 6
    '```ts', // 7
    '````', // 8
    '~~~sh', // 9
    'npm test', // 10
    '~~~', // 11
  ].join('\n');
  t.deepEqual(extractBlocks(markdown), [
    { line: 2, lang: 'ts', code: 'const a = 1;' },
    { line: 6, lang: 'text', code: '```ts' },
    { line: 9, lang: 'sh', code: 'npm test' },
  ]);
});

test('a fence with no language, or TypeScript not fenced as ts, is a problem', (t) => {
  const blocks = extractBlocks(['```', 'x', '```', '```typescript', 'y', '```'].join('\n'));
  t.deepEqual(
    fenceProblems(blocks).map(({ line, message }) => [line, message]),
    [
      [1, 'a code block without a language (ts, sh, text…)'],
      [
        4,
        'a code block fenced ```typescript: fence TypeScript as ```ts so that it is type-checked',
      ],
    ],
  );
});

test('heading anchors follow GitHub: punctuation dropped, spaces made hyphens, repeats numbered', (t) => {
  t.is(slugOf('`new Restarter(service, options?)`'), 'new-restarterservice-options');
  t.is(slugOf('Order: `Sequence` and `dependsOn`'), 'order-sequence-and-dependson');
  t.is(
    slugOf('Start after the database, restart the flaky consumer'),
    'start-after-the-database-restart-the-flaky-consumer',
  );
  t.deepEqual(
    [
      ...anchorsOf(
        ['# Title', '## Usage', '## Usage', '```text', '## not a heading', '```'].join('\n'),
      ),
    ],
    ['title', 'usage', 'usage-1'],
  );
});

test('a link to a missing heading and words about the process are problems; code blocks are skipped', (t) => {
  const markdown = [
    '# Guide', // 1
    'See [the guide](#guide) and [nothing](#nowhere).', // 2
    'As the issue asks, the contract holds.', // 3
    '```text', // 4
    'the spec, [x](#nowhere)', // 5
    '```', // 6
  ].join('\n');
  t.deepEqual(proseProblems(markdown), [
    { line: 2, column: 39, message: 'a link to #nowhere, which no heading has' },
    { line: 3, column: 4, message: '"the issue": speak to the reader instead' },
    { line: 3, column: 20, message: '"the contract": speak to the reader instead' },
  ]);
});

test('type errors in a ts block are reported at their line in the README; other blocks are not compiled', (t) => {
  const markdown = [
    'Intro', // 1
    '```ts', // 2
    "import { once } from 'node:events';", // 3
    'await once(emitter, "event");', // 4
    '```', // 5
    '```ts', // 6
    'const fine: number = 1;', // 7
    '```', // 8
    '```text', // 9
    'not TypeScript at all', // 10
    '```', // 11
  ].join('\n');
  const problems = typeProblems(extractBlocks(markdown), readmeConfig);
  t.deepEqual(problems, [{ line: 4, column: 12, message: "TS2304: Cannot find name 'emitter'." }]);
});

test('each ts block is a module of its own: the same name declared in two blocks is no conflict', (t) => {
  const markdown = ['```ts', 'const app = 1;', '```', '```ts', 'const app = 2;', '```'].join('\n');
  t.deepEqual(typeProblems(extractBlocks(markdown), readmeConfig), []);
});
