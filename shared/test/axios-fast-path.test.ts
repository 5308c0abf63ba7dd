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
    /** Header names and values in the order they came. */
    raw: string[];
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
        seen.push({ method: req.method!, url: req.url!, headers, raw: req.rawHeaders, body });
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
    const fast = AxiosFastPath.create({
      adapter: undici.adapter,
      allowAbsoluteUrls: false,
      decompress: false,
      maxRedirects: 0,
      maxContentLength: 65_536,
      proxy: false,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: false, forcedJSONParsing: true },
      ...config,
    });
    return { axios: fast.axios, fast };
  }

  /**
   * A config as a caller sees it, key for key in order (undefined values included), its headers in their
   * order and spelling, and the signal only as given or not (each call makes its own).
   */
  function configView(config: Record<string, unknown> | undefined): unknown {
    if (config === undefined) return undefined;
    return {
      prototype: Object.getPrototypeOf(config),
      hasOwnProperty: typeof config.hasOwnProperty,
      entries: Reflect.ownKeys(config).map((key) => {
        const value = config[key as string];
        if (key === 'signal') return [key, value === undefined ? 'none' : 'given'];
        if (key === 'headers') {
          const headers = value as Record<string, unknown>;
          return [key, headers.constructor.name, Object.keys(headers).map((n) => [n, headers[n]])];
        }
        return [key, value];
      }),
    };
  }

  /** What a caller can see of a result, with the per-call parts (duration's value, Date, the signal) set aside. */
  function view(result: { ok: boolean; value: unknown }): unknown {
    const described = (value: unknown): unknown => {
      const r = value as {
        status: number;
        statusText: string;
        data: unknown;
        headers: Record<string, unknown>;
        config: Record<string, unknown>;
        duration?: unknown;
        request: unknown;
      };
      return {
        keys: Object.keys(r),
        status: r.status,
        statusText: r.statusText,
        data: r.data,
        headers: Object.keys(r.headers)
          .filter((n) => n !== 'date')
          .map((n) => [n, r.headers[n]]),
        headersClass: r.headers.constructor.name,
        config: configView(r.config),
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
      config?: Record<string, unknown>;
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
        config: configView(err.config),
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
   * Sends `make()` through axios and through the fast path, over one instance (`setup` among its
   * defaults): both must agree on what reached the server (`reaches`: whether anything did) and on what
   * came back, and the fast path must have gone through `instance.request` exactly when `direct` is false.
   */
  async function both(
    make: (base: string) => AxiosRequestConfig & { srvHost?: string },
    {
      direct,
      setup = {},
      reaches = true,
    }: { direct: boolean; setup?: AxiosRequestConfig; reaches?: boolean },
  ): Promise<{ seen: Seen[]; result: unknown }> {
    const { server, seen } = await recorder();
    const base = `http://127.0.0.1:${server.port}`;
    const { axios: ax, fast } = instance({ baseURL: base, ...setup });
    const viaAxios = view(await settle(ax.request(make(base))));
    const spy = jest.spyOn(ax, 'request');
    const viaFast = view(await settle(fast.request(make(base))));
    expect(spy).toHaveBeenCalledTimes(direct ? 0 : 1);
    spy.mockRestore();
    expect(viaFast).toStrictEqual(viaAxios);
    expect(seen).toHaveLength(reaches ? 2 : 0);
    if (reaches) expect(seen[1]).toStrictEqual(seen[0]);
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
      [
        'a nested JSON body',
        { method: 'POST', url: '/n', data: { a: [1, 'x', null, true, { b: { c: [] } }], d: { e: 1.5 } } },
      ],
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

    it('when the body holds what JSON cannot (a BigInt), then through axios, which rejects', async () => {
      const { result } = await both(() => ({ method: 'POST', url: '/x', data: { n: 1n } }), {
        direct: false,
        reaches: false,
      });
      expect(result).toMatchObject({ error: { class: 'TypeError' } });
    });

    it('when the signal aborted before the call, then both reject with CanceledError and send nothing', async () => {
      const { result } = await both(() => ({ url: '/x', signal: AbortSignal.abort() }), {
        direct: true,
        reaches: false,
      });
      expect(result).toMatchObject({ error: { class: 'CanceledError', code: 'ERR_CANCELED', cancel: true } });
    });

    it('when the signal aborts during the call, then both reject the same way', async () => {
      const { result } = await both(() => ({ url: '/slow', signal: AbortSignal.timeout(100) }), {
        direct: true,
      });
      expect(result).toMatchObject({ error: { code: 'ERR_CANCELED' } });
    });

    it.each<[string, AxiosRequestConfig, AxiosRequestConfig]>([
      [
        'a common default header and a per-method one',
        {
          headers: { common: { Authorization: 'Bearer t' }, post: { 'X-Post': 'p' } },
        } as unknown as AxiosRequestConfig,
        { method: 'POST', url: '/m', data: { a: 1 }, headers: { authorization: 'Bearer caller' } },
      ],
      [
        'nested defaults (proxy-like objects are copied per request)',
        {
          proxy: false,
          env: { FormData: undefined },
          transitional: { clarifyTimeoutError: false },
        } as AxiosRequestConfig,
        { url: '/n' },
      ],
      [
        'allowAbsoluteUrls null in the defaults',
        { allowAbsoluteUrls: null as unknown as boolean },
        { url: '/x' },
      ],
    ])('when the instance has %s, then the same', async (_, setup, config) => {
      await both(() => ({ ...config }), { direct: true, setup });
    });

    it('when a request key is given as undefined, then it is left out as axios leaves it out', async () => {
      await both(() => ({ url: '/u', method: undefined, data: undefined, srvHost: undefined }), {
        direct: true,
      });
    });

    it("when a response's config is changed by the caller, then the next request's is not", async () => {
      const { server } = await recorder();
      const { fast } = instance({ baseURL: `http://127.0.0.1:${server.port}` });
      const first = await fast.request({ url: '/a' });
      (first.config.transitional as Record<string, unknown>).forcedJSONParsing = false;
      (first.config.env as Record<string, unknown>).FormData = 'changed';
      const second = await fast.request({ url: '/a' });
      expect(second.config.transitional!.forcedJSONParsing).toBe(true);
      expect((second.config.env as Record<string, unknown>).FormData).not.toBe('changed');
      expect(second.data).toEqual({ ok: true, n: [1, 2] });
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
      [
        'a header named constructor (axios drops it)',
        { url: '/h', headers: { constructor: 'c' } as unknown as AxiosRequestConfig['headers'] },
      ],
      [
        'a body with keys axios drops, deep down',
        {
          method: 'POST',
          url: '/b',
          data: JSON.parse('{"a":1,"n":{"__proto__":{"x":1},"prototype":2,"ok":true}}') as unknown,
        },
      ],
    ])('%s (the route is what is checked: both sides are axios)', async (_, config) => {
      await both(() => ({ ...config }), { direct: false });
    });

    it.each<[string, () => AxiosRequestConfig]>([
      [
        'an array body with a toJSON of its own',
        () => ({ method: 'POST', url: '/b', data: Object.assign([1, 2], { toJSON: () => 'own' }) }),
      ],
      [
        'a body with a non-enumerable toJSON',
        () => ({
          method: 'POST',
          url: '/b',
          data: Object.defineProperty({ x: 1 }, 'toJSON', { value: () => 'hidden' }),
        }),
      ],
      ['a body holding a Date', () => ({ method: 'POST', url: '/b', data: { at: new Date(0) } })],
      [
        'a body whose nested object has a null-prototype prototype',
        () => ({
          method: 'POST',
          url: '/b',
          data: {
            n: Object.assign(Object.create(Object.create(null) as object) as object, {
              constructor: 'c',
              ok: 1,
            }),
          },
        }),
      ],
      [
        'a body with a counting getter',
        () => {
          let reads = 0;
          return {
            method: 'POST',
            url: '/b',
            data: {
              n: {
                get c() {
                  return ++reads;
                },
              },
            },
          };
        },
      ],
      ['a config behind a Proxy', () => new Proxy({ url: '/p' }, {})],
      [
        'a header with a getter',
        () => ({
          url: '/h',
          headers: {
            get 'x-a'() {
              return 'v';
            },
          },
        }),
      ],
    ])('when the request has %s, then through axios, with what axios gives', async (_, make) => {
      await both(make, { direct: false });
    });

    it('when a body getter throws, then the call is rejected, as by axios, not thrown', async () => {
      const make = (): AxiosRequestConfig => ({
        method: 'POST',
        url: '/b',
        data: {
          get boom(): never {
            throw new Error('getter');
          },
        },
      });
      const { fast } = instance();
      const pending = fast.request(make()); // must not throw here
      await expect(pending).rejects.toThrow('getter');
      await both(make, { direct: false, reaches: false });
    });

    it('when the signal is an object but not an AbortSignal, then through axios (whose adapter refuses it)', async () => {
      await both(() => ({ url: '/s', signal: { aborted: false } as AbortSignal }), {
        direct: false,
        reaches: false,
      });
    });

    it.each<[string, () => AxiosRequestConfig]>([
      ['a non-enumerable key', () => Object.defineProperty({ url: '/x' }, 'method', { value: 'DELETE' })],
      [
        'a getter',
        () =>
          Object.defineProperty({ url: '/x' }, 'data', {
            get: () => ({ at: Date.now() > 0 }),
            enumerable: true,
          }) as AxiosRequestConfig,
      ],
    ])('when the request has %s, then through axios', async (_, make) => {
      await both(make, { direct: false });
    });

    it.each<[string, AxiosRequestConfig, AxiosRequestConfig]>([
      ['default params', { params: { v: 1 } }, { url: '/d' }],
      ['a default header outside the buckets', { headers: { 'X-Default': 'd' } }, { url: '/d' }],
      [
        'a default Content-Type (it decides how a body is sent)',
        {
          headers: { post: { 'Content-Type': 'application/x-www-form-urlencoded' } },
        } as unknown as AxiosRequestConfig,
        { method: 'POST', url: '/d', data: { a: 1, b: 'x y' } },
      ],
      [
        'a default parseReviver',
        { parseReviver: (_k: string, v: unknown) => v } as AxiosRequestConfig,
        { url: '/d' },
      ],
    ])('when the instance has %s, then through axios, with what axios gives', async (_, setup, config) => {
      await both(() => ({ ...config }), { direct: false, setup });
    });

    it('when a non-enumerable allowAbsoluteUrls is added to the defaults, then through axios, which reads it', async () => {
      const { server } = await recorder();
      const { axios: ax, fast } = instance({
        baseURL: `http://127.0.0.1:${server.port}`,
        allowAbsoluteUrls: undefined,
      });
      const spy = jest.spyOn(ax, 'request');
      await fast.request({ url: '/a' });
      expect(spy).toHaveBeenCalledTimes(0);
      Object.defineProperty(ax.defaults, 'allowAbsoluteUrls', { value: false, configurable: true });
      const viaFast = view(await settle(fast.request({ url: '/a' })));
      expect(spy).toHaveBeenCalledTimes(1);
      expect(viaFast).toStrictEqual(view(await settle(ax.request({ url: '/a' }))));
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

    it('when the defaults change after the fast path was made, then through axios while they differ, with what axios gives', async () => {
      const { server } = await recorder();
      const { axios: ax, fast } = instance({ baseURL: `http://127.0.0.1:${server.port}` });
      const defaults = ax.defaults as unknown as Record<string, unknown>;
      const spy = jest.spyOn(ax, 'request');
      /** The fast path's result equals axios's, and which way it went. */
      const check = async (config: AxiosRequestConfig): Promise<'direct' | 'axios'> => {
        const before = spy.mock.calls.length;
        const viaFast = view(await settle(fast.request({ ...config })));
        const way = spy.mock.calls.length === before ? 'direct' : 'axios';
        expect(viaFast).toStrictEqual(view(await settle(ax.request({ ...config }))));
        return way;
      };
      const post = { method: 'POST', url: '/d', data: { a: 1 } };
      expect(await check(post)).toBe('direct');
      ax.defaults.headers.common.Authorization = 'Bearer t';
      expect(await check(post)).toBe('axios');
      delete ax.defaults.headers.common.Authorization;
      ax.defaults.timeout = 1234;
      expect(await check(post)).toBe('axios');
      ax.defaults.timeout = 0;
      expect(await check(post)).toBe('direct'); // as recorded again
      (ax.defaults.transitional as Record<string, unknown>).silentJSONParsing = true;
      expect(await check({ url: '/text' })).toBe('axios');
      (ax.defaults.transitional as Record<string, unknown>).silentJSONParsing = false;
      Object.defineProperty(defaults, 'method', { value: 'put', configurable: true });
      expect(await check({ url: '/d' })).toBe('axios');
      delete defaults.method;
      const proto = Object.getPrototypeOf(defaults) as object;
      Object.setPrototypeOf(defaults, { method: 'delete' });
      expect(await check({ url: '/d' })).toBe('axios');
      Object.setPrototypeOf(defaults, proto);
      expect(await check(post)).toBe('direct');
      // axios's request function keeps the defaults it was made with: so does the fast path.
      ax.defaults = {
        ...ax.defaults,
        headers: { ...ax.defaults.headers, common: { 'X-New': '1' } },
      } as unknown as typeof ax.defaults;
      expect(await check(post)).toBe('direct');
    });

    it('when the instance does not use the undici adapter, then never directly', async () => {
      const { server } = await recorder();
      const fast = AxiosFastPath.create({
        baseURL: `http://127.0.0.1:${server.port}`,
        adapter: 'http',
        proxy: false,
      });
      const spy = jest.spyOn(fast.axios, 'request');
      const res = await fast.request<{ ok: boolean }>({ url: '/x' });
      expect(res.data.ok).toBe(true);
      expect(spy).toHaveBeenCalledTimes(1);
    });

    it('when it is constructed other than by create, then a TypeError (it must see the defaults axios holds)', () => {
      const Ctor = AxiosFastPath as unknown as new (instance: unknown) => AxiosFastPath;
      expect(() => new Ctor(axios.create())).toThrow(/AxiosFastPath.create/);
    });
  });
});
