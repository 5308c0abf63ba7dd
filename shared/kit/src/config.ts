import { z } from 'zod';

/** Thrown by `parseEnv`: one message listing every bad variable, ready to print before exiting 1. */
export class ConfigError extends Error {
  /** The offending variables and why, e.g. `PORT: must be an integer from 0 to 65535`. */
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Parses `env` with a zod object schema. Empty strings count as unset, so `PORT=` means "use the
 * default" as it does for most daemons. Unknown variables are ignored.
 * @throws {ConfigError} listing every invalid variable at once.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') input[key] = value.trim();
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const key = issue.path.map(String).join('.') || '(env)';
      const given = issue.path.length > 0 ? input[String(issue.path[0])] : undefined;
      return `${key}: ${issue.message}${given === undefined ? '' : ` (got ${JSON.stringify(given)})`}`;
    }),
  );
}

/** Env schema pieces both services use. */
export const envFields = {
  /** A TCP port; 0 asks the OS for one. */
  port: (defaultPort: number) =>
    z.coerce
      .number({ message: 'must be an integer from 0 to 65535' })
      .int({ message: 'must be an integer from 0 to 65535' })
      .min(0, { message: 'must be an integer from 0 to 65535' })
      .max(65535, { message: 'must be an integer from 0 to 65535' })
      .default(defaultPort),
  /** A listen address (IPv4, IPv6 or a host name). */
  host: () => z.string().min(1).default('0.0.0.0'),
  /** pino levels. */
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** A non-negative duration in milliseconds. */
  durationMs: (defaultMs: number, max = 3_600_000) =>
    z.coerce
      .number({ message: 'must be a number of milliseconds' })
      .int({ message: 'must be a whole number of milliseconds' })
      .min(0, { message: 'must be ≥ 0' })
      .max(max, { message: `must be ≤ ${max}` })
      .default(defaultMs),
};
