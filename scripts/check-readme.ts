/**
 * Checks README.md the way a reader would use it:
 *
 * - every ```ts block is a complete program: each is type-checked as a module of its own, with
 *   `import … from 'overseer'` resolved to the built package (`dist/`, see readme.tsconfig.json),
 *   so run `npm run build` first;
 * - every fence names its language, and TypeScript is always fenced as ```ts (a block fenced
 *   ```typescript or ```js would escape the type-check);
 * - every link to a heading of the README (`[…](#anchor)`) leads to one;
 * - no sentence speaks of how the project is run instead of to the reader ("the spec").
 *
 *   npm run build && npm run check:readme     # or: tsx scripts/check-readme.ts [README.md]
 *
 * Problems are printed as `README.md:LINE:COLUMN message`; the exit code is 1 if there are any.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));

/** One fenced code block: the line of its opening fence (1-based), its language and its text. */
export interface Block {
  readonly line: number;
  readonly lang: string;
  readonly code: string;
}

/** A problem found in the README, at a line (1-based) and a column (1-based). */
export interface Problem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** Languages that are TypeScript or JavaScript but would not be type-checked. */
const refusedLanguages = new Set(['typescript', 'tsx', 'mts', 'cts', 'js', 'javascript', 'mjs']);

/** Words about the way the project is run, which mean nothing to a reader. */
const processWords = [/\bthe contract\b/i, /\bthe issue\b/i, /\bthe spec\b/i, /\bSPEC\b/];

/** The fenced code blocks of `markdown`, in order. */
export function extractBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  let open: { line: number; fence: string; lang: string; body: string[] } | undefined;
  for (const [index, text] of lines.entries()) {
    if (open === undefined) {
      const start = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(text);
      if (start) open = { line: index + 1, fence: start[1] ?? '', lang: start[2] ?? '', body: [] };
    } else if (isClosing(text, open.fence)) {
      blocks.push({ line: open.line, lang: open.lang, code: open.body.join('\n') });
      open = undefined;
    } else {
      open.body.push(text);
    }
  }
  if (open) blocks.push({ line: open.line, lang: open.lang, code: open.body.join('\n') });
  return blocks;
}

