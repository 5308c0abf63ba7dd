import type { Express } from 'express';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SECURITY_HEADERS } from './base-app';

/** Serving state shared by the app (readiness) and the server (shutdown). */
export interface ServingState {
  /** True from the moment shutdown starts: readiness answers 503 and responses close their connection. */
  draining: boolean;
}

/** A listening HTTP server and the way to stop it. */
export interface RunningServer {
  readonly server: http.Server;
  /** Bound address (as the OS reports it). */
  readonly host: string;
  /** Bound port: the OS-assigned one when 0 was asked for. */
  readonly port: number;
  /**
   * Graceful stop: mark draining (readiness 503, every response from now on — including those already
   * in flight whose headers are not out yet — carries `Connection: close` and its connection is closed
   * once it is done), keep serving `drainDelayMs`, then stop accepting, close idle connections and wait
   * for in-flight requests (at most `closeTimeoutMs`, then cut what remains and tell the logger).
   */
  stop(): Promise<void>;
}

/** Where the server reports a forced close (in-flight requests cut after `closeTimeoutMs`). */
export interface ServerLogger {
  warn(obj: object, msg?: string): void;
}

/** Options of `startServer`. */
export interface StartServerOptions {
  port: number;
  host: string;
  state: ServingState;
  /** How long to keep serving after stop() begins, so clients holding a stale DNS answer still succeed. @default 0 */
  drainDelayMs?: number;
  /** How long server.close() may wait for in-flight requests before connections are destroyed. @default 10000 */
  closeTimeoutMs?: number;
  /** Keep-alive timeout for idle client connections. @default 65000 (above common client/ALB idle timeouts) */
  keepAliveTimeoutMs?: number;
  /**
   * Time a client has to send a request's headers; past it the request is answered 408. Checked every
   * quarter of this time (at most every 30 s). @default keepAliveTimeoutMs + 1000
   */
  headersTimeoutMs?: number;
  /** Told when stop() had to cut connections whose requests outlived `closeTimeoutMs`. */
  logger?: ServerLogger;
}

/** Node's HTTP parser and timeout error codes → the status Node itself would answer (lib/_http_server.js). */
const CLIENT_ERRORS: Record<string, { status: number; title: string; type: string; detail: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    title: 'Request Header Fields Too Large',
    type: '/problems/headers-too-large',
    detail: 'The request headers are too large',
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    status: 413,
    title: 'Content Too Large',
    type: '/problems/payload-too-large',
    detail: 'The chunk extensions of the request body are too large',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    title: 'Request Timeout',
    type: '/problems/request-timeout',
    detail: 'The request was not received in time',
  },
};

const BAD_REQUEST = {
  status: 400,
  title: 'Bad Request',
  type: '/problems/bad-request',
  detail: 'The request could not be parsed as HTTP/1.1',
};

/** The raw HTTP/1.1 problem+json answer to a request Node's parser rejected (it never reaches Express). */
export function clientErrorResponse(code: string | undefined): string {
  const problem = (code === undefined ? undefined : CLIENT_ERRORS[code]) ?? BAD_REQUEST;
  const body = JSON.stringify(problem);
  const headers = SECURITY_HEADERS.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return (
    `HTTP/1.1 ${problem.status} ${problem.title}\r\nContent-Type: application/problem+json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\n${headers}` +
    `Connection: close\r\n\r\n${body}`
  );
}

