import { DiscoveryError, isDiscoveryError } from './errors';
import { EndpointHealth, type EndpointHealthOptions } from './health';
import { positiveInt } from './options';
import type { Endpoint } from './records';
import type { EndpointSource } from './source';
import {
  CONNECT_CODES,
  UpstreamError,
  classifyError,
  describeEndpoint,
  type UpstreamFailure,
} from './upstream';

/** The longest delay a Node timer takes (longer ones fire after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `value` (or `fallback`) as a positive integer a timer can hold. @throws {TypeError} */
function timerMs(option: string, value: number | undefined, fallback: number): number {
  const ms = positiveInt(option, value, fallback);
  if (ms > MAX_TIMER_MS) throw new TypeError(`${option} must be at most ${MAX_TIMER_MS} ms, got ${ms}`);
  return ms;
}

/** Options of `EndpointCaller` (and of every HTTP integration built on it). */
export interface EndpointCallerOptions {
  /** Where endpoints come from: an `SrvResolver` (DNS) or a `CloudMapSource` (the Cloud Map API). */
  source: EndpointSource;
  /** Time one attempt may take, from sending to the last byte of the response, ms. @default 5000 */
  timeoutMs?: number;
  /**
   * Time one call may take in all: discovery, every attempt and retry. A timed-out idempotent call is
   * retried elsewhere only within it. @default 2 × timeoutMs
   */
  budgetMs?: number;
  /** Attempts per call, each on another endpoint when one is left. @default 3 */
  maxAttempts?: number;
  /** Passive health: when failures eject an endpoint, for how long, and how long it is remembered. */
  health?: EndpointHealthOptions;
}

/** Per-call options of `withEndpoint`. */
export interface CallOptions {
  /**
   * May the call be made again after it might have reached the upstream's handler (a reset, a timeout)?
   * Connection failures (nothing was sent) are retried whatever this says. @default false
   */
  idempotent?: boolean;
  /**
   * Can the request be sent again at all? A body that is a stream is consumed by the first attempt:
   * then only a connection that never opened is retried (the body was not read). @default true
   */
  replayable?: boolean;
  /** The caller's signal: aborting it cancels the call (an UpstreamError of kind `cancelled`). */
  signal?: AbortSignal;
  /**
   * Turns what `fn` threw into an UpstreamError. @default `classifyError`: Node socket errnos and undici
   * codes; anything else is a bad response. An UpstreamError thrown by `fn` is taken as it is.
   */
  classify?: (err: unknown, endpoint: Endpoint) => UpstreamError;
}

/**
 * The work of one attempt: call `endpoint`, honouring `signal`, which aborts at the attempt's deadline or
 * when the caller leaves; its `reason` is then the UpstreamError (`timeout` or `cancelled`) to throw.
 */
export type EndpointCall<T> = (endpoint: Endpoint, signal: AbortSignal) => Promise<T>;

/** Counters of a caller since it was made, for metrics. */
export interface CallerStats {
  /** Calls sent to each endpoint (`address:port`), retries included. */
  picks: Record<string, number>;
  /** Attempts repeated on another endpoint. */
  retries: number;
  /** Calls that failed in the end, by failure kind (`cancelled`: the caller gave up). */
  failures: Record<UpstreamFailure, number>;
  /** Endpoint ejections by passive health. */
  ejections: number;
}

/**
 * Calls to a discovered service over any transport: `withEndpoint(name, fn)` picks an endpoint (RFC 2782
 * from the warm set), runs `fn` with a deadline for the whole attempt, reports the outcome to passive
 * health, and retries on another endpoint when that is safe: after a connection failure always (nothing
 * was sent), after a reset or a timeout only when the call is idempotent (the upstream may have run it).
 * Every HTTP integration (axios, fetch/undici, node:http) is this plus how its errors read.
 */
export class EndpointCaller {
  /** Passive health of the endpoints called. */
  readonly health: EndpointHealth;
  /** Where endpoints come from. */
  readonly source: EndpointSource;
  /** Time one attempt may take, ms. */
  readonly timeoutMs: number;
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
  constructor(options: EndpointCallerOptions) {
    if (!options?.source) throw new TypeError('source is required');
    this.source = options.source;
    this.timeoutMs = timerMs('timeoutMs', options.timeoutMs, 5000);
    this.budgetMs = timerMs('budgetMs', options.budgetMs, Math.min(MAX_TIMER_MS, 2 * this.timeoutMs));
    this.maxAttempts = positiveInt('maxAttempts', options.maxAttempts, 3);
    this.health = new EndpointHealth(options.health);
    this.health.on('eject', () => this.counters.ejections++);
    // Endpoints that leave the set keep their health for a while: with more than 8 tasks, DNS answers
    // are random samples of the set.
    this.onChange = ({ added, removed }) => {
      const forgotten = this.health.update(
        added.map((e) => e.key),
        removed.map((e) => e.key),
      );
      for (const key of forgotten) this.picks.delete(key);
    };
    this.source.on('change', this.onChange);
  }

