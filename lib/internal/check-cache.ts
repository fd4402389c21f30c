import type { Clock } from '../clock.js';
import { toError } from '../errors.js';
import type { CheckResult } from '../health.js';
import type { Service } from '../service.js';

/** The two checks a service may have: readiness (`healthCheck`) and liveness (`livenessCheck`). */
export type CheckKind = 'healthCheck' | 'livenessCheck';

/** How checks are run: each within `timeout` ms, a result reused for `cacheMs` ms. */
export interface CheckSettings {
  readonly timeout: number;
  readonly cacheMs: number;
  readonly clock: Clock;
}

/** One check of one service: in flight (`settledAt` undefined), or settled at `settledAt`. */
interface Entry {
  readonly promise: Promise<CheckResult>;
  settledAt: number | undefined;
}

// The last check of each kind of each service, shared by every caller (health(), every
// HealthServer, the metrics): 200 concurrent probes run a check once. Weak, so a service that is
// dropped takes its entry with it.
const entries: Record<CheckKind, WeakMap<Service, Entry>> = {
  healthCheck: new WeakMap(),
  livenessCheck: new WeakMap(),
};

/** Whether `service` has a method named `kind`. */
export function hasCheck(service: Service, kind: CheckKind): boolean {
  return typeof service[kind] === 'function';
}

/**
 * The result of `service[kind]()`: the check in flight if there is one (single-flight), the last
 * result if it settled less than `cacheMs` ms ago, otherwise a new run. A check in flight is
 * shared whatever timeout the later callers asked for: the first caller's applies.
 */
export function sharedCheck(
  service: Service,
  kind: CheckKind,
  settings: CheckSettings,
): Promise<CheckResult> {
  const cache = entries[kind];
  const last = cache.get(service);
  if (last !== undefined) {
    if (last.settledAt === undefined) return last.promise;
    // A negative age (another clock) counts as stale.
    const age = settings.clock.now() - last.settledAt;
    if (age >= 0 && age < settings.cacheMs) return last.promise;
  }
  const entry: Entry = {
    promise: runCheck(service, kind, settings.timeout, settings.clock).then((result) => {
      entry.settledAt = settings.clock.now();
      return result;
    }),
    settledAt: undefined,
  };
  cache.set(service, entry);
  return entry.promise;
}

/**
 * Runs one check within `timeout` ms. Never rejects: a failure is the result. The timer is
 * cleared when the check settles, and a check that settles after its timeout is ignored.
 */
function runCheck(
  service: Service,
  kind: CheckKind,
  timeout: number,
  clock: Clock,
): Promise<CheckResult> {
  const startedAt = clock.now();
  const result = (error?: Error): CheckResult => {
    const durationMs = clock.now() - startedAt;
    return error === undefined ? { ok: true, durationMs } : { ok: false, error, durationMs };
  };
  return new Promise((resolve) => {
    let timer: unknown;
    if (timeout !== Infinity) {
      timer = clock.setTimeout(() => {
        const what = kind === 'healthCheck' ? 'health check' : 'liveness check';
        resolve(result(new Error(`${what} of "${service.name}" timed out after ${timeout} ms`)));
      }, timeout);
    }
    const done = (error?: Error): void => {
      if (timer !== undefined) clock.clearTimeout(timer);
      resolve(result(error));
    };
    let outcome: unknown;
    try {
      outcome = (service[kind] as () => unknown).call(service);
    } catch (error) {
      done(toError(service.name, error));
      return;
    }
    Promise.resolve(outcome).then(
      () => {
        done();
      },
      (error: unknown) => {
        done(toError(service.name, error));
      },
    );
  });
}