function isClosing(text: string, fence: string): boolean {
  const trimmed = text.trim();
  return trimmed.length >= fence.length && trimmed === fence.charAt(0).repeat(trimmed.length);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces made hyphens. */
export function slugOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of every heading of `markdown` outside code blocks (`-1`, `-2` for repeats). */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  for (const { text } of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading) continue;
    const slug = slugOf(heading[1] ?? '');
    const count = counts.get(slug) ?? 0;
    counts.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** The lines of `markdown` that are not inside a fenced code block, with their numbers. */
function proseLines(markdown: string): { line: number; text: string }[] {
  const inBlock = new Set<number>();
  const lines = markdown.split('\n');
  for (const block of extractBlocks(markdown)) {
    const length = block.code === '' ? 0 : block.code.split('\n').length;
    for (let line = block.line; line <= block.line + length + 1; line++) inBlock.add(line);
  }
  return lines
    .map((text, index) => ({ line: index + 1, text }))
    .filter(({ line }) => !inBlock.has(line));
}

/** Fences without a language or with a TypeScript/JavaScript one other than `ts`. */
export function fenceProblems(blocks: readonly Block[]): Problem[] {
  const problems: Problem[] = [];
  for (const { line, lang } of blocks) {
    if (lang === '') {
      problems.push({
        line,
        column: 1,
        message: 'a code block without a language (ts, sh, text…)',
      });
    } else if (refusedLanguages.has(lang.toLowerCase())) {
      problems.push({
        line,
        column: 1,
        message: `a code block fenced \`\`\`${lang}: fence TypeScript as \`\`\`ts so that it is type-checked`,
      });
    }
  }
  return problems;
}

/** Links to `#anchors` that no heading has, and process words, outside code blocks. */
export function proseProblems(markdown: string): Problem[] {
  const anchors = anchorsOf(markdown);
  const problems: Problem[] = [];
  for (const { line, text } of proseLines(markdown)) {
    for (const link of text.matchAll(/\]\(#([^)\s]+)\)/g)) {
      const anchor = link[1] ?? '';
      if (!anchors.has(anchor)) {
        const column = link.index + 3; // at the '#'
        problems.push({ line, column, message: `a link to #${anchor}, which no heading has` });
      }
    }
    for (const word of processWords) {
      const found = word.exec(text);
      if (found) {
        const column = found.index + 1;
        problems.push({ line, column, message: `"${found[0]}": speak to the reader instead` });
      }
    }
  }
  return problems.sort(byPosition);
}

/**
 * Type-checks each ```ts block of `blocks` as a module of its own (in memory, nothing is written),
 * with the compiler options of `configPath`. The blocks are placed in `scripts/`, so that
 * package.json's `"type": "module"` applies to them (top-level `await` works).
 */
export function typeProblems(blocks: readonly Block[], configPath: string): Problem[] {
  const options = compilerOptions(configPath);
  const sources = new Map<string, Block>();
  for (const block of blocks) {
    if (block.lang === 'ts') sources.set(join(root, 'scripts', `readme-${block.line}.ts`), block);
  }
  const host = ts.createCompilerHost(options, true);
  const onDisk = { fileExists: host.fileExists.bind(host), readFile: host.readFile.bind(host) };
  host.fileExists = (file) => sources.has(resolve(file)) || onDisk.fileExists(file);
  host.readFile = (file) => sources.get(resolve(file))?.code ?? onDisk.readFile(file);
  const program = ts.createProgram({ rootNames: [...sources.keys()], options, host });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const { file, start } = diagnostic;
    const block = file && sources.get(resolve(file.fileName));
    if (!file || start === undefined || !block) {
      const where = file ? `${relative(root, file.fileName)}: ` : '';
      return { line: 0, column: 0, message: `${where}TS${diagnostic.code}: ${message}` };
    }
    const position = file.getLineAndCharacterOfPosition(start);
    return {
      line: block.line + 1 + position.line,
      column: position.character + 1,
      message: `TS${diagnostic.code}: ${message}`,
    };
  });
}

function compilerOptions(configPath: string): ts.CompilerOptions {
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  // TS18003: the config lists no files of its own; the blocks are given here.
  const errors = config?.errors.filter((error) => error.code !== 18_003) ?? [];
  if (!config || errors.length > 0) {
    const messages = errors.map((error) => ts.flattenDiagnosticMessageText(error.messageText, ' '));
    throw new Error(`${configPath}: ${messages.join('; ')}`);
  }
  return config.options;
}

/** Every problem of the README at `readmePath`, in line order. */
export function checkReadme(
  readmePath: string,
  configPath = join(root, 'scripts', 'readme.tsconfig.json'),
): Problem[] {
  const markdown = readFileSync(readmePath, 'utf8');
  const blocks = extractBlocks(markdown);
  return [
    ...fenceProblems(blocks),
    ...proseProblems(markdown),
    ...typeProblems(blocks, configPath),
  ].sort(byPosition);
}

function byPosition(a: Problem, b: Problem): number {
  return a.line - b.line || a.column - b.column;
}

function main(): void {
  const readmePath = resolve(process.argv[2] ?? join(root, 'README.md'));
  if (!existsSync(join(root, 'dist', 'index.d.ts'))) {
    console.error('check-readme: dist/index.d.ts is missing: run `npm run build` first');
    process.exitCode = 1;
    return;
  }
  const problems = checkReadme(readmePath);
  const name = relative(process.cwd(), readmePath);
  for (const { line, column, message } of problems) {
    console.error(`${name}:${line}:${column} ${message}`);
  }
  const blocks = extractBlocks(readFileSync(readmePath, 'utf8')).filter((b) => b.lang === 'ts');
  if (problems.length > 0) {
    console.error(`check-readme: ${problems.length} problem(s)`);
    process.exitCode = 1;
  } else {
    console.log(`check-readme: ${name} is fine (${blocks.length} TypeScript blocks type-checked)`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
