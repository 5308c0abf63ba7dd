// The dev server's Cloud Map API side, exercised through the real AWS SDK for JavaScript v3 (no SDK mocks):
// the same registrations as its DNS side, AWS JSON 1.1 errors the SDK maps to its named exceptions, health,
// revisions, fault injection and hostile input.
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import {
  DeregisterInstanceCommand,
  DiscoverInstancesCommand,
  DiscoverInstancesRevisionCommand,
  GetInstanceCommand,
  InstanceNotFound,
  InvalidInput,
  NamespaceNotFound,
  RegisterInstanceCommand,
  RequestLimitExceeded,
  ServiceDiscoveryClient,
  ServiceDiscoveryServiceException,
  ServiceNotFound,
  UpdateInstanceCustomHealthStatusCommand,
} from '@aws-sdk/client-servicediscovery';
import type { DiscoverInstancesCommandInput } from '@aws-sdk/client-servicediscovery';
import * as packet from 'dns-packet';
import type { SrvAnswer } from 'dns-packet';
import { DevDnsServer, loadDevServerConfig } from '@ecs-srv/dev-server';
import type { DevDnsServerOptions } from '@ecs-srv/dev-server';

const NAMESPACE = 'ecs.internal';
const SERVICE = 'service_b';
const TARGET = 'Route53AutoNaming_v20170314';

let server: DevDnsServer | undefined;
const clients: ServiceDiscoveryClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await server?.close();
  server = undefined;
});

async function start(options: DevDnsServerOptions = {}): Promise<DevDnsServer> {
  server = new DevDnsServer({ api: true, ...options });
  await server.start();
  return server;
}

/** The SDK as the brief configures it against a custom endpoint; `maxAttempts: 1` unless a test retries. */
function sdk(options: { maxAttempts?: number; requestTimeoutMs?: number } = {}): ServiceDiscoveryClient {
  const client = new ServiceDiscoveryClient({
    region: 'us-east-1',
    endpoint: server!.api.endpoint,
    credentials: { accessKeyId: 'dev', secretAccessKey: 'dev' },
    disableHostPrefix: true,
    maxAttempts: options.maxAttempts ?? 1,
    ...(options.requestTimeoutMs === undefined
      ? {}
      : { requestHandler: { requestTimeout: options.requestTimeoutMs, throwOnRequestTimeout: true } }),
  });
  clients.push(client);
  return client;
}

function discover(client: ServiceDiscoveryClient, input: Partial<DiscoverInstancesCommandInput> = {}) {
  return client.send(
    new DiscoverInstancesCommand({ NamespaceName: NAMESPACE, ServiceName: SERVICE, ...input }),
  );
}

async function revision(client: ServiceDiscoveryClient): Promise<number | undefined> {
  const out = await client.send(
    new DiscoverInstancesRevisionCommand({ NamespaceName: NAMESPACE, ServiceName: SERVICE }),
  );
  return out.InstancesRevision;
}

/** Resolves with the rejection of `promise` (fails the test if it fulfils). */
async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

/** One SRV query to the DNS side over UDP; the task ids in the answer. */
async function srvTaskIds(port: number): Promise<string[]> {
  const socket = dgram.createSocket('udp4');
  try {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no DNS reply')), 10_000);
      socket.once('message', (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      // With EDNS (as the discovery client asks), so 8 SRV records and their A records fit one datagram.
      const query: packet.Packet = {
        type: 'query',
        id: 1,
        questions: [{ name: `${SERVICE}.${NAMESPACE}`, type: 'SRV' }],
        additionals: [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 1232,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: [],
          },
        ],
      };
      socket.send(packet.encode(query), port, '127.0.0.1');
    });
    const decoded = packet.decode(reply);
    return (decoded.answers ?? [])
      .filter((a): a is SrvAnswer => a.type === 'SRV')
      .map((a) => a.data.target.split('.')[0]!);
  } finally {
    socket.close();
  }
}

