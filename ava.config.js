// Tests are TypeScript, loaded through tsx: Node 20 cannot strip types by itself.
export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  timeout: '60s',
};
