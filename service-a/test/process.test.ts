import { DevDnsServer } from '@ecs-srv/dev-server';
import { SECURITY_HEADERS, startServer, type RunningServer } from '@ecs-srv/service-kit';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp as createB } from '../../service-b/src/app';

// Service A as a process: the built entry point (`node service-a/dist/main.js`, the container CMD; npm test
// builds first) against the dev DNS server (real UDP/TCP, 1 s TTL) and real B servers on port 0.
const MAIN = path.resolve(__dirname, '../dist/main.js');

type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** A running A: its URL, its output and its pino lines so far. */
interface AProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  lines: () => LogLine[];
}

const children: ChildProcess[] = [];

function spawnA(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return { child, output: () => out };
}

function parseLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      /* a line still being written */
    }
  }
  return lines;
}

/**
 * Polls until `find` returns a value, running `between` (e.g. a request through A) before each look;
 * fails after `timeoutMs` with A's output, or at once if A exited.
 */
async function until<T>(
  a: { child: ChildProcess; output: () => string },
  what: string,
  find: () => T | undefined,
  options: { timeoutMs?: number; between?: () => Promise<unknown> } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    await options.between?.();
    const found = find();
    if (found !== undefined) return found;
    if (a.child.exitCode !== null || a.child.signalCode !== null)
      throw new Error(`A exited (${a.child.exitCode ?? a.child.signalCode}) before ${what}:\n${a.output()}`);
    if (Date.now() > deadline)
      throw new Error(`no ${what} within ${options.timeoutMs ?? 10_000} ms:\n${a.output()}`);
    await sleep(50);
  }
}

async function startA(env: Record<string, string>): Promise<AProcess> {
  const a = spawnA(env);
  const lines = (): LogLine[] => parseLines(a.output());
  const listening = await until(a, 'listening line', () =>
    lines().find((l) => typeof l.port === 'number' && /^service-a listening on/.test(l.msg ?? '')),
  );
  return { ...a, url: `http://127.0.0.1:${listening.port as number}`, lines };
}

/** One B task: a real service-b app on 127.0.0.1:0. */
async function startBTask(instanceId: string): Promise<RunningServer> {
  const state = { draining: false };
  return startServer(createB({ instanceId, state, logger: { error: () => undefined } }), {
    port: 0,
    host: '127.0.0.1',
    state,
  });
}

function expectSecurityHeaders(headers: Headers, what: string): void {
  for (const [name, value] of SECURITY_HEADERS)
    expect([what, name, headers.get(name)]).toEqual([what, name, value]);
  expect(headers.get('x-powered-by')).toBeNull();
}

/** A raw request A's HTTP parser rejects; resolves with the whole raw answer. */
function rawExchange(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString()));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.write(request);
  });
}

