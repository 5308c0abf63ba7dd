import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CloudMapApiError,
  CloudMapSource,
  DiscoveryError,
  type CloudMapApi,
  type CloudMapInstance,
  type CloudMapSourceOptions,
  type InstancesQuery,
} from '../src';
import { SrvHttpClient } from '../src/axios';
import { createSdkCloudMapApi } from '../src/cloudmap/sdk-api';

const NAME = 'service_b.ecs.internal';

/** Polls `cond` on real time (bounded). */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const task = (n: number, ip = `10.0.1.${n}`, port = 49152 + n): CloudMapInstance => ({
  instanceId: `task${String(n).padStart(2, '0')}`,
  attributes: { AWS_INSTANCE_IPV4: ip, AWS_INSTANCE_PORT: String(port) },
  healthStatus: 'HEALTHY',
});

/** A Cloud Map API in memory: its instances, revision and failures are set by the test; calls are counted. */
class FakeApi implements CloudMapApi {
  readonly description = 'fake';
  instances: CloudMapInstance[] = [];
  revision = 1;
  /** When set, every call fails with it. */
  failure?: CloudMapApiError;
  readonly calls = { list: 0, revision: 0 };
  readonly queries: InstancesQuery[] = [];

  async discoverInstances(
    query: InstancesQuery,
  ): Promise<{ instances: CloudMapInstance[]; revision?: number }> {
    this.calls.list++;
    this.queries.push(query);
    if (this.failure) throw this.failure;
    return { instances: this.instances.map((i) => ({ ...i })), revision: this.revision };
  }

  async discoverInstancesRevision(): Promise<number> {
    this.calls.revision++;
    if (this.failure) throw this.failure;
    return this.revision;
  }

  get total(): number {
    return this.calls.list + this.calls.revision;
  }
}