/** A raw HTTP exchange with the API port: status, headers and body text. */
async function raw(
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const { port } = server!.api.address;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'POST',
        path: options.path ?? '/',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': `${TARGET}.DiscoverInstances`,
          ...options.headers,
        },
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('the dev server answers the Cloud Map API through the real SDK', () => {
  it('when a task is registered on the DNS side, then DiscoverInstances returns it with address, port, health and the revision DiscoverInstancesRevision gives', async () => {
    await start();
    server!.register('task-a', '10.0.1.23', 49153);
    server!.register('task-b', '10.0.1.24', 49154, SERVICE, { AVAILABILITY_ZONE: 'us-east-1a' });
    const client = sdk();

    const out = await discover(client, { HealthStatus: 'HEALTHY_OR_ELSE_ALL', MaxResults: 1000 });
    expect(out.Instances).toEqual([
      {
        InstanceId: 'task-a',
        NamespaceName: NAMESPACE,
        ServiceName: SERVICE,
        HealthStatus: 'HEALTHY',
        Attributes: { AWS_INSTANCE_IPV4: '10.0.1.23', AWS_INSTANCE_PORT: '49153' },
      },
      {
        InstanceId: 'task-b',
        NamespaceName: NAMESPACE,
        ServiceName: SERVICE,
        HealthStatus: 'HEALTHY',
        Attributes: {
          AVAILABILITY_ZONE: 'us-east-1a',
          AWS_INSTANCE_IPV4: '10.0.1.24',
          AWS_INSTANCE_PORT: '49154',
        },
      },
    ]);
    expect(typeof out.InstancesRevision).toBe('number');
    expect(await revision(client)).toBe(out.InstancesRevision);
    expect(server!.api.stats().byOperation).toMatchObject({
      DiscoverInstances: 1,
      DiscoverInstancesRevision: 1,
    });
  });

  it('when RegisterInstance and DeregisterInstance are called, then the task appears and leaves on the DNS side too, and the revision moves each time', async () => {
    const { port } = (await start()).address;
    const client = sdk();
    const r0 = await revision(client);

    const registered = await client.send(
      new RegisterInstanceCommand({
        ServiceId: SERVICE,
        InstanceId: 'task-new',
        Attributes: { AWS_INSTANCE_IPV4: '127.0.0.1', AWS_INSTANCE_PORT: '5000' },
      }),
    );
    expect(registered.OperationId).toMatch(/^[0-9a-f]{32}-[0-9a-f]{8}$/);
    expect(await srvTaskIds(port)).toEqual(['task-new']);
    expect(server!.instances().map((i) => [i.instanceId, i.ip, i.port])).toEqual([
      ['task-new', '127.0.0.1', 5000],
    ]);
    const r1 = await revision(client);
    expect(r1).not.toBe(r0);

    const deregistered = await client.send(
      new DeregisterInstanceCommand({ ServiceId: SERVICE, InstanceId: 'task-new' }),
    );
    expect(deregistered.OperationId).toBeDefined();
    expect(await srvTaskIds(port).catch(() => [])).toEqual([]);
    expect((await discover(client)).Instances).toEqual([]);
    const r2 = await revision(client);
    expect(r2).not.toBe(r1);
    expect(r2).not.toBe(r0);
  });

  it('when the revision is polled without changes, or only health changes, then it stays the same (as Cloud Map documents)', async () => {
    await start();
    server!.register('task-a', '10.0.1.23', 49153);
    const client = sdk();
    const before = await revision(client);
    expect(await revision(client)).toBe(before);
    server!.setHealth('task-a', false);
    expect(await revision(client)).toBe(before);
    server!.register('task-b', '10.0.1.24', 49154);
    expect(await revision(client)).not.toBe(before);
  });

  it('when the namespace, service or instance is unknown, or input is out of range, then the SDK raises the named exception', async () => {
    await start();
    const client = sdk();

    const ns = await rejection(discover(client, { NamespaceName: 'other.internal' }));
    expect(ns).toBeInstanceOf(NamespaceNotFound);
    expect(ns.$metadata).toMatchObject({ httpStatusCode: 400 });
    expect(await rejection(discover(client, { ServiceName: 'service_x' }))).toBeInstanceOf(ServiceNotFound);
    const rev = client.send(
      new DiscoverInstancesRevisionCommand({ NamespaceName: NAMESPACE, ServiceName: 'nope' }),
    );
    expect(await rejection(rev)).toBeInstanceOf(ServiceNotFound);
    expect(await rejection(discover(client, { MaxResults: 0 }))).toBeInstanceOf(InvalidInput);
    expect(await rejection(discover(client, { MaxResults: 1001 }))).toBeInstanceOf(InvalidInput);
    const badHealth = discover(client, { HealthStatus: 'SOMETIMES' as 'ALL' });
    expect(await rejection(badHealth)).toBeInstanceOf(InvalidInput);
    const gone = client.send(new DeregisterInstanceCommand({ ServiceId: SERVICE, InstanceId: 'never' }));
    expect(await rejection(gone)).toBeInstanceOf(InstanceNotFound);
    const noPort = client.send(
      new RegisterInstanceCommand({
        ServiceId: SERVICE,
        InstanceId: 't',
        Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1' },
      }),
    );
    expect(await rejection(noPort)).toBeInstanceOf(InvalidInput);
    const badId = client.send(
      new RegisterInstanceCommand({
        ServiceId: SERVICE,
        InstanceId: 'not a label',
        Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '80' },
      }),
    );
    expect(await rejection(badId)).toBeInstanceOf(InvalidInput);
    // An operation the dev server does not implement: the SDK's generic exception with the AWS name.
    const unknown = await rejection(
      client.send(new GetInstanceCommand({ ServiceId: SERVICE, InstanceId: 'x' })),
    );
    expect(unknown).toBeInstanceOf(ServiceDiscoveryServiceException);
    expect(unknown.name).toBe('UnknownOperationException');
    expect(server!.api.stats().byError).toEqual({
      NamespaceNotFound: 1,
      ServiceNotFound: 2,
      InvalidInput: 5,
      InstanceNotFound: 1,
      UnknownOperationException: 1,
    });
  });

  it("when MaxResults is left out, then at most 100 instances come back (Cloud Map's default); with 1000, all 150", async () => {
    await start();
    for (let i = 0; i < 150; i++) server!.register(`task-${i}`, '10.0.2.1', 10_000 + i);
    const client = sdk();
    expect((await discover(client)).Instances).toHaveLength(100);
    expect((await discover(client, { MaxResults: 1000 })).Instances).toHaveLength(150);
    expect((await discover(client, { MaxResults: 3 })).Instances).toHaveLength(3);
  });

  it('when QueryParameters and OptionalParameters are given, then they filter on attributes as Cloud Map does', async () => {
    await start();
    server!.register('a1', '10.0.0.1', 1001, SERVICE, { AZ: 'a', VERSION: '1' });
    server!.register('a2', '10.0.0.2', 1002, SERVICE, { AZ: 'a', VERSION: '2' });
    server!.register('b1', '10.0.0.3', 1003, SERVICE, { AZ: 'b', VERSION: '1' });
    const client = sdk();
    const ids = async (input: Partial<DiscoverInstancesCommandInput>) =>
      ((await discover(client, input)).Instances ?? []).map((i) => i.InstanceId);

    expect(await ids({ QueryParameters: { AZ: 'a' } })).toEqual(['a1', 'a2']);
    expect(await ids({ QueryParameters: { AZ: 'a' }, OptionalParameters: { VERSION: '2' } })).toEqual(['a2']);
    // No instance matches the optional filter: it is ignored.
    expect(await ids({ QueryParameters: { AZ: 'b' }, OptionalParameters: { VERSION: '2' } })).toEqual(['b1']);
    expect(await ids({ QueryParameters: { AWS_INSTANCE_IPV4: '10.0.0.3' } })).toEqual(['b1']);
    expect(await ids({ QueryParameters: { AZ: 'c' } })).toEqual([]);
  });
});

