import axios, {
  AxiosError,
  type AxiosInstance,
  type AxiosRequestConfig,
  type AxiosResponse,
  type CreateAxiosDefaults,
} from 'axios';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { EndpointCaller, type CallOptions, type CallerStats, type EndpointCall } from './caller';
import type { EndpointHealth, EndpointHealthOptions } from './health';
import { positiveInt } from './options';
import type { Endpoint } from './records';
import type { EndpointSource } from './source';
import { AxiosFastPath } from './integrations/axios-fast-path';
import { createUndiciAdapter, type SRV_HOST } from './integrations/axios-undici-adapter';
import { UpstreamError, classifyError, describeEndpoint, isReplayableBody } from './upstream';
import { invalidNameReason } from './wire/message';

export { UpstreamError } from './upstream';
export type { UpstreamFailure } from './upstream';

/** Counters of an SrvHttpClient since it was made, for metrics. */
export type HttpClientStats = CallerStats;

/** Options of `SrvHttpClient`. */
export interface SrvHttpClientOptions {
  /** Where endpoints come from: an `SrvResolver` (DNS) or a `CloudMapSource` (the Cloud Map API). */
  source?: EndpointSource;
  /** The same as `source` (its first name, kept for existing callers). */
  resolver?: EndpointSource;
  /** Name of the upstream service, e.g. `service_b.ecs.internal` (the SRV name; Cloud Map maps it). */
  name: string;
  /** Time one attempt may take, from sending to the last byte of the response body, ms. @default 5000 */
  timeoutMs?: number;
  /**
   * Time one request may take in all: discovery, every attempt and retry. A timed-out idempotent request
   * is retried elsewhere only within it. @default 2 × timeoutMs
   */
  budgetMs?: number;
  /** Time allowed to open a connection before the endpoint counts as unreachable, ms. @default 1000 */
  connectTimeoutMs?: number;
  /** Attempts per request, each on another endpoint when one is left. @default 3 */
  maxAttempts?: number;
  /** Most sockets per endpoint. @default 256 */
  maxSocketsPerEndpoint?: number;
  /**
   * An idle keep-alive socket is closed after this long, and sooner when the server's `Keep-Alive:
   * timeout=N` says so (less a second), so the client never reuses a socket the server is closing.
   * Keep it below every upstream's keep-alive timeout (Node's default: 5 s). @default 4000
   */
  idleSocketTimeoutMs?: number;
  /** Largest response body accepted; a larger one fails as bad-response `ERESPONSETOOLARGE`. @default 65536 */
  maxResponseBytes?: number;
  /** Passive health: when failures eject an endpoint, for how long, and how long it is remembered. */
  health?: EndpointHealthOptions;
  /**
   * What carries axios's requests: `undici` (a keep-alive pool per endpoint; less CPU per call) or axios's
   * own `http` adapter. @default `undici` when it is installed (an optional peer), else `http`
   */
  transport?: 'undici' | 'http';
}

/**
 * A request through the client: an axios config with a relative `url` (an absolute one is refused: the
 * upstream is chosen by discovery only), and whether it may be sent twice. A `signal` cancels it.
 */
export interface SrvRequestConfig extends AxiosRequestConfig {
  /**
   * May the request be sent again after it might have reached the upstream's handler (a reset or a
   * timeout)? @default true for GET, HEAD, OPTIONS, TRACE, PUT, DELETE (RFC 9110 §9.2.2), else false.
   * Connection failures (nothing was sent) are retried whatever this says.
   */
  idempotent?: boolean;
}

/** A url with a scheme, or protocol-relative (`//`, `\\\\`): refused, the upstream comes from discovery. */
const ABSOLUTE_OR_SCHEME = /^([a-z][a-z\d+.-]*:|\/\/|\\\\)/i;

/**
 * What a request's failure reads as: axios's own layers throw AxiosErrors; the undici transport's
 * network errors are not.
 */
function classifyAxios(err: unknown, e: Endpoint): UpstreamError {
  return err instanceof AxiosError
    ? toUpstreamError(err, e.key, e.target)
    : classifyError(err, e.key, e.target);
}

/** RFC 9110 §9.2.2. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * Keep-alive agent whose connection attempts time out on their own (http.Agent has no connect timeout:
 * a task host that vanished would otherwise hold the request until the response timeout).
 */
class ConnectTimeoutAgent extends http.Agent {
  constructor(
    options: http.AgentOptions,
    private readonly connectTimeoutMs: number,
  ) {
    super(options);
  }

  override createConnection(
    options: Parameters<http.Agent['createConnection']>[0],
    callback?: Parameters<http.Agent['createConnection']>[1],
  ): Duplex {
    // @types/node declares createConnection on Agent without the base implementation; it exists at runtime.
    const socket = (
      http.Agent.prototype as unknown as { createConnection: http.Agent['createConnection'] }
    ).createConnection.call(this, options, callback) as import('node:net').Socket;
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`connect timed out after ${this.connectTimeoutMs} ms`), {
        code: 'ECONNTIMEOUT',
      });
      socket.destroy(err);
    }, this.connectTimeoutMs);
    timer.unref();
    const clear = (): void => clearTimeout(timer);
    socket.once('connect', clear);
    socket.once('close', clear);
    return socket;
  }
}

