import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { format } from '@cdktf/hcl-tools';
import { parse } from '@cdktf/hcl2json';
import * as packet from 'dns-packet';
import {
  block,
  blocks,
  declarations,
  expressionAst,
  references,
  referencesInAst,
  unresolved,
  type Body,
  type Declarations,
  type Reference,
  type TfFile,
  loadTerraformFiles,
} from './helpers/hcl';
import { Evaluator, toJson, type Value } from './helpers/hcl-eval';
import { parseZone, type Zone, type ZoneRecord } from './helpers/zone-file';

const INFRA = join(__dirname, '..');
const ZONE_FILE = join(INFRA, 'local', 'ecs.internal.zone');

let files: TfFile[];
let decl: Declarations;
let refs: Reference[];
let evaluator: Evaluator;

beforeAll(async () => {
  files = await loadTerraformFiles(INFRA);
  decl = declarations(files);
  refs = await references(files);
  evaluator = new Evaluator(decl);
});

function resource(address: string): Body {
  const found = decl.resources.get(address);
  if (!found) throw new Error(`resource ${address} is not declared`);
  return found.body;
}

function resourcesOfType(type: string): [string, Body][] {
  return [...decl.resources]
    .filter(([address]) => address.startsWith(`${type}.`))
    .map(([a, r]) => [a, r.body]);
}

/** The expression source of a `${...}`-only attribute, e.g. `aws_ecr_repository.service_b.arn`. */
function expressionOf(value: unknown): string {
  const match = typeof value === 'string' ? /^\$\{([\s\S]*)\}$/.exec(value) : null;
  if (!match) throw new Error(`expected a single expression, got ${JSON.stringify(value)}`);
  return (match[1] as string).trim();
}

interface ContainerDefinition {
  name: string;
  image: string;
  memory: number;
  essential: boolean;
  portMappings: { containerPort: number; hostPort: number; protocol: string }[];
  environment: { name: string; value: string }[];
  healthCheck: { command: string[]; interval: number; timeout: number; retries: number };
  stopTimeout: number;
  logConfiguration: { logDriver: string; options: Record<string, string> };
}

/** container_definitions as Terraform would send it: evaluate the HCL, then read the JSON it encodes. */
async function containerDefinitions(taskDefinition: string): Promise<ContainerDefinition[]> {
  const encoded = await evaluator.attribute(resource(taskDefinition), 'container_definitions');
  if (typeof encoded !== 'string') throw new Error('container_definitions must evaluate to a JSON string');
  return JSON.parse(encoded) as ContainerDefinition[];
}

function env(container: ContainerDefinition): Record<string, string> {
  return Object.fromEntries(container.environment.map(({ name, value }) => [name, value]));
}

async function variableDefault(name: string): Promise<Value> {
  return evaluator.expression(`var.${name}`);
}

