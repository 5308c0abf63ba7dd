import type { Express, RequestHandler } from 'express';
import pino, { type Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { requestId } from './base-app';
import { ConfigError } from './config';
import { LOG_REDACT_PATHS } from './log-redaction';
import { createServiceMetrics, type ServiceMetrics } from './metrics';
import { announceListening, exitOnSignals, startServer, type ServingState } from './server';

/** Extra time the hard exit timer allows beyond the drain delay for in-flight requests to finish. */
const CLOSE_GRACE_MS = 10_000;
/** Slack on top of drain and close before the hard exit timer fires. */
const HARD_EXIT_SLACK_MS = 5_000;

/** The variables every service reads (`envFields.port/host/logLevel/durationMs`). */
export interface ServiceConfig {
  PORT: number;
  HOST: string;
  LOG_LEVEL: string;
  DRAIN_DELAY_MS: number;
}

/** What `runService` hands a service's `setup` to build its app with. */
export interface ServiceContext<C extends ServiceConfig> {
  config: C;
  /** The process's root logger (pino), `base.service` set, credentials redacted. */
  logger: Logger;
  /** Flipped to draining on SIGTERM; the app's `/readyz` reads it. */
  state: ServingState;
  /** `http_requests_total`, `http_request_duration_seconds` and process metrics, labelled with the service. */
  metrics: ServiceMetrics;
  /** pino-http on `logger.child({ module: 'http' })`, ids from `x-request-id`, health probes not logged. */
  requestLogger: RequestHandler;
}

/** What a service's `setup` returns. */
export interface ServiceParts {
  app: Express;
  /** Fields added to the "listening" log line. */
  listeningFields?: Record<string, unknown>;
  /** Runs after the port is made known (log line, IPC), e.g. to warm a cache. Must not throw. */
  onListening?: () => void;
  /** Runs on SIGTERM/SIGINT once the server has closed (drain, then in-flight requests). */
  close?: () => void | Promise<void>;
}

/** Options of `runService`. */
export interface RunServiceOptions<C extends ServiceConfig> {
  /** `service-a`: the logs' `service`, the metrics' label, the IPC announcement and the exit messages. */
  service: string;
  /** Reads and validates the environment. @throws {ConfigError} listing every bad variable. */
  loadConfig: () => C;
  /** Builds what differs between services: its app and dependencies. A rejection exits 1. */
  setup: (context: ServiceContext<C>) => ServiceParts | Promise<ServiceParts>;
}

/**
 * A service's process start-up, `main.ts` in one call: loads the config (a `ConfigError` prints
 * `<service>: Invalid configuration: …` and exits 1), makes the logger, metrics and request logger, runs
 * `setup`, listens on `PORT`/`HOST`, stops on SIGTERM/SIGINT (readiness 503, serve `DRAIN_DELAY_MS`, close
 * awaiting in-flight requests, then `close()`, exit 0; a hard timer exits 1), then logs the address and
 * announces it to a parent process over IPC (`{ type: 'listening', service, host, port }`).
 * Signal handling comes before the port is made known: whoever learns it may send SIGTERM at once.
 */
export function runService<C extends ServiceConfig>(options: RunServiceOptions<C>): void {
  const { service } = options;
  let config: C;
  try {
    config = options.loadConfig();
  } catch (err) {
    console.error(err instanceof ConfigError ? `${service}: ${err.message}` : err);
    process.exit(1);
  }
  start(service, config, options.setup).catch((err: unknown) => {
    console.error(`${service} failed to start:`, err);
    process.exit(1);
  });
}

async function start<C extends ServiceConfig>(
  service: string,
  config: C,
  setup: RunServiceOptions<C>['setup'],
): Promise<void> {
  const logger = pino({
    level: config.LOG_LEVEL,
    base: { service },
    redact: { paths: [...LOG_REDACT_PATHS], censor: '[Redacted]' },
  });
  const state: ServingState = { draining: false };
  const parts = await setup({
    config,
    logger,
    state,
    metrics: createServiceMetrics(service),
    requestLogger: pinoHttp({
      logger: logger.child({ module: 'http' }),
      genReqId: requestId,
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
    }),
  });
  const running = await startServer(parts.app, {
    port: config.PORT,
    host: config.HOST,
    state,
    drainDelayMs: config.DRAIN_DELAY_MS,
    closeTimeoutMs: CLOSE_GRACE_MS,
    logger,
  });
  exitOnSignals(
    async () => {
      await running.stop();
      await parts.close?.();
    },
    { logger, hardTimeoutMs: config.DRAIN_DELAY_MS + CLOSE_GRACE_MS + HARD_EXIT_SLACK_MS },
  );
  logger.info(
    { host: running.host, port: running.port, ...parts.listeningFields },
    `${service} listening on ${running.host}:${running.port}`,
  );
  announceListening({ service, host: running.host, port: running.port });
  parts.onListening?.();
}
