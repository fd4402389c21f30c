import { ControlledService, type Behaviour } from './service.js';

/** A check a test gives a service: what it returns, throws or rejects with is the result. */
export type Check = () => Promise<void> | void;

/** The checks of a {@link CheckedService}; each one left out is a method the service lacks. */
export interface Checks {
  /** Its `healthCheck()` (readiness: its dependencies). */
  health?: Check;
  /** Its `livenessCheck()` (is it stuck). */
  liveness?: Check;
}

/**
 * A {@link ControlledService} with its own `healthCheck()` and/or `livenessCheck()`, which count
 * their calls. A plain function as `checks` is the health check alone.
 */
export class CheckedService extends ControlledService {
  /** The calls of `healthCheck()`. */
  calls = 0;
  /** The calls of `livenessCheck()`. */
  livenessCalls = 0;
  healthCheck?: () => Promise<void> | void;
  livenessCheck?: () => Promise<void> | void;

  constructor(name: string, checks: Check | Checks, behaviour: Behaviour = {}) {
    super(name, behaviour);
    const { health, liveness } = typeof checks === 'function' ? { health: checks } : checks;
    if (health !== undefined) {
      this.healthCheck = () => {
        this.calls++;
        return health();
      };
    }
    if (liveness !== undefined) {
      this.livenessCheck = () => {
        this.livenessCalls++;
        return liveness();
      };
    }
  }
}

/** A check that never settles. */
export const hang = (): Promise<void> => new Promise<void>(() => undefined);

/** A check the test settles by hand: `check` to give the service, `resolve`/`reject` to settle it. */
export function controlledCheck(): {
  check: Check;
  /** Resolves once the check has been called. */
  called: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
} {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  let markCalled!: () => void;
  const called = new Promise<void>((done) => (markCalled = done));
  const promise = new Promise<void>((done, fail) => {
    resolve = done;
    reject = fail;
  });
  const check = () => {
    markCalled();
    return promise;
  };
  return { check, called, resolve, reject };
}