/**
 * The axios integration: each request picks an endpoint of the service (from DNS SRV or the Cloud Map
 * API), goes there over a keep-alive connection with axios (no redirects followed, no proxy, a bounded
 * body, one deadline for the whole exchange), and is retried elsewhere when safe, by `EndpointCaller`'s
 * rules: after a connection failure always, after a reset or a timeout only when idempotent.
 */
export class SrvHttpClient {
  /** The axios instance used for every call (its defaults: keep-alive agent, no redirects, no proxy). */
  readonly axios: AxiosInstance;
  /** Pick, attempt deadline, health and retries: shared with `withEndpoint` calls on other transports. */
  readonly caller: EndpointCaller;
  /** The transport in use (`undici` unless it was not installed or `http` was asked for). */
  readonly transport: 'undici' | 'http';
  private readonly agent?: ConnectTimeoutAgent;
  private readonly closeTransport?: () => Promise<void>;
  /** With undici: `axios.request`, without axios's pipeline where it would change nothing. */
  private readonly direct?: AxiosFastPath;
  private readonly name: string;
  /** Per endpoint (object; gone with it), what `addressOf` made. */
  private readonly addresses = new WeakMap<Endpoint, { baseURL: string; host: string }>();

  /** @throws {TypeError} naming an invalid option. */
  constructor(options: SrvHttpClientOptions) {
    const source = options.source ?? options.resolver;
    if (!source) throw new TypeError('source (or resolver) is required');
    if (typeof options.name !== 'string' || invalidNameReason(options.name) !== undefined)
      throw new TypeError(`name must be an SRV name, got ${JSON.stringify(options.name)}`);
    this.name = options.name;
    const connectTimeoutMs = positiveInt('connectTimeoutMs', options.connectTimeoutMs, 1000);
    const maxSockets = positiveInt('maxSocketsPerEndpoint', options.maxSocketsPerEndpoint, 256);
    const idleMs = positiveInt('idleSocketTimeoutMs', options.idleSocketTimeoutMs, 4000);
    const maxResponseBytes = positiveInt('maxResponseBytes', options.maxResponseBytes, 65_536);
    this.caller = new EndpointCaller({
      source,
      timeoutMs: options.timeoutMs,
      budgetMs: options.budgetMs,
      maxAttempts: options.maxAttempts,
      health: options.health,
    });
    if (options.transport !== undefined && options.transport !== 'undici' && options.transport !== 'http') {
      throw new TypeError(`transport must be undici or http, got ${JSON.stringify(options.transport)}`);
    }
    const undici =
      options.transport === 'http'
        ? undefined
        : createUndiciAdapter({
            maxSocketsPerEndpoint: maxSockets,
            connectTimeoutMs,
            idleSocketTimeoutMs: idleMs,
            maxResponseBytes,
          });
    if (options.transport === 'undici' && !undici) {
      throw new TypeError('transport undici needs the undici package (npm install undici)');
    }
    this.transport = undici ? 'undici' : 'http';
    this.closeTransport = undici?.close;
    if (!undici) {
      this.agent = new ConnectTimeoutAgent(
        // timeout: idle sockets close before the server's keep-alive timeout does (the keep-alive race).
        { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo', timeout: idleMs },
        connectTimeoutMs,
      );
    }
    const axiosConfig: CreateAxiosDefaults = {
      adapter: undici?.adapter ?? 'http',
      httpAgent: this.agent,
      // The upstream comes from discovery only: an absolute url must not pick another host.
      allowAbsoluteUrls: false,
      // Calls between tasks in one VPC gain nothing from compression; asking for none spares axios its
      // decompression pipeline (measured: ~5% less CPU per call). The undici transport asks for none
      // itself, sparing axios a header to carry.
      decompress: false,
      ...(undici ? {} : { headers: { 'Accept-Encoding': 'identity' } }),
      // maxRedirects 0: never follow a redirect elsewhere, and axios then uses Node's http directly
      // instead of follow-redirects (much faster).
      maxRedirects: 0,
      // A hostile or broken upstream must not fill A's memory (A's ECS task has 256 MiB).
      maxContentLength: maxResponseBytes,
      proxy: false,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: false, forcedJSONParsing: true },
    };
    // With undici, axios's pipeline is skipped while it would do nothing but merge defaults (AxiosFastPath).
    this.direct = undici ? AxiosFastPath.create(axiosConfig) : undefined;
    this.axios = this.direct?.axios ?? axios.create(axiosConfig);
  }

  /** Passive health of the endpoints this client called. */
  get health(): EndpointHealth {
    return this.caller.health;
  }

  /** Where endpoints come from. */
  get source(): EndpointSource {
    return this.caller.source;
  }

