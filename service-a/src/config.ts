import { parseServerList, type DnsServer } from '@ecs-srv/shared';
import { envFields, parseEnv } from '@ecs-srv/service-kit';
import { z } from 'zod';

const positiveInt = (message: string, fallback: number, max: number) =>
  z.coerce
    .number({ message })
    .int({ message })
    .min(1, { message })
    .max(max, { message: `must be ≤ ${max}` })
    .default(fallback);

const DNS_NAME = /^(?!-)[A-Za-z0-9_-]{1,63}(\.(?!-)[A-Za-z0-9_-]{1,63})*\.?$/;

const schema = z.object({
  PORT: envFields.port(8080),
  HOST: envFields.host(),
  LOG_LEVEL: envFields.logLevel(),
  SERVICE_B_SRV: z
    .string()
    .max(253)
    .regex(DNS_NAME, { message: 'must be a DNS name' })
    .default('service_b.ecs.internal'),
  DNS_SERVERS: z
    .string()
    .transform((value, ctx): DnsServer[] => {
      try {
        return parseServerList(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  DNS_TIMEOUT_MS: positiveInt('must be a positive number of milliseconds', 1000, 60_000),
  DNS_ATTEMPTS: positiveInt('must be a positive integer', 3, 10),
  DNS_LOOKUP_TIMEOUT_MS: positiveInt('must be a positive number of milliseconds', 4000, 60_000),
  DNS_MAX_STALE_SECONDS: z.coerce
    .number({ message: 'must be a number of seconds' })
    .int({ message: 'must be a whole number of seconds' })
    .min(0, { message: 'must be ≥ 0' })
    .max(7 * 86_400, { message: 'must be ≤ 604800 (7 days)' })
    .default(900),
  DNS_STALE_ANSWER_TIMEOUT_MS: z.coerce
    .number({ message: 'must be a number of milliseconds' })
    .int({ message: 'must be a whole number of milliseconds' })
    .min(0, { message: 'must be ≥ 0' })
    .max(60_000, { message: 'must be ≤ 60000' })
    .default(1800),
  UPSTREAM_TIMEOUT_MS: positiveInt('must be a positive number of milliseconds', 5000, 300_000),
  UPSTREAM_BUDGET_MS: positiveInt('must be a positive number of milliseconds', 10_000, 600_000),
  UPSTREAM_IDLE_SOCKET_TIMEOUT_MS: positiveInt('must be a positive number of milliseconds', 4000, 600_000),
  UPSTREAM_MAX_RESPONSE_BYTES: positiveInt('must be a positive number of bytes', 65_536, 16 * 1024 * 1024),
  UPSTREAM_CONNECT_TIMEOUT_MS: positiveInt('must be a positive number of milliseconds', 1000, 60_000),
  UPSTREAM_ATTEMPTS: positiveInt('must be a positive integer', 3, 10),
  DRAIN_DELAY_MS: envFields.durationMs(0),
  DISCOVERY_SOURCE: z.enum(['dns', 'cloudmap'], { message: 'must be dns or cloudmap' }).default('dns'),
  CLOUDMAP_NAMESPACE: z
    .string()
    .max(253)
    .regex(DNS_NAME, { message: 'must be a namespace name such as ecs.internal' })
    .optional(),
  CLOUDMAP_SERVICE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, { message: 'must be a service name such as service_b' })
    .optional(),
  CLOUDMAP_POLL_INTERVAL_MS: z.coerce
    .number({ message: 'must be a number of milliseconds' })
    .int({ message: 'must be a whole number of milliseconds' })
    .min(500, { message: 'must be ≥ 500 (the API has a rate limit)' })
    .max(300_000, { message: 'must be ≤ 300000' })
    .default(5000),
  CLOUDMAP_HEALTH_STATUS: z
    .enum(['HEALTHY', 'UNHEALTHY', 'ALL', 'HEALTHY_OR_ELSE_ALL'], {
      message: 'must be HEALTHY, UNHEALTHY, ALL or HEALTHY_OR_ELSE_ALL',
    })
    .default('HEALTHY_OR_ELSE_ALL'),
  // The AWS SDK reads these itself; they are checked here so a typo fails at start, not at the first call.
  AWS_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, { message: 'must be a Region such as us-east-1' })
    .optional(),
  AWS_DEFAULT_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, { message: 'must be a Region such as us-east-1' })
    .optional(),
  AWS_ENDPOINT_URL_SERVICEDISCOVERY: z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
    .optional(),
  AWS_ENDPOINT_URL: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
  SERVICE_B_URL: z
    .url({ protocol: /^http$/, message: 'must be an http:// URL' })
    .transform((value) => new URL(value))
    .optional(),
});

const checked = schema.superRefine((cfg, ctx) => {
  if (cfg.UPSTREAM_BUDGET_MS < cfg.UPSTREAM_TIMEOUT_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['UPSTREAM_BUDGET_MS'],
      message: `must be ≥ UPSTREAM_TIMEOUT_MS (${cfg.UPSTREAM_TIMEOUT_MS})`,
    });
  }
  if (cfg.DISCOVERY_SOURCE !== 'cloudmap') return;
  if (!cfg.AWS_REGION && !cfg.AWS_DEFAULT_REGION) {
    ctx.addIssue({
      code: 'custom',
      path: ['AWS_REGION'],
      message: 'must be set when DISCOVERY_SOURCE=cloudmap (the Region of the Cloud Map namespace)',
    });
  }
  if (!cfg.CLOUDMAP_NAMESPACE && !cfg.SERVICE_B_SRV.replace(/\.$/, '').includes('.')) {
    ctx.addIssue({
      code: 'custom',
      path: ['CLOUDMAP_NAMESPACE'],
      message: `must be set: SERVICE_B_SRV (${cfg.SERVICE_B_SRV}) names no namespace to derive it from`,
    });
  }
});

/** service-a's validated configuration. */
export type Config = z.output<typeof schema> & {
  /** The Cloud Map service A discovers with DISCOVERY_SOURCE=cloudmap. */
  CLOUDMAP_SERVICE: string;
  /** Its namespace. */
  CLOUDMAP_NAMESPACE: string;
};

/** Reads and validates service-a's environment. @throws {ConfigError} listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cfg = parseEnv(checked, env);
  // Cloud Map's SRV name is <service>.<namespace>: the defaults come from SERVICE_B_SRV.
  const srv = cfg.SERVICE_B_SRV.replace(/\.$/, '');
  const dot = srv.indexOf('.');
  return {
    ...cfg,
    CLOUDMAP_SERVICE: cfg.CLOUDMAP_SERVICE ?? (dot === -1 ? srv : srv.slice(0, dot)),
    CLOUDMAP_NAMESPACE: cfg.CLOUDMAP_NAMESPACE ?? (dot === -1 ? '' : srv.slice(dot + 1)),
  };
}
