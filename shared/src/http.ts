import axios, { AxiosError, type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { EndpointHealth, type EndpointHealthOptions } from './health';
import type { Endpoint } from './records';
import type { SrvResolver } from './resolver';

/** How a call to an upstream endpoint failed: the caller maps these to 502 / 504. */
export type UpstreamFailure = 'unreachable' | 'timeout' | 'bad-response';

/** A call to a discovered endpoint that failed after discovery succeeded. */
export class UpstreamError extends Error {
  constructor(
    /** unreachable (connection failed), timeout (no response in time), bad-response (status or body). */
    readonly kind: UpstreamFailure,
    /** The underlying code, e.g. ECONNREFUSED, ETIMEDOUT, ECONNRESET, EUPSTREAMSTATUS. */
    readonly code: string,
    /** Where the last attempt went: `address:port`. */
    readonly endpoint: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

/** Counters of an SrvHttpClient since it was made, for metrics. */
export interface HttpClientStats {
  /** Requests sent to each endpoint (`address:port`), retries included. */
  picks: Record<string, number>;
  /** Attempts repeated on another endpoint. */
  retries: number;
  /** Requests that failed in the end, by failure kind. */
  failures: Record<UpstreamFailure, number>;
  /** Endpoint ejections by passive health. */
  ejections: number;
}

/** Options of `SrvHttpClient`. */
export interface SrvHttpClientOptions {
  /** The resolver that finds endpoints. */
  resolver: SrvResolver;
  /** SRV name of the upstream service, e.g. `service_b.ecs.internal`. */
  name: string;
  /** Time allowed for one attempt's response, ms. @default 5000 */
  timeoutMs?: number;
  /** Time allowed to open a connection before the endpoint counts as unreachable, ms. @default 1000 */
  connectTimeoutMs?: number;
  /** Attempts per request, each on another endpoint when one is left. @default 3 */
  maxAttempts?: number;
  /** Most sockets per endpoint. @default 256 */
  maxSocketsPerEndpoint?: number;
  /** Passive health: when connection failures eject an endpoint, and for how long. */
  health?: EndpointHealthOptions;
}

/** Connection errors that happen before a request leaves: safe to retry for any method. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ECONNTIMEOUT',
]);
/** Errors after the request may have left but before any response: retried for idempotent methods. */
const BEFORE_RESPONSE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ERR_SOCKET_CLOSED']);
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
 * HTTP calls to a service found through SRV: each request picks an endpoint (RFC 2782) from the warm
 * cache, goes there over a keep-alive connection with axios (no redirects followed, no proxy), and on a
 * connection failure is retried on another endpoint when that is safe.
 */
export class SrvHttpClient {
  /** The axios instance used for every call (its defaults: keep-alive agent, no redirects, no proxy). */
  readonly axios: AxiosInstance;
  /** Passive health of the endpoints this client called. */
  readonly health: EndpointHealth;
  private readonly agent: ConnectTimeoutAgent;
  private readonly maxAttempts: number;
  private readonly onChange: (e: { removed: Endpoint[] }) => void;
  private readonly picks = new Map<string, number>();
  private readonly counters = {
    retries: 0,
    failures: { unreachable: 0, timeout: 0, 'bad-response': 0 },
    ejections: 0,
  };

  /** @throws {TypeError} naming an invalid option. */
  constructor(private readonly options: SrvHttpClientOptions) {
    if (!options.resolver) throw new TypeError('resolver is required');
    if (typeof options.name !== 'string' || options.name.length === 0)
      throw new TypeError('name must be an SRV name');
    const timeoutMs = checkPositive('timeoutMs', options.timeoutMs, 5000);
    const connectTimeoutMs = checkPositive('connectTimeoutMs', options.connectTimeoutMs, 1000);
    this.maxAttempts = checkPositive('maxAttempts', options.maxAttempts, 3);
    const maxSockets = checkPositive('maxSocketsPerEndpoint', options.maxSocketsPerEndpoint, 256);
    this.health = new EndpointHealth(options.health);
    this.health.on('eject', () => this.counters.ejections++);
    this.agent = new ConnectTimeoutAgent(
      { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' },
      connectTimeoutMs,
    );
    this.axios = axios.create({
      adapter: 'http',
      httpAgent: this.agent,
      // Calls between tasks in one VPC gain nothing from compression; asking for none spares axios its
      // decompression pipeline (measured: ~5% less CPU per call).
      decompress: false,
      headers: { 'Accept-Encoding': 'identity' },
      // maxRedirects 0: never follow a redirect elsewhere, and axios then uses Node's http directly
      // instead of follow-redirects (much faster).
      maxRedirects: 0,
      proxy: false,
      timeout: timeoutMs,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: false, forcedJSONParsing: true },
    });
    // Connections to endpoints that left DNS are closed once idle rather than kept until they time out.
    this.onChange = ({ removed }) => {
      for (const e of removed) {
        this.dropIdleSockets(e);
        this.picks.delete(e.key);
      }
      this.health.forget(removed.map((e) => e.key));
    };
    options.resolver.on('change', this.onChange);
  }

  /**
   * Sends `config` (a relative `url`) to an endpoint of the service.
   * @throws {DiscoveryError} when no endpoint can be found; {UpstreamError} when the call fails.
   */
  async request<T = unknown>(
    config: AxiosRequestConfig,
  ): Promise<{ response: AxiosResponse<T>; endpoint: Endpoint }> {
    const method = (config.method ?? 'GET').toUpperCase();
    const tried = new Set<string>();
    const { health } = this;
    const usable = (e: Endpoint): boolean => !tried.has(e.key) && health.isAvailable(e);
    for (let attempt = 1; ; attempt++) {
      const { resolver, name } = this.options;
      // Fast path: nothing ejected and nothing tried yet, so every endpoint is a candidate.
      const filter = tried.size === 0 && health.allHealthy ? undefined : usable;
      const endpoint =
        resolver.pickCached(name, filter) ??
        (await resolver.pick(name, filter, { signal: config.signal as AbortSignal | undefined }));
      this.picks.set(endpoint.key, (this.picks.get(endpoint.key) ?? 0) + 1);
      try {
        const response = await this.axios.request<T>({
          ...config,
          baseURL: `http://${endpoint.key}`,
          headers: {
            ...(config.headers as Record<string, string> | undefined),
            Host: `${endpoint.target}:${endpoint.port}`,
          },
        });
        health.reportSuccess(endpoint);
        return { response, endpoint };
      } catch (err) {
        const failure = toUpstreamError(err, endpoint.key, endpoint.target);
        const connectFailed = CONNECT_CODES.has(failure.code);
        const noResponse = BEFORE_RESPONSE_CODES.has(failure.code);
        if (connectFailed || noResponse) health.reportFailure(endpoint);
        else if (failure.kind === 'bad-response') health.reportSuccess(endpoint); // it answered
        const retryable = connectFailed || (noResponse && (IDEMPOTENT.has(method) || reusedSocket(err)));
        if (!retryable || attempt >= this.maxAttempts) {
          this.counters.failures[failure.kind]++;
          throw failure;
        }
        this.counters.retries++;
        tried.add(endpoint.key);
      }
    }
  }

  /** Counters since the client was made (a copy). */
  stats(): HttpClientStats {
    return {
      picks: Object.fromEntries(this.picks),
      retries: this.counters.retries,
      failures: { ...this.counters.failures },
      ejections: this.counters.ejections,
    };
  }

  /** Closes every pooled connection and stops listening to the resolver. */
  close(): void {
    this.options.resolver.off('change', this.onChange);
    this.agent.destroy();
  }

  private dropIdleSockets(endpoint: Endpoint): void {
    const key = this.agent.getName({ host: endpoint.address, port: endpoint.port });
    for (const socket of this.agent.freeSockets[key] ?? []) socket.destroy();
  }
}

/** A keep-alive socket the server closed just as we reused it: the request was not processed. */
function reusedSocket(err: unknown): boolean {
  return (
    err instanceof AxiosError &&
    (err.request as { reusedSocket?: boolean } | undefined)?.reusedSocket === true
  );
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
  const where = name === endpoint ? endpoint : `${name} (${endpoint})`;
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

function checkPositive(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0)
    throw new TypeError(`${option} must be a positive integer, got ${String(value)}`);
  return value;
}