describe('CloudMapSource (the Cloud Map API as an endpoint source)', () => {
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  function source(api: CloudMapApi, options: CloudMapSourceOptions = {}): CloudMapSource {
    const s = new CloudMapSource({ api, pollIntervalMs: 20, random: () => 0.5, ...options });
    closers.push(() => s.close());
    return s;
  }

  it('when the service has instances, then they become equal-weight endpoints named as DNS would name them', async () => {
    const api = new FakeApi();
    api.instances = [task(1), task(2)];
    const set = await source(api).resolve(NAME);
    expect(set.endpoints).toEqual([
      expect.objectContaining({
        key: '10.0.1.1:49153',
        target: `task01.${NAME}`,
        priority: 1,
        weight: 1,
        addressSource: 'api',
      }),
      expect.objectContaining({ key: '10.0.1.2:49154', target: `task02.${NAME}` }),
    ]);
    expect(set.transport).toBe('api');
    expect(api.queries[0]).toEqual({
      namespace: 'ecs.internal',
      service: 'service_b',
      healthStatus: 'HEALTHY_OR_ELSE_ALL',
      maxResults: 1000,
    });
  });

  it('when instances are malformed or point at refused addresses, then they are refused and reported', async () => {
    const api = new FakeApi();
    api.instances = [
      task(1),
      { instanceId: 'noip', attributes: { AWS_INSTANCE_PORT: '80' } },
      { instanceId: 'badport', attributes: { AWS_INSTANCE_IPV4: '10.0.1.9', AWS_INSTANCE_PORT: '80x' } },
      { instanceId: 'port0', attributes: { AWS_INSTANCE_IPV4: '10.0.1.9', AWS_INSTANCE_PORT: '0' } },
      task(3, '169.254.169.254', 80),
      { instanceId: 'v6imds', attributes: { AWS_INSTANCE_IPV6: 'fd00:ec2::254', AWS_INSTANCE_PORT: '80' } },
      task(4, 'not-an-ip'),
    ];
    const s = source(api);
    const set = await s.resolve(NAME);
    expect(set.endpoints.map((e) => e.key)).toEqual(['10.0.1.1:49153']);
    expect(set.rejected.map((r) => r.target)).toEqual([
      'noip',
      'badport',
      'port0',
      'task03',
      'v6imds',
      'task04',
    ]);
    expect(s.snapshot()[0]!.rejected).toHaveLength(6);
  });

  it('when the revision does not move, then only DiscoverInstancesRevision is polled; when it moves, the set is listed once and a change emitted', async () => {
    const api = new FakeApi();
    api.instances = [task(1)];
    const s = source(api);
    await s.resolve(NAME);
    await until(() => api.calls.revision >= 5, 'five revision polls');
    expect(api.calls.list).toBe(1);
    const changes: string[][] = [];
    s.on('change', (e) => changes.push(e.endpoints.map((x) => x.key)));
    api.instances = [task(1), task(2)];
    api.revision = 2;
    await until(() => changes.length === 1, 'the change');
    expect(changes[0]).toEqual(['10.0.1.1:49153', '10.0.1.2:49154']);
    expect(api.calls.list).toBe(2);
    expect(s.snapshot()[0]).toMatchObject({ source: 'cloudmap', state: 'fresh', revision: 2 });
    expect(s.snapshot()[0]!.lastPoll).toEqual(expect.any(String));
  });

  it('when fullRefreshMs passes, then the instances are listed again even if the revision did not move', async () => {
    const api = new FakeApi();
    api.instances = [task(1)];
    const s = source(api, { fullRefreshMs: 60 });
    await s.resolve(NAME);
    await until(() => api.calls.list >= 3, 'two safety-net listings');
  });

  it('when the API fails, then the last good set is served stale, requests never call the API, and polls back off', async () => {
    const api = new FakeApi();
    api.instances = [task(1)];
    const s = source(api, { pollIntervalMs: 20, maxBackoffMs: 400 });
    await s.resolve(NAME);
    const stale: string[] = [];
    s.on('stale', (e) => stale.push(e.error.code));
    api.failure = new CloudMapApiError(
      'throttled',
      'RequestLimitExceeded: slow down',
      'RequestLimitExceeded',
    );
    await until(() => s.snapshot()[0]!.state === 'stale', 'the stale state');
    const callsAtFailure = api.total;
    const started = Date.now();
    let served = 0;
    while (Date.now() - started < 1000) {
      for (let i = 0; i < 100; i++) if (s.pickCached(NAME)) served++;
      await s.resolve(NAME); // never waits for the API
      await new Promise((r) => setTimeout(r, 5));
    }
    // Without back-off, 1 s of 20 ms polls is 50 calls; doubling from 20 ms (capped at 400 ms) allows ~8.
    expect(api.total - callsAtFailure).toBeLessThanOrEqual(10);
    expect(served).toBeGreaterThan(1000);
    expect(stale).toEqual(['ETHROTTLED']);
    expect(s.stats().staleServes).toBeGreaterThan(1000);
    expect(s.snapshot()[0]!.lastError).toMatchObject({ code: 'ETHROTTLED' });
    api.failure = undefined;
    await until(() => s.snapshot()[0]!.state === 'fresh', 'recovery', 5000);
  });

  it('when the API fails past maxStaleSeconds, then the set is dropped and the coded error answered', async () => {
    let clock = 1_000_000;
    const api = new FakeApi();
    api.instances = [task(1)];
    const s = source(api, { now: () => clock, maxStaleSeconds: 60 });
    await s.resolve(NAME);
    api.failure = new CloudMapApiError(
      'failed',
      'AccessDeniedException (HTTP 400): no',
      'AccessDeniedException',
    );
    await until(() => s.snapshot()[0]!.state === 'stale', 'the stale state');
    clock += 59_000;
    expect(s.pickCached(NAME)).toBeDefined();
    const removed: number[] = [];
    s.on('change', (e) => removed.push(e.removed.length));
    clock += 2_000;
    expect(s.pickCached(NAME)).toBeUndefined();
    expect(removed).toEqual([1]);
    await expect(s.resolve(NAME)).rejects.toMatchObject({ code: 'EAPI' });
  });

  it('when a cold start meets an API error, then resolve rejects at once with a coded error, and works once the API does', async () => {
    const api = new FakeApi();
    api.instances = [task(1)];
    api.failure = new CloudMapApiError('throttled', 'RequestLimitExceeded', 'RequestLimitExceeded');
    const s = source(api);
    const err = (await s.resolve(NAME).catch((e: unknown) => e)) as DiscoveryError;
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err.code).toBe('ETHROTTLED');
    const calls = api.total;
    for (let i = 0; i < 100; i++) await s.resolve(NAME).catch(() => undefined);
    expect(api.total - calls).toBeLessThanOrEqual(1); // requests do not call the API; only the poll does
    api.failure = undefined;
    await until(() => s.snapshot()[0]!.state === 'fresh', 'the first good listing');
    expect((await s.resolve(NAME)).endpoints).toHaveLength(1);
  });

  it('when a listing has instances but none usable (attributes missing), then the last set is served stale, not dropped', async () => {
    const api = new FakeApi();
    api.instances = [task(1), task(2)];
    const s = source(api);
    await s.resolve(NAME);
    api.instances = [{ instanceId: 'a', attributes: { AWS_INSTANCE_PORT: '80' } }];
    api.revision = 2;
    await until(() => s.snapshot()[0]!.state === 'stale', 'the stale state');
    expect((await s.resolve(NAME)).endpoints).toHaveLength(2);
    expect(s.snapshot()[0]!.lastError).toMatchObject({ code: 'EAPI' });
    api.instances = [task(3)];
    await until(
      () => s.snapshot()[0]!.state === 'fresh',
      'the next good listing (the revision was not taken)',
    );
    expect((await s.resolve(NAME)).endpoints.map((e) => e.key)).toEqual(['10.0.1.3:49155']);
  });

  it('when the service has no instances or does not exist, then ENODATA / ENOTFOUND and no set', async () => {
    const api = new FakeApi();
    api.instances = [task(1)];
    const s = source(api);
    await s.resolve(NAME);
    api.instances = [];
    api.revision = 2;
    await until(() => s.snapshot()[0]!.state === 'negative', 'the empty answer');
    await expect(s.resolve(NAME)).rejects.toMatchObject({ code: 'ENODATA' });
    api.failure = new CloudMapApiError('not-found', 'ServiceNotFound: no', 'ServiceNotFound');
    await until(() => s.snapshot()[0]!.lastError?.code === 'ENOTFOUND', 'not found');
    await expect(s.resolve(NAME)).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('when an API call never settles (it ignores the abort), then requestTimeoutMs still ends it and polling goes on', async () => {
    const api = new FakeApi();
    api.instances = [task(1)];
    let hang = true;
    const real = api.discoverInstances.bind(api);
    api.discoverInstances = (query) => (hang ? new Promise(() => undefined) : real(query));
    const s = source(api, { requestTimeoutMs: 100, maxBackoffMs: 200 });
    await expect(s.resolve(NAME)).rejects.toMatchObject({ code: 'ETIMEOUT' });
    hang = false;
    await until(() => s.snapshot()[0]!.state === 'fresh', 'a later poll to list');
    expect((await s.resolve(NAME)).endpoints).toHaveLength(1);
  });

  it('when DiscoverInstances gives no revision, then the revision polls do not list again each time', async () => {
    const api = new FakeApi();
    api.instances = [task(1)];
    const real = api.discoverInstances.bind(api);
    api.discoverInstances = async (query) => ({ instances: (await real(query)).instances }); // no revision
    const s = source(api);
    await s.resolve(NAME);
    await until(() => api.calls.revision >= 10, 'ten revision polls');
    expect(api.calls.list).toBe(1);
  });

  it('when an instance id is no host name and its address is IPv6, then the Host target is the bracketed address', async () => {
    const api = new FakeApi();
    api.instances = [
      { instanceId: 'odd/id', attributes: { AWS_INSTANCE_IPV6: '2001:db8::7', AWS_INSTANCE_PORT: '8080' } },
    ];
    const set = await source(api).resolve(NAME);
    expect(set.endpoints[0]).toMatchObject({ key: '[2001:db8::7]:8080', target: '[2001:db8::7]' });
  });

  it('when closed, then polling stops and waiting callers reject ECANCELLED', async () => {
    const api = new FakeApi();
    let release: () => void = () => undefined;
    api.discoverInstances = () => new Promise((_resolve, reject) => (release = () => reject(new Error('x'))));
    const s = source(api);
    const pending = s.resolve(NAME);
    s.close();
    release();
    await expect(pending).rejects.toMatchObject({ code: 'ECANCELLED' });
    const calls = api.calls.revision;
    await new Promise((r) => setTimeout(r, 100));
    expect(api.calls.revision).toBe(calls);
  });

  it('when there are 20 tasks (more than DNS answers carry), then requests through SrvHttpClient reach all 20', async () => {
    const servers: http.Server[] = [];
    const hits = new Map<string, number>();
    const api = new FakeApi();
    for (let n = 1; n <= 20; n++) {
      const server = http.createServer((_req, res) => {
        hits.set(`t${n}`, (hits.get(`t${n}`) ?? 0) + 1);
        res.end('{}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.push(server);
      api.instances.push(task(n, '127.0.0.1', (server.address() as AddressInfo).port));
    }
    closers.push(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));
    const s = new CloudMapSource({ api, pollIntervalMs: 1000 });
    const client = new SrvHttpClient({ source: s, name: NAME });
    closers.push(() => {
      client.close();
      s.close();
    });
    for (let i = 0; i < 400; i++) await client.request({ url: '/v1/whoami' });
    expect(hits.size).toBe(20);
  });
});

describe('createSdkCloudMapApi (the AWS SDK v3 against a local JSON 1.1 endpoint)', () => {
  let server: http.Server;
  let endpoint: string;
  const seen: Array<{ host?: string; target?: string; body: unknown }> = [];
  let answer: (target: string) => { status: number; body: unknown; type?: string } = () => ({
    status: 200,
    body: {},
  });

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        seen.push({ host: req.headers.host, target, body: JSON.parse(body || '{}') });
        const out = answer(target);
        res.writeHead(out.status, {
          'content-type': 'application/x-amz-json-1.1',
          ...(out.type ? { 'x-amzn-errortype': out.type } : {}),
        });
        res.end(JSON.stringify(out.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const api = () =>
    createSdkCloudMapApi({
      region: 'us-east-1',
      endpoint,
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
    });

  it('when DiscoverInstances is called on a custom endpoint, then it goes there without the data- host prefix', async () => {
    answer = () => ({
      status: 200,
      body: {
        Instances: [
          { InstanceId: 't1', Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '80' } },
        ],
        InstancesRevision: 7,
      },
    });
    const out = await api().discoverInstances(
      {
        namespace: 'ecs.internal',
        service: 'service_b',
        healthStatus: 'HEALTHY_OR_ELSE_ALL',
        maxResults: 1000,
      },
      new AbortController().signal,
    );
    expect(out).toEqual({
      instances: [
        {
          instanceId: 't1',
          attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '80' },
          healthStatus: undefined,
        },
      ],
      revision: 7,
    });
    const call = seen.at(-1)!;
    expect(call.host).toBe(endpoint.slice('http://'.length));
    expect(call.target).toBe('Route53AutoNaming_v20170314.DiscoverInstances');
    expect(call.body).toEqual({
      NamespaceName: 'ecs.internal',
      ServiceName: 'service_b',
      HealthStatus: 'HEALTHY_OR_ELSE_ALL',
      MaxResults: 1000,
    });
  });

  it('when the endpoint comes from AWS_ENDPOINT_URL_SERVICEDISCOVERY, then it is used the same way', async () => {
    answer = () => ({ status: 200, body: { InstancesRevision: 3 } });
    const fromEnv = createSdkCloudMapApi({
      region: 'us-east-1',
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
      env: { AWS_ENDPOINT_URL_SERVICEDISCOVERY: endpoint },
    });
    expect(fromEnv.description).toBe(endpoint);
    const rev = await fromEnv.discoverInstancesRevision(
      { namespace: 'n.x', service: 's' },
      new AbortController().signal,
    );
    expect(rev).toBe(3);
    expect(seen.at(-1)!.target).toBe('Route53AutoNaming_v20170314.DiscoverInstancesRevision');
  });

  it('when the API answers RequestLimitExceeded or ServiceNotFound, then the failure is named for the source', async () => {
    answer = () => ({
      status: 400,
      type: 'RequestLimitExceeded',
      body: { __type: 'RequestLimitExceeded', message: 'slow down' },
    });
    const q = { namespace: 'ecs.internal', service: 'service_b' };
    await expect(api().discoverInstancesRevision(q, new AbortController().signal)).rejects.toMatchObject({
      failure: 'throttled',
      awsName: 'RequestLimitExceeded',
    });
    answer = () => ({
      status: 400,
      type: 'ServiceNotFound',
      body: { __type: 'ServiceNotFound', message: 'no' },
    });
    await expect(api().discoverInstancesRevision(q, new AbortController().signal)).rejects.toMatchObject({
      failure: 'not-found',
    });
    answer = () => ({ status: 500, body: { __type: 'InternalFailure', message: 'boom' } });
    await expect(api().discoverInstancesRevision(q, new AbortController().signal)).rejects.toMatchObject({
      failure: 'failed',
    });
  });
});
