import type { ExecutionContext } from 'ava';
import fc from 'fast-check';

/**
 * Runs `body` with process-wide watches for unhandled rejections and uncaught exceptions, and
 * asserts that none happened. `body` gets the list to clear at the start of each property run.
 */
export async function withoutFaults(
  t: ExecutionContext,
  body: (faults: unknown[]) => Promise<void>,
): Promise<void> {
  const faults: unknown[] = [];
  const onFault = (error: unknown): void => void faults.push(error);
  process.on('unhandledRejection', onFault);
  process.on('uncaughtExceptionMonitor', onFault);
  try {
    await body(faults);
  } finally {
    process.off('unhandledRejection', onFault);
    process.off('uncaughtExceptionMonitor', onFault);
  }
  t.deepEqual(faults, []);
}

/** Plays `steps` on a model harness; a failing step's message names its number and the step. */
export async function play<S>(
  harness: { step(step: S): Promise<void> },
  steps: readonly S[],
): Promise<void> {
  for (const [number, step] of steps.entries()) {
    try {
      await harness.step(step);
    } catch (error) {
      throw new Error(`step ${number} (${fc.stringify(step)}): ${(error as Error).message}`);
    }
  }
}
