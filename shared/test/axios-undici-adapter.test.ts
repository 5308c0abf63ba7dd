import axios, { AxiosError, AxiosHeaders, type AxiosInstance } from 'axios';
import { getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import { UpstreamError } from '../src';

import { createUndiciAdapter } from '../src/axios';
import { httpServer, type FaultyServer } from './helpers/faulty-servers';

/**
 * The undici transport under axios, on its own (SrvHttpClient's behaviour over it is in
 * integrations.test.ts and http-faults.test.ts): what reaches the server, what axios gets back, and how
 * a call ends when it is aborted, too large or refused. Real sockets on 127.0.0.1.
 */
describe('createUndiciAdapter', () => {
  const closers: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function server(handler: Parameters<typeof httpServer>[0]): Promise<FaultyServer> {
    const s = await httpServer(handler);
    closers.push(() => s.close());
    return s;
  }

  /** A server that answers every request with its method, url and headers. */
  function mirror(): Promise<FaultyServer> {
    return server((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.setHeader('x-seen', 'yes');
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
      });
    });
  }

  function client(
    overrides: Partial<Parameters<typeof createUndiciAdapter>[0]> = {},
    config: Parameters<typeof axios.create>[0] = {},
  ): AxiosInstance {
    const undici = createUndiciAdapter({
      maxSocketsPerEndpoint: 8,
      connectTimeoutMs: 1000,
      idleSocketTimeoutMs: 4000,
      maxResponseBytes: 65_536,
      ...overrides,
    });
    if (!undici) throw new Error('undici is a dev dependency of this workspace');
    closers.push(() => undici.close());
    return axios.create({ adapter: undici.adapter, maxRedirects: 0, proxy: false, ...config });
  }

  it('when baseURL has a path and the request has params, then the server sees the URL axios itself builds', async () => {
    const s = await mirror();
    const baseURL = `http://127.0.0.1:${s.port}/api/`;
    const config = { baseURL, url: '/v1/items', params: { q: 'a b&c', n: 2 } };
    const res = await client().request<{ url: string }>(config);
    const expected = new URL(axios.getUri(config));
    expect(res.data.url).toBe(`${expected.pathname}${expected.search}`);
    expect(res.data.url).toMatch(/^\/api\/v1\/items\?q=a\+b%26c&n=2$/);
  });

  it('when baseURL has a path and no params, then the path is base + url as axios joins and URL-normalizes them', async () => {
    const s = await mirror();
    for (const [base, url] of [
      ['/api//', '/v1/x?y=1'],
      ['/api///', 'v1/x'],
      ['/api', '/v1/./x/../y'],
      ['/api', '/v1/a b?c=d e'],
      ['/api', '/%2e%2e/x'],
      ['/api', '/v1/.%2E/x'],
      ['', "/x?a='b'"],
      ['', "/it's"],
      ['/api/', ''],
      ['', ''],
      ['', '/v1'],
    ]) {
      const config = { baseURL: `http://127.0.0.1:${s.port}${base}`, url };
      const expected = new URL(axios.getUri(config));
      const seen = (await client().request<{ url: string }>(config)).data.url;
      expect([base, url, seen]).toEqual([base, url, `${expected.pathname}${expected.search}`]);
    }
  });

  it('when absolute URLs are not allowed, then an absolute url is joined to baseURL and goes nowhere else', async () => {
    const s = await mirror();
    const other = await mirror();
    const http = client({}, { baseURL: `http://127.0.0.1:${s.port}`, allowAbsoluteUrls: false });
    const res = await http.get<{ url: string }>(`http://127.0.0.1:${other.port}/x`);
    expect(res.data.url).toBe(`/http://127.0.0.1:${other.port}/x`);
    expect(other.hits).toBe(0);
  });

  it('when absolute URLs are allowed (axios default), then an absolute url goes where it says', async () => {
    const s = await mirror();
    const other = await mirror();
    const http = client({}, { baseURL: `http://127.0.0.1:${s.port}` });
    expect((await http.get<{ url: string }>(`http://127.0.0.1:${other.port}/x`)).data.url).toBe('/x');
    expect(s.hits).toBe(0);
  });

  it('when axios sends headers and a JSON body, then the server gets them and axios parses the JSON answer', async () => {
    const s = await mirror();
    const res = await client().post<{
      method: string;
      headers: Record<string, string>;
      body: string;
    }>(`http://127.0.0.1:${s.port}/echo`, { message: 'hi' }, { headers: { 'X-Request-Id': 'r-1' } });
    expect(res.status).toBe(200);
    expect(res.data.method).toBe('POST');
    expect(res.data.headers['x-request-id']).toBe('r-1');
    expect(res.data.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.data.body)).toEqual({ message: 'hi' });
    expect(res.headers).toBeInstanceOf(AxiosHeaders);
    expect(res.headers['x-seen']).toBe('yes');
  });

  it('when the answer has repeated and odd-cased headers, then axios sees them as its own http adapter gives them, on success and on error', async () => {
    const s = await server((req, res) => {
      // Repeated headers written raw: Set-Cookie (kept as a list), X-Dup (joined), Content-Type (first).
      res.writeHead(req.url === '/fail' ? 500 : 200, [
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'b=2',
        'X-Dup',
        'a',
        'X-Dup',
        'b',
        'Content-Type',
        'application/json',
        'Content-Type',
        'text/plain',
        'X-MiXeD',
        'Case',
        'X-Empty',
        '',
        'Cookie',
        'a=1',
        'Cookie',
        'b=2',
        req.url === '/fail' ? 'X-Once' : 'Set-Cookie-Once',
        'x',
      ]);
      res.end('{"ok":true}');
    });
    const url = `http://127.0.0.1:${s.port}/h`;
    const ours = await client().get(url);
    const theirs = await axios.get(url, { adapter: 'http', proxy: false, maxRedirects: 0 });
    const comparable = (h: InstanceType<typeof AxiosHeaders>): Record<string, unknown> => {
      const json = h.toJSON() as Record<string, unknown>;
      delete json.date; // the two answers came a moment apart
      return json;
    };
    expect(ours.headers).toBeInstanceOf(AxiosHeaders);
    expect(comparable(ours.headers as InstanceType<typeof AxiosHeaders>)).toEqual(
      comparable(theirs.headers as InstanceType<typeof AxiosHeaders>),
    );
    expect(ours.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(ours.headers['x-dup']).toBe('a, b');
    expect(ours.headers.cookie).toBe('a=1; b=2');
    expect(ours.headers['content-type']).toBe('application/json');
    expect((ours.headers as InstanceType<typeof AxiosHeaders>).get('X-Mixed')).toBe('Case');
    expect(ours.data).toEqual({ ok: true });
    const failed = async (adapter: AxiosInstance) =>
      ((await adapter.get(`http://127.0.0.1:${s.port}/fail`).catch((e: unknown) => e)) as AxiosError)
        .response!;
    const ourError = await failed(client());
    const theirError = await failed(axios.create({ adapter: 'http', proxy: false, maxRedirects: 0 }));
    expect(ourError.status).toBe(500);
    expect(comparable(ourError.headers as InstanceType<typeof AxiosHeaders>)).toEqual(
      comparable(theirError.headers as InstanceType<typeof AxiosHeaders>),
    );
  });

  it('when the answer has one Set-Cookie, then it is still a list', async () => {
    const s = await server((_req, res) => {
      res.setHeader('Set-Cookie', 'sid=abc; Path=/');
      res.end('{}');
    });
    const res = await client().get(`http://127.0.0.1:${s.port}/c`);
    expect(res.headers['set-cookie']).toEqual(['sid=abc; Path=/']);
  });

  it('when the answer has a __proto__ header, then it is a header like any other and the prototype stays', async () => {
    const s = await server((_req, res) => {
      res.setHeader('__proto__', 'p');
      res.end('{}');
    });
    const res = await client().get(`http://127.0.0.1:${s.port}/p`);
    expect((res.headers as InstanceType<typeof AxiosHeaders>).get('__proto__')).toBe('p');
    expect(Object.getPrototypeOf(res.headers)).toBe(AxiosHeaders.prototype);
    expect(res.headers).toBeInstanceOf(AxiosHeaders);
  });

  it('when no Accept-Encoding is given, then identity is asked for; a given one is sent as it is', async () => {
    const s = await mirror();
    const url = `http://127.0.0.1:${s.port}/e`;
    type Seen = { headers: Record<string, string> };
    expect((await client().get<Seen>(url)).data.headers['accept-encoding']).toBe('identity');
    const given = await client().get<Seen>(url, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(given.data.headers['accept-encoding']).toBe('gzip');
    for (const none of [null, false]) {
      const suppressed = await client().get<Seen>(url, { headers: { 'Accept-Encoding': none } });
      expect(suppressed.data.headers['accept-encoding']).toBeUndefined();
    }
  });

  it('when the config carries srvHost, then it is the Host sent, over a Host among the headers', async () => {
    const s = await mirror();
    type Seen = { headers: Record<string, string> };
    const config = { headers: { Host: 'theirs.example:1' }, srvHost: 'task-1.ecs.internal:32768' };
    const res = await client().get<Seen>(`http://127.0.0.1:${s.port}/h`, config);
    expect(res.data.headers.host).toBe('task-1.ecs.internal:32768');
    const without = await client().get<Seen>(`http://127.0.0.1:${s.port}/h`);
    expect(without.data.headers.host).toBe(`127.0.0.1:${s.port}`);
    for (const bad of ['', 1234]) {
      const body = Readable.from(['never read']);
      const err = await client()
        .post(`http://127.0.0.1:${s.port}/h`, body, { srvHost: bad } as object)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AxiosError);
      expect((err as AxiosError).code).toBe(AxiosError.ERR_BAD_OPTION_VALUE);
      expect((err as Error).message).toMatch(/srvHost must be a non-empty/);
      expect(body.destroyed).toBe(true);
    }
    const nullHost = await client().get<Seen>(`http://127.0.0.1:${s.port}/h`, { srvHost: null } as object);
    expect(nullHost.data.headers.host).toBe(`127.0.0.1:${s.port}`);
    expect(s.hits).toBe(3);
  });

  it('when the body comes in many chunks, then it arrives whole', async () => {
    const text = 'x'.repeat(50_000);
    const s = await server((_req, res) => {
      res.setHeader('content-type', 'text/plain');
      for (let i = 0; i < text.length; i += 1000) res.write(text.slice(i, i + 1000));
      res.end();
    });
    const res = await client().get<string>(`http://127.0.0.1:${s.port}/`, { responseType: 'text' });
    expect(res.data).toBe(text);
  });

  it('when the status is not 2xx, then axios gets an AxiosError carrying the response', async () => {
    const s = await server((_req, res) => {
      res.statusCode = 503;
      res.end('{"error":"busy"}');
    });
    const err = (await client()
      .get(`http://127.0.0.1:${s.port}/`)
      .catch((e: unknown) => e)) as AxiosError;
    expect(err).toBeInstanceOf(AxiosError);
    expect(err.code).toBe(AxiosError.ERR_BAD_RESPONSE);
    expect(err.response?.status).toBe(503);
    expect(err.response?.data).toEqual({ error: 'busy' });
  });

  it('when the declared length is over the limit, then the call fails at the headers with ERESPONSETOOLARGE', async () => {
    let wrote = 0;
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-length': String(10_000_000) });
      // Dribble: counting bytes, the client would need ~20 s to pass the limit.
      const timer = setInterval(() => {
        wrote++;
        if (!res.write('x'.repeat(10))) clearInterval(timer);
      }, 200);
      res.on('close', () => clearInterval(timer));
    });
    const started = Date.now();
    const err = await client({ maxResponseBytes: 1000 })
      .get(`http://127.0.0.1:${s.port}/`)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('ERESPONSETOOLARGE');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(wrote).toBeLessThanOrEqual(5);
  });

  it('when a HEAD answer declares a length over the limit, then it succeeds (there is no body)', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-length': '200000' });
      res.end();
    });
    const head = await client({ maxResponseBytes: 1000 }).head(`http://127.0.0.1:${s.port}/`);
    expect([head.status, head.headers['content-length']]).toEqual([200, '200000']);
  });

  it("when axios's maxContentLength is below the adapter's limit, then it is the limit", async () => {
    const s = await server((_req, res) => res.end('x'.repeat(500)));
    const err = await client({ maxResponseBytes: 65_536 }, { maxContentLength: 100 })
      .get(`http://127.0.0.1:${s.port}/`)
      .catch((e: unknown) => e);
    expect((err as UpstreamError).code).toBe('ERESPONSETOOLARGE');
    const ok = await client({ maxResponseBytes: 65_536 }, { maxContentLength: -1 }).get<string>(
      `http://127.0.0.1:${s.port}/`,
    );
    expect(ok.data).toHaveLength(500);
  });

  it("when axios's timeout passes before the answer, then the call fails with axios's timeout error and the socket is closed", async () => {
    const s = await server(() => undefined); // never answers
    const started = Date.now();
    const err = (await client({}, { transitional: { clarifyTimeoutError: true } })
      .get(`http://127.0.0.1:${s.port}/`, { timeout: 200 })
      .catch((e: unknown) => e)) as AxiosError;
    expect(err).toBeInstanceOf(AxiosError);
    expect(err.code).toBe(AxiosError.ETIMEDOUT);
    expect(Date.now() - started).toBeLessThan(2000);
    const until = Date.now() + 3000;
    while ((await s.open()) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(await s.open()).toBe(0);
  });

  it('when validateStatus throws, then the call fails with what it threw instead of hanging', async () => {
    const s = await mirror();
    const boom = new Error('validateStatus exploded');
    const err = await client(
      {},
      {
        validateStatus: () => {
          throw boom;
        },
      },
    )
      .get(`http://127.0.0.1:${s.port}/`)
      .catch((e: unknown) => e);
    expect(err).toBe(boom);
  });

  it('when responseType is arraybuffer, then binary bytes come back untouched, with the status text', async () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80]);
    const s = await server((_req, res) => {
      res.statusMessage = 'Fine Indeed';
      res.end(bytes);
    });
    const res = await client().get<Buffer>(`http://127.0.0.1:${s.port}/`, { responseType: 'arraybuffer' });
    expect(Buffer.compare(Buffer.from(res.data), bytes)).toBe(0);
    expect(res.statusText).toBe('Fine Indeed');
  });

  it('when a chunked body grows past the limit, then the call fails with ERESPONSETOOLARGE', async () => {
    const s = await server((_req, res) => {
      for (let i = 0; i < 100; i++) res.write('y'.repeat(1000));
      res.end();
    });
    const err = await client({ maxResponseBytes: 10_000 })
      .get(`http://127.0.0.1:${s.port}/`)
      .catch((e: unknown) => e);
    expect((err as UpstreamError).code).toBe('ERESPONSETOOLARGE');
  });

  it('when the signal has already aborted, then nothing is sent and the call is cancelled', async () => {
    const s = await mirror();
    const err = await client()
      .get(`http://127.0.0.1:${s.port}/`, { signal: AbortSignal.abort(new Error('gone')) })
      .catch((e: unknown) => e);
    expect(axios.isCancel(err)).toBe(true);
    expect(s.hits).toBe(0);
  });

  it('when the signal aborts while the request waits for a connection, then it fails at once and is never sent', async () => {
    const held: Array<() => void> = [];
    const s = await server((_req, res) => held.push(() => res.end('{}')));
    const http = client({ maxSocketsPerEndpoint: 1 });
    closers.push(() => held.forEach((release) => release())); // before the client closes
    const first = http.get(`http://127.0.0.1:${s.port}/first`);
    const until = Date.now() + 5000;
    while (s.hits === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    expect(s.hits).toBe(1);

    const controller = new AbortController();
    const second = http.get(`http://127.0.0.1:${s.port}/second`, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('deadline')), 50);
    const started = Date.now();
    // axios reports any aborted call as its CanceledError, whatever the adapter rejected with.
    expect(axios.isCancel(await second.catch((e: unknown) => e))).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);

    held.splice(0).forEach((release) => release());
    await first;
    await new Promise((r) => setTimeout(r, 100));
    expect(s.hits).toBe(1); // the aborted request never reached the server
  });

  it('when the signal aborts mid-body, then the call is cancelled at once', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    const controller = new AbortController();
    const call = client().get(`http://127.0.0.1:${s.port}/`, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('caller left')), 100);
    const started = Date.now();
    expect(axios.isCancel(await call.catch((e: unknown) => e))).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('when nothing listens, then the call fails with the socket error undici reports', async () => {
    const s = await mirror();
    const port = s.port;
    await s.close();
    closers.pop();
    const err = (await client()
      .get(`http://127.0.0.1:${port}/`)
      .catch((e: unknown) => e)) as { code?: string };
    expect(err.code).toBe('ECONNREFUSED');
  });

  it('when a long-lived signal serves many calls, then none leaves a listener on it', async () => {
    const s = await mirror();
    const signal = new AbortController().signal;
    const http = client();
    for (let i = 0; i < 50; i++) await http.get(`http://127.0.0.1:${s.port}/`, { signal });
    await http
      .get(`http://127.0.0.1:${s.port}/`, { signal, timeout: 0, validateStatus: () => false })
      .catch(() => undefined);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('when undici refuses a header (upgrade) in its onError path, then the call fails instead of hanging', async () => {
    const s = await mirror();
    const err = await client()
      .get(`http://127.0.0.1:${s.port}/`, { headers: { Upgrade: 'websocket' } })
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('UND_ERR_INVALID_ARG');
    expect(s.hits).toBe(0);
  });
});
