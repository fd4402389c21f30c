import { Lifecycle, type State } from '../../lib/index.js';
import { recordStates } from './record.js';
import { ControlledService } from './service.js';

/** A run in progress, driven by hand: the service reports nothing and ignores stop requests. */
export interface ManualRun {
  service: ControlledService;
  lifecycle: Lifecycle;
  /** Every state the lifecycle moved to, from `run()` on. */
  states: State[];
  /** The promise `run()` returned. */
  done: Promise<void>;
}

/**
 * Runs a {@link ControlledService} that moves only when the test says so, waits until `run()` has
 * called `runWithLifecycle` (in a microtask after `run()` returns), and brings it to `state`
 * (through the service's own `running()` / `stopping()` calls).
 */
export async function runManually(
  state: 'starting' | 'running' | 'stopping',
  options: ConstructorParameters<typeof Lifecycle>[1] = {},
): Promise<ManualRun> {
  const service = new ControlledService('svc', { running: 'manually', whenAsked: 'ignore' });
  const lifecycle = new Lifecycle(service, options);
  const states = recordStates(lifecycle);
  const started = service.started();
  const done = lifecycle.run();
  await started;
  if (state !== 'starting') service.reportRunning();
  if (state === 'stopping') service.reportStopping();
  return { service, lifecycle, states, done };
}

/** A lifecycle whose run (driven as by {@link runManually}) went through running and ended in `end`. */
export async function endedRun(end: 'stopped' | 'crashed'): Promise<ManualRun> {
  const run = await runManually('running');
  if (end === 'stopped') run.service.finish();
  else run.service.crash();
  await run.done.catch(() => undefined);
  return run;
}

/** Resolves on the next `setImmediate`, after every pending microtask has run. */
export function nextImmediate(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Resolves once every reaction queued so far has run, and every reaction those queued in turn:
 * owners (pools, sequences) react to their children in microtasks, and every microtask runs
 * before the next `setImmediate`. For tests whose point is the order of events; otherwise wait on
 * the event itself (`whenRunning()`, a service's `started()`, `reach()`).
 */
export const flush: () => Promise<void> = nextImmediate;

/** Resolves once `signal` has aborted: at once if it already has. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener(
      'abort',
      () => {
        resolve();
      },
      { once: true },
    );
  });
}

/** Whether `promise` is still pending after every microtask and one turn of the event loop. */
export async function stillPending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  const mark = () => {
    settled = true;
  };
  void promise.then(mark, mark);
  await nextImmediate();
  return !settled;
}

/**
 * Calls `start` and tells whether the promise it returns settles "at once": before a
 * `setImmediate` scheduled just before the call fires, that is before the next turn of the event
 * loop (a promise that waits for any timer or immediate of its own settles later).
 */
export async function settlesAtOnce<T>(
  start: () => Promise<T>,
): Promise<{ settled: boolean; promise: Promise<T> }> {
  let settled = false;
  const mark = () => {
    settled = true;
  };
  const turn = nextImmediate();
  const promise = start();
  void promise.then(mark, mark);
  await turn;
  return { settled, promise };
}
