export { Lifecycle } from './lifecycle.js';
export type { LifecycleOptions, StopOptions } from './lifecycle.js';
export type { HookEvent, LifecycleEvents } from './hooks.js';
export { Pool } from './pool.js';
export type { PoolOptions } from './pool.js';
export type { Service } from './service.js';
export { transitions } from './state.js';
export type { State } from './state.js';
export {
  AddWhileRunningError,
  AlreadyRunningError,
  NonErrorThrownError,
  OverseerError,
  ServiceCrashedError,
  ServicesCrashedError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export { createLogger, silentLogger } from './logger.js';
export type { CreateLoggerOptions, Logger, LogLevel } from './logger.js';
export { exitCodes, handleSignals } from './signals.js';
export type { HandleSignalsOptions } from './signals.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
