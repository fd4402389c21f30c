export { Lifecycle } from './lifecycle.js';
export type { LifecycleOptions, StopOptions } from './lifecycle.js';
export type { WaitOptions } from './internal/waits.js';
export { formatTree } from './snapshot.js';
export { health } from './health.js';
export type { CheckResult, HealthNode, HealthOptions, HealthReport } from './health.js';
export { HealthServer } from './health-server.js';
export type { HealthServerOptions, MetricsSource } from './health-server.js';
export { HttpServerService } from './http-server-service.js';
export { FastifyService } from './fastify-service.js';
export type { FastifyApp, FastifyServiceOptions } from './fastify-service.js';
export type { HttpServerServiceOptions, NodeHttpServer } from './http-server-service.js';
export { IntervalService } from './interval-service.js';
export type {
  IntervalErrorMode,
  IntervalServiceOptions,
  IntervalTask,
} from './interval-service.js';
export type { FormatTreeOptions, ReportedError, Snapshot } from './snapshot.js';
export type { HookEvent, LifecycleEvents } from './lifecycle-events.js';
export { Pool } from './pool.js';
export type { AddOptions, PoolOptions } from './pool.js';
export { Sequence } from './sequence.js';
export type { SequenceAddOptions, SequenceOptions } from './sequence.js';
export type { Dependency } from './internal/dependencies.js';
export { Restarter } from './restarter.js';
export type { RestarterEvents, RestarterOptions, RestartMode, RestartPolicy } from './restarter.js';
export type { BackoffOptions } from './internal/backoff.js';
export { serviceFromFunction } from './function-service.js';
export type { Service } from './service.js';
export { transitions } from './state.js';
export type { State } from './state.js';
export {
  AddWhileRunningError,
  AlreadyRunningError,
  HookTimeoutError,
  NonErrorThrownError,
  NotRunningError,
  OverseerError,
  RestartLimitError,
  ServiceCrashedError,
  ServicesCrashedError,
  StartFailedError,
  StartTimeoutError,
  WaitAbortedError,
  WaitTimeoutError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export { DependedOnError, PoolStoppingError, ReturnedBeforeRunningError } from './group-errors.js';
export { createLogger, silentLogger } from './logger.js';
export type { CreateLoggerOptions, Logger, LogLevel, WinstonLogger } from './logger.js';
export { loggerFromConsole, loggerFromPino } from './logger-adapters.js';
export type {
  AdaptedLogger,
  ConsoleLike,
  LoggerFromConsoleOptions,
  PinoLike,
} from './logger-adapters.js';
export { exitCodes, handleSignals } from './signals.js';
export type { HandleSignalsOptions } from './signals.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
