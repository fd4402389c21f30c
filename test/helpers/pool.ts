import { Lifecycle, Pool, type Clock, type Logger, type State } from '../../lib/index.js';
import { recordStates } from './record.js';
import { ControlledService, type Behaviour } from './service.js';

/** A pool of {@link ControlledService}s, its lifecycle and the states that lifecycle went through. */
export interface PoolFixture<K extends string> {
  pool: Pool;
  lifecycle: Lifecycle<Pool>;
  /** Every state the pool's lifecycle moved to. */
  states: State[];
  /** The children's services, by name. */
  services: Record<K, ControlledService>;
  /** The children's lifecycles (as `pool.add` returned them), by name. */
  children: Record<K, Lifecycle<ControlledService>>;
}

/** Options of {@link makePool}. */
export interface MakePoolOptions {
  name?: string;
  logger?: Logger;
  /** The clock of the pool's own lifecycle (the one deadlines are set on). */
  clock?: Clock;
}

/**
 * Builds a pool with one {@link ControlledService} per entry of `children` (in that order, named
 * after its key and behaving as its value says) and a lifecycle for the pool. Nothing runs yet.
 */
export function makePool<K extends string>(
  children: Record<K, Behaviour>,
  options: MakePoolOptions = {},
): PoolFixture<K> {
  const pool = new Pool({ name: options.name, logger: options.logger });
  const services = {} as Record<K, ControlledService>;
  const lifecycles = {} as Record<K, Lifecycle<ControlledService>>;
  for (const name of Object.keys(children) as K[]) {
    const service = new ControlledService(name, children[name]);
    services[name] = service;
    lifecycles[name] = pool.add(service);
  }
  const lifecycle = new Lifecycle(pool, { clock: options.clock });
  return { pool, lifecycle, states: recordStates(lifecycle), services, children: lifecycles };
}

/**
 * Runs `lifecycle`; the promise resolves with the crash error, or `undefined` once it stopped.
 * It is handled from the start, so a crash never surfaces as an unhandled rejection.
 */
export function runToEnd(lifecycle: Lifecycle): Promise<Error | undefined> {
  return lifecycle.run().then(
    () => undefined,
    (error: unknown) => error as Error,
  );
}

export { flush } from './lifecycle.js';

/**
 * Resolves once every one of `services` has been started (its `runWithLifecycle` called). Call it
 * before they start, on the line after `run()`: the pool starts its children in a microtask.
 */
export async function allStarted(services: Record<string, ControlledService>): Promise<void> {
  await Promise.all(Object.values(services).map((service) => service.started()));
}
