import axios, {
  AxiosError,
  AxiosHeaders,
  type AxiosAdapter,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import { UpstreamError } from '../upstream';

/** Settings of the undici transport under axios. */
export interface UndiciAdapterOptions {
  /** Connections per endpoint. */
  maxSocketsPerEndpoint: number;
  /** Connect timeout, ms (`UND_ERR_CONNECT_TIMEOUT` counts as a connection failure). */
  connectTimeoutMs: number;
  /** Idle keep-alive sockets are closed after this long (and sooner when the server's `Keep-Alive` says so). */
  idleSocketTimeoutMs: number;
  /** Largest response body read; past it the exchange is cut and fails as `ERESPONSETOOLARGE`. */
  maxResponseBytes: number;
}

/** Where a request goes in undici's terms. */
interface Target {
  origin: string;
  /** host[:port] of the origin, for error messages. */
  host: string;
  path: string;
}

/** A baseURL taken apart once: origin, host for messages, and its path as written. */
interface Base {
  origin: string;
  host: string;
  path: string;
}

/**
 * A request config key (a string: axios keeps it through its config merge) whose value the adapter sends
 * as the `Host` header, over any `Host` among the headers. SrvHttpClient's way to name the SRV target.
 */
export const SRV_HOST = 'srvHost';

/** Parsed base URLs (one per endpoint in practice); cleared when it grows past this many. */
const BASE_CACHE_LIMIT = 1024;
/** axios's test for an absolute URL (a scheme, or protocol-relative `//`). */
const ABSOLUTE_URL = /^([a-z][a-z\d+\-.]*:)?\/\//i;
/**
 * Characters URL parsing leaves as they are in a path and query (no spaces, quotes, `'`, `\\`, `#`…:
 * `'` is kept in a path but percent-encoded in a query, so it takes the slow path everywhere).
 */
const SAFE_PATH = /^[A-Za-z0-9\-._~!$&()*+,;=:@%/?]*$/;
/** `.` or `..` segments, literal or percent-encoded (`%2e`), which URL parsing would resolve. */
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|\?|$)/i;

