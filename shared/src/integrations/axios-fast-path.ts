import axios, {
  AxiosHeaders,
  type CreateAxiosDefaults,
  CanceledError,
  type AxiosAdapter,
  type AxiosInstance,
  type AxiosRequestConfig,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import { types } from 'node:util';
import { isUndiciAdapter } from './axios-undici-adapter';

type Headers = InstanceType<typeof AxiosHeaders>;
type Bag = Record<string, unknown>;
/** A default header as AxiosHeaders keeps it: the name first set, the value last set (case aside). */
interface DefaultHeader {
  name: string;
  lower: string;
  value: string | undefined;
}

/**
 * An axios instance (`AxiosFastPath.create(config)`, the instance is `.axios`) whose `request(config)`
 * does what axios's request pipeline would do, directly, for the plain requests a service sends to
 * another: a method, a path, string headers, a JSON body, a signal.
 *
 * Why: in service-a under load, axios's pipeline (a merge of the request with every default, headers
 * concatenated and normalized four times, the transforms) cost about 90 µs of A's 370 µs per proxied
 * request, measured with the same undici adapter called with and without it; the adapter and everything
 * else cost no more than a bare node:http client.
 *
 * It takes the direct way only when axios's pipeline would do nothing but that:
 * - the instance uses createUndiciAdapter's adapter and has no interceptors; its defaults are as they were
 *   made and were plain then: axios's own transforms and transitional options, no params, params
 *   serializer, cancel token, signal, responseType, parseReviver or method, default headers only in the
 *   `common` and per-method buckets and never a Content-Type, nothing but plain objects, arrays and
 *   primitives. While the defaults differ from that (or an interceptor is registered) every request
 *   goes through axios;
 * - the request is a plain object of enumerable data properties among `url`, `method`, `headers`, `data`,
 *   `signal` (an AbortSignal), `baseURL` and `srvHost` (a string), no Proxy; its headers are string data
 *   properties axios would not clean up (token names, no control characters or edge spaces, no two names
 *   for one header, none that axios drops or reads as a bucket); its body is absent or JSON data and
 *   nothing else (see isJsonBody), and then without a Content-Type of the caller's.
 * Any other request goes through `this.axios.request` unchanged, and so does one whose checks throw (an
 * exotic object): `request` never throws, it rejects. What reaches the server and what the caller gets
 * are axios's (a differential test holds the two ways to the same results): the merged config, key for
 * key and in axios's order, `Accept`, the JSON body and its Content-Type,
 * `application/x-www-form-urlencoded` for a bodiless POST, PUT or PATCH, the response body parsed as JSON
 * when it is JSON (else the text), `duration`, AxiosHeaders, and CanceledError when the signal aborted
 * before or during the call. One difference: a rejection's stack lacks the caller frames axios appends.
 */
export class AxiosFastPath {
  /** The defaults axios's request function uses (the instance's at creation: reassigning it changes nothing). */
  private readonly defaults: Bag;
  private readonly interceptors: AxiosInstance['interceptors'];
  /** The defaults as this path saw them: [object, its keys, their values] for each object in them. */
  private readonly seen: Array<[Bag, string[], unknown[]]> = [];
  /** The config every request starts from (`mergeConfig(defaults, {})`), or undefined: never direct. */
  private readonly base: Bag | undefined;
  private readonly adapter: AxiosAdapter | undefined;
  /** `base` as arrays (a for-in over its null-prototype object costs more per request), and which keys a request may set. */
  private readonly baseKeys: string[];
  private readonly baseValues: unknown[];
  private readonly overridable: boolean[];
  private readonly baseKeySet: Set<string>;
  /** Default headers per method (common, then the method's bucket), worked out on first use. */
  private readonly defaultHeaders = new Map<string, DefaultHeader[]>();
  /** The defaults' own allowAbsoluteUrls as axios reads it (enumerable or not). */
  private readonly absolute: unknown;

  /**
   * An axios instance (`axios.create(config)`) and its fast path. The instance is made here so that the
   * fast path sees the very defaults axios's request function holds (a copy of `instance.defaults` taken
   * from an instance someone may have handed over with its `defaults` reassigned could differ).
   */
  static create(config?: CreateAxiosDefaults): AxiosFastPath {
    return new AxiosFastPath(axios.create(config), MADE_HERE);
  }

  /** The instance: use it as any axios instance; its interceptors and defaults apply to `request` too. */
  readonly axios: AxiosInstance;

  private constructor(instance: AxiosInstance, token: symbol) {
    if (token !== MADE_HERE) throw new TypeError('use AxiosFastPath.create(config)');
    this.axios = instance;
    this.defaults = instance.defaults as unknown as Bag;
    this.interceptors = instance.interceptors;
    this.absolute = ownAbsolute(this.defaults);
    const recorded = this.record(this.defaults, 0);
    const base = axios.mergeConfig(instance.defaults as AxiosRequestConfig, {}) as Bag;
    this.base = recorded && plainDefaults(base, this.defaults) ? base : undefined;
    this.adapter = this.base?.adapter as AxiosAdapter | undefined;
    this.baseKeys = Object.keys(base);
    this.baseValues = this.baseKeys.map((key) => base[key]);
    this.overridable = this.baseKeys.map((key) => DIRECT_KEYS.has(key));
    this.baseKeySet = new Set(this.baseKeys);
  }

  /** Sends `config` as `this.axios.request(config)` would, directly when nothing else would differ. */
  request<T = unknown>(config: AxiosRequestConfig & { srvHost?: string }): Promise<AxiosResponse<T>> {
    let headers: Headers | undefined;
    try {
      headers = this.base && this.unchanged() ? this.headersFor(config) : undefined;
    } catch {
      headers = undefined; // an object that throws when looked at: axios's to deal with, as it would
    }
    if (headers === undefined) return this.axios.request<T>(config);
    return this.send<T>(config as Bag, headers);
  }

  private async send<T>(config: Bag, headers: Headers): Promise<AxiosResponse<T>> {
    // mergeConfig's result: the defaults' keys in their order, then the request's; a key whose value is
    // undefined left out; plain objects and arrays of the defaults copied.
    const merged = Object.create(null) as Bag;
    Object.defineProperty(merged, 'hasOwnProperty', OWN_PROPERTY);
    const { baseKeys, baseValues, overridable } = this;
    for (let i = 0; i < baseKeys.length; i++) {
      const key = baseKeys[i]!;
      const given = overridable[i] ? config[key] : undefined;
      merged[key] = key === 'headers' ? headers : given !== undefined ? given : copyOf(baseValues[i]);
    }
    for (const key in config) {
      const value = config[key];
      if (value !== undefined && !this.baseKeySet.has(key)) merged[key] = value;
    }
    // _request: allowAbsoluteUrls, the method, the headers; then dispatchRequest: the body.
    if (!('allowAbsoluteUrls' in merged)) merged.allowAbsoluteUrls = true; // (create() made the defaults: none hidden)
    const method = ((typeof config.method === 'string' && config.method) || 'get').toLowerCase();
    merged.method = method;
    merged.headers = headers;
    const internal = merged as unknown as InternalAxiosRequestConfig;
    throwIfAborted(internal);
    // axios's transformRequest, then dispatchRequest's default Content-Type, each only where none is set
    // (no Content-Type comes from the defaults, and a body never goes with the caller's).
    const named = headers as unknown as Bag;
    merged.data = config.data === undefined ? undefined : JSON.stringify(config.data);
    if (config.data !== undefined) named['Content-Type'] = 'application/json';
    // headersFor names it `Content-Type` always (axios's common default has that key: plainDefaultHeaders).
    if (BODY_METHODS.has(method) && named['Content-Type'] === undefined) {
      named['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    const start = performance.now();
    let response: AxiosResponse;
    try {
      response = await this.adapter!(internal);
    } catch (reason) {
      const failed = reason as { __CANCEL__?: boolean; response?: AxiosResponse } | null;
      if (!failed?.__CANCEL__) {
        throwIfAborted(internal);
        if (failed?.response) finish(failed.response, internal, start);
      }
      throw reason;
    }
    throwIfAborted(internal);
    return finish(response, internal, start) as AxiosResponse<T>;
  }

  /**
   * The request's headers as axios would hand them to the adapter (defaults first, the caller's over
   * them without regard to case), or undefined when the request is not one for the direct way.
   */
  private headersFor(config: AxiosRequestConfig): Headers | undefined {
    if (!isPlain(config) || !everyDataProperty(config as Bag, isDirectKey, 0)) return undefined;
    const { url, method, data, signal, baseURL } = config;
    if (url !== undefined && typeof url !== 'string') return undefined;
    if (baseURL !== undefined && typeof baseURL !== 'string') return undefined;
    const { srvHost } = config as { srvHost?: unknown };
    if (srvHost !== undefined && typeof srvHost !== 'string') return undefined; // axios would copy an object
    if (method !== undefined && method !== null && typeof method !== 'string') return undefined;
    if (signal !== undefined && (types.isProxy(signal) || !(signal instanceof AbortSignal))) return undefined;
    if (data !== undefined && !isJsonBody(data)) return undefined;
    const given = config.headers as Bag | undefined;
    if (given !== undefined) {
      if (given === null || typeof given !== 'object' || !isPlain(given)) return undefined;
    }
    const defaults = this.defaultsFor(((typeof method === 'string' && method) || 'get').toLowerCase());
    const headers = new AxiosHeaders() as Headers & Bag;
    for (const { name, value } of defaults) headers[name] = value;
    if (given === undefined) return headers;
    let seen: string[] | undefined;
    for (const name in given) {
      if (!Object.hasOwn(given, name) || lookupGetter.call(given, name) !== undefined) return undefined;
      const value = given[name];
      if (typeof value !== 'string' || !HEADER_NAME.test(name) || !CLEAN_VALUE.test(value)) return undefined;
      const lower = name.toLowerCase();
      // Two names for one header, or a name axios's merge drops or reads as a bucket of defaults.
      if (RESERVED_NAMES.has(lower) || seen?.includes(lower)) return undefined;
      (seen ??= []).push(lower);
      if (lower === 'content-type') {
        if (data !== undefined) return undefined;
        headers['Content-Type'] = value;
        continue;
      }
      headers[defaults.find((d) => d.lower === lower)?.name ?? name] = value;
    }
    return headers;
  }

  /** The default headers for `method`: common, then the method's bucket (AxiosHeaders' rules: name first set, value last). */
  private defaultsFor(method: string): DefaultHeader[] {
    let list = this.defaultHeaders.get(method);
    if (list !== undefined) return list;
    const buckets = this.defaults.headers as Bag;
    list = [];
    for (const bucket of [buckets.common, Object.hasOwn(buckets, method) ? buckets[method] : undefined]) {
      if (bucket === undefined) continue;
      for (const [name, value] of Object.entries(bucket as Record<string, string | undefined>)) {
        const lower = name.toLowerCase();
        const known = list.find((d) => d.lower === lower);
        if (known === undefined) list.push({ name, lower, value });
        else known.value = value;
      }
    }
    if (this.defaultHeaders.size < 32) this.defaultHeaders.set(method, list);
    return list;
  }

  /**
   * Remembers `value`'s keys and values, and those of every plain object and array in it; false when
   * they nest deeper than axios's pipeline is known to copy them here (no direct way then).
   */
  private record(value: Bag, depth: number): boolean {
    const keys = Object.keys(value);
    const values = keys.map((k) => value[k]);
    this.seen.push([value, keys, values]);
    if (Object.getOwnPropertySymbols(value).length > 0) return false;
    for (const v of values) {
      if (typeof v !== 'object' || v === null) continue;
      // Any other object (a class instance, an object axios counts as plain that this does not) is one
      // whose changes the snapshot would not see: no direct way then.
      if (!(Array.isArray(v) || isPlain(v))) return false;
      if (depth >= MAX_DEPTH || !this.record(v as Bag, depth + 1)) return false;
    }
    return true;
  }

  /** Whether the instance has no interceptors and its defaults are as recorded. */
  private unchanged(): boolean {
    const { request, response } = this.interceptors as unknown as Record<string, { handlers?: unknown[] }>;
    if (!noHandlers(request?.handlers) || !noHandlers(response?.handlers)) return false;
    const defaults = this.defaults;
    // What axios reads beyond the enumerable keys: a method (inherited or not), allowAbsoluteUrls (own).
    if (defaults.method !== undefined) return false;
    if (ownAbsolute(defaults) !== this.absolute) return false;
    for (const [object, keys, values] of this.seen) {
      let i = 0;
      for (const key in object) {
        if (key !== keys[i] || object[key] !== values[i]) return false;
        i++;
      }
      if (i !== keys.length) return false;
    }
    return true;
  }
}

/** The constructor's token: only AxiosFastPath.create makes one. */
const MADE_HERE = Symbol('AxiosFastPath.create');
/** What a request may hold and still go the direct way. */
const DIRECT_KEYS = new Set(['url', 'method', 'headers', 'data', 'signal', 'baseURL', 'srvHost']);
/** axios sets `application/x-www-form-urlencoded` on these when nothing else set a Content-Type. */
const BODY_METHODS = new Set(['post', 'put', 'patch']);
/** Bucket names of axios's default headers (`common`, one per method). */
const BUCKETS = [
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
];
/** Keys axios's merge drops (prototype pollution). */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Header names the direct way leaves to axios: the buckets, and the names its merge drops. */
const RESERVED_NAMES = new Set([...BUCKETS, ...UNSAFE_KEYS]);
/** How deep the defaults' plain objects may nest; how deep a body's plain objects are checked. */
const MAX_DEPTH = 6;
const MAX_BODY_DEPTH = 32;
/** An RFC 9110 token (and so no name axios would trim or treat specially). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A value axios's header normalization leaves as it is: no control characters, no edge spaces or tabs. */
// eslint-disable-next-line no-control-regex -- the control characters axios strips
const CLEAN_VALUE = /^(?![ \t])[^\u0000-\u0008\u000a-\u001f\u007f]*(?<![ \t])$/;
/** Transitional options axios 1.x knows (an unknown one makes it throw). */
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

/** The defaults' allowAbsoluteUrls as axios's _request reads it: own (enumerable or not), else undefined. */
function ownAbsolute(defaults: Bag): unknown {
  return Object.hasOwn(defaults, 'allowAbsoluteUrls') ? defaults.allowAbsoluteUrls : undefined;
}

/** Whether merged defaults leave axios's pipeline nothing to do but the merge (see AxiosFastPath). */
function plainDefaults(base: Bag, defaults: Bag): boolean {
  if (!isUndiciAdapter(base.adapter)) return false;
  const request = asArray(base.transformRequest);
  const response = asArray(base.transformResponse);
  if (request.length !== 1 || request[0] !== AXIOS_TRANSFORM_REQUEST) return false;
  if (response.length !== 1 || response[0] !== AXIOS_TRANSFORM_RESPONSE) return false;
  if (defaults.method !== undefined) return false;
  for (const key of ['url', 'method', 'data', 'params', 'paramsSerializer', 'cancelToken', 'signal']) {
    if (base[key] !== undefined) return false;
  }
  for (const key of ['responseType', 'baseUrl', 'withXsrfToken', 'response', 'parseReviver']) {
    if (key in base) return false;
  }
  if (base.baseURL !== undefined && typeof base.baseURL !== 'string') return false;
  // Without transitional options of its own axios reads the global defaults', which may change.
  const { transitional } = base;
  if (typeof transitional !== 'object' || transitional === null || !isPlain(transitional)) return false;
  for (const [key, value] of Object.entries(transitional)) {
    if (!TRANSITIONAL.has(key) || typeof value !== 'boolean') return false;
  }
  return plainDefaultHeaders(defaults.headers);
}

/**
 * Default headers only in buckets (`common`, per method: plain objects), string values axios would not
 * clean up, and a Content-Type only as axios's own undefined in `common`.
 */
function plainDefaultHeaders(headers: unknown): boolean {
  if (typeof headers !== 'object' || headers === null || !isPlain(headers)) return false;
  const buckets = headers as Bag;
  const common = buckets.common as Bag | undefined;
  if (
    common === undefined ||
    !Object.hasOwn(common, 'Content-Type') ||
    common['Content-Type'] !== undefined
  ) {
    return false;
  }
  for (const key of Object.keys(buckets)) {
    const bucket = buckets[key];
    if (!BUCKETS.includes(key) || typeof bucket !== 'object' || bucket === null || !isPlain(bucket))
      return false;
    const names: string[] = [];
    for (const [name, value] of Object.entries(bucket)) {
      const lower = name.toLowerCase();
      if (!HEADER_NAME.test(name) || RESERVED_NAMES.has(lower) || names.includes(lower)) return false;
      names.push(lower);
      if (lower === 'content-type') {
        if (key !== 'common' || name !== 'Content-Type') return false;
      } else if (typeof value !== 'string' || !CLEAN_VALUE.test(value)) return false;
    }
  }
  return true;
}

/** axios's response transform: duration, the body parsed as JSON when it parses, AxiosHeaders. */
function finish(response: AxiosResponse, config: InternalAxiosRequestConfig, start: number): AxiosResponse {
  response.duration = Math.max(0, Math.round(performance.now() - start));
  const { data } = response;
  if (typeof data === 'string' && data !== '') {
    // axios falls back to its own transitional defaults (forcedJSONParsing on) when the config has none;
    // without responseType 'json' (never on the direct way) a body that does not parse stays text.
    const { transitional } = config;
    if (transitional === undefined || transitional.forcedJSONParsing) {
      try {
        response.data = JSON.parse(data);
      } catch {
        // not JSON: the text
      }
    }
  }
  const headers = AxiosHeaders.from(response.headers as Headers);
  if (!clean(headers)) headers.normalize(false); // what axios's transforms do to them, when that changes anything
  response.headers = headers;
  return response;
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

/**
 * An object whose prototype is Object.prototype or null, with no tag that makes axios see something else,
 * and no Proxy (whose traps would run a different number of times on each way).
 */
function isPlain(value: object): boolean {
  if (types.isProxy(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (
    (proto === Object.prototype || proto === null) &&
    !(Symbol.toStringTag in value) &&
    !(Symbol.iterator in value)
  );
}

/**
 * Whether `object`'s own properties are all enumerable data properties (no accessors, symbols or hidden
 * keys: what axios reads of it is then what a for-in loop gives) and `test(key, value, depth)` holds for
 * each. The prototype must be Object.prototype or null (isPlain), so for-in sees own keys only.
 */
function everyDataProperty(
  object: Bag,
  test: (key: string, value: unknown, depth: number) => boolean,
  depth: number,
): boolean {
  // One array of every own key (symbols and non-enumerable ones too), checked against the for-in walk.
  const keys = Reflect.ownKeys(object);
  let count = 0;
  for (const key in object) {
    if (keys[count] !== key) return false;
    // An accessor: axios and this path would read it a different number of times.
    if (lookupGetter.call(object, key) !== undefined || lookupSetter.call(object, key) !== undefined) {
      return false;
    }
    if (!test(key, object[key], depth)) return false;
    count++;
  }
  return count === keys.length;
}

/** A key a request may hold and still go the direct way. */
function isDirectKey(key: string): boolean {
  return DIRECT_KEYS.has(key);
}

/** A key and value of a JSON body's object: no key axios's merge drops, no toJSON, JSON data under it. */
function isJsonMember(key: string, value: unknown, depth: number): boolean {
  return !UNSAFE_KEYS.has(key) && key !== 'toJSON' && isJsonData(value, depth + 1);
}

/** The allocation-free way to tell an accessor from a data property. */
const lookupGetter = (Object.prototype as { __lookupGetter__(name: string): unknown }).__lookupGetter__;
const lookupSetter = (Object.prototype as { __lookupSetter__(name: string): unknown }).__lookupSetter__;

/**
 * A body that is JSON data and nothing else, so that JSON of it is JSON of axios's copy of it: an array or
 * an object (prototype Object.prototype or null) of enumerable data properties (no getters, symbols,
 * `toJSON`, or keys axios's merge drops), holding only strings, numbers, booleans, null, and more of the
 * same, no deeper than MAX_BODY_DEPTH. Anything else (a Date, a class instance, a Buffer) goes to axios.
 */
function isJsonBody(data: unknown): boolean {
  return typeof data === 'object' && data !== null && isJsonData(data, 0);
}

function isJsonData(value: unknown, depth: number): boolean {
  if (value === null) return true;
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean') return true;
  if (type !== 'object' || depth > MAX_BODY_DEPTH || types.isProxy(value)) return false;
  const object = value as Bag;
  if (Array.isArray(object)) {
    // Indexes and length only: no holes, no toJSON or other keys of its own.
    if (Object.getPrototypeOf(object) !== Array.prototype) return false;
    if (Reflect.ownKeys(object).length !== object.length + 1) return false;
    for (let i = 0; i < object.length; i++) {
      if (lookupGetter.call(object, String(i)) !== undefined || !isJsonData(object[i], depth + 1))
        return false;
    }
    return true;
  }
  return isPlain(object) && everyDataProperty(object, isJsonMember, depth);
}

/** A fresh copy of a default's plain object or array, as axios's merge makes per request (deeply). */
function copyOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.slice();
  if (typeof value !== 'object' || value === null || !isPlain(value)) return value;
  const copy: Bag = {};
  for (const key in value as Bag) copy[key] = copyOf((value as Bag)[key]);
  return copy;
}

/** Whether every header is one axios's normalize would leave as it is. */
function clean(headers: Headers): boolean {
  const values = headers as unknown as Bag;
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
