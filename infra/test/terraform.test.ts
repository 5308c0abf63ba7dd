// Static checks of infra/*.tf that Terraform cannot make itself: the provider
// schema does not check what EC2 accepts in security group descriptions, nor
// which names ECR, IAM, ELB, ECS and Cloud Map accept, so a mistake there shows
// up only halfway through `terraform apply`. Everything else (references,
// types, values, the seed's settings, variable validations) is checked by
// Terraform itself: `npm run test:terraform` (validate + infra/tests/*.tftest.hcl).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as packet from 'dns-packet';
import {
  blocks,
  declarations,
  loadTerraformFiles,
  splitTemplate,
  type Body,
  type Declarations,
  type Json,
  type TfFile,
} from './helpers/hcl';
import { parseZone, type Zone, type ZoneRecord } from './helpers/zone-file';

const INFRA = join(__dirname, '..');
const ZONE_FILE = join(INFRA, 'local', 'ecs.internal.zone');

let files: TfFile[];
let decl: Declarations;

beforeAll(async () => {
  files = await loadTerraformFiles(INFRA);
  decl = declarations(files);
});

function resourcesOfType(type: string): [string, Body][] {
  return [...decl.resources]
    .filter(([address]) => address.startsWith(`${type}.`))
    .map(([address, r]) => [address, r.body]);
}

