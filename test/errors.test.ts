import test from 'ava';
import {
  AddWhileRunningError,
  AlreadyRunningError,
  HookTimeoutError,
  NonErrorThrownError,
  OverseerError,
  ServiceCrashedError,
  ServicesCrashedError,
  StartTimeoutError,
  DependedOnError,
  PoolStoppingError,
  ReturnedBeforeRunningError,
  type ErrorCode,
} from '../lib/index.js';
import { toError } from '../lib/errors.js';

test('every error code, by class (codes are API: changing one must fail this test)', (t) => {
  const cause = new Error('boom');
  const codes: Record<string, ErrorCode> = {
    AlreadyRunningError: new AlreadyRunningError('svc').code,
    AddWhileRunningError: new AddWhileRunningError('pool', 'svc').code,
    ServiceCrashedError: new ServiceCrashedError('svc', cause).code,
    ServicesCrashedError: new ServicesCrashedError([cause]).code,
    NonErrorThrownError: new NonErrorThrownError('svc', 1).code,
    HookTimeoutError: new HookTimeoutError('svc', 'stopped', 'in time').code,
    StartTimeoutError: new StartTimeoutError('svc', 5).code,
    PoolStoppingError: new PoolStoppingError('app', 'svc').code,
    DependedOnError: new DependedOnError('app', 'db', ['web']).code,
    ReturnedBeforeRunningError: new ReturnedBeforeRunningError('svc').code,
  };
  t.deepEqual(codes, {
    AlreadyRunningError: 'ERR_OVERSEER_ALREADY_RUNNING',
    AddWhileRunningError: 'ERR_OVERSEER_ADD_WHILE_RUNNING',
    ServiceCrashedError: 'ERR_OVERSEER_SERVICE_CRASHED',
    ServicesCrashedError: 'ERR_OVERSEER_SERVICES_CRASHED',
    NonErrorThrownError: 'ERR_OVERSEER_NON_ERROR_THROWN',
    HookTimeoutError: 'ERR_OVERSEER_HOOK_TIMEOUT',
    StartTimeoutError: 'ERR_OVERSEER_START_TIMEOUT',
    PoolStoppingError: 'ERR_OVERSEER_POOL_STOPPING',
    DependedOnError: 'ERR_OVERSEER_DEPENDED_ON',
    ReturnedBeforeRunningError: 'ERR_OVERSEER_RETURNED_BEFORE_RUNNING',
  });
});

test('AlreadyRunningError names the service and has no cause', (t) => {
  const error = new AlreadyRunningError('web');
  t.true(error instanceof AlreadyRunningError);
  t.true(error instanceof OverseerError);
  t.true(error instanceof Error);
  t.is(error.name, 'AlreadyRunningError');
  t.is(error.code, 'ERR_OVERSEER_ALREADY_RUNNING');
  t.is(error.service, 'web');
  t.is(error.message, 'Service "web" is already running; stop it or wait for it to end first');
  t.false('cause' in error);
  t.true(String(error).startsWith('AlreadyRunningError: Service "web" is already running'));
  t.true(error.stack?.startsWith('AlreadyRunningError: '));
});

test('AddWhileRunningError names the pool and the service and has no cause', (t) => {
  const error = new AddWhileRunningError('app', 'late');
  t.true(error instanceof AddWhileRunningError);
  t.true(error instanceof OverseerError);
  t.true(error instanceof Error);
  t.is(error.name, 'AddWhileRunningError');
  t.is(error.code, 'ERR_OVERSEER_ADD_WHILE_RUNNING');
  t.is(error.pool, 'app');
  t.is(error.service, 'late');
  t.is(
    error.message,
    'Cannot add service "late" to pool "app" while the pool is running; add services before run() or after the pool has stopped',
  );
  t.false('cause' in error);
});

test('ServiceCrashedError names the child, repeats its message and keeps its error as cause', (t) => {
  const cause = new Error('connection refused');
  const error = new ServiceCrashedError('db', cause);
  t.true(error instanceof ServiceCrashedError);
  t.true(error instanceof OverseerError);
  t.true(error instanceof Error);
  t.is(error.name, 'ServiceCrashedError');
  t.is(error.code, 'ERR_OVERSEER_SERVICE_CRASHED');
  t.is(error.service, 'db');
  t.is(error.message, 'Service "db" crashed: connection refused');
  t.is(error.cause, cause);
});

