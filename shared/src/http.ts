import axios, { AxiosError, type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { DiscoveryError, isDiscoveryError } from './errors';
import { EndpointHealth, type EndpointHealthOptions } from './health';
import { positiveInt } from './options';
import { invalidNameReason } from './wire/message';
import type { Endpoint } from './records';
import type { EndpointSource } from './source';

/**
 * How a call to an upstream endpoint failed: the caller maps these to 502 / 504. `cancelled`: the caller
 * aborted (its `signal`), which says nothing about the endpoint.
 */
export type UpstreamFailure = 'unreachable' | 'timeout' | 'bad-response' | 'cancelled';

/** A call to a discovered endpoint that failed after discovery succeeded. */
export class UpstreamError extends Error {
  constructor(
    /** unreachable (connection failed), timeout (no whole response in time), bad-response, cancelled. */
    readonly kind: UpstreamFailure,
    /** The underlying code, e.g. ECONNREFUSED, ETIMEDOUT, ECONNRESET, EUPSTREAMSTATUS, ERESPONSETOOLARGE. */
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
  /** Requests that failed in the end, by failure kind (`cancelled`: the caller gave up). */
  failures: Record<UpstreamFailure, number>;
  /** Endpoint ejections by passive health. */
  ejections: number;
}

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
}

/**
 * A request through the client: an axios config with a relative `url` (an absolute one is refused: the
 * upstream is chosen by discovery only), and whether it may be sent twice.
 */
export interface SrvRequestConfig extends AxiosRequestConfig {
  /**
   * May the request be sent again after it might have reached the upstream's handler (a reset or a
   * timeout)? @default true for GET, HEAD, OPTIONS, TRACE, PUT, DELETE (RFC 9110 §9.2.2), else false.
   * Connection failures (nothing was sent) are retried whatever this says.
   */
  idempotent?: boolean;
}

/** Connection errors that happen before a request leaves: safe to retry for any method. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ECONNTIMEOUT',
]);
/** RFC 9110 §9.2.2. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** Reason given to an attempt's abort controller when its own deadline passes. */
const ATTEMPT_TIMEOUT = Symbol('attempt timeout');

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
 * cache, goes there over a keep-alive connection with axios (no redirects followed, no proxy, a bounded
 * body, one deadline for the whole exchange), reports the outcome to passive health, and is retried on
 * another endpoint when that is safe: after a connection failure always, after a reset or a timeout only
 * when the request is idempotent.
 */
export class SrvHttpClient {
  /** The axios instance used for every call (its defaults: keep-alive agent, no redirects, no proxy). */
  readonly axios: AxiosInstance;
  /** Passive health of the endpoints this client called. */
  readonly health: EndpointHealth;
  /** Where endpoints come from. */
  readonly source: EndpointSource;
  private readonly agent: ConnectTimeoutAgent;
  private readonly timeoutMs: number;
  private readonly budgetMs: number;
  private readonly maxAttempts: number;
  private readonly onChange: (e: { added: Endpoint[]; removed: Endpoint[] }) => void;
  private readonly picks = new Map<string, number>();
  private readonly counters = {
    retries: 0,
    failures: { unreachable: 0, timeout: 0, 'bad-response': 0, cancelled: 0 },
    ejections: 0,
  };

  /** @throws {TypeError} naming an invalid option. */
  constructor(private readonly options: SrvHttpClientOptions) {
    const source = options.source ?? options.resolver;
    if (!source) throw new TypeError('source (or resolver) is required');
    this.source = source;
    if (typeof options.name !== 'string' || invalidNameReason(options.name) !== undefined)
      throw new TypeError(`name must be an SRV name, got ${JSON.stringify(options.name)}`);
    this.timeoutMs = positiveInt('timeoutMs', options.timeoutMs, 5000);
    this.budgetMs = positiveInt('budgetMs', options.budgetMs, 2 * this.timeoutMs);
    const connectTimeoutMs = positiveInt('connectTimeoutMs', options.connectTimeoutMs, 1000);
    this.maxAttempts = positiveInt('maxAttempts', options.maxAttempts, 3);
    const maxSockets = positiveInt('maxSocketsPerEndpoint', options.maxSocketsPerEndpoint, 256);
    const idleMs = positiveInt('idleSocketTimeoutMs', options.idleSocketTimeoutMs, 4000);
    const maxResponseBytes = positiveInt('maxResponseBytes', options.maxResponseBytes, 65_536);
    this.health = new EndpointHealth(options.health);
    this.health.on('eject', () => this.counters.ejections++);
    this.agent = new ConnectTimeoutAgent(
      // timeout: idle sockets close before the server's keep-alive timeout does (the keep-alive race).
      { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo', timeout: idleMs },
      connectTimeoutMs,
    );
    this.axios = axios.create({
      adapter: 'http',
      httpAgent: this.agent,
      // The upstream comes from discovery only: an absolute url must not pick another host.
      allowAbsoluteUrls: false,
      // Calls between tasks in one VPC gain nothing from compression; asking for none spares axios its
      // decompression pipeline (measured: ~5% less CPU per call).
      decompress: false,
      headers: { 'Accept-Encoding': 'identity' },
      // maxRedirects 0: never follow a redirect elsewhere, and axios then uses Node's http directly
      // instead of follow-redirects (much faster).
      maxRedirects: 0,
      // A hostile or broken upstream must not fill A's memory (A's ECS task has 256 MiB).
      maxContentLength: maxResponseBytes,
      proxy: false,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: false, forcedJSONParsing: true },
    });
    // Endpoints that leave the set keep their health (and their pooled sockets, which close on their
    // own when idle) for a while: with more than 8 tasks, DNS answers are random samples of the set.
    this.onChange = ({ added, removed }) => {
      const forgotten = this.health.update(
        added.map((e) => e.key),
        removed.map((e) => e.key),
      );
      for (const key of forgotten) this.picks.delete(key);
    };
    source.on('change', this.onChange);
  }

  /**
   * Sends `config` (a relative `url`) to an endpoint of the service.
   * @throws {TypeError} for an absolute url; {DiscoveryError} when no endpoint can be found;
   * {UpstreamError} when the call fails.
   */
  async request<T = unknown>(
    config: SrvRequestConfig,
  ): Promise<{ response: AxiosResponse<T>; endpoint: Endpoint }> {
    if (config.url !== undefined && /^([a-z][a-z\d+.-]*:|\/\/|\\\\)/i.test(config.url)) {
      throw new TypeError(
        `url must be a path, not an absolute URL: ${JSON.stringify(config.url.slice(0, 80))}`,
      );
    }
    const { idempotent: idempotentOption, ...axiosConfig } = config;
    const method = (config.method ?? 'GET').toUpperCase();
    const idempotent = idempotentOption ?? IDEMPOTENT.has(method);
    const callerSignal = config.signal as AbortSignal | undefined;
    const deadline = Date.now() + this.budgetMs;
    const tried = new Set<string>();
    const { health } = this;
    const usable = (e: Endpoint): boolean => !tried.has(e.key) && health.isAvailable(e);
    for (let attempt = 1; ; attempt++) {
      // Fast path: nothing ejected and nothing tried yet, so every endpoint is a candidate.
      const filter = tried.size === 0 && health.allHealthy ? undefined : usable;
      const endpoint =
        this.source.pickCached(this.options.name, filter) ??
        (await this.pickWithin(filter, deadline, callerSignal));
      this.picks.set(endpoint.key, (this.picks.get(endpoint.key) ?? 0) + 1);
      const attemptMs = Math.max(1, Math.min(this.timeoutMs, deadline - Date.now()));
      try {
        const response = await this.send<T>(axiosConfig, endpoint, attemptMs, callerSignal);
        health.reportSuccess(endpoint);
        return { response, endpoint };
      } catch (err) {
        const failure = err as UpstreamError;
        if (failure.kind === 'cancelled') {
          this.counters.failures.cancelled++;
          throw failure; // the caller left: nothing learnt about the endpoint
        }
        const connectFailed = CONNECT_CODES.has(failure.code);
        // Anything but an answer (bad status, unreadable body) says the endpoint is unwell.
        // A timeout counts against the endpoint only if it had the whole attempt timeout: one cut short
        // by what was left of the request's budget says nothing about it.
        const blameless = failure.kind === 'timeout' && attemptMs < this.timeoutMs;
        if (blameless) {
          // neither success nor failure
        } else if (failure.kind !== 'bad-response' || failure.code === 'ERESPONSETOOLARGE') {
          health.reportFailure(endpoint, failure.code);
          // DNS already said "none" and every endpoint still held for the grace fails: believe DNS now
          // (the next pick answers its ENOTFOUND/ENODATA) rather than keep dialing tasks that are gone.
          if (connectFailed && !health.allHealthy)
            this.source.endGrace(this.options.name, health.isAvailable);
        } else {
          health.reportSuccess(endpoint); // it answered
        }
        // Only a connection that never opened proves the upstream did not run the request.
        const retryable =
          connectFailed || (idempotent && (failure.kind === 'unreachable' || failure.kind === 'timeout'));
        if (!retryable || attempt >= this.maxAttempts || deadline - Date.now() <= 0) {
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

  /** Closes every pooled connection and stops listening to the source. */
  close(): void {
    this.source.off('change', this.onChange);
    this.agent.destroy();
  }

  /** One attempt at `endpoint`, its whole exchange (headers and body) within `attemptMs`. */
  private async send<T>(
    config: AxiosRequestConfig,
    endpoint: Endpoint,
    attemptMs: number,
    callerSignal: AbortSignal | undefined,
  ): Promise<AxiosResponse<T>> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(ATTEMPT_TIMEOUT), attemptMs);
    const onCallerAbort = (): void => controller.abort(callerSignal?.reason);
    if (callerSignal?.aborted) onCallerAbort();
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      return await this.axios.request<T>({
        ...config,
        signal: controller.signal,
        baseURL: `http://${endpoint.key}`,
        headers: {
          ...(config.headers as Record<string, string> | undefined),
          Host: `${endpoint.target}:${endpoint.port}`,
        },
      });
    } catch (err) {
      if (controller.signal.aborted) {
        const timedOut = controller.signal.reason === ATTEMPT_TIMEOUT;
        const where = `${endpoint.target} (${endpoint.key})`;
        throw timedOut
          ? new UpstreamError(
              'timeout',
              'ETIMEDOUT',
              endpoint.key,
              `${where} did not answer in ${attemptMs} ms`,
              {
                cause: err,
              },
            )
          : new UpstreamError(
              'cancelled',
              'ECANCELLED',
              endpoint.key,
              `the caller cancelled the call to ${where}`,
              {
                cause: err,
              },
            );
      }
      throw toUpstreamError(err, endpoint.key, endpoint.target);
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }
  }

  /**
   * Picks through a lookup (cold or expired cache), within what is left of the request's budget.
   * @throws {DiscoveryError} ETIMEOUT when the budget runs out first, ECANCELLED when the caller aborts.
   */
  private async pickWithin(
    filter: ((e: Endpoint) => boolean) | undefined,
    deadline: number,
    callerSignal: AbortSignal | undefined,
  ): Promise<Endpoint> {
    const { source } = this;
    const { name } = this.options;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
    const onCallerAbort = (): void => controller.abort();
    if (callerSignal?.aborted) onCallerAbort();
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      return await source.pick(name, filter, { signal: controller.signal });
    } catch (err) {
      if (isDiscoveryError(err, 'ECANCELLED') && callerSignal?.aborted) {
        // The caller left while discovery was under way: a cancellation, not a discovery failure.
        this.counters.failures.cancelled++;
        throw new UpstreamError(
          'cancelled',
          'ECANCELLED',
          '',
          `the caller cancelled while ${name} was being discovered`,
          {
            cause: err,
          },
        );
      }
      if (isDiscoveryError(err, 'ECANCELLED') && !source.isClosed) {
        throw new DiscoveryError('ETIMEOUT', name, `no endpoint found within the request budget`, {
          cause: err,
        });
      }
      throw err;
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }
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