describe('health', () => {
  it('when one task is marked unhealthy, then each HealthStatus filter returns what Cloud Map would, and DNS answers only healthy tasks', async () => {
    const { port } = (await start()).address;
    for (const id of ['t1', 't2', 't3']) server!.register(id, '10.0.0.1', 80);
    const client = sdk();
    const ids = async (HealthStatus: DiscoverInstancesCommandInput['HealthStatus']) =>
      ((await discover(client, { HealthStatus })).Instances ?? []).map(
        (i) => `${i.InstanceId}:${i.HealthStatus}`,
      );

    expect(server!.setHealth('t2', false)).toBe(true);
    expect(server!.setHealth('nope', false)).toBe(false);
    expect(await ids('HEALTHY')).toEqual(['t1:HEALTHY', 't3:HEALTHY']);
    expect(await ids(undefined)).toEqual(['t1:HEALTHY', 't3:HEALTHY']);
    expect(await ids('UNHEALTHY')).toEqual(['t2:UNHEALTHY']);
    expect(await ids('ALL')).toEqual(['t1:HEALTHY', 't2:UNHEALTHY', 't3:HEALTHY']);
    expect(await ids('HEALTHY_OR_ELSE_ALL')).toEqual(['t1:HEALTHY', 't3:HEALTHY']);
    expect((await srvTaskIds(port)).sort()).toEqual(['t1', 't3']);

    // Through the API, as a custom health check would report it.
    await client.send(
      new UpdateInstanceCustomHealthStatusCommand({
        ServiceId: SERVICE,
        InstanceId: 't1',
        Status: 'UNHEALTHY',
      }),
    );
    server!.setHealth('t3', false);
    expect(await ids('HEALTHY')).toEqual([]);
    // Failing open: with no healthy task, every task.
    expect(await ids('HEALTHY_OR_ELSE_ALL')).toEqual(['t1:UNHEALTHY', 't2:UNHEALTHY', 't3:UNHEALTHY']);
    expect((await srvTaskIds(port)).sort()).toEqual(['t1', 't2', 't3']);

    await client.send(
      new UpdateInstanceCustomHealthStatusCommand({
        ServiceId: SERVICE,
        InstanceId: 't2',
        Status: 'HEALTHY',
      }),
    );
    expect(await ids('HEALTHY_OR_ELSE_ALL')).toEqual(['t2:HEALTHY']);
    expect(await srvTaskIds(port)).toEqual(['t2']);
  });
});