  /**
   * Runs `fn` against an endpoint of `name`, retrying elsewhere when safe (see the class).
   * @throws {DiscoveryError} when no endpoint can be found; {UpstreamError} when the call fails.
   */
  async withEndpoint<T>(
    name: string,
    fn: EndpointCall<T>,
    options: CallOptions = {},
  ): Promise<{ result: T; endpoint: Endpoint }> {
    const { idempotent = false, replayable = true, signal: callerSignal, classify } = options;
    if (callerSignal?.aborted) {
      this.counters.failures.cancelled++;
      throw new UpstreamError(
        'cancelled',
        'ECANCELLED',
        '',
        `the caller cancelled before ${name} was called`,
      );
    }
    const deadline = Date.now() + this.budgetMs;
    const { health } = this;
    // Made on the first retry only: most calls succeed at once, and the hot path allocates nothing for it.
    let tried: Set<string> | undefined;
    let usable: ((e: Endpoint) => boolean) | undefined;
    for (let attempt = 1; ; attempt++) {
      // Fast path: nothing ejected and nothing tried yet, so every endpoint is a candidate.
      const filter =
        tried === undefined && health.allHealthy
          ? undefined
          : (usable ??= (e) => !tried?.has(e.key) && health.isAvailable(e));
      const endpoint =
        this.source.pickCached(name, filter) ?? (await this.pickWithin(name, filter, deadline, callerSignal));
      this.picks.set(endpoint.key, (this.picks.get(endpoint.key) ?? 0) + 1);
      const attemptMs = Math.max(1, Math.min(this.timeoutMs, deadline - Date.now()));
      try {
        const result = await runWithDeadline(
          fn,
          endpoint,
          endpoint.key,
          endpoint.target ?? endpoint.key, // a custom source may leave it out
          attemptMs,
          callerSignal,
          classify,
        );
        health.reportSuccess(endpoint);
        return { result, endpoint };
      } catch (err) {
        // Anything but an UpstreamError (a bug, a bad option) says nothing about the endpoint.
        if (!(err instanceof UpstreamError)) throw err;
        const failure = err;
        if (failure.kind === 'cancelled') {
          this.counters.failures.cancelled++;
          throw failure; // the caller left: nothing learnt about the endpoint
        }
        const connectFailed = CONNECT_CODES.has(failure.code);
        // A timeout counts against the endpoint only if it had the whole attempt timeout: one cut short
        // by what was left of the call's budget says nothing about it.
        const blameless = failure.kind === 'timeout' && attemptMs < this.timeoutMs;
        if (blameless) {
          // neither success nor failure
        } else if (failure.kind !== 'bad-response' || failure.code === 'ERESPONSETOOLARGE') {
          // Anything but an answer (bad status, unreadable body) says the endpoint is unwell.
          health.reportFailure(endpoint, failure.code);
          // The source already said "none" and every endpoint it still holds for a grace fails: believe
          // it now (the next pick answers its ENOTFOUND/ENODATA) rather than keep dialing tasks that are gone.
          if (connectFailed && !health.allHealthy) this.source.endGrace(name, health.isAvailable);
        } else {
          health.reportSuccess(endpoint); // it answered
        }
        // Only a connection that never opened proves the upstream did not run the request.
        const retryable =
          !failure.responseStarted &&
          (connectFailed ||
            (idempotent && replayable && (failure.kind === 'unreachable' || failure.kind === 'timeout')));
        if (!retryable || attempt >= this.maxAttempts || deadline - Date.now() <= 0) {
          this.counters.failures[failure.kind]++;
          throw failure;
        }
        this.counters.retries++;
        (tried ??= new Set()).add(endpoint.key);
      }
    }
  }

  /** Counters since the caller was made (a copy). */
  stats(): CallerStats {
    return {
      picks: Object.fromEntries(this.picks),
      retries: this.counters.retries,
      failures: { ...this.counters.failures },
      ejections: this.counters.ejections,
    };
  }

  /** Stops listening to the source (the source itself is the owner's to close). */
  close(): void {
    this.source.off('change', this.onChange);
  }

