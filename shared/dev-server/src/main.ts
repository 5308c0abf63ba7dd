/**
 * The dev server as a process (docker compose's `cloudmap` profile): DNS and the Cloud Map API from one set
 * of registrations, configured by environment. `node shared/dev-server/dist/main.js`; SIGTERM/SIGINT stop it.
 * A dev server: it checks no SigV4 signature and must never face a real network.
 */
import { DevDnsServer } from './server';

/** One registration of `DEV_DNS_REGISTER`. */
export interface DevServerRegistration {
  service: string;
  instanceId: string;
  ip: string;
  port: number;
}

/** What `DEV_DNS_*`/`CLOUDMAP_API_*` say. */
export interface DevServerConfig {
  zone: string;
  host: string;
  dnsPort: number;
  apiPort: number;
  registrations: DevServerRegistration[];
}

/**
 * Reads the environment: `DEV_DNS_ZONE` (ecs.internal), `DEV_DNS_HOST` (0.0.0.0, DNS and API),
 * `DEV_DNS_PORT` (53), `CLOUDMAP_API_PORT` (80), and `DEV_DNS_REGISTER`: registrations separated by commas
 * or white space, each `[<service>/]<instanceId>=<ipv4>:<port>` (service `service_b` when left out).
 * Empty values count as unset.
 * @throws {TypeError} naming every bad variable.
 */
export function loadDevServerConfig(env: NodeJS.ProcessEnv = process.env): DevServerConfig {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const port = (name: string, fallback: number): number => {
    const text = value(name);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!/^\d+$/.test(text) || n > 65535)
      problems.push(`${name} must be a port number, got ${JSON.stringify(text)}`);
    return n;
  };
  const config: DevServerConfig = {
    zone: value('DEV_DNS_ZONE') ?? 'ecs.internal',
    host: value('DEV_DNS_HOST') ?? '0.0.0.0',
    dnsPort: port('DEV_DNS_PORT', 53),
    apiPort: port('CLOUDMAP_API_PORT', 80),
    registrations: [],
  };
  for (const entry of (value('DEV_DNS_REGISTER') ?? '').split(/[\s,]+/).filter(Boolean)) {
    const match = /^(?:([^/=]+)\/)?([^/=]+)=([0-9.]+):(\d{1,5})$/.exec(entry);
    if (match === null) {
      problems.push(
        `DEV_DNS_REGISTER: ${JSON.stringify(entry)} is not [<service>/]<instanceId>=<ipv4>:<port>`,
      );
      continue;
    }
    const [, service = 'service_b', instanceId = '', ip = '', p = ''] = match;
    config.registrations.push({ service, instanceId, ip, port: Number(p) });
  }
  if (problems.length > 0) throw new TypeError(problems.join('; '));
  return config;
}

async function main(): Promise<void> {
  let config: DevServerConfig;
  let server: DevDnsServer;
  try {
    config = loadDevServerConfig();
    server = new DevDnsServer({
      zone: config.zone,
      host: config.host,
      port: config.dnsPort,
      api: { host: config.host, port: config.apiPort },
    });
    for (const r of config.registrations) server.register(r.instanceId, r.ip, r.port, r.service);
  } catch (error) {
    process.stderr.write(`dev-dns: ${(error as Error).message}\n`);
    process.exit(1);
  }
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const dns = await server.start();
  const { port: apiPort } = server.api.address;
  const lines = [
    `dev-dns: DNS on ${dns.host}:${dns.port} (udp, tcp), Cloud Map API on http://${dns.host}:${apiPort}, zone ${config.zone}`,
    ...config.registrations.map((r) => `dev-dns: ${r.service}: ${r.instanceId} at ${r.ip}:${r.port}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`dev-dns: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