describe('infra/*.tf: syntax, format and references', () => {
  it('when the directory is listed, then it holds the files the style guide names, one concern each', () => {
    expect(files.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'versions.tf',
        'variables.tf',
        'outputs.tf',
        'ecs_cluster.tf',
        'service_discovery.tf',
        'ecs_service_b.tf',
        'ecs_service_a.tf',
        'iam.tf',
        'security_groups.tf',
        'capacity.tf',
        'alb.tf',
        'ecr.tf',
        'logs.tf',
      ]),
    );
  });

  it('when each .tf file is parsed with hcl2json, then it parses and declares something', async () => {
    for (const { name, content } of files) {
      const json = await parse(name, content);
      expect(Object.keys(json).length).toBeGreaterThan(0);
    }
  });

  it('when each .tf file is run through hclwrite (terraform fmt), then it comes back unchanged', async () => {
    const unformatted: string[] = [];
    for (const { name, content } of files) {
      if ((await format(content)) !== content) unformatted.push(name);
    }
    expect(unformatted).toEqual([]);
  });

  it('when the files are merged, then no variable, local, resource, data source or output is declared twice', () => {
    expect(decl.duplicates).toEqual([]);
  });

  it('when every expression is walked, then every reference resolves to a declaration', () => {
    // The walk must really have seen the configuration, not an empty set.
    expect(refs.length).toBeGreaterThan(100);
    for (const root of ['var', 'local', 'data', 'aws_ecs_cluster', 'each', 'load_balancer']) {
      expect(refs.some((ref) => ref.segments[0] === root)).toBe(true);
    }
    const problems = refs.map((ref) => unresolved(ref, decl)).filter((p): p is string => p !== null);
    expect(problems).toEqual([]);
  });

  it('when a configuration refers to undeclared or wrongly indexed names, then the reference check reports each', async () => {
    const broken = `
      variable "used" {
        type        = string
        description = "x"
      }
      resource "aws_lb" "one" {
        count = 1
        name  = var.missing
      }
      resource "aws_lb" "plain" {
        name = local.missing
      }
      output "o" {
        description = "x"
        value       = [aws_lb.one.arn, aws_lb.plain[0].arn, aws_nope.x.id, data.aws_nope.x.id, each.key, [for v in var.used : v]]
      }
    `;
    const brokenFiles: TfFile[] = [
      { name: 'broken.tf', content: broken, json: await parse('broken.tf', broken) },
    ];
    const brokenDecl = declarations(brokenFiles);
    const problems = (await references(brokenFiles))
      .map((ref) => unresolved(ref, brokenDecl))
      .filter((p): p is string => p !== null);
    expect(problems).toEqual([
      expect.stringContaining('var.missing in aws_lb.one.name (broken.tf): no such variable'),
      expect.stringContaining('local.missing in aws_lb.plain.name (broken.tf): no such local value'),
      expect.stringContaining('aws_lb.one.arn in output.o.value (broken.tf): aws_lb.one has count/for_each'),
      expect.stringContaining(
        'aws_lb.plain[0].arn in output.o.value (broken.tf): aws_lb.plain has no count/for_each',
      ),
      expect.stringContaining('aws_nope.x.id in output.o.value (broken.tf): no such resource'),
      expect.stringContaining('data.aws_nope.x.id in output.o.value (broken.tf): no such data source'),
      expect.stringContaining('each.key in output.o.value (broken.tf): each.* outside a block with for_each'),
    ]);
  });

  it('when a for expression or a dynamic block binds a name, then uses of it are not taken for references', async () => {
    const ast = await expressionAst('{ for k, v in var.m : k => [for x in v : x if x != local.skip] }');
    const context = {
      file: 'f.tf',
      path: 'p',
      hasCount: false,
      hasForEach: false,
      iterators: new Set<string>(),
    };
    expect(referencesInAst(ast, context).map((r) => r.text)).toEqual(['var.m', 'local.skip']);
  });

  it('when the test evaluator reads escapes, heredocs, functions and for expressions, then it agrees with terraform console', async () => {
    // Expected values as printed by `terraform console` (Terraform 1.11) for the same expressions.
    const source = [
      'locals {',
      '  quoted  = "a\\"b ${"x"} c\\\\nd \\u00e9 $${lit}"',
      '  heredoc = <<-EOT',
      '    x',
      '      y ${"z"}',
      '    w',
      '  EOT',
      '  fmt     = format("%d/%s %%", 80, "a")',
      '  arith   = ceil(15000 / 1000) + 15',
      '  objfor  = { for t in toset(["b", "a"]) : t => upper(t) }',
      '  listfor = [for i, v in ["x", "y"] : "${i}${v}" if v != "y"]',
      '  cond    = !false && 2 >= 1 ? "yes" : "no"',
      '  unknown = "${aws_x.y.id}:${var.tag}"',
      '}',
      'variable "tag" {',
      '  type        = string',
      '  description = "no default: known only at apply"',
      '}',
    ].join('\n');
    const local = new Evaluator(
      declarations([{ name: 'e.tf', content: source, json: await parse('e.tf', source) }]),
    );
    const value = async (name: string) => toJson(await local.expression(`local.${name}`));
    expect(await value('quoted')).toBe('a"b x c\\nd \u00e9 ${lit}');
    expect(await value('heredoc')).toBe('x\n  y z\nw\n');
    expect(await value('fmt')).toBe('80/a %');
    expect(await value('arith')).toBe(30);
    expect(await value('objfor')).toEqual({ a: 'A', b: 'B' });
    expect(await value('listfor')).toEqual(['0x']);
    expect(await value('cond')).toBe('yes');
    expect(await value('unknown')).toBe('${aws_x.y.id}:${var.tag}');
  });

  it('when the variables are read, then every one has a type and a description', () => {
    expect(decl.variables.size).toBeGreaterThan(10);
    for (const [name, { body }] of decl.variables) {
      expect({ name, type: typeof body.type }).toEqual({ name, type: 'string' });
      expect({ name, description: String(body.description ?? '').length > 10 }).toEqual({
        name,
        description: true,
      });
    }
  });

  it('when the outputs are read, then every one has a description', () => {
    expect(decl.outputs.size).toBeGreaterThan(5);
    for (const [name, { body }] of decl.outputs) {
      expect({ name, description: String(body.description ?? '').length > 10 }).toEqual({
        name,
        description: true,
      });
    }
  });

  it('when the references are collected, then every variable and local value is used somewhere', () => {
    const used = new Set(refs.map((ref) => `${ref.segments[0]}.${ref.segments[1]}`));
    const unused = [
      ...[...decl.variables.keys()].map((name) => `var.${name}`),
      ...[...decl.locals.keys()].map((name) => `local.${name}`),
    ].filter((name) => !used.has(name));
    expect(unused).toEqual([]);
  });

  it('when versions.tf is read, then Terraform and the AWS provider versions are pinned to a major line', () => {
    const versions = files.find((f) => f.name === 'versions.tf');
    const terraform = block(versions?.json.terraform, 'terraform');
    expect(terraform.required_version).toMatch(/^>= 1\.\d+\.\d+, < 2\.0\.0$/);
    const [providers] = blocks(terraform.required_providers);
    expect(providers?.aws).toEqual({
      source: 'hashicorp/aws',
      version: expect.stringMatching(/^~> 6\.\d+$/),
    });
  });
});

