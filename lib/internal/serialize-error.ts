import { maxCauseDepth } from './format-line.js';

/**
 * An Error as a plain object for JSON lines (`createLogger`'s json format): `name`, `message`,
 * `stack`, `code` when it has one, the `errors` of an aggregate and the `cause`, recursively.
 */
export function serializeError(error: Error, depth = 0): Record<string, unknown> {
  const { name, message, stack, cause } = error;
  const serialized: Record<string, unknown> = { name, message, stack };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) serialized.code = code;
  if (depth >= maxCauseDepth) return serialized;
  if (error instanceof AggregateError) {
    serialized.errors = (error.errors as unknown[]).map((inner) =>
      inner instanceof Error ? serializeError(inner, depth + 1) : inner,
    );
  }
  if (cause !== undefined) {
    serialized.cause = cause instanceof Error ? serializeError(cause, depth + 1) : cause;
  }
  return serialized;
}

/**
 * An Error as pino's standard `err` serializer writes one (`type`, `message`, `stack`, the
 * error's own enumerable fields such as `code`, an aggregate's `aggregateErrors`), for errors
 * pino would not serialize itself: those in fields other than `err`, which `JSON.stringify`
 * turns into `{}`. The cause is kept as a nested object of the same form.
 */
export function serializeErrorForPino(error: Error, depth = 0): Record<string, unknown> {
  const { constructor } = error as { constructor?: unknown };
  const type = typeof constructor === 'function' ? constructor.name : error.name;
  const serialized: Record<string, unknown> = { type, message: error.message, stack: error.stack };
  for (const [key, value] of Object.entries(error)) {
    if (key !== 'cause' && !Object.hasOwn(serialized, key))
      serialized[key] = pinoValue(value, depth);
  }
  if (depth >= maxCauseDepth) return serialized;
  if (error instanceof AggregateError) {
    serialized.aggregateErrors = (error.errors as unknown[]).map((inner) =>
      pinoValue(inner, depth),
    );
  }
  const { cause } = error;
  if (cause !== undefined) serialized.cause = pinoValue(cause, depth);
  return serialized;
}

function pinoValue(value: unknown, depth: number): unknown {
  return value instanceof Error && depth < maxCauseDepth
    ? serializeErrorForPino(value, depth + 1)
    : value;
}
