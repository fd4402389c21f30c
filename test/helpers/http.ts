import type { ExecutionContext } from 'ava';
import { once } from 'node:events';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';

/** Where the HTTP tests listen and connect: loopback only. */
export const host = '127.0.0.1';

/** A server that can be closed: node:http, node:https, or the server under a framework. */
interface ClosableServer {
  readonly listening: boolean;
  close(): unknown;
  closeAllConnections(): void;
}

/** Makes sure `server` does not outlive the test, whatever the test did. */
export function closedAtEnd<S extends ClosableServer>(t: ExecutionContext, server: S): S {
  t.teardown(() => {
    server.closeAllConnections();
    if (server.listening) server.close();
  });
  return server;
}

/** A keep-alive agent destroyed when the test ends. */
export function keepAliveAgent(t: ExecutionContext): Agent {
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => {
    agent.destroy();
  });
  return agent;
}

/** A response read to its end. */
export interface Reply {
  status: number | undefined;
  headers: IncomingHttpHeaders;
  body: string;
  complete: boolean;
  /** The client side of the connection it came on. */
  socket: Socket;
}

/** Sends a GET and reads the whole response; rejects with the client's error (ECONNRESET …). */
export function get(port: number, agent: Agent, path = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host, port, path, agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('error', reject);
      response.on('end', () => {
        const { statusCode: status, headers, complete } = response;
        resolve({ status, headers, body, complete, socket });
      });
    });
    // The agent takes the socket back before 'end': keep it from here.
    let socket!: Socket;
    request.on('socket', (assigned) => (socket = assigned));
    request.on('error', reject);
    request.end();
  });
}

/**
 * A raw TCP client, for what an HTTP client library will not send (half a request, pipelined
 * requests, `Expect: 100-continue` by hand): everything it received, and waits on what comes.
 */
export class RawClient {
  readonly socket: Socket;
  #received = '';
  readonly #waiters: { pattern: RegExp; resolve: (received: string) => void }[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      this.#received += chunk;
      for (const waiter of [...this.#waiters]) {
        if (!waiter.pattern.test(this.#received)) continue;
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(this.#received);
      }
    });
    // A reset at the deadline is what some tests expect; it must not fail the test process.
    socket.on('error', () => undefined);
  }

  /** Connects to `port` on loopback; the socket is destroyed when the test ends. */
  static async open(t: ExecutionContext, port: number): Promise<RawClient> {
    const socket = connect(port, host);
    t.teardown(() => {
      socket.destroy();
    });
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  /** Everything received so far. */
  get received(): string {
    return this.#received;
  }

  write(data: string): this {
    this.socket.write(data);
    return this;
  }

  /** Resolves with everything received once it matches `pattern`. */
  until(pattern: RegExp): Promise<string> {
    if (pattern.test(this.#received)) return Promise.resolve(this.#received);
    return new Promise((resolve) => this.#waiters.push({ pattern, resolve }));
  }

  /** Resolves once the connection has closed, with everything received. */
  async closed(): Promise<string> {
    if (!this.socket.closed) await once(this.socket, 'close');
    return this.#received;
  }
}

/**
 * Resolves once the server side of a connection has read at least `bytes` bytes: Node's HTTP
 * parser reads straight from the handle, so no event tells when part of a request has arrived.
 * Waits turn by turn of the event loop, never on a timer.
 */
export async function untilRead(socket: Socket, bytes: number): Promise<void> {
  while (socket.bytesRead < bytes) await turn();
}

/** The server side of the next connection `server` accepts. */
export async function nextConnection(server: {
  once(event: 'connection', listener: (socket: Socket) => void): unknown;
}): Promise<Socket> {
  return new Promise((resolve) => server.once('connection', resolve));
}
