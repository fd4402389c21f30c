import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import { defer } from './deferred.js';
import { log } from './log.js';
import { invalid } from './validate.js';

/** A `node:http` or `node:https` server: what `HttpServerService` runs. */
export type NodeHttpServer = HttpServer | HttpsServer;

const serverMethods = ['listen', 'close', 'closeIdleConnections', 'closeAllConnections'] as const;

/** Whether `value` has the methods of a `node:http` or `node:https` server that a drain uses. */
export function isHttpServer(value: unknown): value is NodeHttpServer {
  return (
    typeof value === 'object' &&
    value !== null &&
    serverMethods.every(
      (method) => typeof (value as Record<string, unknown>)[method] === 'function',
    )
  );
}

/** Throws a `TypeError` unless `value` is a `node:http` or `node:https` server. */
export function assertHttpServer(
  value: unknown,
  argument: string,
): asserts value is NodeHttpServer {
  if (!isHttpServer(value)) {
    invalid(
      argument,
      'a node:http or node:https Server (with listen, close, closeIdleConnections and closeAllConnections methods)',
      value,
    );
  }
}

/** Who the drain works for: the name and logger of the warn line at the deadline. */
export interface DrainOwner {
  readonly name: string;
  readonly logger: Logger;
}

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** The server events a drain listens to, with its listeners. */
interface Listeners {
  readonly request: RequestListener;
  readonly checkContinue: RequestListener;
  readonly checkExpectation: RequestListener;
  readonly connection: (socket: Socket) => void;
  readonly secureConnection: (socket: Socket) => void;
  readonly close: () => void;
}

/**
 * One run's watch over a server: the requests in flight and the connections open, so that a
 * drain can reach them; and the drain itself. Every listener it adds, and the server's own
 * `closeIdleConnections` it replaces while draining, are put back by `dispose()`.
 */
export class HttpDrain {
  #closed = false;
  #draining = false;
  readonly #server: NodeHttpServer;
  readonly #owner: DrainOwner;
  // Each response in flight, with the connection its request came on (the TLS socket on https).
  readonly #responses = new Map<ServerResponse, Socket>();
  // How many responses each connection has in flight: pipelined requests count one each.
  readonly #busy = new Map<Socket, number>();
  // Raw sockets, because Node's own connection list misses TLS connections still in their
  // handshake and upgraded (WebSocket) connections: the deadline must cut those too. On https,
  // the TLS sockets that requests come on as well.
  readonly #sockets = new Set<Socket>();
  readonly #whenClosed = defer<undefined>();
  #restoreCloseIdle: (() => void) | undefined;
  readonly #listeners: Listeners;

  constructor(server: NodeHttpServer, owner: DrainOwner) {
    this.#server = server;
    this.#owner = owner;
    const listeners = this.#createListeners();
    this.#listeners = listeners;
    // Prepended, so that a request arriving during the drain is marked before the application's
    // handler can send its headers.
    server
      .prependListener('request', listeners.request)
      .prependListener('checkContinue', listeners.checkContinue)
      .prependListener('checkExpectation', listeners.checkExpectation)
      .on('connection', listeners.connection)
      .on('secureConnection', listeners.secureConnection)
      .on('close', listeners.close);
  }

