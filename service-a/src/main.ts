import {
  announceListening,
  ConfigError,
  createServiceMetrics,
  exitOnSignals,
  LOG_REDACT_PATHS,
  requestId,
  startServer,
} from '@ecs-srv/service-kit';
import pino from 'pino';
import { pinoHttp } from 'pino-http';
import { createApp } from './app';
import { loadConfig, type Config } from './config';
import { createBRoute } from './discovery';
import { registerDiscoveryMetrics } from './discovery-metrics';

/** Extra time the hard exit timer allows beyond the drain delay. */
const CLOSE_GRACE_MS = 10_000;

async function main(config: Config): Promise<void> {
  const logger = pino({
    level: config.LOG_LEVEL,
    base: { service: 'service-a' },
    redact: { paths: [...LOG_REDACT_PATHS], censor: '[Redacted]' },
  });
  const discovery = createBRoute(config, logger.child({ module: 'discovery' }));
  if (config.SERVICE_B_URL)
    logger.warn({ url: config.SERVICE_B_URL.href }, 'SERVICE_B_URL set: discovery is off');
  discovery.source?.on('change', ({ name, added, removed, endpoints }) => {
    logger.info(
      {
        name,
        added: added.map((e) => e.key),
        removed: removed.map((e) => e.key),
        endpoints: endpoints.length,
      },
      'endpoint set changed',
    );
  });
  discovery.http?.health.on('eject', (e) => logger.warn(e, 'endpoint ejected after connection failures'));
  discovery.http?.health.on('return', (e) => logger.info(e, 'endpoint returned'));
  discovery.source?.on('stale', ({ name, error }) =>
    logger.warn(
      { name, code: error.code, source: discovery.source?.kind },
      `${discovery.source?.kind === 'cloudmap' ? 'Cloud Map API' : 'DNS'} failing: serving the last good endpoint set past its TTL`,
    ),
  );
  const metrics = createServiceMetrics('service-a');
  if (discovery.source && discovery.http) {
    registerDiscoveryMetrics(metrics.registry, discovery.source, discovery.http, config.SERVICE_B_SRV);
  }
  const state = { draining: false };
  const app = createApp({
    state,
    logger,
    serviceB: discovery.serviceB,
    discovery: discovery.snapshot,
    metrics,
    requestLogger: pinoHttp({
      logger: logger.child({ module: 'http' }),
      genReqId: requestId,
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
    }),
  });
  const running = await startServer(app, {
    port: config.PORT,
    host: config.HOST,
    state,
    drainDelayMs: config.DRAIN_DELAY_MS,
    closeTimeoutMs: CLOSE_GRACE_MS,
    logger,
  });
  // Signal handling before the port is made known (log line, IPC): whoever learns it may send SIGTERM at once.
  exitOnSignals(
    async () => {
      await running.stop();
      discovery.close();
    },
    { logger, hardTimeoutMs: config.DRAIN_DELAY_MS + CLOSE_GRACE_MS + 5_000 },
  );
  logger.info(
    {
      host: running.host,
      port: running.port,
      srvName: config.SERVICE_B_SRV,
      discovery: discovery.snapshot(),
    },
    `service-a listening on ${running.host}:${running.port}`,
  );
  announceListening({ service: 'service-a', host: running.host, port: running.port });
  // Warm the cache so the first request does not wait on DNS; a failure here is only logged.
  discovery.source?.resolve(config.SERVICE_B_SRV).catch((err: unknown) => {
    logger.warn(
      { err: (err as Error).message },
      'initial discovery of service B failed; will retry on demand',
    );
  });
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  console.error(err instanceof ConfigError ? `service-a: ${err.message}` : err);
  process.exit(1);
}
main(config).catch((err: unknown) => {
  console.error('service-a failed to start:', err);
  process.exit(1);
});
