import type { NodeHttpServer } from './http-drain.js';
import { assertName, invalid } from './validate.js';

/** Throws a `TypeError` unless `port` is a TCP port, and `host`, when given, a non-empty string. */
export function assertListenOptions(port: unknown, host: unknown): asserts port is number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    invalid('options.port', 'an integer from 0 to 65535', port);
  }
  if (host !== undefined) assertName(host, 'options.host');
}

/** Listens; rejects with the listen error. Leaves no listener behind either way. */
export function listen(
  server: NodeHttpServer,
  port: number,
  host: string | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.removeListener('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.removeListener('error', onError);
      resolve();
    };
    server.once('error', onError).once('listening', onListening);
    try {
      server.listen({ port, host });
    } catch (error) {
      server.removeListener('error', onError).removeListener('listening', onListening);
      throw error;
    }
  });
}
