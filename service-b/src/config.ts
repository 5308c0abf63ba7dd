import { envFields, parseEnv } from '@ecs-srv/service-kit';
import { z } from 'zod';

const schema = z.object({
  PORT: envFields.port(80),
  HOST: envFields.host(),
  LOG_LEVEL: envFields.logLevel(),
  INSTANCE_ID: z
    .string()
    .max(128)
    .regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' })
    .optional(),
  DRAIN_DELAY_MS: envFields.durationMs(15_000),
  ECS_CONTAINER_METADATA_URI_V4: z.url({ protocol: /^https?$/ }).optional(),
});

/** service-b's validated configuration. */
export type Config = z.output<typeof schema>;

/** Reads and validates service-b's environment. @throws {ConfigError} listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(schema, env);
}
