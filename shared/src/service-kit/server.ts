import type { Express } from 'express';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

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
   * Graceful stop: mark draining (readiness 503), keep serving `drainDelayMs`, then stop accepting,
   * wait for in-flight requests (at most `closeTimeoutMs`, then cut what remains).
   */
  stop(): Promise<void>;
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
}

/** Listens with `app` on `host:port` and resolves once bound. */
export async function startServer(app: Express, options: StartServerOptions): Promise<RunningServer> {
  const server = http.createServer(app);
  // An idle timeout longer than the caller's (ALB: 60 s) so the server never closes a connection the
  // client is about to reuse; headersTimeout must exceed it (Node requirement).
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
  server.headersTimeout = server.keepAliveTimeout + 1_000;
  // Requests Node's HTTP parser rejects (oversized headers, bad characters, unknown methods) never reach
  // Express: answer them in problem+json too instead of Node's bare 400/431.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const title = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
    const body = JSON.stringify({
      type: tooLarge ? '/problems/headers-too-large' : '/problems/bad-request',
      title,
      status,
      detail: tooLarge ? 'The request headers are too large' : 'The request could not be parsed as HTTP/1.1',
    });
    socket.end(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { address, port } = server.address() as AddressInfo;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      options.state.draining = true;
      if (options.drainDelayMs) await sleep(options.drainDelayMs);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), options.closeTimeoutMs ?? 10_000);
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
