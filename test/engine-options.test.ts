import test, { type ExecutionContext } from 'ava';
import { Lifecycle, Pool, Restarter, Sequence, type WaitOptions } from '../lib/index.js';
import { ControlledService } from './helpers/service.js';

/*
 * Every options object of the public API rejects unknown option names with a TypeError naming
 * the unknown option and listing the known ones (SPEC, Lifecycle rules; STYLE, "Options objects
 * are checked once, strictly").
 */

/** An options object with a misspelled key, which the type checker would refuse: typed `never`. */
function misspelled(options: Record<string, unknown>): never {
  return options as never;
}

const lifecycleKeys = ['logger', 'clock', 'hookTimeout'];
const stopKeys = ['timeout', 'signal'];
const groupKeys = ['name', 'logger', 'clock', 'drainDelay', 'hookTimeout'];
const restarterKeys = [
  'name',
  'restart',
  'logger',
  'clock',
  'random',
  'hookTimeout',
  'initialDelay',
  'maxDelay',
  'factor',
  'jitter',
  'maxRestarts',
  'window',
];

/** Whether `text` contains `word` as a whole word (`nam` is not in `name`). */
function mentions(text: string, word: string): boolean {
  return new RegExp(`(^|[^A-Za-z0-9_])${word}($|[^A-Za-z0-9_])`).test(text);
}

/** Asserts that `error` is a TypeError naming `unknown` and at least one of `known`. */
function assertUnknownOption(
  t: ExecutionContext,
  error: unknown,
  unknown: string,
  known: readonly string[],
): void {
  t.true(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
  const message = error instanceof Error ? error.message : '';
  t.true(mentions(message, unknown), `"${message}" does not name \`${unknown}\``);
  t.true(
    known.some((key) => mentions(message, key)),
    `"${message}" lists none of the known options ${known.join(', ')}`,
  );
}

/** Asserts that `call` throws synchronously, and returns what it threw. */
function thrownBy(t: ExecutionContext, call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  t.fail('expected the call to throw');
  return undefined;
}

/** What `call` throws synchronously or its promise rejects with; fails if neither happens. */
async function failureOf(t: ExecutionContext, call: () => Promise<unknown>): Promise<unknown> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (error) {
    return error;
  }
  try {
    await promise;
  } catch (error) {
    return error;
  }
  t.fail('expected the call to throw or its promise to reject');
  return undefined;
}

test('new Lifecycle() rejects an unknown option with a TypeError naming it', (t) => {
  const service = new ControlledService('svc');
  const error = thrownBy(t, () => new Lifecycle(service, misspelled({ hookTimeOut: 5 })));
  assertUnknownOption(t, error, 'hookTimeOut', lifecycleKeys);
});

test('stop() throws a TypeError naming an unknown option, at once', (t) => {
  const lifecycle = new Lifecycle(new ControlledService('svc'));
  const error = thrownBy(t, () => lifecycle.stop(misspelled({ timout: 5 })));
  assertUnknownOption(t, error, 'timout', stopKeys);
  t.is(lifecycle.state, 'stopped');
});

test('wait() refuses an unknown option with a TypeError naming it', async (t) => {
  const lifecycle = new Lifecycle(new ControlledService('svc'));
  const options: WaitOptions = misspelled({ timout: 5 });
  assertUnknownOption(t, await failureOf(t, () => lifecycle.wait(options)), 'timout', stopKeys);
});

test('whenRunning() refuses an unknown option with a TypeError naming it', async (t) => {
  const lifecycle = new Lifecycle(new ControlledService('svc'));
  const done = lifecycle.run();
  await lifecycle.whenRunning();
  const options: WaitOptions = misspelled({ timout: 5 });
  assertUnknownOption(
    t,
    await failureOf(t, () => lifecycle.whenRunning(options)),
    'timout',
    stopKeys,
  );
  await lifecycle.stop();
  await done;
});

test('new Pool() rejects an unknown option with a TypeError naming it', (t) => {
  const error = thrownBy(t, () => new Pool(misspelled({ drainDelai: 1000 })));
  assertUnknownOption(t, error, 'drainDelai', groupKeys);
});

test('new Sequence() rejects an unknown option with a TypeError naming it', (t) => {
  const error = thrownBy(t, () => new Sequence(misspelled({ nam: 'x' })));
  assertUnknownOption(t, error, 'nam', groupKeys);
});

test('pool.add() rejects an unknown option with a TypeError naming it, and adds nothing', (t) => {
  const pool = new Pool();
  const service = new ControlledService('a');
  const error = thrownBy(t, () => pool.add(service, misspelled({ dependOn: [] })));
  assertUnknownOption(t, error, 'dependOn', ['dependsOn', 'restart']);
  t.is(pool.lifecycles.length, 0);
});

test('sequence.add() rejects an unknown option with a TypeError naming it, and adds nothing', (t) => {
  const sequence = new Sequence();
  const service = new ControlledService('a');
  const error = thrownBy(t, () => sequence.add(service, misspelled({ restrat: 'always' })));
  assertUnknownOption(t, error, 'restrat', ['restart']);
  t.is(sequence.lifecycles.length, 0);
});

test('new Restarter() rejects an unknown option with a TypeError naming it', (t) => {
  const service = new ControlledService('a');
  const error = thrownBy(t, () => new Restarter(service, misspelled({ maxRestart: 3 })));
  assertUnknownOption(t, error, 'maxRestart', restarterKeys);
});

test('pool.add() rejects an unknown option of a restart policy with a TypeError naming it, and adds nothing', (t) => {
  const pool = new Pool();
  const service = new ControlledService('a');
  const error = thrownBy(t, () => pool.add(service, { restart: misspelled({ intialDelay: 5 }) }));
  assertUnknownOption(t, error, 'intialDelay', restarterKeys);
  t.is(pool.lifecycles.length, 0);
});
