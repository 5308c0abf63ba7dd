import axios, {
  AxiosHeaders,
  CanceledError,
  type AxiosAdapter,
  type AxiosInstance,
  type AxiosRequestConfig,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import { isUndiciAdapter } from './axios-undici-adapter';

type Headers = InstanceType<typeof AxiosHeaders>;

/**
 * `instance.request(config)` with what axios's request pipeline does, done directly, for the plain
 * requests a service sends to another: a method, a path, string headers, a JSON object body, a signal.
 *
 * Why: in service-a under load, axios's pipeline (a merge of the request with every default, headers
 * concatenated and normalized four times, the transforms) cost about 90 µs of A's 370 µs per proxied
 * request, measured with the same undici adapter called with and without it; the adapter and everything
 * else cost no more than a bare node:http client.
 *
 * It takes the direct way only when axios's pipeline would do nothing but that:
 * - the instance has no interceptors, and its defaults are as they were when this path was made (its
 *   transforms axios's own, no params serializer, cancel token or request-time options); a change to
 *   `instance.defaults` or an interceptor added later sends every request after it through axios;
 * - the request has no key but `url`, `method`, `headers`, `data`, `signal`, `baseURL` and `srvHost`,
 *   headers with string values that axios would not clean up (valid names, no control characters or edge
 *   spaces, no two names differing in case only), and a body that is absent or a plain object or array
 *   (no Content-Type of the caller's beside it).
 * Any other request goes through `instance.request` unchanged. What the adapter is given and what the
 * caller gets back are axios's: the merged config (defaults, `Accept`, the JSON body and its Content-Type,
 * `application/x-www-form-urlencoded` for a bodiless POST, PUT or PATCH), the response with its body
 * parsed as JSON when it is JSON (else the text), `duration`, AxiosHeaders, and CanceledError when the
 * signal aborted before or during the call. A differential test holds the two ways to the same results.
 */
export class AxiosFastPath {
  /** The instance's defaults as this path saw them: [object, its keys, their values] per object. */
  private readonly seen: Array<[object, string[], unknown[]]> = [];
  /** The config every request starts from (`mergeConfig(defaults, {})`), or undefined: never direct. */
  private readonly base: Record<string, unknown> | undefined;
  private readonly adapter: AxiosAdapter | undefined;
  /** Default headers per method (common, then the method's own), worked out on first use. */
  private readonly defaultHeaders = new Map<string, Array<[string, string | undefined]>>();

  constructor(private readonly instance: AxiosInstance) {
    this.record(instance.defaults as unknown as object, 0);
    const base = axios.mergeConfig(instance.defaults as AxiosRequestConfig, {}) as Record<string, unknown>;
    delete base.headers; // made per request
    const direct = plainDefaults(base) && (instance.defaults as { method?: unknown }).method === undefined;
    this.base = direct ? base : undefined;
    this.adapter = this.base?.adapter as AxiosAdapter | undefined;
  }

  /** Sends `config` as `instance.request(config)` would, directly when nothing else would differ. */
  request<T = unknown>(config: AxiosRequestConfig & { srvHost?: string }): Promise<AxiosResponse<T>> {
    const headers = this.base && this.unchanged() ? this.headersFor(config) : undefined;
    if (headers === undefined) return this.instance.request<T>(config);
    return this.send<T>(config, headers);
  }

  private async send<T>(config: AxiosRequestConfig, headers: Headers): Promise<AxiosResponse<T>> {
    const merged = Object.create(null) as Record<string, unknown>;
    Object.defineProperty(merged, 'hasOwnProperty', OWN_PROPERTY);
    const base = this.base!;
    for (const key in base) merged[key] = copyOf(base[key]);
    for (const key in config) {
      const value = (config as Record<string, unknown>)[key];
      // axios keeps a key given as undefined, with the default's value where there is one.
      if (value !== undefined || !(key in merged)) merged[key] = value;
    }
    const method = ((typeof config.method === 'string' && config.method) || 'get').toLowerCase();
    merged.method = method;
    merged.allowAbsoluteUrls ??= true;
    merged.headers = headers;
    const internal = merged as unknown as InternalAxiosRequestConfig;
    throwIfAborted(internal);
    // axios's transformRequest, then dispatchRequest's default Content-Type, each only where none is set.
    const withType = headers as unknown as Record<string, unknown>;
    if (config.data !== undefined) {
      merged.data = JSON.stringify(config.data);
      const slot = contentTypeSlot(withType);
      if (withType[slot] === undefined) withType[slot] = 'application/json';
    }
    if (BODY_METHODS.has(method)) {
      const slot = contentTypeSlot(withType);
      if (withType[slot] === undefined) withType[slot] = 'application/x-www-form-urlencoded';
    }
    const start = performance.now();
    let response: AxiosResponse;
    try {
      response = await this.adapter!(internal);
    } catch (reason) {
      const failed = reason as { __CANCEL__?: boolean; response?: AxiosResponse } | null;
      if (!failed?.__CANCEL__) {
        throwIfAborted(internal);
        if (failed?.response) this.finish(failed.response, internal, start);
      }
      throw reason;
    }
    throwIfAborted(internal);
    return this.finish(response, internal, start) as AxiosResponse<T>;
  }

  /** axios's response transform: duration, the body parsed as JSON when it parses, AxiosHeaders. */
  private finish(response: AxiosResponse, config: InternalAxiosRequestConfig, start: number): AxiosResponse {
    response.duration = Math.max(0, Math.round(performance.now() - start));
    const { data } = response;
    if (typeof data === 'string' && data !== '' && config.responseType === undefined) {
      // axios falls back to its own transitional defaults (forcedJSONParsing on) when the config has none.
      const { transitional } = config;
      if (transitional === undefined || transitional.forcedJSONParsing) {
        try {
          response.data = JSON.parse(data, config.parseReviver);
        } catch {
          // not JSON: the text, as axios leaves it without responseType 'json'
        }
      }
    }
    const headers = AxiosHeaders.from(response.headers as Headers);
    if (!clean(headers)) headers.normalize(false); // what axios's transforms do to them, when it changes anything
    response.headers = headers;
    return response;
  }

  /**
   * The request's headers as axios would hand them to the adapter (defaults first, the caller's over
   * them without regard to case), or undefined when the request is not one for the direct way.
   */
  private headersFor(config: AxiosRequestConfig): Headers | undefined {
    if (!isPlain(config)) return undefined;
    for (const key in config) if (!DIRECT_KEYS.has(key)) return undefined;
    const { url, method, data, signal, baseURL } = config;
    if (url !== undefined && typeof url !== 'string') return undefined;
    if (baseURL !== undefined && typeof baseURL !== 'string') return undefined;
    if (method !== undefined && method !== null && typeof method !== 'string') return undefined;
    if (signal !== undefined && (typeof signal !== 'object' || signal === null)) return undefined;
    if (data !== undefined && !isJsonBody(data)) return undefined;
    const given = config.headers as Record<string, unknown> | undefined;
    if (given !== undefined && (given === null || !isPlain(given))) return undefined;
    const defaults = this.defaultsFor(((typeof method === 'string' && method) || 'get').toLowerCase());
    if (defaults === undefined) return undefined;
    const headers = new AxiosHeaders() as Headers & Record<string, unknown>;
    const slots = new Map<string, string>();
    for (const [name, value] of defaults) {
      headers[name] = value;
      slots.set(name.toLowerCase(), name);
    }
    if (given !== undefined) {
      const own = new Set<string>();
      for (const name in given) {
        const value = given[name];
        if (typeof value !== 'string' || !HEADER_NAME.test(name) || !CLEAN_VALUE.test(value))
          return undefined;
        const lower = name.toLowerCase();
        // Two names for one header, or a name axios reads as a bucket of default headers.
        if (own.has(lower) || BUCKETS.has(lower)) return undefined;
        own.add(lower);
        if (lower === 'content-type' && data !== undefined) return undefined;
        headers[slots.get(lower) ?? name] = value;
      }
    }
    return headers;
  }

  /** The default headers for `method` (common, then the method's bucket), undefined if not plain strings. */
  private defaultsFor(method: string): Array<[string, string | undefined]> | undefined {
    let list = this.defaultHeaders.get(method);
    if (list !== undefined) return list;
    const buckets = this.instance.defaults.headers as unknown as Record<string, unknown>;
    const merged: Array<[string, string | undefined]> = [];
    for (const bucket of [buckets.common, Object.hasOwn(buckets, method) ? buckets[method] : undefined]) {
      if (bucket === undefined) continue;
      if (bucket === null || !isPlain(bucket)) return undefined;
      for (const [name, value] of Object.entries(bucket)) {
        if (value !== undefined && (typeof value !== 'string' || !CLEAN_VALUE.test(value))) return undefined;
        if (!HEADER_NAME.test(name)) return undefined;
        // AxiosHeaders keeps the name first set and the value last set, case aside.
        const at = merged.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
        if (at === -1) merged.push([name, value]);
        else merged[at] = [merged[at]![0], value];
      }
    }
    list = merged;
    if (this.defaultHeaders.size < 32) this.defaultHeaders.set(method, list);
    return list;
  }

  /** Remembers `value`'s keys and values, and those of the plain objects and arrays in it, two levels deep. */
  private record(value: object, depth: number): void {
    const keys = Object.keys(value);
    const values = keys.map((k) => (value as Record<string, unknown>)[k]);
    this.seen.push([value, keys, values]);
    if (depth >= 2) return;
    for (const v of values) {
      if (typeof v === 'object' && v !== null && (Array.isArray(v) || isPlain(v))) this.record(v, depth + 1);
    }
  }

  /** Whether the instance has no interceptors and its defaults are as recorded. */
  private unchanged(): boolean {
    const { request, response } = this.instance.interceptors as unknown as Record<
      string,
      { handlers?: unknown[] }
    >;
    if (!noHandlers(request?.handlers) || !noHandlers(response?.handlers)) return false;
    for (const [object, keys, values] of this.seen) {
      const now = Object.keys(object);
      if (now.length !== keys.length) return false;
      for (let i = 0; i < keys.length; i++) {
        if (now[i] !== keys[i] || (object as Record<string, unknown>)[keys[i]!] !== values[i]) return false;
      }
    }
    return true;
  }
}

/** What a request may hold and still go the direct way. */
const DIRECT_KEYS = new Set(['url', 'method', 'headers', 'data', 'signal', 'baseURL', 'srvHost']);
/** Header names axios reads as buckets of default headers (`common`, and one per method). */
const BUCKETS = new Set([
  'common',
  'get',
  'delete',
  'head',
  'options',
  'post',
  'put',
  'patch',
  'purge',
  'link',
  'unlink',
  'query',
]);
/** axios sets `application/x-www-form-urlencoded` on these when nothing else set a Content-Type. */
const BODY_METHODS = new Set(['post', 'put', 'patch']);
/** An RFC 9110 token (and so no name axios would trim or treat specially). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A value axios's header normalization leaves as it is: no control characters, no edge spaces or tabs. */
// eslint-disable-next-line no-control-regex -- the control characters axios strips
const CLEAN_VALUE = /^(?![ \t])[^\u0000-\u0008\u000a-\u001f\u007f]*(?<![ \t])$/;
/** The keys axios's pipeline itself acts on (beyond handing them to the adapter), known transitional options. */
const TRANSITIONAL = new Set([
  'silentJSONParsing',
  'forcedJSONParsing',
  'clarifyTimeoutError',
  'legacyInterceptorReqResOrdering',
  'advertiseZstdAcceptEncoding',
  'validateStatusUndefinedResolves',
  'encodeBasicAuthUsername',
]);
/** axios's own transforms, as loaded. */
const AXIOS_TRANSFORM_REQUEST = asArray(axios.defaults.transformRequest)[0];
const AXIOS_TRANSFORM_RESPONSE = asArray(axios.defaults.transformResponse)[0];
const OWN_PROPERTY: PropertyDescriptor = {
  value: Object.prototype.hasOwnProperty,
  enumerable: false,
  writable: true,
  configurable: true,
};

/** Whether merged defaults leave axios's pipeline nothing to do but the merge (see AxiosFastPath). */
function plainDefaults(base: Record<string, unknown>): boolean {
  if (!isUndiciAdapter(base.adapter)) return false;
  const request = asArray(base.transformRequest);
  const response = asArray(base.transformResponse);
  if (request.length !== 1 || request[0] !== AXIOS_TRANSFORM_REQUEST) return false;
  if (response.length !== 1 || response[0] !== AXIOS_TRANSFORM_RESPONSE) return false;
  for (const key of ['url', 'method', 'data', 'params', 'paramsSerializer', 'cancelToken', 'signal']) {
    if (base[key] !== undefined) return false;
  }
  for (const key of ['responseType', 'baseUrl', 'withXsrfToken', 'response']) {
    if (key in base) return false;
  }
  if (base.baseURL !== undefined && typeof base.baseURL !== 'string') return false;
  const { transitional } = base;
  if (transitional !== undefined) {
    if (typeof transitional !== 'object' || transitional === null || !isPlain(transitional)) return false;
    for (const [key, value] of Object.entries(transitional)) {
      if (!TRANSITIONAL.has(key) || typeof value !== 'boolean') return false;
    }
  }
  return true;
}

function asArray(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function noHandlers(handlers: unknown[] | undefined): boolean {
  if (!Array.isArray(handlers)) return false;
  for (const h of handlers) if (h !== null && h !== undefined) return false;
  return true;
}

/** An object whose prototype is Object.prototype or null, with no tag that makes axios see something else. */
function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return (
    (proto === Object.prototype || proto === null) &&
    !(Symbol.toStringTag in value) &&
    !(Symbol.iterator in value)
  );
}

/** A body axios's transformRequest would send as JSON: a plain object (not form-like) or an array. */
function isJsonBody(data: unknown): boolean {
  if (typeof data !== 'object' || data === null) return false;
  if (Array.isArray(data)) return true;
  const body = data as Record<string, unknown>;
  return isPlain(body) && typeof body.append !== 'function' && typeof body.pipe !== 'function';
}

/** A fresh copy of a default's plain object or array, as axios's merge makes per request. */
function copyOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.slice();
  if (typeof value === 'object' && value !== null && isPlain(value)) return { ...value };
  return value;
}