describe('the seed, mirrored', () => {
  it('when the namespace is read, then it is the private DNS namespace ecs.internal in the VPC given as a variable', () => {
    const namespace = resource('aws_service_discovery_private_dns_namespace.ecs_namespace');
    expect(namespace.name).toBe('ecs.internal');
    expect(namespace.vpc).toBe('${var.vpc_id}');
    expect(decl.data.size).toBeGreaterThan(0);
    expect([...decl.data.keys()].some((address) => address.startsWith('terraform_remote_state.'))).toBe(
      false,
    );
  });

  it('when the Cloud Map service is read, then service_b publishes SRV records, TTL 10, MULTIVALUE, custom health check threshold 1', () => {
    const service = resource('aws_service_discovery_service.service_b');
    expect(service.name).toBe('service_b');
    const dns = block(service.dns_config, 'dns_config');
    expect(expressionOf(dns.namespace_id)).toBe(
      'aws_service_discovery_private_dns_namespace.ecs_namespace.id',
    );
    expect(blocks(dns.dns_records)).toEqual([{ ttl: 10, type: 'SRV' }]);
    expect(dns.routing_policy).toBe('MULTIVALUE');
    expect(blocks(service.health_check_custom_config)).toEqual([{ failure_threshold: 1 }]);
  });

  it("when B's ECS service is read, then it has the seed's launch type, deployment percents and placement constraint", () => {
    const service = resource('aws_ecs_service.service_b_containers');
    expect(service.launch_type).toBe('EC2');
    expect(service.capacity_provider_strategy).toBeUndefined(); // conflicts with launch_type
    expect(service.deployment_minimum_healthy_percent).toBe(0);
    expect(service.deployment_maximum_percent).toBe(100);
    expect(blocks(service.placement_constraints)).toEqual([
      { type: 'memberOf', expression: 'attribute:TaskType == service_b' },
    ]);
    expect(expressionOf(service.cluster)).toBe('aws_ecs_cluster.ecs_cluster.id');
    expect(expressionOf(service.task_definition)).toBe('aws_ecs_task_definition.service_b_containers.arn');
  });

  it("when B's service registry is read, then it names the Cloud Map service and a container and port B's task definition has", async () => {
    const registry = block(
      resource('aws_ecs_service.service_b_containers').service_registries,
      'service_registries',
    );
    expect(expressionOf(registry.registry_arn)).toBe('aws_service_discovery_service.service_b.arn');
    expect(registry.container_name).toBe('task_b_container');
    expect(registry.container_port).toBe(80);

    const containers = await containerDefinitions('aws_ecs_task_definition.service_b_containers');
    const container = containers.find((c) => c.name === registry.container_name);
    expect(container?.portMappings.map((p) => p.containerPort)).toContain(registry.container_port);
  });
});

