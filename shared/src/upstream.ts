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
    /** Where the last attempt went: `address:port` (empty when no endpoint was reached). */
    readonly endpoint: string,
    message: string,
    options?: { cause?: unknown; responseStarted?: boolean },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
    this.responseStarted = options?.responseStarted ?? false;
  }

  /**
   * The response had started reaching the caller when this happened (a streaming transport): the call
   * cannot be repeated, whatever its method.
   */
  readonly responseStarted: boolean;
}

/** Connection errors that happen before a request leaves: safe to retry for any method. */
export const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ECONNTIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT', // undici's connect timeout
]);

/** Errors after the connection opened and before a whole response: the request may have run. */
const AFTER_SEND_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ERR_SOCKET_CLOSED',
  'UND_ERR_SOCKET', // undici: the other side closed the socket
  'UND_ERR_CLOSED',
]);
/** undici's names for what Node's sockets call otherwise: the public code is the same whichever transport. */
const STABLE_CODES: Readonly<Record<string, string>> = {
  UND_ERR_SOCKET: 'ECONNRESET',
  UND_ERR_CLOSED: 'ECONNRESET',
  UND_ERR_CONNECT_TIMEOUT: 'ECONNTIMEOUT',
};
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'ETIMEDOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Classifies any transport's failure that is not already an UpstreamError: a Node socket errno, an
 * undici error code (also when `fetch` wraps it as `cause`), or else a bad response. Transports with
 * richer errors (axios) classify themselves first.
 */
export function classifyError(err: unknown, endpoint: string, target = endpoint): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const where = describeEndpoint(endpoint, target);
  const code = errnoOf(err);
  if (
    (err as Error | undefined)?.name === 'AbortError' ||
    code === 'UND_ERR_ABORTED' ||
    code === 'ABORT_ERR'
  ) {
    return new UpstreamError('cancelled', 'ECANCELLED', endpoint, `the call to ${where} was aborted`, {
      cause: err,
    });
  }
  if (code !== undefined && (CONNECT_CODES.has(code) || AFTER_SEND_CODES.has(code))) {
    const stable = STABLE_CODES[code] ?? code;
    return new UpstreamError('unreachable', stable, endpoint, `${where} is unreachable: ${code}`, {
      cause: err,
    });
  }
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return new UpstreamError('timeout', 'ETIMEDOUT', endpoint, `${where} did not answer in time (${code})`, {
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new UpstreamError(
    'bad-response',
    code ?? 'EUPSTREAM',
    endpoint,
    `call to ${where} failed: ${message}`,
    {
      cause: err,
    },
  );
}

/** The errno or library code of `err`, looking through one level of `cause` (fetch's "fetch failed"). */
function errnoOf(err: unknown): string | undefined {
  const own = (err as { code?: unknown } | undefined)?.code;
  if (typeof own === 'string') return own;
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof cause === 'string' ? cause : undefined;
}

/**
 * True when a request body can be sent twice: none, a string or bytes. A stream (Node Readable, web
 * ReadableStream, async iterable) or form data is consumed by the first attempt.
 */
export function isReplayableBody(body: unknown): boolean {
  if (body === undefined || body === null || typeof body === 'string') return true;
  if (body instanceof Uint8Array || body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return true;
  if (typeof body !== 'object') return true;
  const b = body as { pipe?: unknown; getReader?: unknown; [Symbol.asyncIterator]?: unknown };
  if (typeof b.pipe === 'function' || typeof b.getReader === 'function') return false;
  if (typeof b[Symbol.asyncIterator] === 'function') return false;
  return true; // plain objects (axios serializes them to a string), URLSearchParams…
}

/** `endpoint` (`address:port`) as messages name it: with its target (SRV name) first when that differs. */
export function describeEndpoint(endpoint: string, target: string): string {
  return target === endpoint ? endpoint : `${target} (${endpoint})`;
}
