import { createServiceMetrics } from '@ecs-srv/service-kit';
import * as packet from 'dns-packet';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createBRoute } from '../src/discovery';
import { registerDiscoveryMetrics } from '../src/discovery-metrics';

const NAME = 'service_b.ecs.internal';

/** Polls `cond` (bounded). */
async function until(cond: () => Promise<boolean> | boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A DNS server whose answer is set per test: `tasks` as Cloud Map publishes them (A records in the
 * additional section unless `noAdditionals`), `silent` drops every query, `truncate` sets TC over UDP.
 */
class TestDns {
  tasks: Array<{ id: string; port: number }> = [];
  silent = false;
  truncate = false;
  spoofNext = false;
  ttl = 10;
  private readonly udp = dgram.createSocket('udp4');
  private readonly tcp = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', (chunk: Buffer) => {
      const out = this.answer(chunk.subarray(2), false);
      if (!out) return;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(out.length);
      socket.end(Buffer.concat([len, out]));
    });
  });
  port = 0;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.udp.bind(0, '127.0.0.1', resolve));
    this.port = this.udp.address().port;
    await new Promise<void>((resolve) => this.tcp.listen(this.port, '127.0.0.1', resolve));
    this.udp.on('message', (msg, rinfo) => {
      const out = this.answer(msg, true);
      if (!out) return;
      if (this.spoofNext) {
        this.spoofNext = false;
        // A reply with a wrong ID first: the client must drop it and keep waiting for the real one.
        const wrong = Buffer.from(out);
        wrong.writeUInt16BE((wrong.readUInt16BE(0) + 1) & 0xffff, 0);
        this.udp.send(wrong, rinfo.port, rinfo.address);
      }
      this.udp.send(out, rinfo.port, rinfo.address);
    });
    return this;
  }

  private answer(msg: Buffer, udp: boolean): Buffer | undefined {
    if (this.silent) return undefined;
    const q = packet.decode(msg);
    const target = (id: string): string => `${id}.${NAME}`;
    const base = {
      type: 'response' as const,
      id: q.id,
      flags: packet.AUTHORITATIVE_ANSWER,
      questions: q.questions,
    };
    if (udp && this.truncate)
      return packet.encode({ ...base, flags: base.flags | packet.TRUNCATED_RESPONSE });
    if (this.tasks.length === 0) return packet.encode({ ...base, flags: base.flags | 3 }); // NXDOMAIN
    return packet.encode({
      ...base,
      answers: this.tasks.map((t) => ({
        type: 'SRV' as const,
        name: NAME,
        ttl: this.ttl,
        data: { priority: 1, weight: 1, port: t.port, target: target(t.id) },
      })),
      additionals: this.tasks.map((t) => ({
        type: 'A' as const,
        name: target(t.id),
        ttl: this.ttl,
        data: '127.0.0.1',
      })),
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }
}

/** A B task whose behaviour is set per request by `mode`. */
async function bTask(id: string) {
  const state = {
    mode: 'ok' as 'ok' | 'wedged' | 'extra-fields' | 'huge',
    hits: 0,
    open: 0,
    port: 0,
    server: http.createServer(),
  };
  state.server.on('connection', (socket) => {
    state.open++;
    socket.on('close', () => state.open--);
  });
  state.server.on('request', (req, res) => {
    state.hits++;
    req.resume();
    if (state.mode === 'wedged') return;
    res.setHeader('content-type', 'application/json');
    if (state.mode === 'huge') {
      res.end(JSON.stringify({ service: 'service-b', instance: id, pad: 'x'.repeat(1_000_000) }));
      return;
    }
    const extra = state.mode === 'extra-fields' ? { secret: 'do-not-relay', nested: { deep: 1 } } : {};
    res.end(JSON.stringify({ service: 'service-b', instance: id, pid: 1, time: 'now', ...extra }));
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.port = (state.server.address() as AddressInfo).port;
  return state;
}

describe('service A against hostile B tasks and DNS faults (metrics asserted)', () => {
  let dns: TestDns;
  const closers: Array<() => unknown> = [];
  beforeEach(async () => {
    dns = await new TestDns().start();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await dns.close();
  });

  async function task(id: string) {
    const b = await bTask(id);
    closers.push(() => {
      b.server.closeAllConnections();
      return new Promise((resolve) => b.server.close(resolve));
    });
    return b;
  }

  function makeA(env: Record<string, string> = {}) {
    const config = loadConfig({ DNS_SERVERS: `127.0.0.1:${dns.port}`, DNS_TIMEOUT_MS: '200', ...env });
    const route = createBRoute(config, {});
    closers.push(() => route.close());
    const metrics = createServiceMetrics('service-a', { defaultMetrics: false });
    registerDiscoveryMetrics(metrics.registry, route.source!, route.http!, config.SERVICE_B_SRV);
    const app = createApp({
      state: { draining: false },
      logger: { error: jest.fn() },
      serviceB: route.serviceB,
      discovery: route.snapshot,
      metrics,
    });
    /** Sum of the samples of `name` whose labels contain `labels`. */
    const metric = async (name: string, labels = ''): Promise<number> =>
      (await metrics.registry.metrics())
        .split('\n')
        .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    return { app, route, metric };
  }

  it('when B adds fields A does not know, then A relays only the contract fields', async () => {
    const b = await task('t1');
    b.mode = 'extra-fields';
    dns.tasks = [{ id: 't1', port: b.port }];
    const { app } = makeA();
    const res = await request(app).get('/api/whoami');
    expect(res.status).toBe(200);
    expect(res.body.servedBy).toEqual({ service: 'service-b', instance: 't1', pid: 1, time: 'now' });
  });

  it('when B answers a 1 MB body, then 502 ERESPONSETOOLARGE, the task counts a failure, and the next request goes elsewhere', async () => {
    const huge = await task('huge');
    huge.mode = 'huge';
    const good = await task('good');
    dns.tasks = [
      { id: 'huge', port: huge.port },
      { id: 'good', port: good.port },
    ];
    const { app, route, metric } = makeA();
    let tooLarge = 0;
    for (let i = 0; i < 20; i++) {
      const res = await request(app).get('/api/whoami');
      if (res.status === 502) {
        expect(res.body).toMatchObject({ status: 502, code: 'ERESPONSETOOLARGE' });
        expect(res.text.length).toBeLessThan(1000);
        tooLarge++;
      } else expect(res.status).toBe(200);
    }
    expect(tooLarge).toBeGreaterThan(0);
    expect(tooLarge).toBeLessThanOrEqual(2); // two failures eject it
    expect(route.http!.health.isAvailable({ key: `127.0.0.1:${huge.port}` } as never)).toBe(false);
    expect(await metric('srv_upstream_failures_total', 'kind="bad-response"')).toBe(tooLarge);
    expect(await metric('srv_ejections_total')).toBe(1);
    expect(await metric('srv_endpoints', 'health="ejected"')).toBe(1);
    expect(await metric('srv_endpoints', 'health="healthy"')).toBe(1);
  });

  it("when A's caller goes away during a call to a wedged B, then A cancels that call and closes its socket", async () => {
    const wedged = await task('wedged');
    wedged.mode = 'wedged';
    dns.tasks = [{ id: 'wedged', port: wedged.port }];
    const { app, metric } = makeA({ UPSTREAM_TIMEOUT_MS: '60000', UPSTREAM_BUDGET_MS: '60000' });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as AddressInfo).port;
    for (let i = 0; i < 10; i++) {
      const req = http.get(`http://127.0.0.1:${port}/api/whoami`);
      req.on('error', () => undefined);
      await until(() => wedged.hits === i + 1, 'the call to reach B');
      req.destroy(); // the caller gives up
    }
    await until(() => wedged.open === 0, 'every abandoned call to B to be closed');
    await until(
      async () => (await metric('srv_upstream_failures_total', 'kind="cancelled"')) === 10,
      'cancel count',
    );
    expect(await metric('srv_ejections_total')).toBe(0); // the caller leaving says nothing about B
  });

  it('when tasks fail and DNS misbehaves, then every discovery metric A exports moves', async () => {
    const wedged = await task('wedged');
    wedged.mode = 'wedged';
    const good = await task('good');
    dns.tasks = [
      { id: 'wedged', port: wedged.port },
      { id: 'good', port: good.port },
    ];
    dns.ttl = 1; // the TTL passes quickly below
    dns.spoofNext = true; // one wrong-ID reply before the first real one: dropped
    dns.truncate = true; // and TC over UDP: the answer comes over TCP
    const { app, route, metric } = makeA({ UPSTREAM_TIMEOUT_MS: '1000', DNS_MAX_STALE_SECONDS: '600' });
    for (let i = 0; i < 20; i++) expect((await request(app).get('/api/whoami')).status).toBe(200);
    dns.truncate = false;

    expect(await metric('srv_dns_queries_total', 'transport="udp"')).toBeGreaterThan(0);
    expect(await metric('srv_dns_queries_total', 'transport="tcp",outcome="NOERROR"')).toBeGreaterThanOrEqual(
      1,
    );
    expect(await metric('srv_dns_tcp_fallbacks_total')).toBeGreaterThanOrEqual(1);
    expect(await metric('srv_dns_dropped_total')).toBe(1);
    expect(await metric('srv_lookups_total')).toBeGreaterThanOrEqual(1);
    expect(await metric('srv_cache_hits_total')).toBeGreaterThan(0);
    expect(await metric('srv_picks_total', `endpoint="127.0.0.1:${good.port}"`)).toBe(20);
    // Two timeouts eject the wedged task (more only if this machine took over its 1 s back-off).
    const wedgedPicks = await metric('srv_picks_total', `endpoint="127.0.0.1:${wedged.port}"`);
    expect(wedgedPicks).toBeGreaterThanOrEqual(2);
    expect(await metric('srv_upstream_retries_total')).toBe(wedgedPicks);
    expect(await metric('srv_ejections_total')).toBeGreaterThanOrEqual(1);
    expect(await metric('srv_lookup_duration_seconds_count', 'outcome="ok"')).toBeGreaterThanOrEqual(1);

    // DNS goes silent and the TTL passes: lookups fail, the set is served stale.
    dns.silent = true;
    const set = route.source!.snapshot()[0]!;
    const expiry = Date.parse(set.lastRefresh!) + set.ttlSeconds! * 1000;
    await until(() => Date.now() > expiry, 'the TTL to pass', 15_000);
    await until(
      async () =>
        (await request(app).get('/api/whoami')).status === 200 &&
        (await metric('srv_lookup_errors_total', 'code="ETIMEOUT"')) > 0,
      'a failed refresh',
      15_000,
    );
    expect((await request(app).get('/api/whoami')).status).toBe(200);
    expect(await metric('srv_stale_serves_total')).toBeGreaterThan(0);
    expect(await metric('srv_endpoint_set_stale')).toBe(1);
    expect(await metric('srv_dns_queries_total', 'outcome="timeout"')).toBeGreaterThan(0);
    expect(await metric('srv_lookup_duration_seconds_count', 'outcome="ETIMEOUT"')).toBeGreaterThan(0);
  }, 40_000);
});
