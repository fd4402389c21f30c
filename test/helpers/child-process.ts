import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** How a fixture process ended: its exit code, or the signal that killed it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One JSON line a fixture's logger wrote, without its timestamp. */
export interface LogLine {
  level: string;
  message: string;
  [key: string]: unknown;
}

interface LineWaiter {
  match: (line: string) => boolean;
  resolve: (line: string) => void;
  reject: (error: Error) => void;
}

/**
 * A script of test/fixtures run as a real child process (`node --import tsx`), with its stdout
 * read line by line so tests wait on what it prints, never on sleeps.
 */
export class FixtureProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[] = [];
  #stderr = '';
  #exit: Exit | undefined;
  readonly #closed: Promise<Exit>;
  #waiters: LineWaiter[] = [];

  constructor(name: string, args: readonly string[]) {
    this.name = name;
    const script = fileURLToPath(new URL(`../fixtures/${name}.ts`, import.meta.url));
    this.child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.#onLine(line);
    });
    // 'close' comes after 'exit' and after stdout has ended, so every line has been read.
    this.#closed = new Promise((resolve) => {
      this.child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        this.#exit = { code, signal };
        for (const waiter of this.#waiters) waiter.reject(this.#failure('exited before printing'));
        this.#waiters = [];
        resolve(this.#exit);
      });
    });
  }

  /** Whether the process is still running (has not been seen to exit). */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The JSON log lines printed so far, without timestamps, in order. */
  get logs(): LogLine[] {
    return this.lines.filter((line) => line.startsWith('{')).map(parseLogLine);
  }

  /** The one log line with `message` (fails if there is none, or several). */
  log(message: string): LogLine {
    const found = this.logs.filter((line) => line.message === message);
    if (found.length !== 1) {
      throw this.#failure(`printed ${found.length} log lines "${message}", expected 1`);
    }
    return found[0]!;
  }

  /** Resolves with the first stdout line (already printed or to come) that `match` accepts. */
  line(match: string | ((line: string) => boolean)): Promise<string> {
    const accepts = typeof match === 'string' ? (line: string) => line === match : match;
    const seen = this.lines.find(accepts);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.#exit) return Promise.reject(this.#failure('exited before printing'));
    return new Promise((resolve, reject) => {
      this.#waiters.push({ match: accepts, resolve, reject });
    });
  }

  /** Resolves once the fixture printed a JSON log line whose fields include `fields`. */
  async logged(fields: Record<string, unknown>): Promise<LogLine> {
    const matches = (line: string) =>
      line.startsWith('{') &&
      Object.entries(fields).every(([key, value]) => parseLogLine(line)[key] === value);
    return parseLogLine(await this.line(matches));
  }

  /** Resolves once the fixture printed `READY`: its root service runs. */
  async ready(): Promise<void> {
    await this.line('READY');
  }

  /** Sends `signal` to the process. */
  kill(signal: NodeJS.Signals): void {
    if (!this.child.kill(signal)) throw this.#failure(`could not be sent ${signal}`);
  }

  /**
   * Resolves once the process has exited and its output has been read. If it has not exited
   * `within` ms from now, kills it and rejects: a safety net, not a measurement.
   */
  exited(within = 10_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(this.#failure(`had not exited ${within} ms later (killed)`));
      }, within);
    });
    return Promise.race([this.#closed, late]).finally(() => {
      clearTimeout(timer);
    });
  }

  #onLine(line: string): void {
    this.lines.push(line);
    const waiting = this.#waiters;
    this.#waiters = waiting.filter((waiter) => !waiter.match(line));
    for (const waiter of waiting) if (waiter.match(line)) waiter.resolve(line);
  }

  #failure(what: string): Error {
    return new Error(
      `fixture ${this.name} ${what}\n--- stdout ---\n${this.lines.join('\n')}\n--- stderr ---\n${this.#stderr}`,
    );
  }
}

/**
 * Spawns test/fixtures/NAME.ts with `args`, killed with SIGKILL at the end of the test if it is
 * still running, so no process outlives its test.
 */
export function spawnFixture(
  t: ExecutionContext,
  name: string,
  args: readonly string[] = [],
): FixtureProcess {
  const fixture = new FixtureProcess(name, args);
  t.teardown(() => {
    if (fixture.alive) fixture.child.kill('SIGKILL');
  });
  return fixture;
}

function parseLogLine(line: string): LogLine {
  const entry = JSON.parse(line) as LogLine;
  delete entry.timestamp;
  return entry;
}
