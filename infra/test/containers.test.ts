// Static checks of the container setup: docker-compose.yml against the Compose Specification schema and
// against the zone file its DNS server serves, the services' Dockerfile, the BIND image
// and its configuration. `npm run test:compose` (scripts/compose-test.sh) runs the stack
// for real; these checks need no Docker.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import Ajv from 'ajv';
import { parse as parseYaml } from 'yaml';
import { DevDnsServer, loadDevServerConfig } from '@ecs-srv/dev-server';
import { parseZone, type Zone, type ZoneRecord } from './helpers/zone-file';

const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

// --- docker-compose.yml --------------------------------------------------------------------

interface ComposeService {
  build?:
    string | { context?: string; dockerfile?: string; args?: Record<string, string | number> | string[] };
  image?: string;
  environment?: Record<string, string | number | boolean | null> | string[];
  networks?: Record<string, { ipv4_address?: string } | null> | string[];
  ports?: (string | number | Record<string, unknown>)[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; interval?: string; timeout?: string; retries?: number };
  stop_grace_period?: string;
  profiles?: string[];
  command?: string | string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  networks?: Record<string, { ipam?: { config?: { subnet?: string }[] } } | null>;
}

/**
 * The Compose Specification JSON schema (compose-spec/compose-spec), as the npm package dclint ships it
 * (schemas/compose.schema.json, refreshed from the spec by its maintainers), validated with ajv.
 * docker-compose 1.29's own schema is in no npm package: CI's `npm run test:compose` runs Compose 1.29 itself.
 */
const SPEC = JSON.parse(
  readFileSync(
    join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json'),
    'utf8',
  ),
) as { $schema: string };

/** A validator of the spec: strict about unknown keywords (a schema update that brings one is noticed). */
function composeValidator(): (doc: unknown) => string[] {
  // The spec's union types and untyped objects are JSON Schema as written; strictTypes would only nag.
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strictTypes: false });
  // The spec names draft-07 as https://json-schema.org/draft-07/schema; ajv knows it as http://…#.
  const draft07 = JSON.parse(
    readFileSync(require.resolve('ajv/dist/refs/json-schema-draft-07.json'), 'utf8'),
  ) as object;
  ajv.addMetaSchema({ ...draft07, $id: SPEC.$schema });
  const check = ajv.compile(SPEC);
  return (doc) =>
    check(doc) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
}

/** Parses a compose file as Compose does: YAML with merge keys (`<<: *anchor`). */
function loadCompose(text: string): ComposeFile {
  return parseYaml(text, { merge: true }) as ComposeFile;
}

function environment(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => [entry.split('=')[0] as string, entry.split('=').slice(1).join('=')]),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

interface Build {
  context: string;
  dockerfile: string;
  args: Record<string, string>;
}

function buildOf(service: ComposeService): Build {
  const build = typeof service.build === 'string' ? { context: service.build } : service.build;
  const args = build?.args ?? {};
  return {
    context: build?.context ?? '.',
    dockerfile: build?.dockerfile ?? 'Dockerfile',
    args: Array.isArray(args)
      ? Object.fromEntries(args.map((a) => [a.split('=')[0] as string, a.split('=').slice(1).join('=')]))
      : Object.fromEntries(Object.entries(args).map(([k, v]) => [k, String(v)])),
  };
}

/** The services' one Dockerfile at the repository root, for either service (build arg SERVICE). */
const SERVICE_DOCKERFILE = 'Dockerfile';

/** Compose durations: `1m30s`, `15s`, `500ms`... in seconds. */
function durationSeconds(text: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new Error(`not a duration: ${text}`);
  }
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * (units[unit as string] as number), 0);
}

function inSubnet(address: string, cidr: string): boolean {
  const toInt = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const [base = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(address) / size) === Math.floor(toInt(base) / size);
}