describe('like Route 53 MULTIVALUE: DNS answers 8 random tasks, the API all of them', () => {
  it('when 20 tasks are registered, then each SRV answer holds 8 varying ones while DiscoverInstances returns all 20', async () => {
    const { port } = (await start()).address;
    const ids = Array.from({ length: 20 }, (_, i) => `task-${String(i).padStart(2, '0')}`);
    ids.forEach((id, i) => server!.register(id, '10.0.3.1', 20_000 + i));

    const seen = new Set<string>();
    const answers = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const answer = await srvTaskIds(port);
      expect(answer).toHaveLength(8);
      expect(new Set(answer).size).toBe(8);
      answer.forEach((id) => seen.add(id));
      answers.add([...answer].sort().join());
    }
    // Random subsets: ten answers of 8 out of 20 are (all but certainly) not all the same, and reach beyond 8.
    expect(answers.size).toBeGreaterThan(1);
    expect(seen.size).toBeGreaterThan(8);

    const out = await discover(sdk(), { MaxResults: 1000, HealthStatus: 'HEALTHY_OR_ELSE_ALL' });
    expect((out.Instances ?? []).map((i) => i.InstanceId).sort()).toEqual(ids);
  });
});

describe('endpoint and host prefix', () => {
  it('when the client leaves disableHostPrefix off, then DiscoverInstances dials data-127.0.0.1 and never reaches the dev server', async () => {
    await start();
    const client = new ServiceDiscoveryClient({
      region: 'us-east-1',
      endpoint: server!.api.endpoint,
      credentials: { accessKeyId: 'dev', secretAccessKey: 'dev' },
      maxAttempts: 1,
    });
    clients.push(client);
    const error = await rejection(discover(client));
    expect(`${String(error.hostname)} ${error.message}`).toMatch(/data-127\.0\.0\.1/);
    expect(server!.api.stats().requests).toBe(0);
  });

  it('when the endpoint comes from AWS_ENDPOINT_URL_SERVICEDISCOVERY with disableHostPrefix, then the SDK reaches the dev server', async () => {
    await start();
    server!.register('task-a', '10.0.1.23', 49153);
    const saved = { ...process.env };
    process.env.AWS_ENDPOINT_URL_SERVICEDISCOVERY = server!.api.endpoint;
    try {
      const client = new ServiceDiscoveryClient({
        region: 'us-east-1',
        credentials: { accessKeyId: 'any', secretAccessKey: 'thing' },
        disableHostPrefix: true,
        maxAttempts: 1,
      });
      clients.push(client);
      expect((await discover(client)).Instances?.map((i) => i.InstanceId)).toEqual(['task-a']);
    } finally {
      process.env = saved;
    }
  });
});

