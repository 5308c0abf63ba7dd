import type { Dispatcher } from 'undici';
import type { EndpointCaller } from '../caller';
import { UpstreamError, isReplayableBody } from '../upstream';
import { normalizeName } from '../wire/message';

/** Options of `discoveryInterceptor`. */
export interface DiscoveryInterceptorOptions {
  /** Picks, deadlines, health and retries (share one with the other integrations to share health). */
  caller: EndpointCaller;
  /**
   * The host names to discover (`service_b.ecs.internal`); requests to any other origin pass through
   * untouched. Names compare case-insensitively.
   */
  names: readonly string[];
}

/** RFC 9110 §9.2.2. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

type Headers = Dispatcher.DispatchOptions['headers'];

/**
 * An undici interceptor (for `Agent#compose`) that sends requests for a discovered name to one of its
 * endpoints, by `EndpointCaller`'s rules: a pick per request, a deadline for the whole exchange (headers
 * and body), passive health, and a retry on another endpoint after a connection failure (any method) or,
 * for idempotent requests (`GET`…, or `idempotent: true` in the dispatch options), after a reset or a
 * timeout — never once the response has started reaching the caller.
 *
 * ```ts
 * import { Agent, fetch } from 'undici';
 * const dispatcher = new Agent().compose(discoveryInterceptor({ caller, names: ['service_b.ecs.internal'] }));
 * const res = await fetch('http://service_b.ecs.internal/v1/whoami', { dispatcher });
 * ```
 *
 * Failures reach the caller as the interceptor's error (`fetch` wraps it as `cause` of its TypeError): an
 * `UpstreamError` (kind `unreachable`, `timeout`, `bad-response`, `cancelled`) or a `DiscoveryError`.
 * Requires undici ≥ 7 (its handler API); with Node's global `fetch`, Node ≥ 22.
 */
export function discoveryInterceptor(
  options: DiscoveryInterceptorOptions,
): Dispatcher.DispatcherComposeInterceptor {
  const { caller } = options;
  if (!caller) throw new TypeError('caller is required');
  if (!Array.isArray(options.names) || options.names.length === 0) {
    throw new TypeError('names must be a non-empty array of host names to discover');
  }
  const names = new Set(options.names.map(normalizeName));
  return (dispatch) => (opts, handler) => {
    const origin = new URL(String(opts.origin));
    const name = normalizeName(origin.hostname);
    if (!names.has(name)) return dispatch(opts, handler);
    const method = String(opts.method).toUpperCase();
    const idempotent = (opts as { idempotent?: boolean }).idempotent ?? IDEMPOTENT.has(method);
    let lastController: Dispatcher.DispatchController | null = null;
    let responseStarted = false;

    const call = (
      endpoint: { key: string; target: string; port: number },
      signal: AbortSignal,
    ): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        let controller: Dispatcher.DispatchController | null = null;
        const onAbort = (): void => controller?.abort(signal.reason as Error);
        signal.addEventListener('abort', onAbort, { once: true });
        const settle = (err?: Error): void => {
          signal.removeEventListener('abort', onAbort);
          if (err === undefined) resolve();
          else reject(err);
        };
        dispatch(
          {
            ...opts,
            origin: `${origin.protocol}//${endpoint.key}`,
            headers: withHost(opts.headers, `${endpoint.target}:${endpoint.port}`),
          },
          {
            onRequestStart(c, context) {
              controller = c;
              lastController = c;
              if (signal.aborted) c.abort(signal.reason as Error);
              handler.onRequestStart?.(c, context);
            },
            onResponseStart(c, statusCode, headers, statusMessage) {
              responseStarted = true;
              handler.onResponseStart?.(c, statusCode, headers, statusMessage);
            },
            onResponseData(c, chunk) {
              handler.onResponseData?.(c, chunk);
            },
            onResponseEnd(c, trailers) {
              handler.onResponseEnd?.(c, trailers);
              settle();
            },
            onResponseError(_c, err) {
              if (!responseStarted) {
                settle(err);
                return;
              }
              // Part of the response has gone to the caller: this call cannot be repeated anywhere.
              const reason = signal.aborted ? (signal.reason as UpstreamError) : undefined;
              settle(
                new UpstreamError(
                  reason?.kind ?? 'unreachable',
                  reason?.code ?? ((err as { code?: string }).code || 'ECONNRESET'),
                  endpoint.key,
                  reason?.message ??
                    `${endpoint.target} (${endpoint.key}) failed mid-response: ${err.message}`,
                  { cause: err, responseStarted: true },
                ),
              );
            },
          },
        );
      });

    // `request()` and `stream()` take a signal (fetch aborts through the dispatch controller instead).
    const given = (opts as { signal?: unknown }).signal;
    const signal = given instanceof AbortSignal ? given : undefined;
    const replayable = isReplayableBody(opts.body);
    caller.withEndpoint(name, call, { idempotent, replayable, signal }).then(
      () => undefined,
      (err: Error) => {
        // The one terminal callback the caller gets for this request (attempts that were retried were not
        // passed on); a mid-response failure closes the response already started.
        handler.onResponseError?.(lastController as Dispatcher.DispatchController, err);
      },
    );
    return true;
  };
}

/** `headers` (object, flat array or iterable of pairs) with `host` set to `host`, replacing any other. */
function withHost(headers: Headers, host: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const add = (key: unknown, value: unknown): void => {
    const k = String(key).toLowerCase();
    if (k === 'host' || value === undefined || value === null) return;
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    const prev = out[k];
    // A header repeated in a flat array keeps every value.
    out[k] = prev === undefined ? (values.length === 1 ? values[0]! : values) : [...[prev].flat(), ...values];
  };
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [k, v] of headers as unknown as Array<[string, string]>) add(k, v);
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2) add(headers[i], headers[i + 1]);
    }
  } else if (headers && typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [k, v] of headers as Iterable<[string, string]>) add(k, v);
  } else if (headers && typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers)) add(k, v);
  }
  out.host = host;
  return out;
}
