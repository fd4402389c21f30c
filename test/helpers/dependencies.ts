import { Lifecycle, Pool, type Clock, type Logger, type State } from '../../lib/index.js';
import { recordStates } from './record.js';
import { ControlledService, type Behaviour } from './service.js';

/**
 * A {@link ControlledService} that writes what happens to it into a journal shared by the
 * services of one test, so the test can assert the order across services: `start x` when its
 * `runWithLifecycle` is called, `asked x` when its `signal` aborts (a stop request), `running x`,
 * `stopped x` and `crashed x` when its lifecycle reaches those states.
 */
export class JournaledService extends ControlledService {
  readonly #journal: string[];

  constructor(journal: string[], name: string, behaviour: Behaviour = {}) {
    super(name, behaviour);
    this.#journal = journal;
  }

  override runWithLifecycle(lifecycle: Lifecycle): Promise<void> {
    const journal = this.#journal;
    const { name } = this;
    journal.push(`start ${name}`);
    lifecycle.signal.addEventListener(
      'abort',
      () => {
        journal.push(`asked ${name}`);
      },
      { once: true },
    );
    // One listener per run, removed when the run ends.
    const listener = (_service: unknown, _lifecycle: unknown, state: State) => {
      if (state === 'starting' || state === 'stopping') return;
      journal.push(`${state} ${name}`);
      if (state !== 'running') lifecycle.off('stateChange', listener);
    };
    lifecycle.on('stateChange', listener);
    return super.runWithLifecycle(lifecycle);
  }
}

/** A pool whose children are {@link JournaledService}s writing to one journal. */
export interface JournaledPool {
  pool: Pool;
  /** The pool's lifecycle (with the same clock as the pool). */
  lifecycle: Lifecycle<Pool>;
  /** Every state the pool's lifecycle moved to. */
  states: State[];
  /** What happened to the children, in order. */
  journal: string[];
  /** A service writing to the journal, not added to the pool. */
  service: (name: string, behaviour?: Behaviour) => JournaledService;
}

/** Builds an empty pool and its lifecycle; add {@link JournaledPool.service}s with `pool.add`. */
export function journaledPool(
  options: { name?: string; logger?: Logger; clock?: Clock } = {},
): JournaledPool {
  const { name = 'app', logger, clock } = options;
  const pool = new Pool({ name, logger, clock });
  const lifecycle = new Lifecycle(pool, { clock });
  const journal: string[] = [];
  return {
    pool,
    lifecycle,
    states: recordStates(lifecycle),
    journal,
    service: (serviceName, behaviour) => new JournaledService(journal, serviceName, behaviour),
  };
}