describe('task definitions', () => {
  it("when B's task definition is evaluated, then it runs in bridge mode on a dynamic host port for container port 80", async () => {
    const task = resource('aws_ecs_task_definition.service_b_containers');
    expect(task.network_mode).toBe('bridge');
    expect(task.requires_compatibilities).toEqual(['EC2']);
    const [b, ...others] = await containerDefinitions('aws_ecs_task_definition.service_b_containers');
    expect(others).toEqual([]);
    expect(b?.name).toBe('task_b_container');
    expect(b?.portMappings).toEqual([{ containerPort: 80, hostPort: 0, protocol: 'tcp' }]);
    expect(b?.image).toBe('${aws_ecr_repository.service_b.repository_url}:${var.service_b_image_tag}');
    expect(b?.memory).toBe(await variableDefault('service_b_memory_mib'));
    expect(b?.essential).toBe(true);
    expect(env(b as ContainerDefinition)).toEqual({
      PORT: '80',
      DRAIN_DELAY_MS: String(await variableDefault('service_b_drain_delay_ms')),
      LOG_LEVEL: 'info',
    });
  });

  it("when B's drain settings are evaluated, then DRAIN_DELAY_MS covers the SRV TTL and stopTimeout outlasts the drain", async () => {
    const dns = block(resource('aws_service_discovery_service.service_b').dns_config, 'dns_config');
    const ttl = Number(block(dns.dns_records, 'dns_records').ttl);
    const [b] = await containerDefinitions('aws_ecs_task_definition.service_b_containers');
    const drainMs = Number(env(b as ContainerDefinition).DRAIN_DELAY_MS);
    expect(drainMs).toBeGreaterThanOrEqual(ttl * 1000);
    expect(b?.stopTimeout).toBeGreaterThan(drainMs / 1000);
    expect({ drainMs, stopTimeout: b?.stopTimeout }).toEqual({ drainMs: 15000, stopTimeout: 30 });

    // A user's override is held to the same floor by the variable's validation.
    const [validation] = blocks(decl.variables.get('service_b_drain_delay_ms')?.body.validation);
    expect(validation?.condition).toContain(`var.service_b_drain_delay_ms >= ${ttl * 1000}`);
  });

  it("when A's task definition is evaluated, then it listens on 8080 behind a dynamic host port and looks up service_b.ecs.internal", async () => {
    const task = resource('aws_ecs_task_definition.service_a');
    expect(task.network_mode).toBe('bridge');
    const [a, ...others] = await containerDefinitions('aws_ecs_task_definition.service_a');
    expect(others).toEqual([]);
    expect(a?.name).toBe('task_a_container');
    expect(a?.portMappings).toEqual([{ containerPort: 8080, hostPort: 0, protocol: 'tcp' }]);
    expect(a?.image).toBe('${aws_ecr_repository.service_a.repository_url}:${var.service_a_image_tag}');
    expect(a?.memory).toBe(await variableDefault('service_a_memory_mib'));
    // DNS_SERVERS unset: A uses the instance's resolver, i.e. the VPC resolver.
    expect(env(a as ContainerDefinition)).toEqual({
      PORT: '8080',
      SERVICE_B_SRV: 'service_b.ecs.internal',
      LOG_LEVEL: 'info',
    });
  });

  it("when A's ECS service is read, then it runs on service_a instances and registers A's container port with the optional target group", async () => {
    const service = resource('aws_ecs_service.service_a');
    expect(service.launch_type).toBe('EC2');
    expect(blocks(service.placement_constraints)).toEqual([
      { type: 'memberOf', expression: 'attribute:TaskType == service_a' },
    ]);
    const lb = block((service.dynamic as Body).load_balancer, 'load_balancer');
    expect(expressionOf(lb.for_each)).toBe('aws_lb_target_group.service_a'); // empty when the ALB is off
    const content = block(lb.content, 'content');
    expect(content.target_group_arn).toBe('${load_balancer.value.arn}');
    const [a] = await containerDefinitions('aws_ecs_task_definition.service_a');
    expect(await evaluator.attribute(content, 'container_name')).toBe(a?.name);
    expect(await evaluator.attribute(content, 'container_port')).toBe(a?.portMappings[0]?.containerPort);
  });

  it("when the containers' logging is evaluated, then each sends awslogs to its own log group in the deployment region", async () => {
    for (const [task, group] of [
      ['aws_ecs_task_definition.service_a', '/ecs/ecs-srv/service-a'],
      ['aws_ecs_task_definition.service_b_containers', '/ecs/ecs-srv/service-b'],
    ] as const) {
      const [container] = await containerDefinitions(task);
      expect(container?.logConfiguration.logDriver).toBe('awslogs');
      expect(container?.logConfiguration.options).toMatchObject({
        'awslogs-group': group,
        'awslogs-region': await variableDefault('aws_region'),
      });
    }
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

    /** Runs a container's healthCheck command, pointed at the test server instead of the container port. */
    async function runHealthCheck(task: string, containerPort: number): Promise<number> {
      const [container] = await containerDefinitions(task);
      const [form, program, flag, script] = container?.healthCheck.command ?? [];
      // CMD, not CMD-SHELL: no shell, no curl or wget needed in the image.
      expect([form, program, flag]).toEqual(['CMD', 'node', '-e']);
      expect(script).toContain(`'http://127.0.0.1:${containerPort}/healthz'`);
      const pointed = (script as string).replace(`127.0.0.1:${containerPort}/`, `127.0.0.1:${port}/`);
      try {
        await promisify(execFile)(process.execPath, ['-e', pointed], { timeout: 10_000 });
        return 0;
      } catch (error) {
        return (error as { code?: number }).code ?? -1;
      }
    }

    it('when /healthz answers 200, then the check exits 0', async () => {
      status = 200;
      expect(await runHealthCheck('aws_ecs_task_definition.service_b_containers', 80)).toBe(0);
      expect(await runHealthCheck('aws_ecs_task_definition.service_a', 8080)).toBe(0);
    });

    it('when /healthz answers 503, then the check exits 1', async () => {
      status = 503;
      expect(await runHealthCheck('aws_ecs_task_definition.service_b_containers', 80)).toBe(1);
    });

    it('when nothing listens on the port, then the check exits 1', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const unusedPort = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const savedPort = port;
      port = unusedPort;
      try {
        expect(await runHealthCheck('aws_ecs_task_definition.service_b_containers', 80)).toBe(1);
      } finally {
        port = savedPort;
      }
    });
  });
});

