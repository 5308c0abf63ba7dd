import { DevDnsServer } from '@ecs-srv/dev-server';
import { createServiceMetrics, startServer, type RunningServer } from '@ecs-srv/service-kit';
import request from 'supertest';
import { createApp as createB } from '../../service-b/src/app';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createBRoute } from '../src/discovery';
import { registerDiscoveryMetrics } from '../src/discovery-metrics';

/** Polls `cond` (bounded). */
async function until(cond: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A (in-process) → the dev server's Cloud Map API (real HTTP, through the AWS SDK) and its DNS side → 20
// real B servers: the DNS ceiling (8 random records per answer, cached for the TTL) against the API.
describe('service-a with DISCOVERY_SOURCE=cloudmap against the dev server (20 B tasks)', () => {
  let dev: DevDnsServer;
  const bs: RunningServer[] = [];
  const ids: string[] = [];
  const routes: Array<ReturnType<typeof createBRoute>> = [];
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    // The SDK's default credential chain reads these first (it must never reach for instance metadata).
    process.env.AWS_ACCESS_KEY_ID = 'dev';
    process.env.AWS_SECRET_ACCESS_KEY = 'dev';
    dev = new DevDnsServer({ host: '127.0.0.1', port: 0, api: true });
    await dev.start();
    for (let i = 0; i < 20; i++) {
      const id = `task${String(i).padStart(2, '0')}${'0'.repeat(24)}`;
      const state = { draining: false };
      const b = await startServer(createB({ instanceId: id, state, logger: { error: jest.fn() } }), {
        port: 0,
        host: '127.0.0.1',
        state,
      });
      bs.push(b);
      ids.push(id);
      dev.register(id, '127.0.0.1', b.port);
    }
  });

  afterEach(() => {
    dev.api.clearFaults();
    for (const route of routes.splice(0)) route.close();
  });

  afterAll(async () => {
    await Promise.all(bs.splice(0).map((b) => b.stop()));
    await dev.close();
    process.env = savedEnv;
  });

  function makeA(env: Record<string, string>) {
    const config = loadConfig(env);
    const route = createBRoute(config, {});
    routes.push(route);
    const metrics = createServiceMetrics('service-a', { defaultMetrics: false });
    registerDiscoveryMetrics(metrics.registry, route.source!, route.http!, config.SERVICE_B_SRV);
    const app = createApp({
      state: { draining: false },
      logger: { error: jest.fn() },
      serviceB: route.serviceB,
      discovery: route.snapshot,
      metrics,
    });
    return { app, route, metrics };
  }

  const cloudmapEnv = (extra: Record<string, string> = {}) => ({
    DISCOVERY_SOURCE: 'cloudmap',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_SERVICEDISCOVERY: dev.api.endpoint,
    ...extra,
  });

  async function spread(app: ReturnType<typeof makeA>['app'], n: number): Promise<Set<string>> {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const res = await request(app).get('/api/whoami');
      expect(res.status).toBe(200);
      seen.add(res.body.servedBy.instance as string);
    }
    return seen;
  }

  it('when A discovers through DNS, then it reaches at most 8 of the 20 tasks within a TTL (the MULTIVALUE ceiling)', async () => {
    const { app } = makeA({ DNS_SERVERS: `127.0.0.1:${dev.address.port}` });
    const seen = await spread(app, 200);
    expect(seen.size).toBeLessThanOrEqual(8);
    expect(seen.size).toBeGreaterThan(1);
  });

  it('when A discovers through the Cloud Map API, then it reaches all 20 tasks, and /discovery says so', async () => {
    const { app } = makeA(cloudmapEnv());
    const seen = await spread(app, 300);
    expect(seen.size).toBe(20);
    const view = (await request(app).get('/discovery')).body;
    expect(view).toMatchObject({
      mode: 'cloudmap',
      source: 'cloudmap',
      namespace: 'ecs.internal',
      service: 'service_b',
    });
    expect(view.names[0]).toMatchObject({
      source: 'cloudmap',
      state: 'fresh',
      transport: 'api',
      revision: expect.any(Number),
      lastPoll: expect.any(String),
    });
    expect(view.names[0].endpoints).toHaveLength(20);
  });

  it('when a task deregisters, then A drops it within a poll, and no request fails meanwhile', async () => {
    const { app, route } = makeA(cloudmapEnv({ CLOUDMAP_POLL_INTERVAL_MS: '500' }));
    await spread(app, 20);
    const victim = ids[0]!;
    dev.deregister(victim);
    try {
      await until(async () => {
        expect((await request(app).get('/api/whoami')).status).toBe(200);
        return !route.source!.snapshot()[0]!.endpoints.some((e) => e.target.startsWith(victim));
      }, 'the deregistered task to leave the set');
    } finally {
      dev.register(victim, '127.0.0.1', bs[0]!.port);
    }
  });

  it('when the API throttles after a good listing, then A keeps serving the last set (stale) and never hammers the API', async () => {
    const { app, route, metrics } = makeA(cloudmapEnv({ CLOUDMAP_POLL_INTERVAL_MS: '500' }));
    await spread(app, 10);
    dev.api.inject({ kind: 'throttle' });
    const callsBefore = Object.values(dev.api.stats().byOperation).reduce((a, b) => a + b, 0);
    await until(() => route.source!.snapshot()[0]!.state === 'stale', 'the stale state');
    const seen = await spread(app, 200); // 200 requests: served, and none of them calls the API
    expect(seen.size).toBe(20);
    const calls = Object.values(dev.api.stats().byOperation).reduce((a, b) => a + b, 0) - callsBefore;
    expect(calls).toBeLessThanOrEqual(5); // the background poll only, backing off
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /srv_cloudmap_api_calls_total\{operation="DiscoverInstancesRevision",outcome="ETHROTTLED"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(/srv_endpoint_set_stale\{[^}]*\} 1/);
  });

  it('when the API throttles from the start, then A answers 503 with code ETHROTTLED at once', async () => {
    dev.api.inject({ kind: 'throttle' });
    const { app } = makeA(cloudmapEnv());
    const res = await request(app).get('/api/whoami');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 503, code: 'ETHROTTLED' });
  });
});
