import { once } from 'node:events';

// In-process tests of handleSignals send a real signal to this very process. SIGUSR2 is one ava
// does not use; such tests are serial because signal listeners are process-wide.

/** Sends `signal` to this process and resolves once its listeners have run. */
export async function sendSignal(signal: NodeJS.Signals = 'SIGUSR2'): Promise<void> {
  // Added after handleSignals' listener, so it runs after it.
  const received = once(process, signal);
  // Signal handles do not keep the event loop alive: without a ref'd handle the loop could
  // empty (and ava end the test as inactive) before the signal is delivered.
  const keepAlive = setInterval(() => undefined, 1_000);
  try {
    process.kill(process.pid, signal);
    await received;
  } finally {
    clearInterval(keepAlive);
  }
}

/** An `exit` that records its codes instead of ending the process. */
export function exitRecorder(): {
  exit: (code: number) => void;
  codes: number[];
  exited: Promise<number>;
} {
  const codes: number[] = [];
  let resolve: (code: number) => void = () => undefined;
  const exited = new Promise<number>((done) => (resolve = done));
  const exit = (code: number) => {
    codes.push(code);
    resolve(code);
  };
  return { exit, codes, exited };
}