function stringAttribute(body: Body, name: string, where: string): string {
  const value = body[name];
  if (typeof value !== 'string')
    throw new Error(`${where}.${name} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

/** EC2: "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*" in group and rule descriptions, up to 255. */
const EC2_DESCRIPTION = /^[a-zA-Z0-9. _\-:/()#,@[\]+=&;{}!$*]*$/;

/** References a description may interpolate, each known to expand to EC2-safe characters. */
const SAFE_DESCRIPTION_REFERENCES = new Set([
  'local.name', // var.prefix: [a-z0-9-]
  'var.prefix',
  'each.key', // task types: [a-z_]
  'each.value.port', // a number
]);

/**
 * Every piece of text a description can become: its literal parts, and the string literals inside its
 * interpolations (e.g. both arms of a conditional). Throws when an interpolation refers to something not
 * known to be EC2-safe.
 */
function descriptionTexts(template: string, where: string): string[] {
  const texts: string[] = [];
  for (const part of splitTemplate(template)) {
    if (part.kind === 'literal') {
      texts.push(part.text);
      continue;
    }
    const literals = [...part.source.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] as string);
    texts.push(...literals);
    const code = part.source.replace(/"((?:[^"\\]|\\.)*)"/g, '""');
    for (const ref of code.match(/\b(?:var|local|each|count|data)\.[A-Za-z0-9_.]+/g) ?? []) {
      if (!SAFE_DESCRIPTION_REFERENCES.has(ref)) {
        throw new Error(
          `${where}: description interpolates ${ref}, whose characters this check cannot vouch for`,
        );
      }
    }
  }
  return texts;
}

/** Every security group and rule description in the module: [where, template]. */
function securityGroupDescriptions(): [string, string][] {
  const found: [string, string][] = [];
  const types = [
    'aws_security_group',
    'aws_vpc_security_group_ingress_rule',
    'aws_vpc_security_group_egress_rule',
    'aws_security_group_rule',
  ];
  for (const type of types) {
    for (const [address, body] of resourcesOfType(type)) {
      if (body.description !== undefined)
        found.push([address, stringAttribute(body, 'description', address)]);
      // Inline rules of aws_security_group.
      for (const kind of ['ingress', 'egress']) {
        for (const rule of blocks(body[kind] as Json)) {
          if (rule.description !== undefined) {
            found.push([`${address}.${kind}`, stringAttribute(rule, 'description', address)]);
          }
        }
      }
    }
  }
  return found;
}

// --- names ---------------------------------------------------------------------------------

/**
 * Prefixes the `prefix` variable's validation admits, at its edges: shortest, longest (20), digits,
 * hyphens, and words AWS reserves at the start of some names (`ecs`, `aws`, `fargate`). The terraform
 * tests check the validation itself admits and refuses what it should.
 */
const PREFIXES = ['ab', 'z9', 'ecs', 'aws', 'fargate', 'ecs-srv', 'a1-b2-c3-d4-e5-f6-g7'];
const TASK_TYPES = ['service_a', 'service_b'];

interface NameRule {
  attribute: string;
  pattern: RegExp;
  maxLength: number;
  /** Starts AWS refuses. */
  forbiddenStarts?: RegExp;
  /** Characters Terraform appends to a name_prefix. */
  suffixLength?: number;
}

// From each API's reference (CreateRepository, CreateRole, CreateInstanceProfile, PutRolePolicy,
// CreateLoadBalancer, CreateTargetGroup, CreateCapacityProvider, CreateCluster, CreateService,
// RegisterTaskDefinition, CreateService (Cloud Map), CreateSecurityGroup, CreateLaunchTemplate,
// CreateLogGroup, CreateStack, CreateAutoScalingGroup).
const NAME_RULES: Record<string, NameRule> = {
  aws_ecr_repository: {
    attribute: 'name',
    pattern: /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/,
    maxLength: 256,
  },
  aws_iam_role: { attribute: 'name', pattern: /^[\w+=,.@-]+$/, maxLength: 64 },
  aws_iam_instance_profile: { attribute: 'name', pattern: /^[\w+=,.@-]+$/, maxLength: 128 },
  aws_iam_role_policy: { attribute: 'name', pattern: /^[\w+=,.@-]+$/, maxLength: 128 },
  aws_lb: {
    attribute: 'name',
    pattern: /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/,
    maxLength: 32,
    forbiddenStarts: /^internal-/,
  },
  aws_lb_target_group: {
    attribute: 'name',
    pattern: /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/,
    maxLength: 32,
  },
  aws_ecs_capacity_provider: {
    attribute: 'name',
    pattern: /^[A-Za-z0-9_-]+$/,
    maxLength: 255,
    forbiddenStarts: /^(?:aws|ecs|fargate)/i,
  },
  aws_ecs_cluster: { attribute: 'name', pattern: /^[A-Za-z0-9_-]+$/, maxLength: 255 },
  aws_ecs_service: { attribute: 'name', pattern: /^[A-Za-z0-9_-]+$/, maxLength: 255 },
  aws_ecs_task_definition: { attribute: 'family', pattern: /^[A-Za-z0-9_-]+$/, maxLength: 255 },
  aws_service_discovery_service: {
    attribute: 'name',
    pattern: /^(?:[a-zA-Z0-9_][a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_]|[a-zA-Z0-9])$/,
    maxLength: 127,
  },
  aws_security_group: {
    attribute: 'name_prefix',
    pattern: /^[a-zA-Z0-9. _\-:/()#,@[\]+=&;{}!$*]+$/,
    maxLength: 255,
    forbiddenStarts: /^sg-/,
    suffixLength: 26,
  },
  aws_launch_template: {
    attribute: 'name_prefix',
    pattern: /^[a-zA-Z0-9().\-/_]+$/,
    maxLength: 128,
    suffixLength: 26,
  },
  aws_cloudwatch_log_group: { attribute: 'name', pattern: /^[.\-_/#A-Za-z0-9]+$/, maxLength: 512 },
  aws_cloudformation_stack: { attribute: 'name', pattern: /^[A-Za-z][A-Za-z0-9-]*$/, maxLength: 128 },
  aws_autoscaling_group: { attribute: 'name', pattern: /^[\u0020-\uD7FF\uE000-\uFFFD]+$/, maxLength: 255 },
};

/** Expands a name template for one prefix: every task type where it uses `each.key`. */
function expandName(template: string, prefix: string, where: string): string[] {
  const parts = splitTemplate(template);
  const usesEach = parts.some((p) => p.kind === 'expression' && p.source.includes('each.key'));
  return (usesEach ? TASK_TYPES : ['']).map((taskType) =>
    parts
      .map((part) => {
        if (part.kind === 'literal') return part.text;
        switch (part.source) {
          case 'local.name':
          case 'var.prefix':
            return prefix;
          case 'each.key':
            return taskType;
          case 'replace(each.key, "_", "-")':
            return taskType.replace(/_/g, '-');
          default:
            throw new Error(
              `${where}: the name interpolates ${part.source}; teach this check what it expands to`,
            );
        }
      })
      .join(''),
  );
}

function nameProblems(name: string, rule: NameRule): string[] {
  const problems: string[] = [];
  if (!rule.pattern.test(name)) problems.push(`does not match ${String(rule.pattern)}`);
  if (name.length + (rule.suffixLength ?? 0) > rule.maxLength)
    problems.push(`is longer than ${rule.maxLength}`);
  if (rule.forbiddenStarts?.test(name)) problems.push(`starts with ${String(rule.forbiddenStarts)}`);
  return problems;
}

describe('what AWS accepts, which the provider schema does not check', () => {
  it('when every security group and rule description is expanded, then each uses only the characters EC2 accepts', () => {
    const descriptions = securityGroupDescriptions();
    expect(descriptions.length).toBeGreaterThanOrEqual(6);
    const bad: string[] = [];
    for (const [where, template] of descriptions) {
      const texts = descriptionTexts(template, where);
      for (const text of texts)
        if (!EC2_DESCRIPTION.test(text)) bad.push(`${where}: ${JSON.stringify(text)}`);
      if (texts.join('').length + 20 > 255) bad.push(`${where}: longer than 255 with a 20-character prefix`);
    }
    expect(bad).toEqual([]);
  });

  it('when a description has an apostrophe or interpolates something unknown, then the check reports it', () => {
    const texts = descriptionTexts("To service A's ports", 'x');
    expect(texts.every((t) => EC2_DESCRIPTION.test(t))).toBe(false);
    expect(descriptionTexts('${each.value.port == 443 ? "HTTPS" : "HTTP"} listener', 'x')).toEqual([
      'HTTPS',
      'HTTP',
      ' listener',
    ]);
    expect(() => descriptionTexts('from ${var.alb_ingress_cidrs[0]}', 'x')).toThrow(/cannot vouch/);
  });

  it('when every named resource is expanded for edge prefixes and each task type, then AWS accepts each name', () => {
    const bad: string[] = [];
    let checked = 0;
    for (const [type, rule] of Object.entries(NAME_RULES)) {
      for (const [address, body] of resourcesOfType(type)) {
        const template = stringAttribute(body, rule.attribute, address);
        for (const prefix of PREFIXES) {
          for (const name of expandName(template, prefix, address)) {
            checked += 1;
            for (const problem of nameProblems(name, rule))
              bad.push(`${address} (prefix ${prefix}): ${name} ${problem}`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });

  it('when the namespace name is read, then it is a DNS name Cloud Map accepts', () => {
    const namespace = decl.locals.get('namespace_name')?.value;
    expect(namespace).toBe('ecs.internal');
    expect(namespace).toMatch(/^[!-~]{1,253}$/);
  });

  it('when names break the rules, then the check reports each', () => {
    const rules = NAME_RULES as Record<string, NameRule>;
    expect(nameProblems('ecs-srv-/service-a', rules.aws_ecr_repository as NameRule)).not.toEqual([]);
    expect(nameProblems('ecs--srv/service-a', rules.aws_ecr_repository as NameRule)).not.toEqual([]);
    expect(nameProblems('ecs-srv-service-a', rules.aws_ecs_capacity_provider as NameRule)).not.toEqual([]);
    expect(nameProblems('internal-a', rules.aws_lb as NameRule)).not.toEqual([]);
    expect(nameProblems('sg-x-instances-', rules.aws_security_group as NameRule)).not.toEqual([]);
    expect(nameProblems('a'.repeat(33), rules.aws_lb_target_group as NameRule)).not.toEqual([]);
    expect(() => expandName('${local.other}-x', 'ab', 'x')).toThrow(/teach this check/);
  });
});

describe('the container health check, run with node as the slim image would', () => {
  let server: Server;
  let status = 200;
  let port = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
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

  /** The `node -e` script the task definitions format with their container port (main.tf). */
  function script(): string {
    const value = decl.locals.get('healthcheck_node_script')?.value;
    if (typeof value !== 'string' || !value.includes('%d'))
      throw new Error('local.healthcheck_node_script must be a string with %d');
    return value;
  }

  async function runHealthCheck(targetPort: number): Promise<number> {
    try {
      await promisify(execFile)(process.execPath, ['-e', script().replace('%d', String(targetPort))], {
        timeout: 10_000,
      });
      return 0;
    } catch (error) {
      return (error as { code?: number }).code ?? -1;
    }
  }

  it('when /healthz answers 200, then the check exits 0', async () => {
    status = 200;
    expect(await runHealthCheck(port)).toBe(0);
  });

  it('when /healthz answers 503, then the check exits 1', async () => {
    status = 503;
    expect(await runHealthCheck(port)).toBe(1);
  });

  it('when nothing listens on the port, then the check exits 1', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const unusedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await runHealthCheck(unusedPort)).toBe(1);
  });
});

describe('infra/local/ecs.internal.zone', () => {
  let zone: Zone;
  const ofType = <T extends ZoneRecord['type']>(type: T) =>
    zone.records.filter((r): r is Extract<ZoneRecord, { type: T }> => r.type === type);

  beforeAll(() => {
    zone = parseZone(readFileSync(ZONE_FILE, 'utf8'));
  });

  it('when the zone file is parsed, then it is the zone ecs.internal with one SOA and an NS at the apex', () => {
    expect(zone.origin).toBe('ecs.internal.');
    expect(ofType('SOA').map((r) => r.name)).toEqual(['ecs.internal.']);
    expect(ofType('NS')).toEqual([{ name: 'ecs.internal.', ttl: 10, type: 'NS', data: 'ns.ecs.internal.' }]);
    expect(
      ofType('A')
        .filter((r) => r.name === 'ns.ecs.internal.')
        .map((r) => r.data),
    ).toEqual(['172.28.0.10']);
  });

  it("when the SRV records are read, then each has Cloud Map's shape: no _svc._tcp labels, priority 1, weight 1, TTL 10, port 80", () => {
    const srv = ofType('SRV');
    expect(srv).toHaveLength(2);
    for (const record of srv) {
      expect(record.name).toBe('service_b.ecs.internal.');
      expect(record.ttl).toBe(10);
      expect(record.data).toMatchObject({ priority: 1, weight: 1, port: 80 });
      expect(record.data.target).toMatch(/^[0-9a-f]{32}\.service_b\.ecs\.internal\.$/);
    }
    expect(new Set(srv.map((r) => r.data.target)).size).toBe(2);
  });

  it('when each SRV target is looked up, then it has exactly one A record, TTL 10, a distinct replica address on 172.28.0.0/24', () => {
    const addresses = ofType('SRV').map(({ data: { target } }) => {
      const a = ofType('A').filter((r) => r.name === target);
      expect(a).toHaveLength(1);
      expect(a[0]?.ttl).toBe(10);
      return a[0]?.data;
    });
    expect(addresses.sort()).toEqual(['172.28.0.11', '172.28.0.12']);
  });

  it('when the service name itself is looked up, then it has no A record, as in Cloud Map', () => {
    expect(ofType('A').filter((r) => r.name === 'service_b.ecs.internal.')).toEqual([]);
  });

  it('when every record is encoded into a DNS message and decoded again, then it round-trips (valid wire data)', () => {
    const strip = (name: string) => name.replace(/\.$/, '');
    const answers = zone.records.map((r): packet.Answer => {
      switch (r.type) {
        case 'SOA':
          return {
            ...r,
            name: strip(r.name),
            data: { ...r.data, mname: strip(r.data.mname), rname: strip(r.data.rname) },
          };
        case 'SRV':
          return { ...r, name: strip(r.name), data: { ...r.data, target: strip(r.data.target) } };
        case 'NS':
          return { ...r, name: strip(r.name), data: strip(r.data) };
        case 'A':
          return { ...r, name: strip(r.name) };
      }
    });
    const decoded = packet.decode(packet.encode({ type: 'response', id: 1, answers }));
    const fields = (a: packet.Answer) => ({
      name: a.name,
      type: a.type,
      ttl: 'ttl' in a ? a.ttl : undefined,
      data: 'data' in a ? a.data : undefined,
    });
    expect(decoded.answers?.map(fields)).toEqual(answers.map(fields));
    expect(decoded.answers).toHaveLength(zone.records.length);
  });

  it('when the parser reads malformed or unsupported lines, then it names the line', () => {
    expect(() => parseZone('$ORIGIN x.\n@ 10 IN SRV 1 1 80\n')).toThrow('line 2: SRV takes 4 fields');
    expect(() => parseZone('$ORIGIN x.\na 10 IN A 300.1.1.1\n')).toThrow('line 2: not an IPv4 address');
    expect(() => parseZone('$ORIGIN x.\na 10 IN A 10.0.0.1\n   10 IN A 10.0.0.2\n')).toThrow(
      'line 3: every record',
    );
    expect(() => parseZone('$ORIGIN x.\n@ 10 IN SOA a. b. ( 1 2 3 4\n')).toThrow('unclosed "("');
    expect(parseZone('$ORIGIN x.\n$TTL 5\nA.b IN A 10.0.0.1 ; comment\n').records).toEqual([
      { name: 'a.b.x.', ttl: 5, type: 'A', data: '10.0.0.1' },
    ]);
  });
});
