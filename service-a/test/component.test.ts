import { DevDnsServer } from '@ecs-srv/dev-server';
import { createServiceMetrics, startServer, type RunningServer } from '@ecs-srv/service-kit';
import net from 'node:net';
import request from 'supertest';
import { createApp as createB } from '../../service-b/src/app';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createBRoute } from '../src/discovery';
import { registerDiscoveryMetrics } from '../src/discovery-metrics';

// A (in-process, real discovery client) → dev DNS server (real UDP/TCP) → two real B servers on port 0.
describe('service-a through SRV discovery to real service-b servers', () => {
  let dns: DevDnsServer;
  const bs: RunningServer[] = [];
  let discovery: ReturnType<typeof createBRoute> | undefined;

  beforeEach(async () => {
    dns = new DevDnsServer({ host: '127.0.0.1', port: 0 });
    await dns.start();
    for (const id of ['0f3c9a5be1d24c1e9a4b7d3f2a1c00e1', '7a1b2c3d4e5f60718293a4b5c6d7e8f9']) {
      const state = { draining: false };
      const b = await startServer(createB({ instanceId: id, state, logger: { error: jest.fn() } }), {
        port: 0,
        host: '127.0.0.1',
        state,
      });
      bs.push(b);
      dns.register(id, '127.0.0.1', b.port);
    }
  });

  afterEach(async () => {
    discovery?.close();
    discovery = undefined;
    await Promise.all(bs.splice(0).map((b) => b.stop()));
    await dns.close();
  });

  function makeA(env: Record<string, string> = {}) {
    const config = loadConfig({ DNS_SERVERS: `127.0.0.1:${dns.address.port}`, ...env });
    discovery = createBRoute(config, {});
    const metrics = createServiceMetrics('service-a', { defaultMetrics: false });
    if (discovery.source && discovery.http) {
      registerDiscoveryMetrics(metrics.registry, discovery.source, discovery.http, config.SERVICE_B_SRV);
    }
    return createApp({
      state: { draining: false },
      logger: { error: jest.fn() },
      serviceB: discovery.serviceB,
      discovery: discovery.snapshot,
      metrics,
    });
  }

  it('when A is asked repeatedly, then requests reach both B instances with one SRV query', async () => {
    const a = makeA();
    const instances = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const res = await request(a).get('/api/whoami');
      expect(res.status).toBe(200);
      expect(res.body.servedBy.service).toBe('service-b');
      expect(res.body.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
      instances.add(res.body.servedBy.instance);
    }
    expect(instances.size).toBe(2);
    expect(dns.stats().byType.SRV).toBe(1);
  });

  it('when traffic went through A, then /metrics shows DNS queries, cache hits, picks per endpoint and lookup latency', async () => {
    const a = makeA();
    for (let i = 0; i < 20; i++) await request(a).get('/api/whoami');
    const text = (await request(a).get('/metrics')).text;
    const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN);
    expect(value(/srv_dns_queries_total\{[^}]*transport="udp"[^}]*outcome="NOERROR"[^}]*\} (\d+)/)).toBe(1);
    expect(value(/srv_cache_hits_total\{[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(19);
    expect(value(/srv_lookup_duration_seconds_count\{[^}]*outcome="ok"[^}]*\} (\d+)/)).toBe(1);
    expect(value(/srv_endpoints\{[^}]*health="healthy"[^}]*\} (\d+)/)).toBe(2);
    const picks = [...text.matchAll(/srv_picks_total\{[^}]*endpoint="127\.0\.0\.1:\d+"[^}]*\} (\d+)/g)].map(
      (m) => Number(m[1]),
    );
    expect(picks).toHaveLength(2);
    expect(picks.reduce((x, y) => x + y, 0)).toBe(20);
  });

  it('when SERVICE_B_SRV is written with capitals and a trailing dot, then the endpoint gauges still count', async () => {
    const a = makeA({ SERVICE_B_SRV: 'Service_B.ecs.internal.' });
    for (let i = 0; i < 5; i++) expect((await request(a).get('/api/whoami')).status).toBe(200);
    const text = (await request(a).get('/metrics')).text;
    expect(/srv_endpoints\{[^}]*health="healthy"[^}]*\} (\d+)/.exec(text)?.[1]).toBe('2');
  });

  it('when a message is echoed through A, then B echoes it back', async () => {
    const res = await request(makeA()).post('/api/echo').send({ message: 'through A' });
    expect(res.status).toBe(200);
    expect(res.body.servedBy.message).toBe('through A');
  });

  it('when /discovery is asked after a call, then it lists both endpoints with their TTL', async () => {
    const a = makeA();
    await request(a).get('/api/whoami');
    const res = await request(a).get('/discovery');
    expect(res.status).toBe(200);
    const [entry] = res.body.names;
    expect(entry).toMatchObject({
      name: 'service_b.ecs.internal',
      state: 'fresh',
      stale: false,
      ttlSeconds: 10,
    });
    expect(entry.endpoints).toHaveLength(2);
    expect(entry.endpoints[0]).toMatchObject({
      priority: 1,
      weight: 1,
      addressSource: 'additional',
      health: { status: 'healthy', consecutiveFailures: 0 },
    });
  });

  it('when one B task is gone but still registered, then requests still succeed on the other', async () => {
    const a = makeA();
    await bs[0]!.stop();
    for (let i = 0; i < 10; i++) expect((await request(a).get('/api/whoami')).status).toBe(200);
  });

  it('when x-request-id is given to A, then B receives the same id', async () => {
    const seen: unknown[] = [];
    const state = { draining: false };
    const b = await startServer(
      createB({
        instanceId: 'rid',
        state,
        logger: { error: jest.fn() },
        requestLogger: (req, _res, next) => {
          seen.push(req.headers['x-request-id']);
          next();
        },
      }),
      { port: 0, host: '127.0.0.1', state },
    );
    bs.push(b);
    const a = makeA({ SERVICE_B_URL: `http://127.0.0.1:${b.port}` });
    await request(a).get('/api/whoami').set('x-request-id', 'trace-42');
    expect(seen).toEqual(['trace-42']);
  });

  it('when SERVICE_B_URL is set, then A calls that URL without DNS and /discovery says so', async () => {
    const a = makeA({ SERVICE_B_URL: `http://127.0.0.1:${bs[0]!.port}` });
    for (let i = 0; i < 5; i++) {
      const res = await request(a).get('/api/whoami');
      expect(res.body.endpoint).toBe(`127.0.0.1:${bs[0]!.port}`);
    }
    expect(dns.stats().queries).toBe(0);
    expect((await request(a).get('/discovery')).body).toMatchObject({ mode: 'fixed-url' });
  });

  it('when SERVICE_B_URL points at nothing, then 502', async () => {
    const port = bs[0]!.port;
    await bs[0]!.stop();
    const res = await request(makeA({ SERVICE_B_URL: `http://127.0.0.1:${port}` })).get('/api/whoami');
    expect(res.status).toBe(502);
    expect(res.body.code).toBe('ECONNREFUSED');
  });

  it('when SERVICE_B_URL answers too slowly, then 504 ETIMEDOUT at UPSTREAM_TIMEOUT_MS and the socket is closed', async () => {
    const sockets = new Set<net.Socket>();
    // Accepts, reads and never answers (a wedged task).
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('data', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const a = makeA({ SERVICE_B_URL: `http://127.0.0.1:${port}`, UPSTREAM_TIMEOUT_MS: '300' });
      const started = Date.now();
      const res = await request(a).get('/api/whoami');
      expect(res.status).toBe(504);
      expect(res.body.code).toBe('ETIMEDOUT');
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      const until = Date.now() + 5000;
      while (sockets.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(sockets.size).toBe(0); // the aborted exchange does not keep B's socket
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('when every task is deregistered, then A answers 503 with code ENOTFOUND', async () => {
    dns.deregister('0f3c9a5be1d24c1e9a4b7d3f2a1c00e1');
    dns.deregister('7a1b2c3d4e5f60718293a4b5c6d7e8f9');
    const res = await request(makeA()).get('/api/whoami');
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('ENOTFOUND');
  });

  it('when the SRV name is in no zone the server knows, then 503 with code EREFUSED', async () => {
    const res = await request(makeA({ SERVICE_B_SRV: 'service_b.other.internal' })).get('/api/whoami');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('EREFUSED');
  });
});