describe('fault injection and counters', () => {
  it('when the next 2 calls are throttled, then the SDK raises RequestLimitExceeded twice, the third succeeds, and stats count every call', async () => {
    await start();
    server!.api.inject({ kind: 'throttle' }, { count: 2 });
    const client = sdk();
    expect(await rejection(discover(client))).toBeInstanceOf(RequestLimitExceeded);
    expect(await rejection(revision(client))).toBeInstanceOf(RequestLimitExceeded);
    await expect(revision(client)).resolves.toEqual(expect.any(Number));
    expect(server!.api.stats()).toMatchObject({
      requests: 3,
      faulted: 2,
      byOperation: { DiscoverInstances: 1, DiscoverInstancesRevision: 2, RegisterInstance: 0 },
      byError: { RequestLimitExceeded: 2 },
    });
  });

  it("when throttling meets the SDK's default retries, then the stats show each retry as a call", async () => {
    await start();
    server!.api.inject({ kind: 'throttle' }, { count: 2 });
    await expect(revision(sdk({ maxAttempts: 3 }))).resolves.toEqual(expect.any(Number));
    expect(server!.api.stats().byOperation.DiscoverInstancesRevision).toBe(3);
  });

  it('when every call of one operation answers 500 until cleared, then only that operation fails, as a server fault', async () => {
    await start();
    server!.api.inject({ kind: 'server-error' }, { operations: ['DiscoverInstancesRevision'] });
    const client = sdk();
    for (let i = 0; i < 3; i++) {
      const error = await rejection(revision(client));
      expect(error).toBeInstanceOf(ServiceDiscoveryServiceException);
      expect(error.$fault).toBe('server');
      expect(error.$metadata).toMatchObject({ httpStatusCode: 500 });
    }
    await expect(discover(client)).resolves.toMatchObject({ Instances: [] });
    server!.api.clearFaults();
    await expect(revision(client)).resolves.toEqual(expect.any(Number));
    expect(server!.api.stats().faulted).toBe(3);
  });

  it('when a call stalls, then the client times out, the server keeps answering others, and close() ends a stalled call', async () => {
    await start();
    server!.api.inject({ kind: 'stall' }, { count: 2 });
    const started = Date.now();
    // The SDK only warns on requestTimeout unless throwOnRequestTimeout is set.
    const error = await rejection(revision(sdk({ requestTimeoutMs: 300 })));
    expect(error.name).toBe('TimeoutError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);

    const stalled = rejection(revision(sdk()));
    await expect(revision(sdk())).resolves.toEqual(expect.any(Number));
    expect(server!.api.stats()).toMatchObject({ requests: 3, faulted: 2 });
    await server!.close();
    expect(await stalled).toBeInstanceOf(Error);
  });

  it('when a call is delayed, then the right answer arrives that late', async () => {
    await start();
    server!.register('task-a', '10.0.1.23', 49153);
    server!.api.inject({ kind: 'delay', ms: 300 }, { count: 1 });
    const started = Date.now();
    const out = await discover(sdk());
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(out.Instances?.map((i) => i.InstanceId)).toEqual(['task-a']);
  });

  it('when a custom body is injected (garbage JSON, instances without attributes), then the client gets exactly that', async () => {
    await start();
    server!.api.inject({ kind: 'respond', body: '{"Instances":[{"InstanceId":' }, { count: 1 });
    server!.api.inject(
      { kind: 'respond', body: '{"Instances":[{"InstanceId":"x","Attributes":{}}],"InstancesRevision":7}' },
      { count: 1 },
    );
    const client = sdk();
    expect(await rejection(discover(client))).toBeInstanceOf(Error);
    await expect(discover(client)).resolves.toMatchObject({
      Instances: [{ InstanceId: 'x', Attributes: {} }],
      InstancesRevision: 7,
    });
    await expect(discover(client)).resolves.toMatchObject({ Instances: [] });
  });

  it.each([
    [{ kind: 'explode' }, {}, /unknown fault kind/],
    [{ kind: 'throttle' }, { count: 0 }, /count/],
    [{ kind: 'throttle' }, { operations: ['ListServices'] }, /operations/],
    [{ kind: 'delay', ms: -1 }, {}, /ms/],
    [{ kind: 'server-error', status: 404 }, {}, /status/],
    [{ kind: 'respond', body: 5 }, {}, /body/],
  ])('when inject(%p, %p) is called, then it throws a TypeError', async (fault, scope, message) => {
    await start();
    expect(() => server!.api.inject(fault as never, scope as never)).toThrow(TypeError);
    expect(() => server!.api.inject(fault as never, scope as never)).toThrow(message);
  });
});

describe('hostile input never crashes the API', () => {
  it('when bodies are malformed, oversized, mistyped or misaddressed, then each gets an AWS JSON error and the server keeps serving', async () => {
    await start();
    server!.register('task-a', '10.0.1.23', 49153);
    const error = (r: { status: number; headers: http.IncomingHttpHeaders; body: string }) => ({
      status: r.status,
      type: r.headers['x-amzn-errortype'],
      body: (JSON.parse(r.body) as { __type: string }).__type,
    });

    expect(error(await raw({ body: '{"NamespaceName":' }))).toEqual({
      status: 400,
      type: 'InvalidInput',
      body: 'InvalidInput',
    });
    expect(error(await raw({ body: '[1,2]' }))).toMatchObject({ status: 400, type: 'InvalidInput' });
    expect(error(await raw({ body: 'null' }))).toMatchObject({ status: 400, type: 'InvalidInput' });
    expect(error(await raw({ body: Buffer.from([0xff, 0xfe, 0x00]) }))).toMatchObject({
      type: 'InvalidInput',
    });
    expect(error(await raw({ body: '{"NamespaceName":5,"ServiceName":"service_b"}' }))).toMatchObject({
      type: 'InvalidInput',
    });
    expect(
      error(
        await raw({
          body: JSON.stringify({ NamespaceName: NAMESPACE, ServiceName: SERVICE, QueryParameters: { a: 1 } }),
        }),
      ),
    ).toMatchObject({ type: 'InvalidInput' });
    expect(error(await raw({ body: 'x'.repeat(70_000) }))).toMatchObject({
      status: 413,
      type: 'InvalidInput',
    });
    expect(error(await raw({ headers: { 'content-type': 'text/plain' }, body: '{}' }))).toMatchObject({
      type: 'InvalidInput',
    });
    expect(
      error(await raw({ headers: { 'x-amz-target': `${TARGET}.DeleteNamespace` }, body: '{}' })),
    ).toEqual({
      status: 400,
      type: 'UnknownOperationException',
      body: 'UnknownOperationException',
    });
    expect(
      error(await raw({ headers: { 'x-amz-target': 'Other.DiscoverInstances' }, body: '{}' })),
    ).toMatchObject({
      type: 'UnknownOperationException',
    });
    const get = await raw({ method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect((await raw({ path: '/other', body: '{}' })).status).toBe(404);

    // Bytes that are not HTTP at all.
    await new Promise<void>((resolve) => {
      const socket = net.connect(server!.api.address.port, '127.0.0.1', () =>
        socket.end('\x00\x01garbage\r\n\r\n'),
      );
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
      socket.resume();
    });

    // An unsigned request is served: a dev server does not check SigV4.
    const ok = await raw({ body: JSON.stringify({ NamespaceName: NAMESPACE, ServiceName: SERVICE }) });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(JSON.parse(ok.body)).toMatchObject({ Instances: [{ InstanceId: 'task-a' }] });
    await expect(discover(sdk())).resolves.toMatchObject({ Instances: [{ InstanceId: 'task-a' }] });
  });
});

describe('options', () => {
  it.each([
    [{ api: 'yes' }, /api must be/],
    [{ api: { port: -1 } }, /api\.port/],
    [{ api: { host: '' } }, /api\.host/],
  ])('when constructed with %p, then it throws a TypeError naming the option', (options, message) => {
    expect(() => new DevDnsServer(options as DevDnsServerOptions)).toThrow(TypeError);
    expect(() => new DevDnsServer(options as DevDnsServerOptions)).toThrow(message);
  });

  it('when built without api, then .api throws and start() opens no HTTP port', async () => {
    server = new DevDnsServer();
    await server.start();
    expect(() => server!.api).toThrow(/without the api option/);
  });

  it('when the API port is taken, then start() rejects and the DNS side is closed again', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      server = new DevDnsServer({ api: { port: taken } });
      await expect(server.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(() => server!.address).toThrow(/not listening/);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

describe('the dev server as a process (dist/main.js, the compose profile cloudmap)', () => {
  it('when the environment is read, then defaults, registrations and every bad variable come out', () => {
    expect(loadDevServerConfig({})).toEqual({
      zone: 'ecs.internal',
      host: '0.0.0.0',
      dnsPort: 53,
      apiPort: 80,
      registrations: [],
    });
    expect(
      loadDevServerConfig({
        DEV_DNS_REGISTER: ' t1=10.0.0.1:80,\n other/t2=10.0.0.2:8080 ',
        DEV_DNS_PORT: '',
      }),
    ).toMatchObject({
      dnsPort: 53,
      registrations: [
        { service: 'service_b', instanceId: 't1', ip: '10.0.0.1', port: 80 },
        { service: 'other', instanceId: 't2', ip: '10.0.0.2', port: 8080 },
      ],
    });
    expect(() =>
      loadDevServerConfig({ DEV_DNS_PORT: '70000', CLOUDMAP_API_PORT: 'x', DEV_DNS_REGISTER: 't1@10.0.0.1' }),
    ).toThrow(/DEV_DNS_PORT.*CLOUDMAP_API_PORT.*DEV_DNS_REGISTER: "t1@10\.0\.0\.1"/);
  });

  it('when started with registrations, then DNS and the API both serve them, and SIGTERM exits 0', async () => {
    const main = path.resolve(__dirname, '../dist/main.js');
    const child = spawn(process.execPath, [main], {
      env: {
        PATH: process.env.PATH ?? '',
        DEV_DNS_HOST: '127.0.0.1',
        DEV_DNS_PORT: '0',
        CLOUDMAP_API_PORT: '0',
        DEV_DNS_REGISTER: 'task-a=10.0.0.1:80,task-b=10.0.0.2:80',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const deadline = Date.now() + 10_000;
      while (!/task-b at/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`dev-dns did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const dnsPort = Number(/DNS on 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
      const endpoint = /Cloud Map API on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? '';
      expect((await srvTaskIds(dnsPort)).sort()).toEqual(['task-a', 'task-b']);
      const client = new ServiceDiscoveryClient({
        region: 'us-east-1',
        endpoint,
        credentials: { accessKeyId: 'dev', secretAccessKey: 'dev' },
        disableHostPrefix: true,
      });
      clients.push(client);
      const listed = await discover(client);
      expect(listed.Instances?.map((i) => i.InstanceId)).toEqual(['task-a', 'task-b']);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
