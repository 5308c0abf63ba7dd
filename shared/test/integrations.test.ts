import http from 'node:http';
import { Readable } from 'node:stream';
import { Agent, fetch } from 'undici';
import { EndpointCaller, SrvResolver, UpstreamError, type Endpoint } from '../src';
import { SrvHttpClient } from '../src/axios';
import { discoveryInterceptor } from '../src/integrations/undici';
import {
  drippingTask,
  executeThenDestroyTask,
  healthyTask,
  refusedPort,
  wedgedTask,
  type FaultyServer,
} from './helpers/faulty-servers';
import { ScriptedDns, cloudMapRecords, reply } from './helpers/scripted-dns';

const NAME = 'service_b.ecs.internal';
const BODY = JSON.stringify({ message: 'x'.repeat(4000) });

/** One HTTP integration, driven the same way by every behaviour below. */
interface Integration {
  /** Sends a request; resolves with the JSON body and the endpoint used, or rejects with the integration's error. */
  send(req: {
    method: 'GET' | 'POST' | 'PUT';
    path: string;
    signal?: AbortSignal;
    /** Send the body as a stream (consumed by the first attempt) instead of a string. */
    stream?: boolean;
  }): Promise<{ body: unknown }>;
  caller: EndpointCaller;
  close(): Promise<void> | void;
  /**
   * Can a request with a string body be sent twice? Not through fetch: it hands undici every body as a
   * stream, so its requests with a body are retried only after a connection failure.
   */
  replaysBodies: boolean;
}

interface Setup {
  resolver: SrvResolver;
  timeoutMs: number;
  health?: { ejectAfterFailures?: number; baseEjectionMs?: number };
}

/** The UpstreamError behind what an integration threw (fetch wraps it as `cause` of a TypeError). */
function upstreamOf(err: unknown): UpstreamError | undefined {
  if (err instanceof UpstreamError) return err;
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof UpstreamError ? cause : undefined;
}

/** The axios client over `transport`. */
function axiosIntegration(s: Setup, transport: 'undici' | 'http'): Integration {
  const client = new SrvHttpClient({
    source: s.resolver,
    name: NAME,
    timeoutMs: s.timeoutMs,
    health: s.health,
    transport,
  });
  return {
    caller: client.caller,
    replaysBodies: true,
    send: async ({ method, path, signal, stream }) => {
      const { response } = await client.request({
        method,
        url: path,
        data: stream ? Readable.from([BODY]) : method === 'GET' ? undefined : BODY,
        headers: { 'content-type': 'application/json' },
        signal,
      });
      return { body: response.data };
    },
    close: () => client.close(),
  };
}

