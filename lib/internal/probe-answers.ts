import type { HealthReport } from '../health.js';
import { describe } from './validate.js';

/**
 * The report as JSON for a probe's `?verbose` answer. Errors (a crash, a failed check) are left
 * out unless `exposeErrors`, since their messages can hold what a probe port must not tell (a
 * connection string, an internal address); then as name, message, code and cause. Never a stack.
 */
export function reportJson(report: HealthReport, exposeErrors: boolean): string {
  return JSON.stringify(report, (_key, value: unknown) => {
    if (!(value instanceof Error)) return value;
    return exposeErrors ? errorJson(value) : undefined;
  });
}

function errorJson(error: Error): Record<string, unknown> {
  const json: Record<string, unknown> = { name: error.name, message: error.message };
  const { code } = error as { code?: unknown };
  if (code !== undefined) json.code = code;
  const { cause } = error;
  if (cause instanceof Error) json.cause = errorJson(cause);
  else if (cause !== undefined) json.cause = describe(cause);
  if (error instanceof AggregateError) {
    json.errors = (error.errors as unknown[]).map((inner) =>
      inner instanceof Error ? errorJson(inner) : String(inner),
    );
  }
  return json;
}