test('ServicesCrashedError is an AggregateError of the crash errors, naming every child', (t) => {
  const first = new ServiceCrashedError('web', new Error('port taken'));
  const second = new ServiceCrashedError('db', new Error('connection refused'));
  const error = new ServicesCrashedError([first, second]);
  t.true(error instanceof ServicesCrashedError);
  t.true(error instanceof AggregateError);
  t.true(error instanceof Error);
  t.is(error.name, 'ServicesCrashedError');
  t.is(error.code, 'ERR_OVERSEER_SERVICES_CRASHED');
  t.is(error.message, '2 services crashed: "web", "db"');
  t.deepEqual(error.errors, [first, second]);
  t.is(error.errors[0], first);
  t.is(error.errors[1], second);
});

test('ServicesCrashedError is also an OverseerError, so one instanceof check catches every failure', (t) => {
  const error = new ServicesCrashedError([
    new ServiceCrashedError('web', new Error('port taken')),
    new ServiceCrashedError('db', new Error('connection refused')),
  ]);
  t.true(error instanceof OverseerError);
});

test('ServicesCrashedError names an error that is not a ServiceCrashedError by its message', (t) => {
  const error = new ServicesCrashedError([
    new ServiceCrashedError('web', new Error('port taken')),
    new Error('log transport down'),
  ]);
  t.is(error.message, '2 failures: "web" crashed, log transport down');
});

test('NonErrorThrownError names the service, shows the value and keeps it as cause', (t) => {
  const value = { reason: 'disk full' };
  const error = new NonErrorThrownError('writer', value);
  t.true(error instanceof NonErrorThrownError);
  t.true(error instanceof OverseerError);
  t.true(error instanceof Error);
  t.is(error.name, 'NonErrorThrownError');
  t.is(error.code, 'ERR_OVERSEER_NON_ERROR_THROWN');
  t.is(error.message, 'Service "writer" failed with a value that is not an Error: [object Object]');
  t.is(error.cause, value);
  t.is(
    new NonErrorThrownError('writer', 'disk full').message,
    'Service "writer" failed with a value that is not an Error: disk full',
  );
});

test('toError returns an Error as it is', (t) => {
  const error = new TypeError('bad');
  t.is(toError('svc', error), error);
  const crashed = new ServiceCrashedError('child', new Error('boom'));
  t.is(toError('svc', crashed), crashed);
});

test('toError wraps any other value in a NonErrorThrownError whose cause is that value', (t) => {
  const symbol = Symbol('reason');
  const values: unknown[] = ['disk full', 42, null, undefined, { code: 7 }, symbol, 10n];
  for (const value of values) {
    const error = toError('svc', value);
    t.true(error instanceof NonErrorThrownError);
    t.is((error as NonErrorThrownError).code, 'ERR_OVERSEER_NON_ERROR_THROWN');
    t.true('cause' in error);
    t.is(error.cause, value);
    t.true(error.message.startsWith('Service "svc" failed with a value that is not an Error: '));
  }
  t.is(
    toError('svc', 'disk full').message,
    'Service "svc" failed with a value that is not an Error: disk full',
  );
  t.is(
    toError('svc', undefined).message,
    'Service "svc" failed with a value that is not an Error: undefined',
  );
});

test('HookTimeoutError names the service and the event, and says why it stopped waiting', (t) => {
  const error = new HookTimeoutError('db', 'stopped', 'within its 50 ms hookTimeout');
  t.true(error instanceof OverseerError);
  t.is(error.name, 'HookTimeoutError');
  t.is(error.service, 'db');
  t.is(error.event, 'stopped');
  t.is(
    error.message,
    'The "stopped" hook of service "db" did not settle within its 50 ms hookTimeout; no longer waiting for it',
  );
});

test('StartTimeoutError names the service and the timeout, and what had not started', (t) => {
  const error = new StartTimeoutError('app', 5000, 'not running: "app/db"');
  t.true(error instanceof OverseerError);
  t.is(error.name, 'StartTimeoutError');
  t.is(error.service, 'app');
  t.is(error.timeout, 5000);
  t.is(error.message, 'Service "app" did not report running within 5000 ms; not running: "app/db"');
  t.is(new StartTimeoutError('db', 10).message, 'Service "db" did not report running within 10 ms');
});