  /**
   * Picks through a lookup (cold or expired set), within what is left of the call's budget.
   * @throws {DiscoveryError} ETIMEOUT when the budget runs out first; {UpstreamError} `cancelled` when
   * the caller leaves meanwhile.
   */
  private async pickWithin(
    name: string,
    filter: ((e: Endpoint) => boolean) | undefined,
    deadline: number,
    callerSignal: AbortSignal | undefined,
  ): Promise<Endpoint> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
    const onCallerAbort = (): void => controller.abort();
    if (callerSignal?.aborted) onCallerAbort();
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      return await this.source.pick(name, filter, { signal: controller.signal });
    } catch (err) {
      if (isDiscoveryError(err, 'ECANCELLED') && callerSignal?.aborted) {
        // The caller left while discovery was under way: a cancellation, not a discovery failure.
        this.counters.failures.cancelled++;
        const message = `the caller cancelled while ${name} was being discovered`;
        throw new UpstreamError('cancelled', 'ECANCELLED', '', message, { cause: err });
      }
      if (isDiscoveryError(err, 'ECANCELLED') && !this.source.isClosed) {
        const message = 'no endpoint found within the call budget';
        throw new DiscoveryError('ETIMEOUT', name, message, { cause: err });
      }
      throw err;
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }
  }
}

/** Options of `callWithDeadline`. */
export interface DeadlineOptions {
  /** `address:port` called (the UpstreamError's `endpoint`). */
  endpoint: string;
  /** Its name for messages. @default endpoint */
  target?: string;
  /** Time the whole exchange may take, ms. */
  timeoutMs: number;
  /** The caller's signal: aborting it cancels the call. */
  signal?: AbortSignal;
  /** Turns what `work` threw into an UpstreamError. @default `classifyError` */
  classify?: (err: unknown) => UpstreamError;
}

/**
 * Runs `work` with one signal that aborts at the deadline (reason: UpstreamError `timeout`, ETIMEDOUT) or
 * when the caller's signal does (`cancelled`, ECANCELLED; `work` is not called at all when it already has),
 * and turns any failure into an UpstreamError.
 * One AbortController and one timer per call: cheaper than `AbortSignal.any([caller,
 * AbortSignal.timeout(ms)])`, which costs tens of µs per call on Node 20 and keeps every timer alive
 * until it fires. Each attempt of `EndpointCaller` runs through it; so can a call to a fixed URL.
 * @throws {TypeError} for a `timeoutMs` that is not an integer from 1 to 2³¹ − 1; {UpstreamError}
 */
export async function callWithDeadline<T>(
  work: (signal: AbortSignal) => Promise<T>,
  options: DeadlineOptions,
): Promise<T> {
  const { endpoint, timeoutMs, signal, classify } = options;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMER_MS) {
    throw new TypeError(`timeoutMs must be an integer from 1 to ${MAX_TIMER_MS}, got ${String(timeoutMs)}`);
  }
  const target = options.target ?? endpoint;
  return runWithDeadline(
    callWork,
    work,
    endpoint,
    target,
    timeoutMs,
    signal,
    classify && ((err) => classify(err)),
  );
}

function callWork<T>(work: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
  return work(signal);
}

function abortAtDeadline(controller: AbortController, endpoint: string, target: string, ms: number): void {
  const message = `${describeEndpoint(endpoint, target)} did not answer in ${ms} ms`;
  controller.abort(new UpstreamError('timeout', 'ETIMEDOUT', endpoint, message));
}

function cancelled(endpoint: string, target: string): UpstreamError {
  const message = `the caller cancelled the call to ${describeEndpoint(endpoint, target)}`;
  return new UpstreamError('cancelled', 'ECANCELLED', endpoint, message);
}

/**
 * `callWithDeadline`'s work, as each attempt of `EndpointCaller` runs it: `fn(arg, signal)`, with the
 * arguments spread out so that the hot path makes no options object, closure or message per call
 * (the messages are made only when something fails).
 */
async function runWithDeadline<A, T>(
  fn: (arg: A, signal: AbortSignal) => Promise<T>,
  arg: A,
  endpoint: string,
  target: string,
  timeoutMs: number,
  callerSignal: AbortSignal | undefined,
  classify: ((err: unknown, arg: A) => UpstreamError) | undefined,
): Promise<T> {
  if (callerSignal?.aborted) throw cancelled(endpoint, target);
  const controller = new AbortController();
  const timer = setTimeout(abortAtDeadline, timeoutMs, controller, endpoint, target, timeoutMs);
  const onCallerAbort = callerSignal && ((): void => controller.abort(cancelled(endpoint, target)));
  if (onCallerAbort) callerSignal!.addEventListener('abort', onCallerAbort, { once: true });
  try {
    return await fn(arg, controller.signal);
  } catch (err) {
    if (err instanceof UpstreamError && err.responseStarted) throw err; // classified by fn itself
    if (controller.signal.aborted) throw controller.signal.reason as UpstreamError;
    throw classify ? classify(err, arg) : classifyError(err, endpoint, target);
  } finally {
    clearTimeout(timer);
    if (onCallerAbort) callerSignal!.removeEventListener('abort', onCallerAbort);
  }
}
