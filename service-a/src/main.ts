import { runService } from '@ecs-srv/service-kit';
import { ActivityRecorder } from './activity';
import { createApp } from './app';
import { loadConfig } from './config';
import { createBRoute } from './discovery';
import { registerDiscoveryMetrics } from './discovery-metrics';

runService({
  service: 'service-a',
  loadConfig,
  setup: ({ config, logger, state, metrics, requestLogger }) => {
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
    // What the live page shows: requests per endpoint from the client's own counters, and a timeline.
    const http = discovery.http;
    const activity = new ActivityRecorder({
      source: discovery.source,
      health: http?.health,
      picks: http ? () => http.stats().picks : undefined,
    }).start();
    if (discovery.source && discovery.http) {
      registerDiscoveryMetrics(metrics.registry, discovery.source, discovery.http, config.SERVICE_B_SRV);
    }
    return {
      app: createApp({
        state,
        logger,
        serviceB: discovery.serviceB,
        discovery: discovery.snapshot,
        activity: () => activity.snapshot(),
        metrics,
        requestLogger,
      }),
      listeningFields: { srvName: config.SERVICE_B_SRV, discovery: discovery.snapshot() },
      // Warm the cache so the first request does not wait on DNS; a failure here is only logged.
      onListening: () => {
        discovery.source?.resolve(config.SERVICE_B_SRV).catch((err: unknown) => {
          logger.warn(
            { err: (err as Error).message },
            'initial discovery of service B failed; will retry on demand',
          );
        });
      },
      close: () => {
        activity.close();
        discovery.close();
      },
    };
  },
});