describe('docker-compose.yml', () => {
  const text = read('docker-compose.yml');
  const compose = loadCompose(text);
  const zone: Zone = parseZone(read('infra/local/ecs.internal.zone'));
  const byType = <T extends ZoneRecord['type']>(type: T) =>
    zone.records.filter((r): r is Extract<ZoneRecord, { type: T }> => r.type === type);

  const allServices = Object.entries(compose.services ?? {});
  /** What plain `docker compose up` runs: the services in no profile. */
  const services = allServices.filter(([, s]) => (s.profiles ?? []).length === 0);
  /** Whether a service builds the image of this workspace: the root Dockerfile with SERVICE=<workspace>. */
  const builds = (s: ComposeService, workspace: string) =>
    s.build !== undefined &&
    buildOf(s).context === '.' &&
    buildOf(s).dockerfile === SERVICE_DOCKERFILE &&
    buildOf(s).args.SERVICE === workspace;
  /** The services that build this workspace's image, and those that run the image they build. */
  const named = (workspace: string) => {
    const images = new Set(services.filter(([, s]) => builds(s, workspace)).map(([, s]) => s.image));
    return services.filter(([, s]) => builds(s, workspace) || (s.build === undefined && images.has(s.image)));
  };
  const bServices = named('service-b');
  const aServices = named('service-a');
  const dnsServices = services.filter(([, s]) => buildOf(s).context === 'infra/local');
  const [aName, a] = aServices[0] ?? ['', {}];
  const [dnsName, dns] = dnsServices[0] ?? ['', {}];

  /** The one network every service joins, and a service's fixed address on it. */
  const networkName = Object.keys(compose.networks ?? {})[0] ?? '';
  const addressOf = (service: ComposeService) =>
    Array.isArray(service.networks) ? undefined : service.networks?.[networkName]?.ipv4_address;

  describe('schema', () => {
    const validate = composeValidator();

    it('when it is validated against the Compose Specification JSON schema, then it has no error', () => {
      expect(validate(compose)).toEqual([]);
    });

    it('when its top-level keys are read, then there is no `version` (obsolete in v2, optional in v1.29) and no `name` (unknown to v1.29)', () => {
      expect(compose).not.toHaveProperty('version');
      expect(compose).not.toHaveProperty('name');
    });

    it('when a file breaks the specification, then the schema check reports it', () => {
      const broken = (edit: (c: ComposeFile) => void) => {
        const copy = loadCompose(text);
        edit(copy);
        return copy;
      };
      const cases = [
        broken((c) => Object.assign(c.services[aName] as object, { helthcheck: {} })),
        broken((c) => Object.assign(c.services[aName] as object, { ports: { 8080: 8080 } })),
        broken((c) =>
          Object.assign(c.services[aName] as object, {
            depends_on: { [dnsName]: { condition: 'service_ready' } },
          }),
        ),
        broken((c) => Object.assign(c.services[dnsName] as object, { networks: 'ecs' })),
        broken((c) =>
          Object.assign(c.services[aName] as object, { build: { context: '.', args: 'SERVICE' } }),
        ),
        broken((c) => Object.assign(c, { service: {} })),
      ];
      for (const doc of cases) expect(validate(doc).length).toBeGreaterThan(0);
    });

    it("when B's replicas share their settings through a YAML merge key, then each has them after loading", () => {
      expect(text).toContain('<<: *');
      for (const [, b] of bServices) {
        expect(b.image).toBeDefined();
        expect(b.healthcheck?.test).toBeDefined();
        expect(b.stop_grace_period).toBeDefined();
      }
    });
  });

  describe('services', () => {
    it('when the services are listed, then there is one DNS server, two B replicas and one A', () => {
      expect(dnsServices).toHaveLength(1);
      expect(bServices).toHaveLength(2);
      expect(aServices).toHaveLength(1);
      expect(services).toHaveLength(4);
    });

    it('when the builds are read, then A and B build the root Dockerfile from the repository root (they need shared/), each with its workspace and port as build args', () => {
      const builders = [...aServices, ...bServices].filter(([, s]) => s.build !== undefined);
      expect(builders).toHaveLength(2);
      for (const [name, s] of builders) {
        const { context, dockerfile, args } = buildOf(s);
        expect({ context, dockerfile }).toEqual({ context: '.', dockerfile: SERVICE_DOCKERFILE });
        expect(args.SERVICE).toBe(aServices.some(([n]) => n === name) ? 'service-a' : 'service-b');
        // the port the image EXPOSEs is the one the service listens on
        expect(args.PORT).toBe(environment(s).PORT);
      }
      expect(buildOf(dns).context).toBe('infra/local');
      expect(buildOf(dns).dockerfile).toBe('Dockerfile');
    });

    it("when B's replicas are read, then exactly one builds B's image and every replica runs that image", () => {
      const builders = bServices.filter(([, s]) => s.build !== undefined);
      expect(builders).toHaveLength(1);
      const [builderName, builder] = builders[0] as [string, ComposeService];
      expect(buildOf(builder).args.SERVICE).toBe('service-b');
      for (const [name, s] of bServices) {
        expect(s.image).toBe(builder.image);
        // Compose v1 would try to pull the image for a replica handled before the builder.
        if (name !== builderName) expect(Object.keys(s.depends_on ?? {})).toContain(builderName);
      }
    });

    it('when the network is read, then every service (profiles included) has its own fixed address on the user network 172.28.0.0/24', () => {
      const subnet = compose.networks?.[networkName]?.ipam?.config?.[0]?.subnet;
      expect(subnet).toBe('172.28.0.0/24');
      const addresses = allServices.map(([, s]) => addressOf(s));
      for (const address of addresses) {
        expect(address).toBeDefined();
        expect(inSubnet(address as string, subnet as string)).toBe(true);
      }
      expect(new Set(addresses).size).toBe(addresses.length);
    });

    it("when each SRV target in the zone file is resolved, then its A record is a B replica's address and the SRV port is B's port", () => {
      const srv = byType('SRV');
      const aRecords = byType('A');
      expect(srv).toHaveLength(bServices.length);
      const targeted = srv.map(({ data }) => {
        const records = aRecords.filter((r) => r.name === data.target);
        expect(records).toHaveLength(1);
        const replica = bServices.find(([, b]) => addressOf(b) === records[0]?.data);
        expect(replica).toBeDefined();
        const [, b] = replica as [string, ComposeService];
        expect(data.port).toBe(Number(environment(b).PORT || 80));
        return replica?.[0];
      });
      // one SRV record per replica, none twice
      expect(new Set(targeted).size).toBe(bServices.length);
    });

    it("when B's INSTANCE_ID is read, then it is the task id of the SRV target at its address (so /api/whoami names the replica)", () => {
      for (const [, b] of bServices) {
        const target = byType('A').find((r) => r.data === addressOf(b) && r.name !== `ns.${zone.origin}`);
        expect(target).toBeDefined();
        const taskId = target?.name.split('.')[0];
        expect(taskId).toMatch(/^[0-9a-f]{32}$/);
        expect(environment(b).INSTANCE_ID).toBe(taskId);
      }
    });

    it("when A's environment is read, then DNS_SERVERS is the DNS service's address and SERVICE_B_SRV the zone's SRV name", () => {
      const env = environment(a);
      const servers = (env.DNS_SERVERS ?? '').split(',').map((s) => s.trim().replace(/:53$/, ''));
      expect(servers).toEqual([addressOf(dns)]);
      const srvNames = new Set(byType('SRV').map((r) => r.name));
      expect([...srvNames]).toEqual([`${env.SERVICE_B_SRV || 'service_b.ecs.internal'}.`]);
      // the zone's own NS address is the DNS server's too
      expect(byType('A').find((r) => r.name === `ns.${zone.origin}`)?.data).toBe(addressOf(dns));
    });

    it("when A's ports are read, then its PORT 8080 is published on the host's 8080", () => {
      expect(environment(a).PORT || '8080').toBe('8080');
      expect(a.ports?.map(String)).toEqual([expect.stringMatching(/^(127\.0\.0\.1:)?8080:8080$/)]);
    });

    it('when the start order is read, then A waits until the DNS server and both B replicas are healthy', () => {
      const dependsOn = a.depends_on as Record<string, { condition?: string }>;
      expect(Object.keys(dependsOn).sort()).toEqual([dnsName, ...bServices.map(([n]) => n)].sort());
      for (const dependency of Object.values(dependsOn)) {
        expect(dependency.condition).toBe('service_healthy');
      }
    });

    it('when the health checks are read, then every service has one: node for A and B (no curl in the image), dig for the DNS server', () => {
      for (const [, s] of allServices) {
        expect(s.healthcheck?.test).toBeDefined();
        expect(durationSeconds(s.healthcheck?.interval ?? '30s')).toBeLessThanOrEqual(10);
      }
      for (const [, s] of [...aServices, ...bServices]) {
        expect(s.healthcheck?.test?.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
      }
      const dnsCheck = ([] as string[]).concat(dns.healthcheck?.test ?? []).join(' ');
      expect(dnsCheck).toMatch(/\bdig @127\.0\.0\.1\b.*\bSRV service_b\.ecs\.internal\b/);
    });

    it("when B's shutdown is read, then the stop grace period outlasts DRAIN_DELAY_MS plus 10 s for in-flight requests", () => {
      for (const [, b] of bServices) {
        const drainMs = Number(environment(b).DRAIN_DELAY_MS);
        expect(drainMs).toBeGreaterThan(0);
        expect(durationSeconds(b.stop_grace_period ?? '10s')).toBeGreaterThan(drainMs / 1000 + 10);
      }
    });
  });

  describe('profile cloudmap: A on the Cloud Map API', () => {
    const profiled = allServices.filter(([, s]) => (s.profiles ?? []).length > 0);
    const find = (predicate: (s: ComposeService) => boolean) =>
      profiled.find(([, s]) => predicate(s)) ?? ['', {} as ComposeService];
    const [apiName, api] = find((s) => environment(s).DEV_DNS_REGISTER !== undefined);
    const [aCloudMapName, aCloudMap] = find((s) => environment(s).DISCOVERY_SOURCE === 'cloudmap');
    const apiEnv = environment(api);
    const [aBuilderName, aBuilder] = aServices.find(([, s]) => s.build !== undefined) ?? ['', {}];

    it('when the profiles are read, then only the dev server and the second A are in profile cloudmap, and plain `up` runs exactly DNS, two B replicas and A', () => {
      expect(profiled.map(([n]) => n).sort()).toEqual([apiName, aCloudMapName].sort());
      expect(apiName).not.toBe('');
      expect(aCloudMapName).not.toBe('');
      for (const [, s] of profiled) expect(s.profiles).toEqual(['cloudmap']);
      expect(services.map(([n]) => n).sort()).toEqual([dnsName, aName, ...bServices.map(([n]) => n)].sort());
    });

    it("when the dev server's registrations are read, then they are the zone file's tasks: task id, A record and SRV port", () => {
      const config = loadDevServerConfig(apiEnv);
      expect(`${config.zone}.`).toBe(zone.origin);
      const fromZone = byType('SRV').map(({ name, data }) => ({
        service: name.split('.')[0],
        instanceId: data.target.split('.')[0],
        ip: byType('A').find((r) => r.name === data.target)?.data,
        port: data.port,
      }));
      expect(fromZone).toHaveLength(bServices.length);
      expect(config.registrations).toEqual(expect.arrayContaining(fromZone));
      expect(config.registrations).toHaveLength(fromZone.length);
    });

    it("when both run A's image, then neither builds it and each starts after the service that does (Compose v1 would pull it)", () => {
      expect(aBuilderName).toBe(aName);
      for (const [, s] of [[apiName, api] as const, [aCloudMapName, aCloudMap] as const]) {
        expect(s.build).toBeUndefined();
        expect(s.image).toBe(aBuilder.image);
      }
      const apiDeps = api.depends_on as Record<string, { condition?: string }>;
      expect(apiDeps[aName]?.condition).toBe('service_started');
      expect(([] as string[]).concat(api.command ?? [])).toEqual([
        'node',
        '/app/shared/dev-server/dist/main.js',
      ]);
    });

    it("when the second A's environment is read, then it discovers through the dev server's API address and port with a Region and dummy credentials, published on 8081", () => {
      const env = environment(aCloudMap);
      expect(env.DISCOVERY_SOURCE).toBe('cloudmap');
      const url = new URL(env.AWS_ENDPOINT_URL_SERVICEDISCOVERY ?? '');
      expect(url.protocol).toBe('http:');
      expect(url.hostname).toBe(addressOf(api));
      expect(url.port || '80').toBe(apiEnv.CLOUDMAP_API_PORT || '80');
      expect(env.CLOUDMAP_NAMESPACE).toBe(apiEnv.DEV_DNS_ZONE);
      expect(`${env.CLOUDMAP_SERVICE}.${env.CLOUDMAP_NAMESPACE}`).toBe(env.SERVICE_B_SRV);
      expect(env.AWS_REGION).toMatch(/^[a-z]{2}-[a-z]+-\d$/);
      expect(env.AWS_ACCESS_KEY_ID).toBe('dev');
      expect(env.AWS_SECRET_ACCESS_KEY).toBe('dev');
      expect(env.DNS_SERVERS).toBeUndefined();
      expect(aCloudMap.ports?.map(String)).toEqual([expect.stringMatching(/^127\.0\.0\.1:8081:8080$/)]);
      const deps = aCloudMap.depends_on as Record<string, { condition?: string }>;
      expect(Object.keys(deps).sort()).toEqual([apiName, ...bServices.map(([n]) => n)].sort());
      for (const dependency of Object.values(deps)) expect(dependency.condition).toBe('service_healthy');
    });

    it("when the dev server's health check runs with node against a real dev server, then it exits 0 once service_b has an instance, else 1", async () => {
      const script = ([] as string[]).concat(api.healthcheck?.test ?? []);
      expect(script.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
      const port = apiEnv.CLOUDMAP_API_PORT || '80';
      expect(script[3]).toContain(`'http://127.0.0.1:${port}/'`);
      const server = new DevDnsServer({ api: true });
      await server.start();
      const run = async () => {
        const pointed = (script[3] ?? '').replace(
          `127.0.0.1:${port}/`,
          `127.0.0.1:${server.api.address.port}/`,
        );
        try {
          await promisify(execFile)(process.execPath, ['-e', pointed], { timeout: 10_000 });
          return 0;
        } catch (error) {
          return (error as { code?: number }).code ?? -1;
        }
      };
      try {
        expect(await run()).toBe(1);
        server.register('task-a', '10.0.0.1', 80);
        expect(await run()).toBe(0);
        expect(server.api.stats().byOperation.DiscoverInstances).toBe(2);
      } finally {
        await server.close();
      }
    });
  });

  describe('the health check commands, run with node as the slim image would', () => {
    let server: Server;
    let status = 200;
    let port = 0;
    const paths: string[] = [];

    beforeAll(async () => {
      server = createServer((req, res) => {
        paths.push(req.url ?? '');
        res.statusCode = status;
        res.end('{}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });

    afterAll(async () => {
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    });

    /** Runs a service's `node -e` check, pointed at the test server instead of its port. */
    async function runCheck(service: ComposeService): Promise<number> {
      const script = service.healthcheck?.test?.[3] ?? '';
      const containerPort = environment(service).PORT as string;
      expect(script).toContain(`'http://127.0.0.1:${containerPort}/`);
      const pointed = script.replace(`127.0.0.1:${containerPort}/`, `127.0.0.1:${port}/`);
      try {
        await promisify(execFile)(process.execPath, ['-e', pointed], { timeout: 10_000 });
        return 0;
      } catch (error) {
        return (error as { code?: number }).code ?? -1;
      }
    }

    it('when the service answers 200, then the check exits 0; when 503, then 1', async () => {
      for (const [, s] of [...aServices, ...bServices]) {
        status = 200;
        expect(await runCheck(s)).toBe(0);
        status = 503;
        expect(await runCheck(s)).toBe(1);
      }
      expect(new Set(paths)).toEqual(new Set(['/healthz', '/readyz']));
    });
  });
});

// --- Dockerfiles ---------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

/** Splits a Dockerfile into instructions: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      pending += `${line.replace(/\\\s*$/, '')} `;
      continue;
    }
    const full = `${pending}${line}`.trim();
    pending = '';
    if (!full) continue;
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(full) ?? [];
    instructions.push({ keyword: keyword.toUpperCase(), args: args.replace(/\s+/g, ' ').trim() });
  }
  return instructions;
}

/** The stages, each from its FROM to the next. */
function stagesOf(instructions: Instruction[]): Instruction[][] {
  const stages: Instruction[][] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') stages.push([]);
    stages[stages.length - 1]?.push(instruction);
  }
  return stages;
}

function execForm(args: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(args);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Replaces `$NAME` and `${NAME}` with build argument values, as the builder does. */
function expandArgs(instructions: Instruction[], args: Record<string, string>): Instruction[] {
  const expand = (text: string) =>
    text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
      const name = (braced ?? bare) as string;
      return args[name] ?? whole;
    });
  return instructions.map((i) => ({ keyword: i.keyword, args: expand(i.args) }));
}

describe(`${SERVICE_DOCKERFILE}: the services' one Dockerfile`, () => {
  const raw = parseDockerfile(read(SERVICE_DOCKERFILE));

  it('when a stage uses a build argument, then it declares it first (an ARG does not cross FROM: it would be empty)', () => {
    const undeclared: string[] = [];
    for (const stage of stagesOf(raw)) {
      const declared = new Set<string>();
      for (const i of stage) {
        if (i.keyword === 'ARG') declared.add(i.args.split('=')[0] as string);
        for (const [, braced, bare] of i.args.matchAll(/\$\{(\w+)\}|\$(\w+)/g)) {
          const name = (braced ?? bare) as string;
          if (!declared.has(name)) undeclared.push(`${stage[0]?.args}: ${i.keyword} uses ${name}`);
        }
      }
    }
    expect(undeclared).toEqual([]);
    expect(
      stagesOf(raw).every((stage) => stage.some((i) => i.keyword === 'ARG' && i.args === 'SERVICE')),
    ).toBe(true);
    // SERVICE has no default: the build stage fails at once on anything but a workspace it knows
    const check = stagesOf(raw)[0]?.find((i) => i.keyword === 'RUN')?.args ?? '';
    expect(check).toMatch(/\bcase "\$SERVICE" in service-a\|service-b\).*\bexit 1\b/);
  });

  it('when its installs are read, then every workspace manifest is copied before each npm ci (npm ci needs them all to match the lockfile)', () => {
    const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
    for (const stage of stagesOf(raw).slice(0, -1)) {
      const ci = stage.findIndex((i) => i.keyword === 'RUN' && /^npm ci\b/.test(i.args));
      expect(ci).toBeGreaterThan(0);
      const copied = stage
        .slice(0, ci)
        .filter((i) => i.keyword === 'COPY')
        .map((i) => i.args);
      expect(copied[0]).toMatch(/^package\.json package-lock\.json\b/);
      for (const ws of workspaces) expect(copied).toContain(`${ws}/package.json ${ws}/`);
    }
  });
});

describe.each([
  ['service-a', 8080],
  ['service-b', 80],
])('%s: the Dockerfile built with its compose build args', (service, port) => {
  const compose = loadCompose(read('docker-compose.yml'));
  const builder = Object.values(compose.services).find(
    (s) => s.build !== undefined && buildOf(s).args.SERVICE === service,
  );
  const args = builder ? buildOf(builder).args : {};
  const instructions = expandArgs(parseDockerfile(read(SERVICE_DOCKERFILE)), args);
  const stages = stagesOf(instructions);
  const runtime = stages[stages.length - 1] ?? [];
  const all = (keyword: string, stage = instructions) => stage.filter((i) => i.keyword === keyword);

  it('when compose builds it, then the build args name the workspace and its port', () => {
    expect(args).toEqual({ SERVICE: service, PORT: String(port) });
  });

  it('when its stages are read, then it is multi-stage on the Node LTS image CI builds a stand-in for, and the runtime copies from earlier stages', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    // A supported LTS line (Node 20 reached end of life on 2026-04-30), the one the compose run uses.
    const standIn = /^readonly NODE_MAJOR=(\d+)$/m.exec(read('scripts/build-base-images.sh'))?.[1];
    expect(['22', '24']).toContain(standIn);
    for (const stage of stages)
      expect(stage[0]?.args).toMatch(new RegExp(`^node:${standIn}-bookworm-slim\\b`));
    const copiesFrom = all('COPY', runtime).filter((i) => /^--from=/.test(i.args));
    expect(copiesFrom.length).toBeGreaterThan(0);
    // the runtime stage builds nothing itself: no npm, no tsc
    expect(all('RUN', runtime)).toEqual([]);
  });

  it('when its installs are read, then it runs npm ci, builds the service and the dev server, and installs only production dependencies of their workspaces', () => {
    const runs = all('RUN').map((i) => i.args);
    expect(runs).toContainEqual(expect.stringMatching(/^npm ci\b/));
    // the dev server ships in the image: compose's profile cloudmap runs shared/dev-server/dist/main.js from A's
    expect(runs).toContainEqual(
      expect.stringMatching(new RegExp(`\\btsc -b ${service} shared/dev-server\\b`)),
    );
    expect(runs).toContainEqual(
      expect.stringMatching(
        new RegExp(`^npm ci\\b.*--omit=dev\\b.*--workspace ${service} --workspace shared/dev-server\\b`),
      ),
    );
    // the built packages reach the runtime (package.json and dist/), sources and build info stay behind
    const build = stages[0] ?? [];
    const buildStep = all('RUN', build).pop()?.args ?? '';
    expect(buildStep).toMatch(new RegExp(`^npx tsc -b ${service}\\b[^&]* && rm -rf `));
    const removed = buildStep.split(' && rm -rf ')[1]?.split(' ') ?? [];
    for (const pkg of ['shared', 'shared/kit', 'shared/dev-server', service]) {
      expect(removed).toEqual(
        expect.arrayContaining([`${pkg}/src`, `${pkg}/tsconfig*.json`, `${pkg}/dist/.tsbuildinfo`]),
      );
    }
    expect(all('COPY', build).map((i) => i.args)).toEqual(
      expect.arrayContaining(['shared/ shared/', `${service}/ ${service}/`]),
    );
    const copied = all('COPY', runtime).map((i) => i.args);
    expect(copied).toEqual(
      expect.arrayContaining([
        '--from=deps /app/node_modules/ node_modules/',
        '--from=build /app/shared/ shared/',
        `--from=build /app/${service}/ ${service}/`,
      ]),
    );
  });

  it('when the runtime stage is read, then it runs as a non-root user', () => {
    const users = all('USER', runtime).map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1] as string;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const userIndex = runtime.findIndex((i) => i.keyword === 'USER' && i.args === user);
    expect(userIndex).toBeLessThan(runtime.findIndex((i) => i.keyword === 'CMD'));
  });

  it('when CMD is read, then it is exec form running node dist/main.js, never npm start', () => {
    const cmds = all('CMD', runtime);
    expect(cmds).toHaveLength(1);
    expect(execForm(cmds[0]?.args ?? '')).toEqual(['node', 'dist/main.js']);
    expect(all('WORKDIR', runtime).pop()?.args).toBe(`/app/${service}`);
    expect(all('ENTRYPOINT')).toEqual([]);
    for (const i of instructions) expect(i.args).not.toMatch(/\bnpm (run )?start\b/);
  });

  it('when EXPOSE is read, then it is the service port', () => {
    expect(all('EXPOSE', runtime).map((i) => i.args)).toEqual([String(port)]);
  });
});

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('when it is read, then local installs and builds stay out of the context, and what the builds need stays in', () => {
    expect(patterns).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git']));
    for (const needed of [
      'package.json',
      'package-lock.json',
      'tsconfig.base.json',
      'shared',
      'service-a',
      'service-b',
    ]) {
      expect(patterns).not.toContain(needed);
    }
  });
});

