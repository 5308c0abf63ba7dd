import axios, { type AxiosInstance, type AxiosRequestConfig } from 'axios';

import { AxiosFastPath, createUndiciAdapter } from '../src/axios';
import { httpServer, type FaultyServer } from './helpers/faulty-servers';

/**
 * AxiosFastPath against axios itself: every request is sent both ways over the same instance (the same
 * undici adapter) to a server on 127.0.0.1 that records what reached it, and the two must agree on what
 * the server saw and on what the caller got back (response, or error). Each case also says which way it
 * must have taken: directly, or through `instance.request`.
 */
describe('AxiosFastPath', () => {
  const closers: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  interface Seen {
    method: string;
    url: string;
    headers: Record<string, unknown>;
    body: string;
  }

  /** A server that records each request and answers by path. */
  async function recorder(): Promise<{ server: FaultyServer; seen: Seen[] }> {
    const seen: Seen[] = [];
    const server = await httpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const headers = { ...req.headers };
        seen.push({ method: req.method!, url: req.url!, headers, body });
        const path = req.url!.split('?')[0]!;
        res.setHeader('x-served', 'yes');
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        if (path === '/text') {
          res.setHeader('content-type', 'text/plain');
          res.end('not { json');
        } else if (path === '/empty') {
          res.end();
        } else if (path.startsWith('/status/')) {
          res.statusCode = Number(path.slice('/status/'.length));
          res.setHeader('content-type', 'application/problem+json');
          res.end(JSON.stringify({ status: res.statusCode }));
        } else if (path === '/slow') {
          setTimeout(() => res.end('{}'), 2000).unref();
        } else {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ ok: true, n: [1, 2] }));
        }
      });
    });
    closers.push(() => server.close());
    return { server, seen };
  }

  /** An instance set up as SrvHttpClient's (undici adapter, no redirects or proxy), and its fast path. */
  function instance(config: AxiosRequestConfig = {}): { axios: AxiosInstance; fast: AxiosFastPath } {
    const undici = createUndiciAdapter({
      maxSocketsPerEndpoint: 8,
      connectTimeoutMs: 1000,
      idleSocketTimeoutMs: 4000,
      maxResponseBytes: 65_536,
    });
    if (!undici) throw new Error('undici is a dev dependency of this workspace');
    closers.push(() => undici.close());
    const created = axios.create({
      adapter: undici.adapter,
      allowAbsoluteUrls: false,
      decompress: false,
      maxRedirects: 0,
      maxContentLength: 65_536,
      proxy: false,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: false, forcedJSONParsing: true },
      ...config,
    });
    return { axios: created, fast: new AxiosFastPath(created) };
  }

  /** What a caller can see of a result, with the per-call parts (duration, Date, the signal) set aside. */
  function view(result: { ok: boolean; value: unknown }): unknown {
    const described = (value: unknown): unknown => {
      const r = value as {
        status: number;
        statusText: string;
        data: unknown;
        headers: { toJSON(): Record<string, unknown> };
        config: Record<string, unknown>;
        duration?: unknown;
        request: unknown;
      };
      const headers = { ...r.headers.toJSON() };
      delete headers.date;
      const config = { ...r.config } as Record<string, unknown>;
      config.headers = (config.headers as { toJSON(): unknown }).toJSON();
      config.signal = config.signal === undefined ? 'none' : 'given';
      return {
        status: r.status,
        statusText: r.statusText,
        data: r.data,
        headers,
        headersClass: r.headers.constructor.name,
        config,
        configPrototype: Object.getPrototypeOf(r.config),
        configOwnProperty: typeof r.config.hasOwnProperty,
        duration: typeof r.duration,
        request: r.request,
      };
    };
    if (result.ok) return { ok: described(result.value) };
    const err = result.value as {
      name: string;
      code?: string;
      message: string;
      response?: unknown;
      config?: unknown;
      constructor: { name: string };
      __CANCEL__?: boolean;
    };
    return {
      error: {
        class: err.constructor.name,
        name: err.name,
        code: err.code,
        message: err.message,
        cancel: err.__CANCEL__,
        response: err.response && described(err.response),
      },
    };
  }

  const settle = (p: Promise<unknown>): Promise<{ ok: boolean; value: unknown }> =>
    p.then(
      (value) => ({ ok: true, value }),
      (value: unknown) => ({ ok: false, value }),
    );

  /**
   * Sends `make()` through axios and through the fast path; both must agree, and the fast path must
   * have gone through `instance.request` exactly when `direct` is false.
   */
  async function both(
    make: (base: string) => AxiosRequestConfig & { srvHost?: string },
    { direct, setup = {} }: { direct: boolean; setup?: AxiosRequestConfig },
  ): Promise<{ seen: Seen[]; result: unknown }> {
    const { server, seen } = await recorder();
    const base = `http://127.0.0.1:${server.port}`;
    const { axios: ax, fast } = instance({ baseURL: base, ...setup });
    const viaAxios = view(await settle(ax.request(make(base))));
    const spy = jest.spyOn(ax, 'request');
    const viaFast = view(await settle(fast.request(make(base))));
    expect(spy).toHaveBeenCalledTimes(direct ? 0 : 1);
    spy.mockRestore();
    expect(viaFast).toEqual(viaAxios);
    expect(seen).toHaveLength(seen.length === 0 ? 0 : 2);
    if (seen.length === 2) expect(seen[1]).toEqual(seen[0]);
    return { seen, result: viaFast };
  }

  describe('when a request is plain, then it goes directly and gives what axios gives', () => {
    it.each<[string, AxiosRequestConfig]>([
      ['a GET with a header', { method: 'GET', url: '/v1/whoami', headers: { 'x-request-id': 'r1' } }],
      ['a POST with a JSON body', { method: 'POST', url: '/v1/echo', data: { message: 'hé' } }],
      ['a POST without a body', { method: 'post', url: '/v1/echo' }],
      ['a PUT with an array body', { method: 'put', url: '/v1/items', data: [1, { a: null }] }],
      [
        'a PATCH with a Content-Type and no body',
        { method: 'PATCH', url: '/p', headers: { 'Content-Type': 'text/plain' } },
      ],
      ['a DELETE', { method: 'DELETE', url: '/v1/items/1' }],
      ['no method at all', { url: '/v1/whoami' }],
      ['an Accept of the caller, in another case', { url: '/a', headers: { accept: 'application/xml' } }],
      ['a body on a GET', { method: 'GET', url: '/q', data: { q: 1 } }],
      ['an OPTIONS', { method: 'options', url: '/o' }],
      ['a text answer (kept as text)', { url: '/text' }],
      ['an empty answer', { url: '/empty' }],
      ['a HEAD', { method: 'HEAD', url: '/h' }],
      ['an error status (the body parsed on the error)', { url: '/status/500' }],
      ['a 404', { method: 'POST', url: '/status/404', data: { a: 1 } }],
    ])('%s', async (_, config) => {
      await both(() => ({ ...config }), { direct: true });
    });

    it('when the request carries a signal, an srvHost and its own baseURL, then the same', async () => {
      const { seen } = await both(
        (base) => ({
          url: '/s',
          baseURL: `${base}/api`,
          srvHost: 'service_b.ecs.internal:8080',
          signal: new AbortController().signal,
        }),
        { direct: true },
      );
      expect(seen[0]!.headers.host).toBe('service_b.ecs.internal:8080');
      expect(seen[0]!.url).toBe('/api/s');
    });

    it('when the instance leaves allowAbsoluteUrls unset (as the fixed-URL A does), then the same', async () => {
      await both(() => ({ url: '/x', headers: { 'x-request-id': 'r' } }), {
        direct: true,
        setup: { allowAbsoluteUrls: undefined },
      });
    });

    it('when the body cannot be serialized, then both reject with the same error', async () => {
      const { result, seen } = await both(() => ({ method: 'POST', url: '/x', data: { n: 1n } }), {
        direct: true,
      });
      expect(result).toMatchObject({ error: { class: 'TypeError' } });
      expect(seen).toHaveLength(0);
    });

    it('when the signal aborted before the call, then both reject with CanceledError and send nothing', async () => {
      const { result, seen } = await both(() => ({ url: '/x', signal: AbortSignal.abort() }), {
        direct: true,
      });
      expect(result).toMatchObject({ error: { class: 'CanceledError', code: 'ERR_CANCELED', cancel: true } });
      expect(seen).toHaveLength(0);
    });

    it('when the signal aborts during the call, then both reject the same way', async () => {
      const { result } = await both(() => ({ url: '/slow', signal: AbortSignal.timeout(100) }), {
        direct: true,
      });
      expect(result).toMatchObject({ error: { code: 'ERR_CANCELED' } });
    });
  });

  describe('when axios would do more than merge defaults, then the request goes through axios', () => {
    it.each<[string, AxiosRequestConfig]>([
      ['params', { url: '/p', params: { q: 'a b' } }],
      ['a responseType', { url: '/text', responseType: 'text' }],
      ['a timeout of its own', { url: '/t', timeout: 5000 }],
      ['a header with a number value', { url: '/h', headers: { 'x-n': 5 } }],
      ['a header value with an edge space', { url: '/h', headers: { 'x-a': ' padded' } }],
      [
        'a header name axios reads as a bucket',
        { method: 'GET', url: '/h', headers: { get: 'x' } as unknown as AxiosRequestConfig['headers'] },
      ],
      ['two names for one header', { url: '/h', headers: { 'X-A': '1', 'x-a': '2' } }],
      ['a string body', { method: 'POST', url: '/b', data: '{"a":1}' }],
      ['a Buffer body', { method: 'POST', url: '/b', data: Buffer.from('abc') }],
      ['URLSearchParams', { method: 'POST', url: '/b', data: new URLSearchParams('a=1') }],
      [
        'a JSON body with a Content-Type of the caller',
        {
          method: 'POST',
          url: '/b',
          data: { a: 1 },
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
      ],
      ['headers as AxiosHeaders', { url: '/h', headers: new axios.AxiosHeaders({ 'x-a': '1' }) }],
    ])('%s', async (_, config) => {
      await both(() => ({ ...config }), { direct: false });
    });

    it('when the instance has default params, then through axios', async () => {
      await both(() => ({ url: '/d' }), { direct: false, setup: { params: { v: 1 } } });
    });

    it('when an interceptor is added, then through axios until it is ejected', async () => {
      const { server, seen } = await recorder();
      const { axios: ax, fast } = instance({ baseURL: `http://127.0.0.1:${server.port}` });
      const spy = jest.spyOn(ax, 'request');
      const id = ax.interceptors.request.use((c) => {
        c.headers.set('x-intercepted', 'yes');
        return c;
      });
      await fast.request({ url: '/i' });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(seen[0]!.headers['x-intercepted']).toBe('yes');
      ax.interceptors.request.eject(id);
      await fast.request({ url: '/i' });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(seen[1]!.headers['x-intercepted']).toBeUndefined();
      ax.interceptors.response.use((r) => r);
      await fast.request({ url: '/i' });
      expect(spy).toHaveBeenCalledTimes(2);
    });

    it('when the defaults change after the fast path was made, then every request after goes through axios', async () => {
      const { server, seen } = await recorder();
      const { axios: ax, fast } = instance({ baseURL: `http://127.0.0.1:${server.port}` });
      const spy = jest.spyOn(ax, 'request');
      await fast.request({ url: '/d' });
      expect(spy).toHaveBeenCalledTimes(0);
      ax.defaults.headers.common.Authorization = 'Bearer t';
      await fast.request({ url: '/d' });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(seen[1]!.headers.authorization).toBe('Bearer t');
      delete ax.defaults.headers.common.Authorization;
      ax.defaults.timeout = 1234;
      await fast.request({ url: '/d' });
      expect(spy).toHaveBeenCalledTimes(2);
      ax.defaults.timeout = 0;
      await fast.request({ url: '/d' });
      expect(spy).toHaveBeenCalledTimes(2); // as recorded again: direct
      (ax.defaults.transitional as Record<string, unknown>).silentJSONParsing = true;
      await fast.request({ url: '/d' });
      expect(spy).toHaveBeenCalledTimes(3);
    });

    it('when the instance does not use the undici adapter, then never directly', async () => {
      const { server } = await recorder();
      const ax = axios.create({ baseURL: `http://127.0.0.1:${server.port}`, adapter: 'http', proxy: false });
      const spy = jest.spyOn(ax, 'request');
      const res = await new AxiosFastPath(ax).request<{ ok: boolean }>({ url: '/x' });
      expect(res.data.ok).toBe(true);
      expect(spy).toHaveBeenCalledTimes(1);
    });
  });
});
