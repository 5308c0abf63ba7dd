import { runService } from '@ecs-srv/service-kit';
import { createApp } from './app';
import { loadConfig } from './config';
import { resolveInstanceId } from './identity';

runService({
  service: 'service-b',
  loadConfig,
  setup: async ({ config, logger, state, metrics, requestLogger }) => {
    const { instanceId, source } = await resolveInstanceId({
      instanceId: config.INSTANCE_ID,
      metadataUri: config.ECS_CONTAINER_METADATA_URI_V4,
      logger,
    });
    return {
      app: createApp({ instanceId, state, logger, metrics, requestLogger }),
      listeningFields: { instanceId, identitySource: source, drainDelayMs: config.DRAIN_DELAY_MS },
    };
  },
});
