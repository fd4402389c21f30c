import test from 'ava';
import fc from 'fast-check';
import { backoffSettings, RestartBudget, type BackoffOptions } from '../lib/internal/backoff.js';

/** A budget with `options` (validated as the Restarter does) and a fixed or scripted `random`. */
function budget(options: BackoffOptions, random: number | (() => number) = 0): RestartBudget {
  const draw = typeof random === 'number' ? () => random : random;
  return new RestartBudget(backoffSettings(options, 'options'), draw);
}

/** The delays of `count` failures, all at time `now`. */
function delays(restarts: RestartBudget, count: number, now = 0): (number | undefined)[] {
  return Array.from({ length: count }, () => restarts.fail(now));
}

// --- settings ---

test('backoffSettings fills in the defaults: 100 ms doubling up to 10 s, 20 % jitter, 5 restarts per minute', (t) => {
  const settings = backoffSettings({}, 'options');
  t.deepEqual(settings, {
    initialDelay: 100,
    maxDelay: 10_000,
    factor: 2,
    jitter: 0.2,
    maxRestarts: 5,
    window: 60_000,
  });
  t.true(Object.isFrozen(settings));
});

test('backoffSettings keeps the options given and takes an undefined one as its default', (t) => {
  const options = {
    initialDelay: 5,
    maxDelay: 50,
    factor: 3,
    jitter: 0,
    maxRestarts: Infinity,
    window: undefined,
  };
  t.deepEqual(backoffSettings(options, 'options'), {
    initialDelay: 5,
    maxDelay: 50,
    factor: 3,
    jitter: 0,
    maxRestarts: Infinity,
    window: 60_000,
  });
});

test('backoffSettings accepts the edge values of every option', (t) => {
  const edges: BackoffOptions[] = [
    { initialDelay: 0 },
    { initialDelay: 0, maxDelay: 0 },
    { initialDelay: 500, maxDelay: 500 },
    { maxDelay: 2_147_483_647 },
    { factor: 1 },
    { jitter: 0 },
    { jitter: 1 },
    { maxRestarts: 0 },
    { maxRestarts: Infinity },
    { window: 1 },
    { window: Infinity },
  ];
  for (const options of edges) {
    t.like(backoffSettings(options, 'options'), options);
  }
});

test('backoffSettings throws a TypeError naming `options.<name>` for every malformed option', (t) => {
  const ms = 'a number of milliseconds';
  const bad: [BackoffOptions, string][] = [
    [{ initialDelay: -1 }, `\`options.initialDelay\` to be ${ms} from 0 to 2147483647, got \`-1\``],
    [
      { initialDelay: NaN },
      `\`options.initialDelay\` to be ${ms} from 0 to 2147483647, got \`NaN\``,
    ],
    [{ initialDelay: 2_147_483_648, maxDelay: 2_147_483_648 }, '`options.initialDelay`'],
    [{ initialDelay: Infinity }, '`options.initialDelay`'],
    [{ maxDelay: 50 }, `\`options.maxDelay\` to be ${ms} from initialDelay (100) to 2147483647`],
    [
      { initialDelay: 10, maxDelay: 9 },
      '`options.maxDelay` to be a number of milliseconds from initialDelay (10)',
    ],
    [{ maxDelay: NaN }, '`options.maxDelay`'],
    [{ maxDelay: 2_147_483_648 }, '`options.maxDelay`'],
    [{ factor: 0.5 }, '`options.factor` to be a number >= 1, got `0.5` (number)'],
    [{ factor: -2 }, '`options.factor` to be a number >= 1, got `-2` (number)'],
    [{ factor: NaN }, '`options.factor` to be a number >= 1, got `NaN` (number)'],
    [{ jitter: 1.5 }, '`options.jitter` to be a number from 0 to 1, got `1.5` (number)'],
    [{ jitter: -0.1 }, '`options.jitter` to be a number from 0 to 1, got `-0.1` (number)'],
    [{ jitter: NaN }, '`options.jitter` to be a number from 0 to 1, got `NaN` (number)'],
    [
      { maxRestarts: 1.5 },
      '`options.maxRestarts` to be an integer >= 0, or Infinity, got `1.5` (number)',
    ],
    [
      { maxRestarts: -1 },
      '`options.maxRestarts` to be an integer >= 0, or Infinity, got `-1` (number)',
    ],
    [
      { maxRestarts: NaN },
      '`options.maxRestarts` to be an integer >= 0, or Infinity, got `NaN` (number)',
    ],
    [
      { maxRestarts: -Infinity },
      '`options.maxRestarts` to be an integer >= 0, or Infinity, got `-Infinity` (number)',
    ],
    [
      { window: 0 },
      '`options.window` to be a number of milliseconds > 0, or Infinity, got `0` (number)',
    ],
    [
      { window: -5 },
      '`options.window` to be a number of milliseconds > 0, or Infinity, got `-5` (number)',
    ],
    [
      { window: NaN },
      '`options.window` to be a number of milliseconds > 0, or Infinity, got `NaN` (number)',
    ],
  ];
  for (const [options, message] of bad) {
    const error = t.throws(() => backoffSettings(options, 'options'), { instanceOf: TypeError });
    t.true(
      error.message.startsWith(`Expected ${message}`),
      `${JSON.stringify(options)}: ${error.message}`,
    );
  }
});