/** The name Content-Type has among `headers` (any case), or `Content-Type`. */
function contentTypeSlot(headers: Record<string, unknown>): string {
  for (const name in headers) if (name.toLowerCase() === 'content-type') return name;
  return 'Content-Type';
}

/** Whether every header is one axios's normalize would leave as it is. */
function clean(headers: Headers): boolean {
  const values = headers as unknown as Record<string, unknown>;
  for (const name in values) {
    if (!HEADER_NAME.test(name)) return false;
    const value = values[name];
    if (typeof value === 'string') {
      if (!CLEAN_VALUE.test(value)) return false;
    } else if (Array.isArray(value)) {
      for (const v of value) if (typeof v !== 'string' || !CLEAN_VALUE.test(v)) return false;
    } else if (value !== undefined && value !== null && value !== false) return false;
  }
  return true;
}

/** axios's CanceledError as its constructor is (message, config), which its typings do not say. */
const Canceled = CanceledError as unknown as new (message: null, config: InternalAxiosRequestConfig) => Error;

/** axios's throwIfCancellationRequested, for a signal (a request with a cancelToken is never direct). */
function throwIfAborted(config: InternalAxiosRequestConfig): void {
  const signal = config.signal as { aborted?: boolean } | undefined;
  if (signal?.aborted) throw new Canceled(null, config);
}