const integrations: Record<string, (s: Setup) => Integration> = {
  'axios over undici (the default transport)': (s) => axiosIntegration(s, 'undici'),
  'axios over its http adapter (transport http)': (s) => axiosIntegration(s, 'http'),
  'fetch (undici interceptor)': (s) => {
    const caller = new EndpointCaller({ source: s.resolver, timeoutMs: s.timeoutMs, health: s.health });
    const agent = new Agent({ keepAliveTimeout: 4000 });
    const dispatcher = agent.compose(discoveryInterceptor({ caller, names: [NAME] }));
    return {
      caller,
      replaysBodies: false,
      send: async ({ method, path, signal, stream }) => {
        const res = await fetch(`http://${NAME}${path}`, {
          method,
          body: stream ? Readable.toWeb(Readable.from([BODY])) : method === 'GET' ? undefined : BODY,
          headers: { 'content-type': 'application/json', 'x-a': ['1', '2'].join(', ') },
          signal,
          dispatcher,
          ...(stream ? { duplex: 'half' as const } : {}),
        });
        return { body: await res.json() };
      },
      close: async () => {
        caller.close();
        await agent.close();
      },
    };
  },
  'node:http (withEndpoint)': (s) => {
    const caller = new EndpointCaller({ source: s.resolver, timeoutMs: s.timeoutMs, health: s.health });
    const agent = new http.Agent({ keepAlive: true, timeout: 4000 });
    const call =
      (method: string, path: string, stream?: boolean) => (endpoint: Endpoint, signal: AbortSignal) =>
        new Promise<unknown>((resolve, reject) => {
          const req = http.request(
            {
              host: endpoint.address,
              port: endpoint.port,
              method,
              path,
              agent,
              signal,
              headers: { host: `${endpoint.target}:${endpoint.port}` },
            },
            (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (text += c));
              res.on('end', () => resolve(JSON.parse(text)));
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          if (stream) Readable.from([BODY]).pipe(req);
          else req.end(method === 'GET' ? undefined : BODY);
        });
    return {
      caller,
      replaysBodies: true,
      send: async ({ method, path, signal, stream }) => {
        const { result } = await caller.withEndpoint(NAME, call(method, path, stream), {
          idempotent: method === 'GET' || method === 'PUT',
          replayable: !stream,
          signal,
        });
        return { body: result };
      },
      close: () => {
        caller.close();
        agent.destroy();
      },
    };
  },
};

describe.each(Object.entries(integrations))('the same behaviour through %s', (_label, make) => {
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function task<T extends FaultyServer>(made: Promise<T>): Promise<T> {
    const server = await made;
    closers.push(() => server.close());
    return server;
  }

  async function setup(
    ports: number[],
    options: Partial<Omit<Setup, 'resolver'>> = {},
  ): Promise<Integration> {
    const { srv, a } = cloudMapRecords(ports.map((port, i) => [`task${i}`, '127.0.0.1', port]));
    const dns = await new ScriptedDns((q) => reply(q, { answers: srv, additionals: a })).start();
    closers.push(() => dns.close());
    const resolver = new SrvResolver({ servers: [dns.address] });
    closers.push(() => resolver.close());
    const integration = make({ resolver, timeoutMs: 1000, ...options });
    closers.push(() => integration.close());
    return integration;
  }

  it('when several tasks serve, then requests spread over them', async () => {
    const t1 = await task(healthyTask('t1'));
    const t2 = await task(healthyTask('t2'));
    const i = await setup([t1.port, t2.port]);
    for (let n = 0; n < 40; n++) await i.send({ method: 'GET', path: '/v1/whoami' });
    expect(t1.hits).toBeGreaterThan(5);
    expect(t2.hits).toBeGreaterThan(5);
  });

  it('when a task runs a POST and then drops the reused connection, then the POST is not sent again', async () => {
    const dropper = await task(executeThenDestroyTask());
    const good = await task(healthyTask('good'));
    const i = await setup([dropper.port, good.port], { health: { ejectAfterFailures: 1000 } });
    let failed = 0;
    for (let n = 0; n < 30; n++) {
      await i.send({ method: 'POST', path: '/v1/echo' }).catch((err: unknown) => {
        expect(upstreamOf(err)).toMatchObject({ kind: 'unreachable' });
        failed++;
      });
    }
    expect(dropper.destroyed).toBeGreaterThan(0);
    expect(failed).toBe(dropper.destroyed); // each POST that met the drop failed once…
    expect(dropper.hits + good.hits).toBe(30); // …and none ran twice
    expect(i.caller.stats().retries).toBe(0);
  });

  it('when a GET meets the same drop, then it is retried elsewhere and succeeds', async () => {
    const dropper = await task(executeThenDestroyTask());
    const good = await task(healthyTask('good'));
    const i = await setup([dropper.port, good.port], { health: { ejectAfterFailures: 1000 } });
    for (let n = 0; n < 30; n++) await i.send({ method: 'GET', path: '/v1/whoami' });
    expect(dropper.destroyed).toBeGreaterThan(0);
    expect(i.caller.stats().retries).toBe(dropper.destroyed);
  });

  it('when a PUT with a stream body meets a reset, then it is not sent again (its body is gone)', async () => {
    const dropper = await task(executeThenDestroyTask());
    const good = await task(healthyTask('good'));
    const i = await setup([dropper.port, good.port], { health: { ejectAfterFailures: 1000 } });
    let failed = 0;
    for (let n = 0; n < 20; n++) {
      await i.send({ method: 'PUT', path: '/v1/thing', stream: true }).catch((err: unknown) => {
        expect(upstreamOf(err)).toMatchObject({ kind: 'unreachable' });
        failed++;
      });
    }
    expect(dropper.destroyed).toBeGreaterThan(0);
    expect(failed).toBe(dropper.destroyed);
    expect(i.caller.stats().retries).toBe(0);
    expect(good.bodies.every((b) => b === BODY.length)).toBe(true); // no empty body ever reached a task
  });

  it('when a PUT with a string body meets the same reset, then it is retried with its whole body where the transport can resend it', async () => {
    const dropper = await task(executeThenDestroyTask());
    const good = await task(healthyTask('good'));
    const i = await setup([dropper.port, good.port], { health: { ejectAfterFailures: 1000 } });
    let failed = 0;
    for (let n = 0; n < 20; n++) await i.send({ method: 'PUT', path: '/v1/thing' }).catch(() => failed++);
    expect(dropper.destroyed).toBeGreaterThan(0);
    expect(i.caller.stats().retries).toBe(i.replaysBodies ? dropper.destroyed : 0);
    expect(failed).toBe(i.replaysBodies ? 0 : dropper.destroyed);
    expect(good.bodies.filter((b) => b !== BODY.length)).toEqual([]);
  });

  it('when the caller has already aborted, then nothing is sent', async () => {
    const good = await task(healthyTask('good'));
    const i = await setup([good.port]);
    const controller = new AbortController();
    controller.abort();
    await expect(
      i.send({ method: 'GET', path: '/v1/whoami', signal: controller.signal }),
    ).rejects.toBeDefined();
    expect(good.hits).toBe(0);
  });

  it('when a task refuses connections, then even a POST moves on to another', async () => {
    const good = await task(healthyTask('good'));
    const i = await setup([await refusedPort(), good.port], { health: { baseEjectionMs: 60_000 } });
    // 40 sends: the refused task (1 pick in 2) is never picked first with odds of 2^-40, not 2^-10 (a CI flake).
    for (let n = 0; n < 40; n++) await i.send({ method: 'POST', path: '/v1/echo' });
    expect(good.hits).toBe(40);
    expect(i.caller.stats().retries).toBeGreaterThan(0);
  });

  it('when a task accepts and never answers, then GETs time out there, move on, and the task is ejected', async () => {
    const wedged = await task(wedgedTask());
    const good = await task(healthyTask('good'));
    const i = await setup([wedged.port, good.port], { timeoutMs: 300, health: { baseEjectionMs: 60_000 } });
    for (let n = 0; n < 20; n++) await i.send({ method: 'GET', path: '/v1/whoami' });
    expect(wedged.hits).toBe(2);
    expect(i.caller.health.isAvailable({ key: `127.0.0.1:${wedged.port}` } as Endpoint)).toBe(false);
  });

  it('when a task drips its body forever, then the whole exchange times out', async () => {
    const drip = await task(drippingTask(20));
    const i = await setup([drip.port], { timeoutMs: 300 });
    const err = await i.send({ method: 'GET', path: '/v1/whoami' }).catch((e: unknown) => e);
    expect(upstreamOf(err)).toMatchObject({ kind: 'timeout', code: 'ETIMEDOUT' });
  });

  it('when the caller aborts, then the call is cancelled and the task is not blamed', async () => {
    const wedged = await task(wedgedTask());
    const i = await setup([wedged.port], { timeoutMs: 30_000 });
    const controller = new AbortController();
    const sent = i.send({ method: 'GET', path: '/v1/whoami', signal: controller.signal });
    const deadline = Date.now() + 5000;
    while (wedged.hits === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    await expect(sent).rejects.toBeDefined();
    expect(i.caller.stats().failures.cancelled).toBe(1);
    expect(i.caller.health.stateOf(`127.0.0.1:${wedged.port}`)).toBeUndefined();
  });
});

describe('discoveryInterceptor with undici request()', () => {
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function setup(script: ConstructorParameters<typeof ScriptedDns>[0]) {
    const dns = await new ScriptedDns(script).start();
    closers.push(() => dns.close());
    const resolver = new SrvResolver({ servers: [dns.address], attemptTimeoutMs: 5000 });
    closers.push(() => resolver.close());
    const caller = new EndpointCaller({ source: resolver });
    const agent = new Agent();
    closers.push(async () => {
      caller.close();
      await agent.close();
    });
    return { dns, dispatcher: agent.compose(discoveryInterceptor({ caller, names: [NAME] })) };
  }

  it('when headers come as a flat array with a name repeated, then every value reaches the task', async () => {
    const seen: Array<string | string[] | undefined> = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers['x-a']);
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const { srv, a } = cloudMapRecords([['t', '127.0.0.1', (server.address() as { port: number }).port]]);
    const { dispatcher } = await setup((q) => reply(q, { answers: srv, additionals: a }));
    const res = await dispatcher.request({
      origin: `http://${NAME}`,
      path: '/x',
      method: 'GET',
      headers: ['x-a', '1', 'x-a', '2'],
    });
    await res.body.text();
    expect(seen).toEqual(['1, 2']);
  });

  it('when the caller aborts while the name is still being discovered, then request() rejects at once', async () => {
    const { dns, dispatcher } = await setup(() => undefined); // silent DNS: discovery hangs
    const controller = new AbortController();
    const pending = dispatcher.request({
      origin: `http://${NAME}`,
      path: '/x',
      method: 'GET',
      signal: controller.signal,
    });
    const deadline = Date.now() + 5000;
    while (dns.queries.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const abortedAt = Date.now();
    controller.abort();
    await expect(pending).rejects.toBeDefined();
    expect(Date.now() - abortedAt).toBeLessThan(4000); // not after the 5 s DNS attempt
  });
});