describe('service-a as a process', () => {
  let dns: DevDnsServer;
  const bs: RunningServer[] = [];

  beforeEach(async () => {
    dns = new DevDnsServer({ host: '127.0.0.1', port: 0, ttlSeconds: 1 });
    await dns.start();
  });

  afterEach(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(bs.splice(0).map((b) => b.stop()));
    await dns.close();
  });

  /** Starts a B task and registers it in DNS; returns its endpoint key (`127.0.0.1:<port>`). */
  async function addB(taskId: string): Promise<{ key: string; server: RunningServer }> {
    const server = await startBTask(taskId);
    bs.push(server);
    dns.register(taskId, '127.0.0.1', server.port);
    return { key: `127.0.0.1:${server.port}`, server };
  }

  /** A pointed at the dev DNS server, with short DNS deadlines so failures show quickly. */
  function aEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      DNS_SERVERS: `127.0.0.1:${dns.address.port}`,
      DNS_TIMEOUT_MS: '300',
      DNS_ATTEMPTS: '1',
      DNS_LOOKUP_TIMEOUT_MS: '600',
      ...extra,
    };
  }

  it('when SIGTERM arrives, then /readyz turns 503 with Connection: close, requests are served through the drain, and it exits 0', async () => {
    await addB('0f3c9a5be1d24c1e9a4b7d3f2a1c00e1');
    const a = await startA(aEnv({ DRAIN_DELAY_MS: '1500' }));
    expect((await fetch(`${a.url}/api/whoami`)).status).toBe(200);

    const exited = once(a.child, 'exit');
    a.child.kill('SIGTERM');
    await until(a, '"shutting down" line', () => a.lines().find((l) => l.msg === 'shutting down'));
    const ready = await fetch(`${a.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('connection')).toBe('close');
    const whoami = await fetch(`${a.url}/api/whoami`);
    expect(whoami.status).toBe(200);
    expect(whoami.headers.get('connection')).toBe('close');

    const [code] = await exited;
    expect(code).toBe(0);
    expect(a.lines().map((l) => l.msg)).toContain('stopped');
    expect(a.output()).not.toMatch(/still in flight after the close timeout|shutdown took too long/);
  });

  it('when the environment is invalid, then it exits 1 with one readable message naming each bad variable', async () => {
    const a = spawnA({ DNS_SERVERS: 'not-an-address', UPSTREAM_ATTEMPTS: '0', PORT: '99999' });
    const [code] = await once(a.child, 'exit');
    expect(code).toBe(1);
    expect(a.output()).toMatch(/^service-a: Invalid configuration:/);
    for (const name of ['DNS_SERVERS', 'UPSTREAM_ATTEMPTS', 'PORT'])
      expect(a.output()).toContain(`  - ${name}: `);
    expect(a.output()).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('when B tasks join and leave DNS, then A logs each endpoint set change with the endpoints added and removed', async () => {
    const first = await addB('0f3c9a5be1d24c1e9a4b7d3f2a1c00e1');
    const a = await startA(aEnv());
    const request = (): Promise<unknown> => fetch(`${a.url}/api/whoami`).then((r) => r.arrayBuffer());
    const changes = (): LogLine[] => a.lines().filter((l) => l.msg === 'endpoint set changed');
    await until(
      a,
      'first set change',
      () => changes().find((l) => (l.added as string[]).includes(first.key)),
      {
        between: request,
      },
    );

    const second = await addB('7a1b2c3d4e5f60718293a4b5c6d7e8f9');
    const joined = await until(
      a,
      'set change adding the second task',
      () => changes().find((l) => (l.added as string[]).includes(second.key)),
      { between: request },
    );
    expect(joined).toMatchObject({ level: 30, removed: [], endpoints: 2 });

    dns.deregister('0f3c9a5be1d24c1e9a4b7d3f2a1c00e1');
    const left = await until(
      a,
      'set change removing the first task',
      () => changes().find((l) => (l.removed as string[]).includes(first.key)),
      { between: request },
    );
    expect(left).toMatchObject({ added: [], endpoints: 1 });
  });

  it('when the DNS server stops and the TTL passes, then A keeps answering from the last good set and logs that it serves stale', async () => {
    await addB('0f3c9a5be1d24c1e9a4b7d3f2a1c00e1');
    const a = await startA(aEnv());
    expect((await fetch(`${a.url}/api/whoami`)).status).toBe(200);
    await dns.close();

    const statuses: number[] = [];
    const request = async (): Promise<void> => {
      const res = await fetch(`${a.url}/api/whoami`);
      await res.arrayBuffer();
      statuses.push(res.status);
    };
    const stale = await until(
      a,
      'stale-serving log line',
      () => a.lines().find((l) => /serving the last good endpoint set past its TTL/.test(l.msg ?? '')),
      { between: request },
    );
    expect(stale).toMatchObject({ level: 40, name: 'service_b.ecs.internal', code: expect.any(String) });
    await request();
    expect(statuses.every((s) => s === 200)).toBe(true);
    const discovery = (await (await fetch(`${a.url}/discovery`)).json()) as {
      names: Array<{ state: string }>;
    };
    expect(discovery.names[0]!.state).toBe('stale');
    dns = new DevDnsServer(); // closed above; afterEach closes this unstarted one
  });

  it('when a B task stops while still in DNS, then A keeps answering through the other and logs its ejection', async () => {
    const gone = await addB('0f3c9a5be1d24c1e9a4b7d3f2a1c00e1');
    await addB('7a1b2c3d4e5f60718293a4b5c6d7e8f9');
    const a = await startA(aEnv());
    expect((await fetch(`${a.url}/api/whoami`)).status).toBe(200);
    await gone.server.stop(); // connection refused from now on; DNS still lists it

    const statuses: number[] = [];
    const ejected = await until(
      a,
      'ejection log line',
      () =>
        a.lines().find((l) => l.msg === 'endpoint ejected after connection failures' && l.key === gone.key),
      {
        between: async () => {
          const res = await fetch(`${a.url}/api/whoami`);
          await res.arrayBuffer();
          statuses.push(res.status);
        },
      },
    );
    expect(ejected).toMatchObject({ level: 40, ejectionMs: expect.any(Number) });
    expect(statuses.every((s) => s === 200)).toBe(true); // GETs retried on the other task
  });

  it('when A answers any kind of request, then every response carries every security header, ops routes say no-store, and credentials stay out of its log', async () => {
    await addB('0f3c9a5be1d24c1e9a4b7d3f2a1c00e1');
    const a = await startA(aEnv());
    const answers: Array<[string, Response]> = [
      ['whoami', await fetch(`${a.url}/api/whoami`, { headers: { authorization: 'Bearer s3cret-token' } })],
      [
        'echo 400',
        await fetch(`${a.url}/api/echo`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        }),
      ],
      ['404', await fetch(`${a.url}/nope`, { headers: { cookie: 'session=s3cret-cookie' } })],
      ['405', await fetch(`${a.url}/api/whoami`, { method: 'DELETE' })],
      ['/discovery', await fetch(`${a.url}/discovery`)],
      ['/metrics', await fetch(`${a.url}/metrics`)],
      ['/healthz', await fetch(`${a.url}/healthz`)],
      ['/readyz', await fetch(`${a.url}/readyz`)],
      ['page', await fetch(`${a.url}/`)],
    ];
    for (const [what, res] of answers) {
      await res.arrayBuffer();
      expectSecurityHeaders(res.headers, what);
    }
    for (const [what, res] of answers.filter(([w]) => w.startsWith('/')))
      expect([what, res.headers.get('cache-control')]).toEqual([what, 'no-store']);

    const rejected = await rawExchange(a.url, 'BREW / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(rejected).toMatch(/^HTTP\/1\.1 400 /);
    for (const [name, value] of SECURITY_HEADERS) expect(rejected).toContain(`${name}: ${value}\r\n`);

    await until(a, 'request log line of the 404', () =>
      a.lines().find((l) => (l.req as { url?: string } | undefined)?.url === '/nope' && l.res !== undefined),
    );
    expect(a.output()).toContain('[Redacted]');
    expect(a.output()).not.toMatch(/s3cret/);
  });
});
