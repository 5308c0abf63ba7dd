import { gzipSync } from 'node:zlib';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, pollUntil, type ServiceA, type Task } from './harness/cluster';
import { rawRequest, request, type HttpResult } from './harness/http';
import { report } from './harness/report';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** What a leaked stack trace or internal path looks like in a body. */
const LEAK = /\n\s+at |node_modules|\/dist\/|\.ts:\d+|\.js:\d+/;

/** Asserts an RFC 9457 answer with `status`, and no stack trace. */
function expectProblem(res: Pick<HttpResult, 'status' | 'headers' | 'text' | 'json'>, status: number): void {
  expect({ status: res.status, body: res.text.slice(0, 300) }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
  expect(res.text).not.toMatch(LEAK);
}

/*
 * Hostile HTTP against the real processes: B tasks and A found through BIND. Each case is sent to A's
 * `POST /api/echo` and to a B task's `POST /v1/echo` directly.
 */
describe('hostile HTTP input against the real services', () => {
  let cluster: Cluster;
  let a: ServiceA;
  let tasks: Task[];
  let targets: Array<{ name: string; url: string; echo: string; whoami: string }>;
  const checked: Record<string, number> = {};
  const count = (what: string, n = 1): void => {
    checked[what] = (checked[what] ?? 0) + n;
  };

  beforeAll(async () => {
    cluster = await Cluster.start('hostile-http');
    tasks = await cluster.launchTasks(2, { drainDelayMs: 0 });
    a = await cluster.startServiceA('service-a');
    await cluster.converge(a);
    targets = [
      { name: 'A', url: a.url, echo: '/api/echo', whoami: '/api/whoami' },
      { name: 'B', url: tasks[0]!.url, echo: '/v1/echo', whoami: '/v1/whoami' },
    ];
  }, 60_000);

  afterAll(async () => {
    report('hostile HTTP', undefined, { checked });
    await cluster?.close();
  }, 30_000);

  /**
   * Requests every B task logged so far (pino-http logs a request once its response has finished, so
   * this waits a moment for the last lines).
   */
  const bLogged = async (): Promise<number[]> => {
    await sleep(300);
    return tasks.map((t) => t.proc.jsonLines().filter((l) => l.req !== undefined).length);
  };

  it('when bodies are malformed, mistyped, too large or carry missing, extra or oversized fields, then each gets the right 4xx problem and A forwards none of them', async () => {
    const big = JSON.stringify({ message: 'a'.repeat(200 * 1024) });
    const json = { 'content-type': 'application/json' };
    const cases: Array<{
      what: string;
      body: string | Buffer;
      headers?: Record<string, string>;
      status: number;
      field?: string;
    }> = [
      { what: 'truncated JSON', body: '{"message": "hi"', headers: json, status: 400 },
      { what: 'trailing garbage', body: '{"message":"hi"}x', headers: json, status: 400 },
      { what: 'single quotes', body: "{'message':'hi'}", headers: json, status: 400 },
      { what: 'top-level null', body: 'null', headers: json, status: 400 },
      { what: 'top-level string', body: '"hi"', headers: json, status: 400 },
      { what: 'top-level array', body: '[{"message":"hi"}]', headers: json, status: 400 },
      { what: 'empty object', body: '{}', headers: json, status: 400, field: 'message' },
      { what: 'empty message', body: '{"message":""}', headers: json, status: 400, field: 'message' },
      { what: 'number message', body: '{"message":42}', headers: json, status: 400, field: 'message' },
      { what: 'array message', body: '{"message":["a"]}', headers: json, status: 400, field: 'message' },
      {
        what: 'object message',
        body: '{"message":{"$gt":""}}',
        headers: json,
        status: 400,
        field: 'message',
      },
      {
        what: 'oversized message',
        body: JSON.stringify({ message: 'x'.repeat(1025) }),
        headers: json,
        status: 400,
        field: 'message',
      },
      {
        what: 'extra field',
        body: '{"message":"hi","url":"http://169.254.169.254/"}',
        headers: json,
        status: 400,
      },
      {
        what: '__proto__',
        body: '{"message":"hi","__proto__":{"polluted":true}}',
        headers: json,
        status: 400,
      },
      {
        what: 'constructor',
        body: '{"message":"hi","constructor":{"prototype":{"polluted":true}}}',
        headers: json,
        status: 400,
      },
      { what: 'unicode key', body: '{"messagé":"hi"}', headers: json, status: 400 },
      {
        what: 'deep nesting',
        body: `{"message":"x","a":${'['.repeat(30_000)}${']'.repeat(30_000)}}`,
        headers: json,
        status: 400,
      },
      {
        what: 'text/plain',
        body: '{"message":"hi"}',
        headers: { 'content-type': 'text/plain' },
        status: 415,
      },
      {
        what: 'form',
        body: 'message=hi',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        status: 415,
      },
      { what: 'no content type', body: '{"message":"hi"}', status: 415 },
      {
        what: 'latin1 charset',
        body: '{"message":"hi"}',
        headers: { 'content-type': 'application/json; charset=latin1' },
        status: 415,
      },
      {
        what: 'unknown encoding',
        body: '{"message":"hi"}',
        headers: { ...json, 'content-encoding': 'x-evil' },
        status: 415,
      },
      { what: 'over the limit', body: big, headers: json, status: 413 },
      {
        what: 'gzip bomb over the limit',
        body: gzipSync(big),
        headers: { ...json, 'content-encoding': 'gzip' },
        status: 413,
      },
    ];
    for (const target of targets) {
      const before = await bLogged();
      for (const c of cases) {
        const res = await request(`${target.url}${target.echo}`, {
          method: 'POST',
          body: c.body,
          headers: c.headers ?? {},
        });
        try {
          expectProblem(res, c.status);
          if (c.field)
            expect((res.json as { errors?: Array<{ field: string }> }).errors).toContainEqual(
              expect.objectContaining({ field: c.field }),
            );
        } catch (err) {
          throw new Error(`${target.name} ${c.what}: ${(err as Error).message}`);
        }
        count('bodies');
      }
      // B logged only the cases sent to it directly: A forwarded none.
      const after = await bLogged();
      const seen = after.map((n, i) => n - before[i]!);
      expect(seen).toEqual(target.name === 'A' ? [0, 0] : [cases.length, 0]);
    }
    // Nothing was polluted: a plain object on B still has no such property in what it answers.
    const res = await request(`${a.url}/api/echo`, { method: 'POST', body: { message: 'after' } });
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('polluted');
  });

  it('when a gzip body is not gzip, then the answer is a 400 problem, not a 500', async () => {
    // body-parser raises a zlib error (status 400, no `type`) that the error middleware does not map.
    for (const target of targets) {
      const res = await request(`${target.url}${target.echo}`, {
        method: 'POST',
        body: 'this is not gzip',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
      try {
        expectProblem(res, 400);
      } catch (err) {
        throw new Error(`${target.name}: ${(err as Error).message}`);
      }
      count('bad gzip');
    }
  });

  it('when the message is any unicode, then it makes the round trip A → B → A unchanged', async () => {
    const messages = [
      'héllo wörld',
      '👩‍👩‍👧‍👦 family, 🏳️‍🌈 flag',
      'e\u0301 combining, \u200b zero width, \u202e RTL override',
      '\ud800 lone surrogate',
      '\u0000 NUL and \u001b[31m ANSI',
      '﷽'.repeat(100),
      '𝔘'.repeat(512), // 1024 UTF-16 code units: the limit
    ];
    for (const message of messages) {
      const res = await request(`${a.url}/api/echo`, { method: 'POST', body: { message } });
      expect(res.status).toBe(200);
      expect((res.json as { servedBy: { message: string } }).servedBy.message).toBe(message);
      count('unicode');
    }
  });

  it('when x-request-id is valid it is echoed and forwarded to B; when huge or malicious it is replaced', async () => {
    const good = `e2e-${Date.now()}.check:ok_1`;
    const res = await request(`${a.url}/api/whoami`, { headers: { 'x-request-id': good } });
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe(good);
    const servedBy = tasks.find(
      (t) => t.id === (res.json as { servedBy: { instance: string } }).servedBy.instance,
    )!;
    // B logs the id it got from A (pino-http writes the line just after the response).
    const forwarded = await pollUntil(
      async () => (servedBy.proc.log().includes(`"id":"${good}"`) ? true : undefined),
      3000,
      50,
    );
    expect(forwarded).toBe(true);
    count('x-request-id');

    const bad = [
      'a'.repeat(129),
      'x'.repeat(8000),
      '<script>alert(1)</script>',
      '../../etc/passwd',
      '${jndi:ldap://127.0.0.1:1/a}',
      'id with spaces',
      'a\tb',
      "'; DROP TABLE logs; --",
      Buffer.from('caf\xe9', 'latin1').toString('latin1'), // obs-text byte
    ];
    for (const target of targets) {
      for (const id of bad) {
        const r = await request(`${target.url}${target.whoami}`, { headers: { 'x-request-id': id } });
        expect(r.status).toBe(200);
        expect(r.headers['x-request-id']).toMatch(UUID);
        expect(r.text).not.toContain(id);
        count('x-request-id');
      }
      // Two headers (joined by node as "a, b") are not one valid id either.
      const twice = await rawRequest(
        new URL(target.url).hostname,
        Number(new URL(target.url).port),
        `GET ${target.whoami} HTTP/1.1\r\nHost: x\r\nx-request-id: a\r\nx-request-id: b\r\nConnection: close\r\n\r\n`,
      );
      expect(twice.status).toBe(200);
      expect(/x-request-id: (.*)\r?$/im.exec(twice.head)?.[1]?.trim()).toMatch(UUID);
    }
  });

  it('when routes are unknown or methods wrong, then 404 / 405 problems with Allow, and nothing reaches B', async () => {
    const before = await bLogged();
    const notFound: Array<[string, string]> = [
      ['A', '/nope'],
      ['A', '/api'],
      ['A', '/api/whoami/extra'],
      ['A', '/v1/whoami'],
      ['A', '/api/%2e%2e/v1/whoami'],
      ['A', '/api/whoami%00'],
      ['A', '/api/whoami%2f..%2f..%2fv1%2fecho'],
      ['A', `/${'a'.repeat(4000)}`],
      ['B', '/nope'],
      ['B', '/api/whoami'],
      ['B', '/v1'],
    ];
    for (const [name, path] of notFound) {
      const url = name === 'A' ? a.url : tasks[1]!.url;
      const res = await request(`${url}${path}`);
      expectProblem(res, 404);
      count('routes');
    }
    const wrong: Array<[string, string, string, string]> = [
      ['A', 'DELETE', '/api/whoami', 'GET'],
      ['A', 'PUT', '/api/whoami', 'GET'],
      ['A', 'PATCH', '/api/echo', 'POST'],
      ['A', 'GET', '/api/echo', 'POST'],
      ['A', 'OPTIONS', '/api/echo', 'POST'],
      ['A', 'TRACE', '/api/whoami', 'GET'],
      ['A', 'POST', '/discovery', 'GET'],
      ['B', 'POST', '/v1/whoami', 'GET'],
      ['B', 'GET', '/v1/echo', 'POST'],
      ['B', 'DELETE', '/v1/echo', 'POST'],
    ];
    for (const [name, method, path, allow] of wrong) {
      const url = name === 'A' ? a.url : tasks[1]!.url;
      const res = await request(`${url}${path}`, { method });
      expectProblem(res, 405);
      expect(res.headers.allow).toBe(allow);
      count('methods');
    }
    // A forwarded none of its 404/405s: task 0 saw nothing, task 1 only what was sent to it directly.
    const after = await bLogged();
    expect(after[0]! - before[0]!).toBe(0);
    expect(after[1]! - before[1]!).toBe(
      notFound.filter(([n]) => n === 'B').length + wrong.filter(([n]) => n === 'B').length,
    );
  });

  it('when the HTTP parser itself rejects a request (oversized header, control characters, unknown method), then the answer is still a 4xx problem+json', async () => {
    const results: Record<string, string> = {};
    for (const target of targets) {
      const { hostname, port } = new URL(target.url);
      const raws: Array<[string, string]> = [
        [
          '20 kB x-request-id',
          `GET ${target.whoami} HTTP/1.1\r\nHost: x\r\nx-request-id: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
        ],
        [
          'control character in a header',
          `GET ${target.whoami} HTTP/1.1\r\nHost: x\r\nx-request-id: a\x01b\r\nConnection: close\r\n\r\n`,
        ],
        ['unknown method', `BREW ${target.whoami} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      ];
      for (const [what, raw] of raws) {
        const res = await rawRequest(hostname, Number(port), raw);
        results[`${target.name} ${what}`] =
          `${res.status} ${/content-type: ([^\r\n]*)/i.exec(res.head)?.[1] ?? '(no content-type)'} body ${res.body.length} B`;
        count('parser');
      }
    }
    process.stdout.write(`[e2e] parser-level rejections: ${JSON.stringify(results)}\n`);
    const bare = Object.entries(results).filter(
      ([, outcome]) => !/^4\d\d application\/problem\+json/.test(outcome),
    );
    expect(bare).toEqual([]);
  });

  it('when responses go out, then they carry security headers and no x-powered-by', async () => {
    const samples = [
      await request(`${a.url}/api/whoami`),
      await request(`${a.url}/nope`),
      await request(`${a.url}/api/echo`, {
        method: 'POST',
        body: '{',
        headers: { 'content-type': 'application/json' },
      }),
      await request(`${tasks[0]!.url}/v1/whoami`),
      await request(`${tasks[0]!.url}/nope`),
    ];
    for (const res of samples) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options'] ?? res.headers['content-security-policy']).toMatch(
        /DENY|frame-ancestors 'none'/,
      );
      expect(res.headers['x-powered-by']).toBeUndefined();
      count('security headers');
    }
  });

  it('when a caller tries to steer A elsewhere (absolute URLs, Host, forwarding headers, query, path tricks, CONNECT), then A only ever calls B on its fixed paths', async () => {
    let canaryHits = 0;
    const canary = net.createServer((socket) => {
      canaryHits++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    const canaryPort = (canary.address() as net.AddressInfo).port;
    const elsewhere = `127.0.0.1:${canaryPort}`;
    await sleep(300); // the previous test's last log lines (pino-http logs after the response)
    const before = tasks.map((t) => t.proc.jsonLines().length);
    try {
      const aPort = Number(new URL(a.url).port);
      const raws = [
        `GET http://${elsewhere}/api/whoami HTTP/1.1\r\nHost: ${elsewhere}\r\nConnection: close\r\n\r\n`,
        `GET http://${elsewhere}/ HTTP/1.1\r\nHost: ${elsewhere}\r\nConnection: close\r\n\r\n`,
        `GET //${elsewhere}/api/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        `CONNECT ${elsewhere} HTTP/1.1\r\nHost: ${elsewhere}\r\nConnection: close\r\n\r\n`,
      ];
      for (const raw of raws) {
        const res = await rawRequest('127.0.0.1', aPort, raw, 3000);
        expect(res.body).not.toMatch(LEAK);
        count('open proxy');
      }
      const steer = {
        Host: elsewhere,
        'X-Forwarded-Host': elsewhere,
        'X-Forwarded-Port': String(canaryPort),
        'X-Forwarded-Proto': 'http',
        Forwarded: `host=${elsewhere};proto=http`,
        'X-Original-URL': `http://${elsewhere}/`,
        'X-Rewrite-URL': `http://${elsewhere}/`,
      };
      const queries = [
        `/api/whoami?url=http://${elsewhere}/&host=127.0.0.1&port=${canaryPort}&path=/admin`,
        `/api/whoami?baseURL=http://${elsewhere}`,
        '/api/whoami',
      ];
      for (const q of queries) {
        const res = await request(`${a.url}${q}`, { headers: steer });
        expect(res.status).toBe(200);
        expect(tasks.map((t) => t.key)).toContain((res.json as { endpoint: string }).endpoint);
        count('open proxy');
      }
      const echo = await request(`${a.url}/api/echo`, {
        method: 'POST',
        headers: steer,
        body: { message: `http://${elsewhere}/steal` },
      });
      expect(echo.status).toBe(200);
      const withUrl = await request(`${a.url}/api/echo`, {
        method: 'POST',
        body: { message: 'x', url: `http://${elsewhere}/`, baseURL: `http://${elsewhere}/` },
      });
      expectProblem(withUrl, 400);
      count('open proxy', 2);

      expect(canaryHits).toBe(0);
      await sleep(300); // pino-http's last lines
      // What B saw from A during this test: only its two fixed routes.
      const paths = tasks.flatMap((t, i) =>
        t.proc
          .jsonLines()
          .slice(before[i])
          .map((l) => (l.req as { url?: string } | undefined)?.url)
          .filter((u): u is string => u !== undefined),
      );
      expect(paths.length).toBeGreaterThan(0);
      for (const p of paths) expect(['/v1/whoami', '/v1/echo']).toContain(p);
    } finally {
      await new Promise<void>((resolve) => canary.close(() => resolve()));
    }
  });

  it('after all of it, both services are alive and ready, A still sees the same tasks, and nothing was logged as an unhandled error but the known bad-gzip case', async () => {
    for (const url of [a.url, ...tasks.map((t) => t.url)]) {
      expect((await request(`${url}/readyz`)).status).toBe(200);
    }
    const view = await a.discovery();
    expect(view?.endpoints.map((e) => e.key).sort()).toEqual(tasks.map((t) => t.key).sort());
    for (const p of [a.proc, ...tasks.map((t) => t.proc)]) {
      expect(p.running).toBe(true);
      const unhandled = p
        .jsonLines()
        .filter((l) => l.msg === 'unhandled error')
        .filter((l) => (l.err as { code?: string } | undefined)?.code !== 'Z_DATA_ERROR');
      expect(unhandled).toEqual([]);
    }
  });
});
