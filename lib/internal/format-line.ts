import { describe } from './validate.js';

// A cause chain can loop; past this depth it is cut.
export const maxCauseDepth = 8;

/**
 * One log entry as a human-readable line: `level [service] message key=value…`, then, when
 * `error` is an Error, its stack, the errors an aggregate holds and its causes on the lines
 * after. What `createLogger`'s pretty format and `loggerFromConsole` write.
 */
export function readableLine(
  level: string,
  message: unknown,
  meta: Readonly<Record<string, unknown>> | undefined,
): string {
  let scope = '';
  let fields = '';
  let failure = '';
  if (meta !== undefined) {
    for (const [key, value] of Object.entries(meta)) {
      if (key === 'service' && typeof value === 'string') scope = ` [${value}]`;
      else if (key === 'error' && value instanceof Error) failure = `\n${describeFailure(value)}`;
      else fields += ` ${key}=${formatValue(value)}`;
    }
  }
  return `${level.padEnd(5)}${scope} ${String(message)}${fields}${failure}`;
}

/** A field's value in a readable line: strings as they are, the rest as JSON where it can be. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  // JSON has no text for these: JSON.stringify() returns undefined.
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    return describe(value);
  }
  try {
    return JSON.stringify(value);
  } catch {
    return describe(value); // a bigint, a cycle
  }
}

/** The stack, then each error an aggregate holds and each cause, indented. */
export function describeFailure(error: Error, depth = 0): string {
  const lines = [error.stack ?? `${error.name}: ${error.message}`];
  if (depth < maxCauseDepth) {
    if (error instanceof AggregateError) {
      for (const inner of error.errors as unknown[]) {
        lines.push(
          indent(inner instanceof Error ? describeFailure(inner, depth + 1) : formatValue(inner)),
        );
      }
    }
    const { cause } = error;
    if (cause instanceof Error) lines.push(`caused by: ${describeFailure(cause, depth + 1)}`);
    else if (cause !== undefined) lines.push(`caused by: ${formatValue(cause)}`);
  }
  return lines.join('\n');
}

function indent(text: string): string {
  return text.replace(/^/gm, '    ');
}