test('backoffSettings rejects options of the wrong type, naming them', (t) => {
  const bad: [Record<string, unknown>, string][] = [
    [{ initialDelay: '100' }, 'options.initialDelay'],
    [{ maxDelay: null }, 'options.maxDelay'],
    [{ factor: '2' }, 'options.factor'],
    [{ jitter: true }, 'options.jitter'],
    [{ maxRestarts: '5' }, 'options.maxRestarts'],
    [{ window: 10n }, 'options.window'],
  ];
  for (const [options, name] of bad) {
    t.throws(() => backoffSettings(options as BackoffOptions, 'options'), {
      instanceOf: TypeError,
      message: new RegExp(`^Expected \`${name.replace('.', '\\.')}\` to be `),
    });
  }
});

test('backoffSettings names options under the prefix it is given', (t) => {
  t.throws(() => backoffSettings({ initialDelay: 5, maxDelay: 1 }, 'options.restart'), {
    instanceOf: TypeError,
    message:
      'Expected `options.restart.maxDelay` to be a number of milliseconds from initialDelay (5) to 2147483647, got `1` (number)',
  });
  t.throws(() => backoffSettings({ window: 0 }, 'options.restart'), {
    instanceOf: TypeError,
    message: /^Expected `options\.restart\.window` to be/,
  });
});

// --- delays ---