/** Listens with `app` on `host:port` and resolves once bound. */
export async function startServer(app: Express, options: StartServerOptions): Promise<RunningServer> {
  const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 65_000;
  const headersTimeoutMs = options.headersTimeoutMs ?? keepAliveTimeoutMs + 1_000;
  const server = http.createServer({
    // Node checks header and request deadlines on this interval (default 30 s): a quarter of the
    // deadline makes a 408 arrive within 125 % of it.
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(headersTimeoutMs / 4))),
  });
  // An idle timeout longer than the caller's (ALB: 60 s) so the server never closes a connection the
  // client is about to reuse; headersTimeout above it, as Node recommends.
  server.keepAliveTimeout = keepAliveTimeoutMs;
  server.headersTimeout = headersTimeoutMs;

  // Responses not yet finished, per connection: drain closes a connection once its last one is done, and a
  // parser error on a connection whose response is under way must not write into that response.
  const active = new Map<Socket, Set<http.ServerResponse>>();
  const closeWhenIdle = (socket: Socket): void => {
    if (!active.has(socket) && !socket.destroyed) socket.end();
  };
  // Registered before the app, so it runs before any handler can answer.
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    let responses = active.get(socket);
    if (!responses) active.set(socket, (responses = new Set()));
    responses.add(res);
    // While draining, Node then sends `Connection: close` and closes the socket after this response.
    if (options.state.draining) res.setHeader('Connection', 'close');
    res.once('close', () => {
      responses.delete(res);
      if (responses.size === 0 && active.get(socket) === responses) active.delete(socket);
      // A response that started before the drain and already went out with keep-alive: the client may
      // still reuse the connection, so close it ourselves once it is idle (RFC 9112 §9.6 allows that).
      if (options.state.draining && responses.size === 0) closeWhenIdle(socket);
    });
  });
  server.on('request', app);

  // Requests Node's HTTP parser rejects (oversized headers, bad characters, unknown methods, deadlines)
  // never reach Express: answer them in problem+json too, with the statuses Node would use.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const underway = [...(active.get(socket) ?? [])].some((res) => res.headersSent);
    if (err.code === 'ECONNRESET' || !socket.writable || underway) {
      // Nothing can be said on this connection without corrupting a response already being written.
      socket.destroy();
      return;
    }
    socket.end(clientErrorResponse(err.code));
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { address, port } = server.address() as AddressInfo;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      options.state.draining = true;
      for (const responses of active.values()) {
        for (const res of responses) if (!res.headersSent) res.setHeader('Connection', 'close');
      }
      if (options.drainDelayMs) await sleep(options.drainDelayMs);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => {
        options.logger?.warn(
          { closeTimeoutMs: options.closeTimeoutMs ?? 10_000, connections: active.size },
          'requests still in flight after the close timeout: closing their connections',
        );
        server.closeAllConnections();
      }, options.closeTimeoutMs ?? 10_000);
      force.unref();
      try {
        await closed;
      } finally {
        clearTimeout(force);
      }
    })();
    return stopping;
  };

  return { server, host: address, port, stop };
}

/**
 * Tells the parent process, when there is one with an IPC channel (`npm start`, tests), that this service
 * listens and where: readiness that does not depend on the log level. A no-op otherwise.
 */
export function announceListening(details: { service: string; host: string; port: number }): void {
  if (!process.send || !process.connected) return;
  process.send({ type: 'listening', ...details }, undefined, {}, () => {
    // A parent that went away is no reason to fail: ignore send errors.
  });
}

/** Minimal logger for signal handling. */
export interface LifecycleLogger {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * On SIGTERM/SIGINT runs `shutdown` once and exits 0 when it settles (1 if it throws). A hard timer
 * (unref'd) exits 1 if shutdown takes longer than `hardTimeoutMs`. A second signal exits at once.
 */
export function exitOnSignals(
  shutdown: () => Promise<void>,
  options: { logger: LifecycleLogger; hardTimeoutMs: number },
): void {
  let started = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (started) {
      options.logger.info({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    started = true;
    options.logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      options.logger.error({ hardTimeoutMs: options.hardTimeoutMs }, 'shutdown took too long: forcing exit');
      process.exit(1);
    }, options.hardTimeoutMs).unref();
    shutdown().then(
      () => {
        options.logger.info({}, 'stopped');
        process.exit(0);
      },
      (err: unknown) => {
        options.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