/** `http(s)://authority/path` with no query or fragment; null for anything else (slow path). */
function parseBase(baseURL: string): Base | null {
  const m = /^(https?:\/\/[^/?#\\]+)([^?#\\]*)$/i.exec(baseURL);
  if (!m) return null;
  try {
    const parsed = new URL(baseURL);
    return { origin: parsed.origin, host: parsed.host, path: m[2] ?? '' };
  } catch {
    return null; // the slow path reports it as axios would
  }
}

/**
 * An axios adapter on undici: the request axios built (headers, serialized body) is dispatched on
 * undici's `Agent` (a keep-alive pool per origin, no redirects, no proxy) with a handler that collects
 * the body up to the size limit, and the answer is handed back for axios to parse and check as usual.
 * axios stays the API. Why a raw dispatch handler rather than `Agent#request`: `request` wraps every
 * body in a Readable stream, and axios's own http adapter (a stream pipeline per response, follow-redirects
 * aside) costs more CPU per call than the rest of A's request; `npm run bench` shows the difference as
 * `axiosRatio`. Returns undefined when undici (an optional peer) is not installed, and the client then
 * keeps axios's http adapter.
 *
 * Requests with `params`, an absolute `url`, no `baseURL` or a path URL parsing would change fall back to
 * axios's own URL building (`getUri`); anything else costs no URL parsing per request.
 *
 * Of axios's request config it honours `url`, `baseURL`, `params`, `paramsSerializer`,
 * `allowAbsoluteUrls`, `method`, `headers`, `data` (string, Buffer, typed array, stream), `signal`,
 * `timeout` (the whole exchange), `maxContentLength` (only below the adapter's own `maxResponseBytes`; past
 * either the call fails with an UpstreamError `ERESPONSETOOLARGE`), `validateStatus` and `responseType`
 * `arraybuffer` (a Buffer; any other type gets the body as a UTF-8 string for axios to parse). It ignores
 * `auth` and credentials in the URL (set `Authorization` yourself), `cancelToken` (use `signal`),
 * `timeoutErrorMessage`,
 * proxies, redirects, decompression and `FormData` bodies; array header values are joined with `, `.
 * It never decompresses: without an `Accept-Encoding` among the headers it sends `identity` (one set to
 * null or false sends none, as axios's http adapter does).
 */
export function createUndiciAdapter(
  options: UndiciAdapterOptions,
): { adapter: AxiosAdapter; close: () => Promise<void> } | undefined {
  let undici: typeof import('undici');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional peer, loaded only here
    undici = require('undici') as typeof import('undici');
  } catch {
    return undefined;
  }
  const agent: UndiciAgent = new undici.Agent({
    connections: options.maxSocketsPerEndpoint,
    keepAliveTimeout: options.idleSocketTimeoutMs,
    keepAliveMaxTimeout: options.idleSocketTimeoutMs,
    connect: { timeout: options.connectTimeoutMs },
    // The deadline is the caller's (one signal for the whole exchange): no separate undici timers.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const bases = new Map<string, Base | null>();

  const targetOf = (config: InternalAxiosRequestConfig): Target => {
    const url = config.url ?? '';
    const { baseURL } = config;
    const fast =
      config.params === undefined &&
      baseURL !== undefined &&
      baseURL !== '' &&
      !(ABSOLUTE_URL.test(url) && config.allowAbsoluteUrls !== false);
    let base = fast ? bases.get(baseURL) : null;
    if (fast && base === undefined) {
      base = parseBase(baseURL);
      if (bases.size >= BASE_CACHE_LIMIT) bases.clear();
      bases.set(baseURL, base);
    }
    if (base) {
      // axios's combineURLs: the base less its trailing slashes, '/', the url less its leading ones.
      const path = url ? `${base.path.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}` : base.path;
      // Taken as it is only when WHATWG URL parsing (what axios's http adapter sends) would not change it.
      if (SAFE_PATH.test(path) && !DOT_SEGMENT.test(path)) {
        return { origin: base.origin, host: base.host, path: path || '/' };
      }
    }
    const full = new URL(axiosUri(config));
    return { origin: full.origin, host: full.host, path: `${full.pathname}${full.search}` };
  };

  const adapter: AxiosAdapter = (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
    const { origin, host, path } = targetOf(config);
    // What AxiosHeaders#toJSON(true) gives, in one pass: its own keys are the header names.
    const headers: Record<string, string> = {};
    const given = (config.headers ?? {}) as unknown as Record<string, unknown>;
    let encodingSuppressed = false;
    for (const key of Object.keys(given)) {
      const value = given[key];
      if (value === undefined || value === null || value === false) {
        // axios's way to send a header not at all, Accept-Encoding included.
        if (value !== undefined && key.toLowerCase() === 'accept-encoding') encodingSuppressed = true;
        continue;
      }
      headers[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    // The Host SrvHttpClient sends (the SRV target), handed over beside axios's headers: every header
    // axios carries costs it a merge, a concat and two O(n²) normalizations per call (measured: the Host
    // header alone was ~2.5 % of A's CPU per request).
    const srvHost = (config as { [SRV_HOST]?: unknown })[SRV_HOST];
    if (srvHost !== undefined && srvHost !== null) {
      if (typeof srvHost !== 'string' || srvHost === '') {
        discardBody(config.data);
        const message = `${SRV_HOST} must be a non-empty host[:port] string`;
        return Promise.reject(new AxiosError(message, AxiosError.ERR_BAD_OPTION_VALUE, config));
      }
      headers.host = srvHost;
    }
    // The adapter never decompresses, so unless told otherwise it asks for no compression itself (one
    // header fewer for axios to carry).
    if (!encodingSuppressed) headers['accept-encoding'] ??= 'identity';
    const method = (config.method ?? 'get').toUpperCase() as Dispatcher.HttpMethod;
    // axios's maxContentLength (-1: none) can only lower the transport's own limit.
    const wanted = config.maxContentLength;
    const limit =
      typeof wanted === 'number' && wanted > -1
        ? Math.min(wanted, options.maxResponseBytes)
        : options.maxResponseBytes;
    return new Promise<AxiosResponse>((resolve, reject) => {
      const handler = new CollectingHandler({
        limit,
        bodyless: method === 'HEAD',
        signal: config.signal as AbortSignal | undefined,
        // A timeout a timer cannot hold (Infinity, NaN, ≥ 2³¹ ms) is no timeout.
        timeoutMs: Number.isInteger(config.timeout) && config.timeout! < 2 ** 31 ? config.timeout! : 0,
        timeoutError: () =>
          new AxiosError(
            `timeout of ${config.timeout}ms exceeded`,
            config.transitional?.clarifyTimeoutError ? AxiosError.ETIMEDOUT : AxiosError.ECONNABORTED,
            config,
          ),
        where: () => `${String(headers.host ?? host)} (${host})`,
        host,
        done: (status, statusText, resHeaders, body) => {
          const response: AxiosResponse = {
            data: config.responseType === 'arraybuffer' ? body : body.toString('utf8'),
            status,
            statusText,
            headers: responseHeaders(resHeaders),
            config,
            request: {},
          };
          const validate = config.validateStatus;
          if (!validate || validate(status)) {
            resolve(response);
            return;
          }
          reject(
            new AxiosError(
              `Request failed with status code ${status}`,
              // axios's settle: 4xx a bad request, anything else it refuses a bad response.
              status >= 400 && status < 500 ? AxiosError.ERR_BAD_REQUEST : AxiosError.ERR_BAD_RESPONSE,
              config,
              response.request,
              response,
            ),
          );
        },
        failed: reject,
      });
      if (handler.settled) {
        discardBody(config.data); // the signal had already aborted: nothing will read it
        return;
      }
      try {
        agent.dispatch(
          { origin, path, method, headers, body: (config.data as string | Buffer | undefined) ?? null },
          handler,
        );
      } catch (err) {
        handler.fail(err);
      }
    });
  };
  UNDICI_ADAPTERS.add(adapter);
  return { adapter, close: () => agent.close() };
}

/** The adapters createUndiciAdapter made (AxiosFastPath calls only these directly). */
const UNDICI_ADAPTERS = new WeakSet<AxiosAdapter>();

/** Whether `adapter` is one createUndiciAdapter made. */
export function isUndiciAdapter(adapter: unknown): boolean {
  return typeof adapter === 'function' && UNDICI_ADAPTERS.has(adapter as AxiosAdapter);
}

/**
 * Repeated response headers Node (and so axios's http adapter) keeps only the first of; others but
 * Set-Cookie it joins with `, ` (`IncomingMessage#headers`).
 */
const FIRST_ONLY = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/**
 * The response's headers as AxiosHeaders, copied as undici parsed them (names lower-cased, values
 * strings, arrays for repeated ones, merged here as Node merges them: Set-Cookie always a list, Cookie
 * joined with `; `, others joined with `, ` or the first kept): axios normalizes them itself
 * (values sanitized, names trimmed) in transformData, before anyone sees them, so `set`'s per-header
 * lookups would only repeat that work. A `__proto__` header goes through `set`, which keeps it out of
 * the prototype.
 */
function responseHeaders(parsed: Record<string, string | string[]>): InstanceType<typeof AxiosHeaders> {
  if (Object.hasOwn(parsed, '__proto__')) {
    const merged = Object.create(null) as Record<string, string | string[]>;
    for (const name of Object.keys(parsed)) merged[name] = mergeRepeated(name, parsed[name]!);
    return new AxiosHeaders(merged);
  }
  const headers = new AxiosHeaders() as InstanceType<typeof AxiosHeaders> & Record<string, unknown>;
  for (const name of Object.keys(parsed)) headers[name] = mergeRepeated(name, parsed[name]!);
  return headers;
}

/** One response header's value as Node gives it (see FIRST_ONLY). */
function mergeRepeated(name: string, value: string | string[]): string | string[] {
  if (name === 'set-cookie') return Array.isArray(value) ? value : [value];
  if (!Array.isArray(value)) return value;
  return FIRST_ONLY.has(name) ? value[0]! : value.join(name === 'cookie' ? '; ' : ', ');
}

/** A stream body no request will read is destroyed (its file or socket released), as axios's adapter does. */
function discardBody(data: unknown): void {
  const stream = data as { destroy?: unknown; pipe?: unknown } | null | undefined;
  if (stream && typeof stream.pipe === 'function' && typeof stream.destroy === 'function') {
    (stream.destroy as () => void).call(stream);
  }
}

/** axios's own URL for a request (base, url, params, paramsSerializer, allowAbsoluteUrls). */
function axiosUri(config: InternalAxiosRequestConfig): string {
  return axios.getUri({
    baseURL: config.baseURL,
    url: config.url,
    params: config.params as unknown,
    paramsSerializer: config.paramsSerializer,
    allowAbsoluteUrls: config.allowAbsoluteUrls,
  });
}

/** What a CollectingHandler needs to know about its request. */
interface CollectingOptions {
  /** Largest body kept, bytes. */
  limit: number;
  /** A HEAD request: its answer has no body, whatever its Content-Length says. */
  bodyless: boolean;
  signal: AbortSignal | undefined;
  /** axios's `timeout` (0: none), here for the whole exchange (axios's http adapter: connect, then idle). */
  timeoutMs: number;
  timeoutError: () => Error;
  /** "name (address)" for messages, built only when needed. */
  where: () => string;
  host: string;
  done: (
    status: number,
    statusText: string,
    headers: Record<string, string | string[]>,
    body: Buffer,
  ) => void;
  failed: (err: unknown) => void;
}

/**
 * undici dispatch handler that keeps the whole body in memory up to `limit` bytes. Settles once: with
 * the answer (or whatever building it threw), with undici's error, with the caller's abort reason (at
 * once, even while the request still waits for a connection), at axios's `timeout`, or with
 * ERESPONSETOOLARGE (at the head already when a body is expected and its declared length is over).
 */
class CollectingHandler implements Dispatcher.DispatchHandler {
  settled = false;
  private controller?: Dispatcher.DispatchController;
  private status = 0;
  private statusText = '';
  private headers: Record<string, string | string[]> = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly onAbort?: () => void;
  private readonly timer?: NodeJS.Timeout;

  constructor(private readonly o: CollectingOptions) {
    const { signal } = o;
    if (signal?.aborted) {
      this.fail(signal.reason);
      return;
    }
    if (signal) {
      this.onAbort = () => this.abort(signal.reason);
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
    if (o.timeoutMs > 0) this.timer = setTimeout(() => this.abort(o.timeoutError()), o.timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(this.o.signal?.reason ?? new Error('aborted'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[]>,
    statusMessage?: string,
  ): void {
    this.status = statusCode;
    this.statusText = statusMessage ?? '';
    this.headers = headers;
    // HEAD, 204 and 304 answers declare a length they do not send (1xx never reach here).
    const bodyless = this.o.bodyless || statusCode === 204 || statusCode === 304;
    if (!bodyless && Number(headers['content-length']) > this.o.limit) this.tooLarge(controller);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    this.size += chunk.length;
    if (this.size > this.o.limit) this.tooLarge(controller);
    else this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.settle();
    try {
      this.o.done(this.status, this.statusText, this.headers, Buffer.concat(this.chunks, this.size));
    } catch (err) {
      this.o.failed(err); // e.g. a validateStatus that throws: the call must still end
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  /** Rejects with `err` unless already settled. */
  fail(err: unknown): void {
    if (this.settled) return;
    this.settle();
    this.o.failed(err);
  }

  /** Ends the exchange (now, or as soon as it starts) and rejects with `reason`. */
  private abort(reason: unknown): void {
    this.controller?.abort(reason as Error);
    this.fail(reason);
  }

  private tooLarge(controller: Dispatcher.DispatchController): void {
    const err = new UpstreamError(
      'bad-response',
      'ERESPONSETOOLARGE',
      this.o.host,
      `${this.o.where()} sent a response larger than ${this.o.limit} bytes`,
    );
    this.fail(err);
    controller.abort(err);
  }

  private settle(): void {
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.onAbort) this.o.signal?.removeEventListener('abort', this.onAbort);
  }
}