  /**
   * Sends `config` (a relative `url`) to an endpoint of the service.
   * @throws {TypeError} for an absolute url; {DiscoveryError} when no endpoint can be found;
   * {UpstreamError} when the call fails.
   */
  async request<T = unknown>(
    config: SrvRequestConfig,
  ): Promise<{ response: AxiosResponse<T>; endpoint: Endpoint }> {
    const { url } = config;
    if (url !== undefined && ABSOLUTE_OR_SCHEME.test(url)) {
      throw new TypeError(`url must be a path, not an absolute URL: ${JSON.stringify(url.slice(0, 80))}`);
    }
    const { idempotent, signal, ...axiosConfig } = config;
    const method = (config.method ?? 'GET').toUpperCase(); // axios sends a null method as GET too
    const { result, endpoint } = await this.caller.withEndpoint(
      this.name,
      (e: Endpoint, attemptSignal: AbortSignal) => this.send<T>(axiosConfig, e, attemptSignal),
      {
        idempotent: idempotent ?? IDEMPOTENT.has(method),
        replayable: isReplayableBody(axiosConfig.data),
        signal: signal as AbortSignal | undefined,
        classify: classifyAxios,
      },
    );
    return { response: result, endpoint };
  }

  /** One attempt of `request`: `config` to `endpoint`, within `signal`. */
  private send<T>(
    config: AxiosRequestConfig,
    endpoint: Endpoint,
    signal: AbortSignal,
  ): Promise<AxiosResponse<T>> {
    const { baseURL, host } = this.addressOf(endpoint);
    // With undici the Host goes to the adapter beside axios's headers (SRV_HOST): cheaper per call than
    // a header. The type checks that the literal key is SRV_HOST.
    if (this.transport === 'undici') {
      // `config` is request()'s own copy of the caller's config, and neither axios nor the fast path keeps
      // it past this call (both copy it into the config they send): each attempt sets its own values on it
      // instead of copying it once more.
      const srvConfig = config as AxiosRequestConfig & Record<typeof SRV_HOST, string>;
      srvConfig.signal = signal;
      srvConfig.baseURL = baseURL;
      srvConfig.srvHost = host;
      return this.direct!.request<T>(srvConfig);
    }
    const headers = { ...(config.headers as Record<string, string> | undefined), Host: host };
    return this.axios.request<T>({ ...config, signal, baseURL, headers });
  }

  /**
   * The base URL (its address) and Host (its SRV target) of calls to `endpoint`, made once per endpoint:
   * the same strings every call, not new ones for the adapter's base-URL cache to hash each time.
   */
  private addressOf(endpoint: Endpoint): { baseURL: string; host: string } {
    let address = this.addresses.get(endpoint);
    if (address === undefined) {
      address = { baseURL: `http://${endpoint.key}`, host: `${endpoint.target}:${endpoint.port}` };
      this.addresses.set(endpoint, address);
    }
    return address;
  }

  /**
   * Any other call to the same service with the same picks, health and retry rules (another transport,
   * another path): see `EndpointCaller.withEndpoint`.
   */
  withEndpoint<T>(fn: EndpointCall<T>, options?: CallOptions): Promise<{ result: T; endpoint: Endpoint }> {
    return this.caller.withEndpoint(this.name, fn, options);
  }

  /** Counters since the client was made (a copy). */
  stats(): HttpClientStats {
    return this.caller.stats();
  }

  /** Closes every pooled connection and stops listening to the source. */
  close(): void {
    this.caller.close();
    this.agent?.destroy();
    this.closeTransport?.().catch(() => undefined);
  }
}

/**
 * Maps an axios failure to an UpstreamError: a response with an error status or an unreadable body is a
 * bad response, a timeout is a timeout, anything before a response (refused, reset, unreachable) is unreachable.
 */
export function toUpstreamError(err: unknown, endpoint: string, name = endpoint): UpstreamError {
  if (!(err instanceof AxiosError)) {
    return new UpstreamError('bad-response', 'EUPSTREAM', endpoint, `call to ${endpoint} failed`, {
      cause: err,
    });
  }
  const where = describeEndpoint(endpoint, name);
  if (err.response) {
    const message = `${where} answered HTTP ${err.response.status}`;
    return new UpstreamError('bad-response', 'EUPSTREAMSTATUS', endpoint, message, { cause: err });
  }
  const code = err.code ?? 'EUPSTREAM';
  if (code === 'ETIMEDOUT' || code === 'ECONNABORTED') {
    return new UpstreamError('timeout', 'ETIMEDOUT', endpoint, `${where} did not answer in time`, {
      cause: err,
    });
  }
  if (code === AxiosError.ERR_BAD_RESPONSE && /maxContentLength/.test(err.message)) {
    return new UpstreamError(
      'bad-response',
      'ERESPONSETOOLARGE',
      endpoint,
      `${where} sent a response larger than allowed`,
      { cause: err },
    );
  }
  if (code === AxiosError.ERR_BAD_RESPONSE) {
    return new UpstreamError(
      'bad-response',
      'EBADUPSTREAM',
      endpoint,
      `${where} sent an unreadable response`,
      {
        cause: err,
      },
    );
  }
  return new UpstreamError('unreachable', code, endpoint, `${where} is unreachable: ${err.message}`, {
    cause: err,
  });
}