  /** Whether the server has emitted 'close' since the run began. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when `signal` aborts or the server closes, whichever comes first. */
  async untilAbortedOrClosed(signal: AbortSignal): Promise<void> {
    // An onRunning hook may have asked for the stop already.
    if (signal.aborted) return;
    const aborted = defer<undefined>();
    const onAbort = () => {
      aborted.resolve(undefined);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([aborted.promise, this.#whenClosed.promise]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Begins the drain: stops accepting connections, marks the responses not yet begun
   * `Connection: close`, and closes every connection with no request in flight.
   */
  begin(): void {
    this.#draining = true;
    const server = this.#server;
    const closeIdle = server.closeIdleConnections.bind(server);
    // Node's server.close() sweeps idle connections first, and so may a framework's close:
    // Node counts a connection whose response has ended as idle even while its bytes are still
    // being written, and would cut that response short. The safe sweep stands in until dispose.
    this.#restoreCloseIdle = replaceMethod(server, 'closeIdleConnections', () => {
      this.#closeIdle(closeIdle);
    });
    for (const response of this.#responses.keys()) {
      // Headers not yet sent: they will say `Connection: close`, and Node closes the socket
      // once the response is out.
      if (!response.headersSent) response.shouldKeepAlive = false;
    }
    server.close();
    for (const socket of this.#sockets) {
      // Node 20 does not count a connection that has not sent a byte as idle (nodejs/node#63470).
      if (socket.bytesRead === 0) socket.destroy();
      else this.#sweep(socket);
    }
    server.closeIdleConnections();
  }

  /** Destroys what is left when `deadline` aborts. Resolves once the server has closed. */
  async closedBy(deadline: AbortSignal): Promise<void> {
    const cutOff = () => {
      this.#cutOff();
    };
    if (deadline.aborted) cutOff();
    else deadline.addEventListener('abort', cutOff, { once: true });
    try {
      await this.#whenClosed.promise;
    } finally {
      deadline.removeEventListener('abort', cutOff);
    }
  }

  /** Removes the listeners this drain added to the server, and its `closeIdleConnections`. */
  dispose(): void {
    const listeners = this.#listeners;
    this.#server
      .removeListener('request', listeners.request)
      .removeListener('checkContinue', listeners.checkContinue)
      .removeListener('checkExpectation', listeners.checkExpectation)
      .removeListener('connection', listeners.connection)
      .removeListener('secureConnection', listeners.secureConnection)
      .removeListener('close', listeners.close);
    this.#restoreCloseIdle?.();
    this.#restoreCloseIdle = undefined;
    this.#responses.clear();
    this.#busy.clear();
    this.#sockets.clear();
  }

  #createListeners(): Listeners {
    const server = this.#server;
    const untrack = (response: ServerResponse) => {
      this.#untrack(response);
    };
    // One function for every response, called with the response as `this`: no closure per request.
    const onResponseClose = function (this: ServerResponse) {
      untrack(this);
    };
    const request: RequestListener = (incoming, response) => {
      this.#track(incoming, response, onResponseClose);
    };
    const onSocket = (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    };
    return {
      request,
      // Node emits these instead of 'request' for a request with an `Expect` header, and only
      // when they have listeners: the drain's own listener must not change what Node answers.
      checkContinue: (incoming, response) => {
        if (server.listenerCount('checkContinue') > 1) request(incoming, response);
        else continueAsNodeDoes(server, incoming, response);
      },
      checkExpectation: (incoming, response) => {
        request(incoming, response);
        if (server.listenerCount('checkExpectation') === 1) failAsNodeDoes(response);
      },
      connection: onSocket,
      secureConnection: onSocket,
      close: () => {
        this.#closed = true;
        this.#whenClosed.resolve(undefined);
      },
    };
  }

  #track(request: IncomingMessage, response: ServerResponse, onClose: () => void): void {
    if (this.#draining) response.shouldKeepAlive = false;
    const { socket } = request;
    this.#responses.set(response, socket);
    this.#busy.set(socket, (this.#busy.get(socket) ?? 0) + 1);
    response.once('close', onClose);
  }

  #untrack(response: ServerResponse): void {
    const socket = this.#responses.get(response);
    if (socket === undefined) return;
    this.#responses.delete(response);
    const busy = (this.#busy.get(socket) ?? 1) - 1;
    if (busy > 0) this.#busy.set(socket, busy);
    else this.#busy.delete(socket);
    if (!this.#draining) return;
    // The connection of a response that had promised keep-alive is now idle: close it.
    this.#sweep(socket);
    this.#server.closeIdleConnections();
  }

  /**
   * Closes `socket` unless a request is in flight on it or its last bytes are still queued: it
   * is idle, or holds part of a request's headers, which Node counts neither as idle nor as in
   * flight, and whose `headersTimeout` it stops checking once the server closes: without a
   * deadline, such a client would hold the drain for good. Only connections Node still parses
   * HTTP on have a `parser`: an upgraded (WebSocket) connection is left to the deadline.
   */
  #sweep(socket: Socket): void {
    if (this.#busy.has(socket) || socket.writableLength > 0) return;
    if ((socket as { parser?: unknown }).parser) socket.destroy();
  }

  /**
   * Node's sweep of idle connections, unless a response is still flushing (see `begin()`). The
   * response's own 'close' calls it again. Kept beside `#sweep`, which covers the same
   * connections, in case a Node version stops exposing the parser `#sweep` reads.
   */
  #closeIdle(closeIdleConnections: () => void): void {
    for (const response of this.#responses.keys()) {
      if (response.writableEnded && !response.writableFinished) return;
    }
    closeIdleConnections();
  }

  #cutOff(): void {
    const requests = this.#responses.size;
    this.#server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    if (requests === 0) return;
    const count = requests === 1 ? '1 request' : `${requests} requests`;
    const message = `shutdown deadline passed: ${count} in flight cut off`;
    log(this.#owner.logger, 'warn', message, { service: this.#owner.name, requests });
  }
}

/** What Node does for `Expect: 100-continue` without 'checkContinue' listeners. */
function continueAsNodeDoes(
  server: NodeHttpServer,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  response.writeContinue();
  server.emit('request', request, response);
}

/** What Node does for any other expectation without 'checkExpectation' listeners. */
function failAsNodeDoes(response: ServerResponse): void {
  response.writeHead(417);
  response.end();
}

/** Replaces `object[key]` with an own property; returns the function that puts it back. */
function replaceMethod<T extends object>(object: T, key: keyof T & string, value: () => void) {
  const own = Object.getOwnPropertyDescriptor(object, key);
  Object.defineProperty(object, key, { configurable: true, writable: true, value });
  return () => {
    if (own === undefined) Reflect.deleteProperty(object, key);
    else Object.defineProperty(object, key, own);
  };
}
