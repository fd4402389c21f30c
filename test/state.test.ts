import test from 'ava';
import { transitions, type State } from '../lib/index.js';
import { canTransition, isActive } from '../lib/state.js';

const states: readonly State[] = ['stopped', 'starting', 'running', 'stopping', 'crashed'];

test('the transition table is exactly the SPEC table', (t) => {
  t.deepEqual(transitions, {
    stopped: ['starting'],
    crashed: ['starting'],
    starting: ['running', 'stopping', 'stopped', 'crashed'],
    running: ['stopping', 'stopped', 'crashed'],
    stopping: ['stopped', 'crashed'],
  });
});

test('canTransition allows only the listed transitions', (t) => {
  const allowed = states.flatMap((from) =>
    states.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`),
  );
  t.deepEqual(allowed, [
    'stopped->starting',
    'starting->stopped',
    'starting->running',
    'starting->stopping',
    'starting->crashed',
    'running->stopped',
    'running->stopping',
    'running->crashed',
    'stopping->stopped',
    'stopping->crashed',
    'crashed->starting',
  ]);
});

test('isActive is true exactly for starting, running and stopping', (t) => {
  t.deepEqual(states.filter(isActive), ['starting', 'running', 'stopping']);
});