test('delays double from initialDelay and stop growing at maxDelay', (t) => {
  const restarts = budget({ jitter: 0, maxRestarts: Infinity });
  t.deepEqual(delays(restarts, 10), [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  t.is(restarts.restarts, 10);
});

test('delays grow by factor and are capped at a custom maxDelay', (t) => {
  const restarts = budget({
    initialDelay: 10,
    maxDelay: 500,
    factor: 3,
    jitter: 0,
    maxRestarts: 8,
  });
  t.deepEqual(delays(restarts, 6), [10, 30, 90, 270, 500, 500]);
});

test('factor 1 gives the same delay every time', (t) => {
  const restarts = budget({ initialDelay: 250, factor: 1, jitter: 0, maxRestarts: 4 });
  t.deepEqual(delays(restarts, 4), [250, 250, 250, 250]);
});

test('initialDelay 0 restarts without waiting', (t) => {
  const restarts = budget({ initialDelay: 0, maxDelay: 0, maxRestarts: 3 });
  t.deepEqual(delays(restarts, 3), [0, 0, 0]);
});

test('random 0 gives the full delay: jitter never lengthens it', (t) => {
  const restarts = budget({ jitter: 0.5, maxRestarts: 3 }, 0);
  t.deepEqual(delays(restarts, 3), [100, 200, 400]);
});

test('random close to 1 gives delay × (1 − jitter)', (t) => {
  const restarts = budget({ jitter: 0.5, maxRestarts: 3 }, 0.999_999);
  t.deepEqual(delays(restarts, 3), [50, 100, 200]);
  const full = budget({ jitter: 1, maxRestarts: 1 }, 0.999_999);
  t.deepEqual(delays(full, 1), [0]);
});

test('jitter draws the delay from [delay × (1 − jitter), delay], rounded to whole ms', (t) => {
  // The default jitter is 0.2: a random of 0.5 takes 10 % off.
  t.deepEqual(delays(budget({ maxRestarts: 3 }, 0.5), 3), [90, 180, 360]);
  t.deepEqual(delays(budget({ jitter: 0.5, maxRestarts: 1 }, 0.25), 1), [88]); // 87.5 rounded
  t.deepEqual(delays(budget({ initialDelay: 7, jitter: 0.3, maxRestarts: 1 }, 0.5), 1), [6]); // 5.95
});

test('jitter draws one random number per failure, and the delay stays within bounds at maxDelay', (t) => {
  const draws = [0, 0.1, 0.37, 0.5, 0.73, 0.99, 0.999_999, 0.2, 0.61, 0.05];
  let calls = 0;
  const restarts = budget(
    { initialDelay: 100, maxDelay: 1000, jitter: 0.4, maxRestarts: 10 },
    () => {
      const value = draws[calls] ?? 0;
      calls += 1;
      return value;
    },
  );
  const nominal = [100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000, 1000];
  const got = delays(restarts, 10);
  t.is(calls, 10);
  got.forEach((delay, index) => {
    const full = nominal[index]!;
    t.true(delay !== undefined && delay <= full && delay >= Math.round(full * 0.6), `${delay}`);
    t.is(delay, Math.round(full * (1 - 0.4 * draws[index]!)));
  });
  t.true(got.every((delay) => delay !== undefined && delay <= 1000));
});

test('initialDelay 0 with factor 1e308 gives delays of 0, never NaN', (t) => {
  // 1e308 ** 2 is Infinity, and 0 × Infinity is NaN.
  const restarts = budget({ initialDelay: 0, maxDelay: 1000, factor: 1e308, maxRestarts: 6 });
  t.deepEqual(delays(restarts, 6), [0, 0, 0, 0, 0, 0]);
});

test('a factor that overflows to Infinity gives maxDelay, not Infinity', (t) => {
  const restarts = budget({ initialDelay: 1, maxDelay: 500, factor: 1e308, jitter: 0 });
  t.deepEqual(delays(restarts, 4), [1, 500, 500, 500]);
});

test('a random() of 5 is clamped and the delay stays within maxDelay', (t) => {
  // Unclamped, 1 − 0.5 × 5 is negative: a delay of −50 ms.
  const restarts = budget({ jitter: 0.5, maxRestarts: 3 }, 5);
  t.deepEqual(delays(restarts, 3), [50, 100, 200]);
});

test('a negative random() is clamped to 0 and never lengthens the delay past maxDelay', (t) => {
  // Unclamped, 1 − 0.5 × (−3) is 2.5: the capped 1000 ms would become 2500 ms.
  const restarts = budget({ maxDelay: 1000, jitter: 0.5, maxRestarts: 6 }, -3);
  t.deepEqual(delays(restarts, 6), [100, 200, 400, 800, 1000, 1000]);
});

test('a random() of NaN or ±Infinity is clamped, and the restart goes ahead with a finite delay', (t) => {
  t.deepEqual(delays(budget({ jitter: 0.5, maxRestarts: 2 }, NaN), 2), [100, 200]);
  t.deepEqual(delays(budget({ jitter: 0.5, maxRestarts: 2 }, -Infinity), 2), [100, 200]);
  t.deepEqual(delays(budget({ jitter: 0.5, maxRestarts: 2 }, Infinity), 2), [50, 100]);
  t.deepEqual(delays(budget({ jitter: 0.5, maxRestarts: 2 }, 1), 2), [50, 100]);
});

test('a delay rounded up never exceeds a maxDelay that is not a whole number', (t) => {
  const restarts = budget({ initialDelay: 10.5, maxDelay: 10.5, jitter: 0, maxRestarts: 2 });
  t.deepEqual(delays(restarts, 2), [10.5, 10.5]);
});

/** Any options backoffSettings accepts, edge values weighted up. */
const validOptions = fc
  .record({
    initialDelay: fc.oneof(
      fc.constantFrom(0, -0, 1, 2_147_483_647),
      fc.double({ min: 0, max: 2_147_483_647, noNaN: true }),
    ),
    maxDelay: fc.oneof(fc.constant(2_147_483_647), fc.double({ min: 0, max: 1, noNaN: true })),
    factor: fc.oneof(
      fc.constantFrom(1, 2, 1e308, Number.MAX_VALUE),
      fc.double({ min: 1, max: Number.MAX_VALUE, noNaN: true }),
    ),
    jitter: fc.oneof(fc.constantFrom(0, 1), fc.double({ min: 0, max: 1, noNaN: true })),
    maxRestarts: fc.oneof(fc.constant(Infinity), fc.nat({ max: 60 })),
    window: fc.oneof(fc.constant(Infinity), fc.double({ min: 1, max: 1e6, noNaN: true })),
  })
  // maxDelay is drawn as a fraction of the way from initialDelay to the largest timeout.
  .map((options) => ({
    ...options,
    maxDelay:
      options.maxDelay === 2_147_483_647
        ? 2_147_483_647
        : options.initialDelay + (2_147_483_647 - options.initialDelay) * options.maxDelay,
  }));

test('for any valid options and any random() value, every delay over 50 failures is finite and within [0, maxDelay]', (t) => {
  fc.assert(
    fc.property(
      validOptions,
      fc.array(fc.double(), { minLength: 50, maxLength: 50 }),
      fc.array(fc.nat({ max: 10_000 }), { minLength: 50, maxLength: 50 }),
      (options, draws, gaps) => {
        let draw = 0;
        const random = () => draws[draw++] ?? 0;
        const restarts = new RestartBudget(backoffSettings(options, 'options'), random);
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          const delay = restarts.fail(now);
          if (delay === undefined) continue;
          if (!(Number.isFinite(delay) && delay >= 0 && delay <= options.maxDelay)) {
            throw new Error(`delay ${delay} outside [0, ${options.maxDelay}]`);
          }
        }
      },
    ),
    { numRuns: 500 },
  );
  t.pass();
});

// --- the window and giving up ---

test('a budget gives up (undefined) once maxRestarts failures are in the window, and records no more', (t) => {
  const restarts = budget({ jitter: 0, maxRestarts: 3 });
  t.deepEqual(delays(restarts, 3), [100, 200, 400]);
  t.is(restarts.restarts, 3);
  t.is(restarts.fail(1), undefined);
  t.is(restarts.fail(2), undefined);
  t.is(restarts.restarts, 3);
});

test('maxRestarts 0 gives up at the first failure', (t) => {
  const restarts = budget({ maxRestarts: 0 });
  t.is(restarts.fail(0), undefined);
  t.is(restarts.restarts, 0);
});

test('maxRestarts Infinity never gives up', (t) => {
  const restarts = budget({ jitter: 0, maxRestarts: Infinity, window: Infinity });
  const got = delays(restarts, 1000);
  t.false(got.includes(undefined));
  t.is(got.at(-1), 10_000);
  t.is(restarts.restarts, 1000);
});

test('failures older than window stop counting: the delay falls back and the count resets', (t) => {
  const restarts = budget({ jitter: 0, maxRestarts: 3, window: 1000 });
  t.is(restarts.fail(0), 100);
  t.is(restarts.fail(100), 200);
  t.is(restarts.fail(200), 400);
  t.is(restarts.restarts, 3);
  // All three are more than 1000 ms old.
  t.is(restarts.fail(1201), 100);
  t.is(restarts.restarts, 1);
  t.is(restarts.fail(1300), 200);
});

test('only the failures older than window are forgotten; the recent ones still count', (t) => {
  const restarts = budget({ jitter: 0, maxRestarts: 3, window: 1000 });
  t.is(restarts.fail(0), 100);
  t.is(restarts.fail(600), 200);
  t.is(restarts.fail(700), 400);
  // The failure at 0 has left the window; those at 600 and 700 have not.
  t.is(restarts.fail(1100), 400);
  t.is(restarts.restarts, 3);
  t.is(restarts.fail(1200), undefined);
  t.is(restarts.fail(1601), 400);
});

test('a failure counts for exactly window ms', (t) => {
  const restarts = budget({ jitter: 0, maxRestarts: 1, window: 1000 });
  t.is(restarts.fail(0), 100);
  t.is(restarts.fail(999), undefined);
  t.is(restarts.fail(1000), 100);
  t.is(restarts.restarts, 1);
});

test('a budget that gave up accepts failures again once the window has moved past the old ones', (t) => {
  const restarts = budget({ jitter: 0, maxRestarts: 2, window: 500 });
  t.deepEqual(delays(restarts, 3), [100, 200, undefined]);
  t.is(restarts.fail(499), undefined);
  t.is(restarts.fail(500), 100);
});

test('failures spaced wider than window never give up and always get initialDelay', (t) => {
  const restarts = budget({ jitter: 0, maxRestarts: 1, window: 1000 });
  const got = Array.from({ length: 20 }, (_, index) => restarts.fail(index * 1001));
  t.deepEqual(
    got,
    Array.from({ length: 20 }, () => 100),
  );
  t.is(restarts.restarts, 1);
});

test('window Infinity counts every failure forever', (t) => {
  const restarts = budget({ jitter: 0, maxRestarts: 2, window: Infinity });
  t.is(restarts.fail(0), 100);
  t.is(restarts.fail(1e12), 200);
  t.is(restarts.fail(2e12), undefined);
});
