import type { Query, Reply } from './message';
import type { DnsServer } from './servers';

/** Why a single send/receive attempt ended without a usable reply. */
export type AttemptFailure = 'timeout' | 'refused' | 'closed' | 'network' | 'aborted' | 'bad-response';

/** A failed attempt (its `reason` decides what the exchange does next). */
export class AttemptError extends Error {
  constructor(
    readonly reason: AttemptFailure,
    message: string,
    options?: { cause?: unknown; errno?: string },
  ) {
    super(message, options);
    this.name = 'AttemptError';
    this.errno = options?.errno;
  }

  /** The socket's errno (`ENETUNREACH`, `EACCES`…) for `refused` and `network` failures. */
  readonly errno?: string;
  /** The transport the attempt used, once known. */
  transport?: 'udp' | 'tcp';
}

/** Sends one query to one server and resolves with the first reply that answers it. */
export type Transport = (server: DnsServer, query: Query, options: AttemptOptions) => Promise<Reply>;

/** Limits of one attempt. */
export interface AttemptOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Counts what a transport dropped, for metrics and tests. */
export interface WireStats {
  /** Datagrams or messages dropped: wrong source, wrong ID or question, undecodable. */
  dropped: number;
}

/**
 * Runs `start` with a timeout and an abort signal wired to `fail`, and always runs `cleanup` once the
 * attempt settles, whichever way (every socket, timer and listener released in one place).
 */
export function runAttempt(
  options: AttemptOptions,
  start: (settle: { resolve: (reply: Reply) => void; fail: (err: AttemptError) => void }) => () => void,
): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new AttemptError('aborted', 'aborted before sending'));
      return;
    }
    let done = false;
    let cleanup: (() => void) | undefined;
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      cleanup?.();
    };
    const settle = {
      resolve: (reply: Reply): void => {
        if (done) return;
        finish();
        resolve(reply);
      },
      fail: (err: AttemptError): void => {
        if (done) return;
        finish();
        reject(err);
      },
    };
    const onAbort = (): void => settle.fail(new AttemptError('aborted', 'aborted'));
    const timer = setTimeout(
      () => settle.fail(new AttemptError('timeout', `no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      cleanup = start(settle);
    } catch (err) {
      settle.fail(socketFailure(err as NodeJS.ErrnoException));
    }
    // start() may have settled synchronously before cleanup was assigned.
    if (done) cleanup?.();
  });
}

/**
 * Maps a socket error to an attempt failure that keeps its errno: a refusal (ICMP port unreachable) is
 * worth telling apart from silence, and from a network that has no route to the server at all.
 */
export function socketFailure(err: NodeJS.ErrnoException): AttemptError {
  const refused = err.code === 'ECONNREFUSED';
  return new AttemptError(refused ? 'refused' : 'network', `${err.code ?? 'socket error'}: ${err.message}`, {
    cause: err,
    errno: err.code,
  });
}
