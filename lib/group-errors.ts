import { OverseerError } from './errors.js';

/** `pool.add()` was called while the pool was stopping: it starts no new child then. */
export class PoolStoppingError extends OverseerError {
  override readonly name = 'PoolStoppingError';
  readonly code = 'ERR_OVERSEER_POOL_STOPPING';
  /** The name of the pool. */
  readonly pool: string;
  /** The name of the service that could not be added. */
  readonly service: string;

  constructor(pool: string, service: string) {
    super(`Cannot add service "${service}" to pool "${pool}": the pool is stopping`);
    this.pool = pool;
    this.service = service;
  }
}

/** `pool.remove()` was refused: other members of the pool depend on the child. */
export class DependedOnError extends OverseerError {
  override readonly name = 'DependedOnError';
  readonly code = 'ERR_OVERSEER_DEPENDED_ON';
  /** The name of the pool. */
  readonly pool: string;
  /** The name of the child that could not be removed. */
  readonly service: string;
  /** The names of the members that depend on it. */
  readonly dependents: readonly string[];

  constructor(pool: string, service: string, dependents: readonly string[]) {
    const names = dependents.map((name) => `"${name}"`).join(', ');
    super(
      `Cannot remove service "${service}" from pool "${pool}": ${names} depend${dependents.length === 1 ? 's' : ''} on it; remove ${dependents.length === 1 ? 'it' : 'them'} first`,
    );
    this.pool = pool;
    this.service = service;
    this.dependents = Object.freeze([...dependents]);
  }
}

/**
 * A service returned cleanly before it reported `running` where something waited for it to run
 * (a child of a sequence, a `dependsOn` dependency): the `cause` of the {@link StartFailedError}.
 */
export class ReturnedBeforeRunningError extends OverseerError {
  override readonly name = 'ReturnedBeforeRunningError';
  readonly code = 'ERR_OVERSEER_RETURNED_BEFORE_RUNNING';
  /** The name of the service. */
  readonly service: string;

  constructor(service: string) {
    super(`Service "${service}" returned before it reported running`);
    this.service = service;
  }
}