describe('capacity, network and security', () => {
  it('when the launch templates are read, then they boot the ECS-optimized AL2023 AMI with IMDSv2 required and hop limit 1', async () => {
    const template = resource('aws_launch_template.ecs');
    expect(expressionOf(template.for_each)).toBe('local.task_types');
    expect(block(template.metadata_options, 'metadata_options')).toMatchObject({
      http_tokens: 'required',
      http_put_response_hop_limit: 1,
    });
    expect(expressionOf(template.image_id)).toBe('data.aws_ssm_parameter.ecs_ami.insecure_value');
    const ami = decl.data.get('aws_ssm_parameter.ecs_ami')?.body;
    expect(await evaluator.attribute(ami as Body, 'name')).toBe(
      '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id',
    );
    expect(toJson(await evaluator.expression('local.task_types'))).toEqual(['service_a', 'service_b']);
  });

  it("when the user data is evaluated, then each task type's instances join the cluster with their TaskType attribute", async () => {
    const userData = (await evaluator.expression('local.ecs_user_data')) as Record<string, string>;
    expect(Object.keys(userData)).toEqual(['service_a', 'service_b']);
    for (const [taskType, script] of Object.entries(userData)) {
      expect(script.startsWith('#!/bin/bash\n')).toBe(true);
      const config = script.split('\n');
      expect(config).toContain('ECS_CLUSTER=ecs-srv');
      expect(config).toContain(`ECS_INSTANCE_ATTRIBUTES={"TaskType":"${taskType}"}`);
    }
    const template = resource('aws_launch_template.ecs');
    expect(expressionOf(template.user_data)).toBe('base64encode(local.ecs_user_data[each.key])');
  });

  it('when the auto scaling groups are read, then there is one per task type using its launch template', () => {
    const group = resource('aws_autoscaling_group.ecs');
    expect(expressionOf(group.for_each)).toBe('local.task_types');
    expect(expressionOf(group.vpc_zone_identifier)).toBe('var.subnet_ids');
    expect(expressionOf(block(group.launch_template, 'launch_template').id)).toBe(
      'aws_launch_template.ecs[each.key].id',
    );
  });

  it("when the instances' ingress rules are read, then they open only the ephemeral range, only to the instances' and the ALB's groups", () => {
    expect(resource('aws_security_group.instances').ingress).toBeUndefined(); // no inline rules
    expect(resourcesOfType('aws_security_group_rule')).toEqual([]); // nor legacy rule resources
    const rules = resourcesOfType('aws_vpc_security_group_ingress_rule').filter(([, rule]) =>
      String(rule.security_group_id).includes('aws_security_group.instances'),
    );
    expect(rules.map(([address]) => address).sort()).toEqual([
      'aws_vpc_security_group_ingress_rule.instances_from_alb',
      'aws_vpc_security_group_ingress_rule.instances_from_instances',
    ]);
    for (const [, rule] of rules) {
      // Peers by security group only: no CIDR at all, so certainly no 0.0.0.0/0 or ::/0.
      expect(rule.cidr_ipv4).toBeUndefined();
      expect(rule.cidr_ipv6).toBeUndefined();
      expect(rule.prefix_list_id).toBeUndefined();
      expect(rule.ip_protocol).toBe('tcp');
      expect([rule.from_port, rule.to_port]).toEqual([
        '${local.ephemeral_port_from}',
        '${local.ephemeral_port_to}',
      ]);
    }
    expect(rules.map(([, rule]) => rule.referenced_security_group_id).sort()).toEqual([
      '${aws_security_group.alb[0].id}',
      '${aws_security_group.instances.id}',
    ]);
  });

  it('when the ephemeral range is evaluated, then it spans 32768-65535 (kernel range and the ECS agent fallback)', async () => {
    expect(await evaluator.expression('local.ephemeral_port_from')).toBe(32768);
    expect(await evaluator.expression('local.ephemeral_port_to')).toBe(65535);
  });

  it('when the ALB resources are read, then every one is switched by var.enable_alb and the target group checks /readyz on instance targets', () => {
    for (const address of [
      'aws_lb.service_a',
      'aws_lb_target_group.service_a',
      'aws_lb_listener.http',
      'aws_security_group.alb',
      'aws_vpc_security_group_ingress_rule.instances_from_alb',
      'aws_vpc_security_group_egress_rule.alb_to_instances',
    ]) {
      expect({ address, count: resource(address).count }).toEqual({
        address,
        count: '${var.enable_alb ? 1 : 0}',
      });
    }
    const listenerCidrs = resource('aws_vpc_security_group_ingress_rule.alb_http');
    expect(expressionOf(listenerCidrs.for_each)).toBe(
      'var.enable_alb ? toset(var.alb_ingress_cidrs) : toset([])',
    );
    const group = resource('aws_lb_target_group.service_a');
    expect(group.target_type).toBe('instance');
    expect(block(group.health_check, 'health_check')).toMatchObject({ path: '/readyz', matcher: '200' });
  });

  it('when the log groups are read, then each has a retention period from a variable with a default', async () => {
    const groups = resourcesOfType('aws_cloudwatch_log_group');
    expect(groups).toHaveLength(2);
    for (const [, group] of groups) {
      expect(await evaluator.attribute(group, 'retention_in_days')).toBe(14);
    }
  });

  it('when the ECR repositories are read, then each scans images on push and keeps tags immutable', () => {
    const repositories = resourcesOfType('aws_ecr_repository');
    expect(repositories.map(([address]) => address).sort()).toEqual([
      'aws_ecr_repository.service_a',
      'aws_ecr_repository.service_b',
    ]);
    for (const [, repository] of repositories) {
      expect(repository.image_tag_mutability).toBe('IMMUTABLE');
      expect(block(repository.image_scanning_configuration, 'image_scanning_configuration')).toEqual({
        scan_on_push: true,
      });
    }
  });

  it('when the IAM resources are read, then task roles carry no permissions and SSM access is a variable that defaults on', async () => {
    const attachedRoles = [
      ...resourcesOfType('aws_iam_role_policy'),
      ...resourcesOfType('aws_iam_role_policy_attachment'),
    ].map(([, body]) => body.role);
    expect(attachedRoles).not.toContain('${aws_iam_role.service_a_task.name}');
    expect(attachedRoles).not.toContain('${aws_iam_role.service_a_task.id}');
    expect(attachedRoles).not.toContain('${aws_iam_role.service_b_task.name}');
    expect(attachedRoles).not.toContain('${aws_iam_role.service_b_task.id}');

    // The execution role: "*" only for ecr:GetAuthorizationToken, which has no resource-level permissions.
    const execution = decl.data.get('aws_iam_policy_document.task_execution')?.body;
    const wildcard = blocks(execution?.statement).filter((statement) =>
      (statement.resources as string[]).includes('*'),
    );
    expect(wildcard.map((statement) => statement.actions)).toEqual([['ecr:GetAuthorizationToken']]);

    const ssm = resource('aws_iam_role_policy_attachment.ecs_instance_ssm');
    expect(ssm.count).toBe('${var.enable_ssm_session_manager ? 1 : 0}');
    expect(String(ssm.policy_arn)).toMatch(/:policy\/AmazonSSMManagedInstanceCore$/);
    expect(await variableDefault('enable_ssm_session_manager')).toBe(true);
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
