import type { StartOrder } from './dependencies.js';
import type { Lifecycle } from '../lifecycle.js';

// Per-child flags of a run with a start order.
export const started = 1;
const ran = 2;
export const askedToStop = 4;
export const ended = 8;
// The child no longer holds what it depends on (it ended, and so did its dependents).
const released = 16;

/** The progress of each child of a run with a start order. */
export class OrderProgress {
  readonly #dependenciesOf: (readonly number[])[];
  readonly #dependentsOf: number[][];
  readonly #indexOf: Map<Lifecycle, number>;
  readonly #flags: number[];
  /** Per child: how many of its dependencies have not run yet. */
  readonly waitingFor: number[];
  /** Per child: how many of its dependents have started and still hold it (see `end`). */
  readonly #liveDependents: number[];
  readonly #askedAt: number[] = [];

  constructor(order: StartOrder, children: readonly Lifecycle[]) {
    this.#dependenciesOf = [...order.dependencies];
    this.#dependentsOf = order.dependents.map((dependents) => [...dependents]);
    this.#indexOf = new Map(children.map((child, index) => [child, index]));
    this.#flags = children.map(() => 0);
    this.waitingFor = order.dependencies.map((dependencies) => dependencies.length);
    this.#liveDependents = children.map(() => 0);
  }

  /**
   * Adds a child to the run at `index` (the next one), depending on `dependencies` (lifecycles
   * of children of the run; nothing depends on it). `ready`: which of them count as having run.
   * @returns whether it waits for nothing.
   */
  add(index: number, child: Lifecycle, dependencies: readonly Lifecycle[]): boolean {
    const indexes = [...new Set(dependencies.map((dependency) => this.#indexOf.get(dependency)))];
    const own = indexes.filter((dependency) => dependency !== undefined);
    this.#indexOf.set(child, index);
    this.#flags[index] = 0;
    this.#dependenciesOf[index] = own;
    this.#dependentsOf[index] = [];
    this.#liveDependents[index] = 0;
    let waiting = 0;
    for (const dependency of own) {
      (this.#dependentsOf[dependency] as number[]).push(index);
      if (!this.has(dependency, ran)) waiting++;
    }
    this.waitingFor[index] = waiting;
    return waiting === 0;
  }

  /** The children that depend on `child`. */
  dependentsOf(child: Lifecycle): readonly number[] {
    return this.#dependentsOf[this.#indexOf.get(child) as number] as number[];
  }

  /**
   * The progress of a run without an order so far, to which a child with dependencies is being
   * added: `startedAt(index)` and `ready(child)` say what has happened to each child.
   */
  static adopt(
    children: readonly Lifecycle[],
    startedAt: (index: number) => boolean,
    ready: (child: Lifecycle) => boolean,
  ): OrderProgress {
    const none = children.map((): number[] => []);
    const progress = new OrderProgress({ dependencies: none, dependents: none }, children);
    children.forEach((child, index) => {
      if (startedAt(index)) progress.start(index);
      if (ready(child)) progress.ran(child);
    });
    return progress;
  }

  has(index: number, flag: number): boolean {
    return ((this.#flags[index] as number) & flag) !== 0;
  }

  start(index: number): void {
    this.#set(index, started);
    for (const dependency of this.#dependencies(index)) {
      // A dependency already released (a job that finished) is held by nobody any more: a child
      // added later that depends on it does not hold it again, so it is never released twice.
      if (this.has(dependency, released)) continue;
      this.#liveDependents[dependency] = (this.#liveDependents[dependency] as number) + 1;
    }
  }

  /**
   * Marks `child` as having run (its group calls it once per child and run); returns the
   * dependents that now wait for nothing.
   */
  ran(child: Lifecycle): number[] {
    const index = this.#indexOf.get(child) as number;
    this.#set(index, ran);
    const ready: number[] = [];
    for (const dependent of this.#dependentsOf[index] as number[]) {
      const waiting = (this.waitingFor[dependent] as number) - 1;
      this.waitingFor[dependent] = waiting;
      if (waiting === 0) ready.push(dependent);
    }
    return ready;
  }

  /**
   * Marks `child` as ended. Returns the children that nothing started depends on any more: an
   * ended child keeps holding what it depends on until what depends on it has ended too, so a
   * chain stops from its end even when a child in its middle ended first.
   */
  end(child: Lifecycle): number[] {
    const index = this.#indexOf.get(child) as number;
    this.#set(index, ended);
    const freed: number[] = [];
    if (this.#liveDependents[index] === 0) this.#release(index, freed);
    return freed;
  }

  /** `index` holds nothing any more: its dependencies lose a dependent, recursively. */
  #release(index: number, freed: number[]): void {
    // An explicit stack, not recursion: a chain may be 10,000 children long.
    const stack = [index];
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      if (this.has(next, released)) continue;
      this.#set(next, released);
      for (const dependency of this.#dependencies(next)) {
        if (this.has(dependency, released)) continue;
        const live = (this.#liveDependents[dependency] as number) - 1;
        this.#liveDependents[dependency] = live;
        if (live !== 0) continue;
        if (this.has(dependency, ended)) stack.push(dependency);
        else freed.push(dependency);
      }
    }
  }

  /** Whether the child is running and nothing that depends on it still runs: it may stop. */
  free(index: number): boolean {
    const flags = this.#flags[index] as number;
    const live = (flags & started) !== 0 && (flags & (askedToStop | ended)) === 0;
    return live && this.#liveDependents[index] === 0;
  }

  askToStop(index: number, now: number): void {
    this.#set(index, askedToStop);
    this.#askedAt[index] = now;
  }

  /** When the child was asked to stop, if it was. */
  askedAt(index: number): number | undefined {
    return this.#askedAt[index];
  }

  #dependencies(index: number): readonly number[] {
    return this.#dependenciesOf[index] as number[];
  }

  #set(index: number, flag: number): void {
    this.#flags[index] = (this.#flags[index] as number) | flag;
  }
}
