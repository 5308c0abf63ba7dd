import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SrvHttpClient, type SrvRequestConfig } from '../src/axios';
import { SrvResolver, UpstreamError } from '../src';
import { ScriptedDns, cloudMapRecords, reply } from './helpers/scripted-dns';

const NAME = 'service_b.ecs.internal';

interface Backend {
  id: string;
  port: number;
  hits: number;
  hosts: string[];
  encodings: string[];
  server: http.Server;
}

async function backend(id: string, handler?: http.RequestListener): Promise<Backend> {
  const b: Backend = { id, port: 0, hits: 0, hosts: [], encodings: [], server: http.createServer() };
  b.server.on('request', (req, res) => {
    b.hits++;
    b.hosts.push(req.headers.host ?? '');
    b.encodings.push(req.headers['accept-encoding'] ?? '');
    if (handler) return handler(req, res);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ instance: id, method: req.method }));
  });
  await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
  b.port = (b.server.address() as AddressInfo).port;
  return b;
}

/** A port that refuses connections: bound, then closed. */
async function refusedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe('SrvHttpClient (real HTTP servers and DNS on 127.0.0.1)', () => {
  const closers: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function setup(
    ports: Array<[string, number]>,
    clientOptions: Partial<ConstructorParameters<typeof SrvHttpClient>[0]> = {},
  ) {
    const { srv, a } = cloudMapRecords(ports.map(([id, port]) => [id, '127.0.0.1', port]));
    const dns = await new ScriptedDns((q) => reply(q, { answers: srv, additionals: a })).start();
    closers.push(() => dns.close());
    const resolver = new SrvResolver({ servers: [dns.address], attemptTimeoutMs: 500, maxTtlSeconds: 1 });
    const client = new SrvHttpClient({ resolver, name: NAME, ...clientOptions });
    closers.push(() => {
      client.close();
      resolver.close();
    });
    return { client, resolver, dns };
  }

  function track(b: Backend): Backend {
    closers.push(() => new Promise((resolve) => b.server.close(resolve)));
    closers.push(() => b.server.closeAllConnections());
    return b;
  }

  it('when several endpoints exist, then requests spread over them and carry the SRV target as Host', async () => {
    const b1 = track(await backend('b1'));
    const b2 = track(await backend('b2'));
    const { client, dns } = await setup([
      ['task1', b1.port],
      ['task2', b2.port],
    ]);
    for (let i = 0; i < 60; i++) await client.request({ url: '/v1/whoami' });
    expect(b1.hits).toBeGreaterThan(5);
    expect(b2.hits).toBeGreaterThan(5);
    expect(b1.hosts[0]).toBe(`task1.${NAME}:${b1.port}`);
    expect(b1.encodings[0]).toBe('identity'); // no compression between tasks
    expect(dns.count('SRV')).toBe(1);
  });

  it.each(['undici', 'http'] as const)(
    'when the transport is %s, then the Host is the SRV target over a Host the caller gave, and no compression is asked for',
    async (transport) => {
      const b = track(await backend('b'));
      const { client } = await setup([['task1', b.port]], { transport });
      expect(client.transport).toBe(transport);
      await client.request({ url: '/v1/whoami', headers: { Host: 'elsewhere.example:1' } });
      await client.request({ url: '/v1/whoami' });
      expect(b.hosts).toEqual([`task1.${NAME}:${b.port}`, `task1.${NAME}:${b.port}`]);
      expect(b.encodings).toEqual(['identity', 'identity']);
    },
  );

  it('when the method is null, then it is sent as a GET (as axios does), not refused', async () => {
    const b = track(await backend('b'));
    const { client } = await setup([['task1', b.port]]);
    const config = { url: '/v1/whoami', method: null } as unknown as SrvRequestConfig;
    const { response } = await client.request(config);
    expect(response.status).toBe(200);
    expect(b.hits).toBe(1);
  });

  it('when one endpoint refuses connections, then GET and POST are retried on the other and succeed', async () => {
    const live = track(await backend('live'));
    const dead = await refusedPort();
    const { client } = await setup([
      ['dead', dead],
      ['live', live.port],
    ]);
    for (let i = 0; i < 20; i++) {
      const method = i % 2 === 0 ? 'GET' : 'POST';
      const { response, endpoint } = await client.request<{ instance: string }>({
        url: '/x',
        method,
        data: {},
      });
      expect(response.data.instance).toBe('live');
      expect(endpoint.port).toBe(live.port);
    }
  });

  it.each([
    ['directly', false],
    ['through axios (an interceptor registered)', true],
  ])(
    'when a request is retried on another endpoint %s, then its config names the endpoint that answered and the caller’s config is untouched',
    async (_, intercept) => {
      const live = track(await backend('live'));
      const dead = await refusedPort();
      const { client } = await setup([
        ['dead', dead],
        ['live', live.port],
      ]);
      if (intercept) client.axios.interceptors.request.use((c) => c);
      // 20 requests: the refusing endpoint is picked first (and the request retried) at least once,
      // but for a chance of 2^-20.
      for (let i = 0; i < 20; i++) {
        const config: SrvRequestConfig = { url: '/x', method: 'GET', headers: { 'x-request-id': `r${i}` } };
        const copy = structuredClone(config);
        const { response, endpoint } = await client.request<{ instance: string }>(config);
        expect(endpoint.port).toBe(live.port);
        expect(response.config.baseURL).toBe(`http://127.0.0.1:${live.port}`);
        expect((response.config as { srvHost?: string }).srvHost).toBe(`live.${NAME}:${live.port}`);
        expect(config).toStrictEqual(copy);
      }
      expect(client.stats().retries).toBeGreaterThan(0);
    },
  );

  it('when an endpoint keeps refusing, then it is ejected and later requests go straight to the others', async () => {
    const live = track(await backend('live'));
    const dead = await refusedPort();
    const { client } = await setup([
      ['dead', dead],
      ['live', live.port],
    ]);
    const ejected: string[] = [];
    client.health.on('eject', (e) => ejected.push(e.key));
    for (let i = 0; i < 40; i++) await client.request({ url: '/x' });
    expect(ejected).toEqual([`127.0.0.1:${dead}`]);
    expect(client.health.isAvailable({ key: `127.0.0.1:${dead}` } as never)).toBe(false);
    expect(live.hits).toBe(40);
  });

  it('when every endpoint refuses, then an UpstreamError of kind unreachable', async () => {
    const { client } = await setup([
      ['d1', await refusedPort()],
      ['d2', await refusedPort()],
    ]);
    const err = await client.request({ url: '/x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ kind: 'unreachable', code: 'ECONNREFUSED' });
  });

  it('when the endpoint is slower than timeoutMs, then an UpstreamError of kind timeout', async () => {
    const slow = track(await backend('slow', (_req, res) => setTimeout(() => res.end('{}'), 2000).unref()));
    const { client } = await setup([['slow', slow.port]], { timeoutMs: 200, maxAttempts: 1 });
    await expect(client.request({ url: '/x' })).rejects.toMatchObject({ kind: 'timeout', code: 'ETIMEDOUT' });
  });

  it('when the endpoint answers 500 or a redirect, then bad-response and the redirect is not followed', async () => {
    let redirectTargetHit = false;
    const target = track(
      await backend('target', (_req, res) => {
        redirectTargetHit = true;
        res.end('{}');
      }),
    );
    const odd = track(
      await backend('odd', (req, res) => {
        if (req.url === '/redirect') {
          res.writeHead(302, { location: `http://127.0.0.1:${target.port}/steal` });
          res.end();
        } else {
          res.writeHead(500);
          res.end('oops');
        }
      }),
    );
    const { client } = await setup([['odd', odd.port]]);
    await expect(client.request({ url: '/fail' })).rejects.toMatchObject({
      kind: 'bad-response',
      code: 'EUPSTREAMSTATUS',
    });
    await expect(client.request({ url: '/redirect' })).rejects.toMatchObject({ kind: 'bad-response' });
    expect(redirectTargetHit).toBe(false);
  });

  it('when requests are made, then stats() counts picks per endpoint and failures by kind', async () => {
    const b1 = track(await backend('b1'));
    const { client } = await setup([['b1', b1.port]]);
    for (let i = 0; i < 5; i++) await client.request({ url: '/x' });
    expect(client.stats()).toMatchObject({
      picks: { [`127.0.0.1:${b1.port}`]: 5 },
      retries: 0,
      ejections: 0,
    });
  });

  it('when connections sit idle longer than idleSocketTimeoutMs, then the client closes them (before the server would)', async () => {
    const b1 = track(await backend('b1'));
    b1.server.keepAliveTimeout = 60_000; // the server would keep them a minute
    const { client } = await setup([['b1', b1.port]], { idleSocketTimeoutMs: 200 });
    for (let i = 0; i < 5; i++) await client.request({ url: '/x' });
    const openTo = async (b: Backend): Promise<number> =>
      new Promise((resolve) => b.server.getConnections((_e, n) => resolve(n)));
    expect(await openTo(b1)).toBeGreaterThan(0);
    const deadline = Date.now() + 5000;
    while ((await openTo(b1)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await openTo(b1)).toBe(0);
  });

  it('when options are invalid, then the constructor throws a TypeError naming the option', () => {
    const resolver = new SrvResolver({ servers: ['127.0.0.1'] });
    closers.push(() => resolver.close());
    expect(() => new SrvHttpClient({ resolver, name: NAME, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new SrvHttpClient({ resolver, name: '' })).toThrow(/name/);
    // Longer than a timer can hold: refused here, not at every call (where it would eject healthy tasks).
    expect(() => new SrvHttpClient({ resolver, name: NAME, timeoutMs: 2 ** 31 })).toThrow(/timeoutMs/);
    expect(() => new SrvHttpClient({ resolver, name: NAME, budgetMs: 2 ** 31 })).toThrow(/budgetMs/);
    const longest = new SrvHttpClient({ resolver, name: NAME, timeoutMs: 2 ** 31 - 1 });
    closers.push(() => longest.close()); // its default budget (2 × timeoutMs) is capped, not refused
  });
});
