import Transport from 'winston-transport';
import winston from 'winston';

/** One line a logger wrote: its level, message and metadata. */
export interface LogEntry {
  level: string;
  message: string;
  [key: string]: unknown;
}

class MemoryTransport extends Transport {
  readonly entries: LogEntry[] = [];

  override log(info: LogEntry, next: () => void): void {
    this.entries.push(info);
    next();
  }
}

/** A real winston logger whose lines land in `entries` instead of a stream. */
export function captureLogs(level = 'debug'): { logger: winston.Logger; entries: LogEntry[] } {
  const transport = new MemoryTransport();
  const logger = winston.createLogger({ level, transports: [transport] });
  return { logger, entries: transport.entries };
}
