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
import { resolveInstanceId } from './identity';

/** Extra time the hard exit timer allows beyond the drain delay for in-flight requests to finish. */
const CLOSE_GRACE_MS = 10_000;

async function main(config: Config): Promise<void> {
  const logger = pino({
    level: config.LOG_LEVEL,
    base: { service: 'service-b' },
    redact: { paths: [...LOG_REDACT_PATHS], censor: '[Redacted]' },
  });
  const { instanceId, source } = await resolveInstanceId({
    instanceId: config.INSTANCE_ID,
    metadataUri: config.ECS_CONTAINER_METADATA_URI_V4,
    logger,
  });
  const state = { draining: false };
  const app = createApp({
    instanceId,
    state,
    logger,
    metrics: createServiceMetrics('service-b'),
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
  exitOnSignals(() => running.stop(), {
    logger,
    hardTimeoutMs: config.DRAIN_DELAY_MS + CLOSE_GRACE_MS + 5_000,
  });
  logger.info(
    {
      host: running.host,
      port: running.port,
      instanceId,
      identitySource: source,
      drainDelayMs: config.DRAIN_DELAY_MS,
    },
    `service-b listening on ${running.host}:${running.port}`,
  );
  announceListening({ service: 'service-b', host: running.host, port: running.port });
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  console.error(err instanceof ConfigError ? `service-b: ${err.message}` : err);
  process.exit(1);
}
main(config).catch((err: unknown) => {
  console.error('service-b failed to start:', err);
  process.exit(1);
});
