import { Lifecycle } from '../lifecycle.js';
import type { Service } from '../service.js';

/** What a child of a pool may depend on: another child's lifecycle, or its service. */
export type Dependency = Lifecycle | Service;

/**
 * Which children of a group wait for which, by index into the group's children: a child starts
 * once every one of its `dependencies` runs, and is asked to stop once every one of its
 * `dependents` has ended.
 */
export interface StartOrder {
  readonly dependencies: readonly (readonly number[])[];
  readonly dependents: readonly (readonly number[])[];
}

/** The order of a sequence: each child depends on the one added before it. */
export function chainOrder(length: number): StartOrder {
  const dependencies: number[][] = [];
  const dependents: number[][] = [];
  for (let index = 0; index < length; index++) {
    dependencies.push(index === 0 ? [] : [index - 1]);
    dependents.push(index === length - 1 ? [] : [index + 1]);
  }
  return { dependencies, dependents };
}

// An index entry for a service added to the pool more than once: depending on it is ambiguous.
const ambiguous = -1;

/**
 * The dependencies declared by `pool.add(service, { dependsOn })`. A dependency on a lifecycle
 * must be a child already added; a dependency on a service may name one added later (it is
 * resolved when the pool runs). Cycles are refused when the child closing them is added.
 */
export class DependencyTable {
  readonly #pool: string;
  // Every child's lifecycle and what else names it (its service; for a Restarter, also the
  // service it restarts and that service's lifecycle) → the child's index.
  readonly #index = new Map<Dependency, number>();
  readonly #names: string[] = [];
  readonly #declared = new Map<number, readonly Dependency[]>();

  constructor(pool: string) {
    this.#pool = pool;
  }

  /** Records the child at `index`: its lifecycle, and the `aliases` it may also be named by. */
  register(index: number, lifecycle: Lifecycle, aliases: readonly Dependency[]): void {
    this.#names[index] = lifecycle.name;
    this.#index.set(lifecycle, index);
    for (const alias of aliases) {
      const known = this.#index.get(alias);
      this.#index.set(alias, known === undefined || known === index ? index : ambiguous);
    }
  }

  /**
   * Throws a `TypeError` if the child about to be registered at `index` (as `lifecycle`, with
   * `aliases`) cannot depend on `dependsOn`: a lifecycle that is not a child of this pool, or a
   * dependency that closes a cycle. Changes nothing.
   */
  check(
    index: number,
    lifecycle: Lifecycle,
    aliases: readonly Dependency[],
    dependsOn: readonly Dependency[],
  ): void {
    const resolve = (dependency: Dependency): number | undefined =>
      dependency === lifecycle || aliases.includes(dependency)
        ? index
        : this.#index.get(dependency);
    for (const [position, dependency] of dependsOn.entries()) {
      if (dependency instanceof Lifecycle && resolve(dependency) === undefined) {
        throw new TypeError(
          `Expected \`options.dependsOn[${position}]\` to be a child of pool "${this.#pool}", got the lifecycle of "${dependency.name}", which is not in it`,
        );
      }
    }
    const cycle = this.#cycleThrough(index, lifecycle.name, dependsOn, resolve);
    if (cycle) {
      throw new TypeError(
        `Service "${lifecycle.name}" cannot depend on ${cycle.length === 2 ? 'itself' : `"${cycle[1]}"`} in pool "${this.#pool}": that makes a cycle (${cycle.map((name) => `"${name}"`).join(' → ')})`,
      );
    }
  }

  /** Records what the child at `index` depends on (already checked). */
  declare(index: number, dependsOn: readonly Dependency[]): void {
    if (dependsOn.length > 0) this.#declared.set(index, dependsOn);
  }

  /**
   * The start order of `count` children.
   * @throws {TypeError} when a dependency names a service that was never added to the pool, or
   * one added more than once.
   */
  order(count: number): StartOrder {
    const dependencies: number[][] = Array.from({ length: count }, () => []);
    const dependents: number[][] = Array.from({ length: count }, () => []);
    for (const [index, declared] of this.#declared) {
      for (const dependency of declared) {
        const target = this.#resolved(index, dependency);
        if (dependencies[index]?.includes(target)) continue;
        dependencies[index]?.push(target);
        dependents[target]?.push(index);
      }
    }
    return { dependencies, dependents };
  }

  /**
   * The indexes of the children `dependsOn` names now, for a child added while the pool runs.
   * @throws {TypeError} as {@link DependencyTable.order} does.
   */
  resolveNow(index: number, name: string, dependsOn: readonly Dependency[]): number[] {
    this.#names[index] = name;
    return dependsOn.map((dependency) => this.#resolved(index, dependency));
  }

  /** The indexes of the other children that declared a dependency resolving to `index`. */
  dependentsOf(index: number): number[] {
    const dependents: number[] = [];
    for (const [dependent, declared] of this.#declared) {
      if (dependent === index) continue;
      if (declared.some((dependency) => this.#index.get(dependency) === index)) {
        dependents.push(dependent);
      }
    }
    return dependents;
  }

  #resolved(index: number, dependency: Dependency): number {
    const target = this.#index.get(dependency);
    const child = `Service "${this.#nameOf(index)}" of pool "${this.#pool}"`;
    if (target === undefined) {
      throw new TypeError(
        `${child} depends on "${dependency.name}", which was never added to the pool`,
      );
    }
    if (target === ambiguous) {
      throw new TypeError(
        `${child} depends on "${dependency.name}", which was added to the pool more than once; depend on the lifecycle add() returned instead`,
      );
    }
    return target;
  }

  /**
   * The names along a path from the new child back to itself through `dependsOn` and the
   * dependencies already declared, if there is one (`[new, …, new]`). The table had no cycle
   * before, so any new cycle passes through the new child.
   */
  #cycleThrough(
    start: number,
    name: string,
    dependsOn: readonly Dependency[],
    resolve: (dependency: Dependency) => number | undefined,
  ): string[] | undefined {
    const seen = new Set<number>();
    // Depth-first with an explicit stack of paths: no recursion, whatever the depth.
    const stack: number[][] = [];
    const push = (path: readonly number[], dependencies: readonly Dependency[]): void => {
      for (const dependency of dependencies) {
        const target = resolve(dependency);
        if (target !== undefined && target !== ambiguous) stack.push([...path, target]);
      }
    };
    push([start], dependsOn);
    for (let path = stack.pop(); path !== undefined; path = stack.pop()) {
      const last = path[path.length - 1] as number;
      if (last === start)
        return path.map((index) => (index === start ? name : this.#nameOf(index)));
      if (seen.has(last)) continue;
      seen.add(last);
      push(path, this.#declared.get(last) ?? []);
    }
    return undefined;
  }

  #nameOf(index: number): string {
    return this.#names[index] ?? '?';
  }
}