describe('infra/local: the BIND image', () => {
  const instructions = parseDockerfile(read('infra/local/Dockerfile'));
  const namedConf = read('infra/local/named.conf').replace(/\/\/.*$/gm, '');
  const all = (keyword: string) => instructions.filter((i) => i.keyword === keyword);

  it('when its Dockerfile is read, then it installs bind9 and dig from Debian on debian:bookworm-slim and runs named in the foreground', () => {
    expect(all('FROM').map((i) => i.args)).toEqual(['debian:bookworm-slim']);
    const runs = all('RUN')
      .map((i) => i.args)
      .join(' ');
    expect(runs).toMatch(/apt-get install\b.*\bbind9\b/);
    expect(runs).toMatch(/\bbind9-dnsutils\b/);
    const cmd = execForm(all('CMD')[0]?.args ?? '');
    expect(cmd?.[0]).toBe('named');
    expect(cmd?.some((arg) => arg === '-g' || arg === '-f')).toBe(true);
  });

  it('when named.conf is read, then it serves the zone file the image copies, authoritative only, accepting "_" in names', () => {
    expect(namedConf).toMatch(/\brecursion\s+no\s*;/);
    expect(namedConf).toMatch(/\bcheck-names\s+(master|primary)\s+ignore\s*;/);
    const zone = /zone\s+"ecs\.internal"\s*\{([^}]*)\}/.exec(namedConf)?.[1] ?? '';
    expect(zone).toMatch(/\btype\s+(master|primary)\s*;/);
    const file = /\bfile\s+"([^"]+)"/.exec(zone)?.[1];
    const copies = all('COPY').map((i) => i.args.split(' '));
    expect(copies).toContainEqual(['ecs.internal.zone', file]);
    const confPath = copies.find(([source]) => source === 'named.conf')?.[1];
    expect(execForm(all('CMD')[0]?.args ?? '')).toEqual(expect.arrayContaining(['-c', confPath]));
  });
});
