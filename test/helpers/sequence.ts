import type { ExecutionContext } from 'ava';
import { Lifecycle, Sequence, type Clock, type Logger, type State } from '../../lib/index.js';
import { recordStates } from './record.js';
import { ControlledService, type Behaviour } from './service.js';

export { aborted, flush } from './lifecycle.js';

/**
 * Writes into `journal` what happens to `lifecycle` from now on: `"<name> asked"` when its
 * `signal` aborts (a stop was requested of it), and `"<name> <state>"` for every transition but
 * `starting` (`running`, `stopping`, `stopped`, `crashed`).
 */
export function journalOf(lifecycle: Lifecycle, journal: string[]): void {
  lifecycle.onStarting((_service, own) => {
    own.signal.addEventListener(
      'abort',
      () => {
        journal.push(`${own.name} asked`);
      },
      { once: true },
    );
  });
  lifecycle.onStateChange((_service, own, state) => {
    if (state !== 'starting') journal.push(`${own.name} ${state}`);
  });
}

/** A {@link ControlledService} that writes `"<name> run"` into a journal each time it is run. */
export class JournaledService extends ControlledService {
  readonly #journal: string[];

  constructor(name: string, behaviour: Behaviour, journal: string[]) {
    super(name, behaviour);
    this.#journal = journal;
  }

  override runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    this.#journal.push(`${this.name} run`);
    return super.runWithLifecycle(lifecycle);
  }
}

/** A sequence of {@link JournaledService}s, its lifecycle, and what happened to them. */
export interface SequenceFixture<K extends string> {
  sequence: Sequence;
  lifecycle: Lifecycle<Sequence>;
  /** Every state the sequence's lifecycle moved to. */
  states: State[];
  /** The children's services, by name. */
  services: Record<K, JournaledService>;
  /** The children's lifecycles (as `sequence.add` returned them), by name. */
  children: Record<K, Lifecycle<JournaledService>>;
  /**
   * What happened to the children, in order: `"a run"` when a's `runWithLifecycle` is called,
   * `"a asked"` when it is asked to stop, `"a running"`, `"a stopping"`, `"a stopped"`,
   * `"a crashed"` as its lifecycle changes.
   */
  journal: string[];
}

/** Options of {@link makeSequence}. */
export interface MakeSequenceOptions {
  name?: string;
  logger?: Logger;
  /** The clock of both the sequence and its own lifecycle. */
  clock?: Clock;
}

/**
 * Builds a sequence with one {@link JournaledService} per entry of `children` (in that order,
 * named after its key and behaving as its value says) and a lifecycle for it. Nothing runs yet.
 */
export function makeSequence<K extends string>(
  children: Record<K, Behaviour>,
  options: MakeSequenceOptions = {},
): SequenceFixture<K> {
  const { name, logger, clock } = options;
  const sequence = new Sequence({ name, logger, clock });
  const journal: string[] = [];
  const services = {} as Record<K, JournaledService>;
  const lifecycles = {} as Record<K, Lifecycle<JournaledService>>;
  for (const key of Object.keys(children) as K[]) {
    const service = new JournaledService(key, children[key], journal);
    services[key] = service;
    lifecycles[key] = sequence.add(service);
    journalOf(lifecycles[key], journal);
  }
  const lifecycle = new Lifecycle(sequence, { clock });
  return {
    sequence,
    lifecycle,
    states: recordStates(lifecycle),
    services,
    children: lifecycles,
    journal,
  };
}

/**
 * Asserts that each of `entries` is in `journal` once, and that they come in the given order
 * (other entries may come between them).
 */
export function assertInOrder(
  t: ExecutionContext,
  journal: readonly string[],
  entries: readonly string[],
): void {
  let previous = -1;
  for (const entry of entries) {
    const index = journal.indexOf(entry);
    t.not(index, -1, `"${entry}" is missing from ${JSON.stringify(journal)}`);
    t.is(journal.lastIndexOf(entry), index, `"${entry}" is in the journal more than once`);
    t.true(index > previous, `"${entry}" comes too early in ${JSON.stringify(journal)}`);
    previous = index;
  }
}
