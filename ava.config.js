// Tests are TypeScript, loaded through tsx: Node 20 cannot strip types by itself. tsx's loader
// hooks are registered per process, so each test file runs in a child process, not a worker thread.
export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  timeout: '60s',
};
