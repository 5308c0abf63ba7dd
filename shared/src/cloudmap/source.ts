import { EventEmitter } from 'node:events';
import { abortable } from '../abort';
import { createEndpointSet, diffSets, type EndpointSet } from '../endpoint-set';
import { DiscoveryError, NEGATIVE_CODES, type DiscoveryErrorCode } from '../errors';
import { nonNegative, positive } from '../options';
import type { Endpoint } from '../records';
import type { DiscoveryLogger } from '../resolver';
import { pickEndpoint, type Random } from '../select';
import {
  errorView,
  pickThrough,
  type EndpointSource,
  type EntryState,
  type NameSnapshot,
  type ResolveOptions,
  type SourceEvents,
  type SourceStats,
} from '../source';
import { invalidNameReason, normalizeName } from '../wire/message';
import { CloudMapApiError, type CloudMapApi, type HealthStatusFilter, type ServiceRef } from './api';
import { endpointsFromInstances } from './instances';
import { createSdkCloudMapApi, type SdkCloudMapApiOptions } from './sdk-api';

/** Options of `CloudMapSource`. Every duration carries its unit in its name. */
export interface CloudMapSourceOptions {
  /** The API to call. @default the AWS SDK v3 client, configured by `sdk` and the SDK's standard chain */
  api?: CloudMapApi;
  /** Region, endpoint override and credentials for the default API. */
  sdk?: SdkCloudMapApiOptions;
  /**
   * Which Cloud Map service a name means. @default for `a.b.c`: service `a` in namespace `b.c` (the
   * service and namespace behind Cloud Map's SRV name `a.b.c`)
   */
  services?: Readonly<Record<string, ServiceRef>>;
  /** Which instances to take by health. @default `HEALTHY_OR_ELSE_ALL` */
  healthStatus?: HealthStatusFilter;
  /** How often `DiscoverInstancesRevision` is polled (jittered ±20 %). @default 5000 */
  pollIntervalMs?: number;
  /** A full `DiscoverInstances` at least this often, whatever the revision says (a safety net). @default 60000 */
  fullRefreshMs?: number;
  /** Time one API call may take. @default 3000 */
  requestTimeoutMs?: number;
  /** Longest back-off after failed calls (doubling from the poll interval, jittered). @default 60000 */
  maxBackoffMs?: number;
  /** How long the last good set is served while the API fails (as DNS's stale limit). @default 900 */
  maxStaleSeconds?: number;
  /** A name unused this long stops being polled and is forgotten. @default 600000 */
  idleTimeoutMs?: number;
  /** Accept link-local, metadata, unspecified and multicast addresses. @default false */
  allowUnsafeAddresses?: boolean;
  /** Most instances used per service (the API returns at most 1000). @default 1000 */
  maxInstances?: number;
  /** Random source in [0,1) for selection and jitter. @default Math.random */
  random?: Random;
  /** Clock in ms. @default Date.now */
  now?: () => number;
  /** Receives debug/warn lines. */
  logger?: DiscoveryLogger;
}

/** Counters of a Cloud Map source, for metrics. */
export interface CloudMapSourceStats extends SourceStats {
  /** API calls by operation (`DiscoverInstances`, `DiscoverInstancesRevision`), then by outcome (`ok` or a code). */
  apiCalls: Record<string, Record<string, number>>;
}

interface Entry {
  name: string;
  ref: ServiceRef;
  set?: EndpointSet;
  revision?: number;
  /** Clock ms of the last call that succeeded (revision or full). */
  lastSuccessAt?: number;
  lastPollAt?: number;
  lastFullAt: number;
  /** Set while calls fail: the set is served stale (within maxStaleSeconds of lastSuccessAt). */
  failing: boolean;
  staleAnnounced: boolean;
  consecutiveFailures: number;
  lastError?: DiscoveryError;
  lastErrorAt?: number;
  lastUsedAt: number;
  timer?: NodeJS.Timeout;
  inflight?: Promise<void>;
}

/**
 * Endpoints from the Cloud Map API instead of DNS: `DiscoverInstances` returns up to 1000 instances with
 * no DNS cache in between (DNS's MULTIVALUE answers carry at most 8, cached by the VPC resolver), and
 * `DiscoverInstancesRevision`, polled cheaply, says when to list again. One background poll per name, so
 * requests never call the API; on errors the last good set is served (bounded by `maxStaleSeconds`) while
 * the poll backs off with jitter. Needs `servicediscovery:DiscoverInstances` and
 * `servicediscovery:DiscoverInstancesRevision` (on ECS: the task role).
 */
export class CloudMapSource extends EventEmitter<SourceEvents> implements EndpointSource {
  /** This source's kind. */
  readonly kind = 'cloudmap' as const;
  private readonly api: CloudMapApi;
  private readonly entries = new Map<string, Entry>();
  private readonly abort = new AbortController();
  private readonly opts: Required<Omit<CloudMapSourceOptions, 'api' | 'sdk' | 'services' | 'logger'>>;
  private readonly services: Readonly<Record<string, ServiceRef>>;
  private readonly logger: DiscoveryLogger;
  private closed = false;
  private readonly counters = {
    lookups: 0,
    lookupErrors: {} as Record<string, number>,
    cacheHits: 0,
    staleServes: 0,
    apiCalls: {} as Record<string, Record<string, number>>,
  };

  /** @throws {TypeError} naming the first invalid option. */
  constructor(options: CloudMapSourceOptions = {}) {
    super();
    const health = options.healthStatus ?? 'HEALTHY_OR_ELSE_ALL';
    if (!['HEALTHY', 'UNHEALTHY', 'ALL', 'HEALTHY_OR_ELSE_ALL'].includes(health)) {
      throw new TypeError(
        `healthStatus must be HEALTHY, UNHEALTHY, ALL or HEALTHY_OR_ELSE_ALL, got ${String(health)}`,
      );
    }
    this.opts = {
      healthStatus: health,
      pollIntervalMs: positive('pollIntervalMs', options.pollIntervalMs, 5000),
      fullRefreshMs: positive('fullRefreshMs', options.fullRefreshMs, 60_000),
      requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 3000),
      maxBackoffMs: positive('maxBackoffMs', options.maxBackoffMs, 60_000),
      maxStaleSeconds: nonNegative('maxStaleSeconds', options.maxStaleSeconds, 900),
      idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, 600_000),
      allowUnsafeAddresses: options.allowUnsafeAddresses ?? false,
      maxInstances: positive('maxInstances', options.maxInstances, 1000),
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
    };
    if (!Number.isInteger(this.opts.maxInstances) || this.opts.maxInstances > 1000) {
      throw new TypeError(`maxInstances must be an integer from 1 to 1000, got ${this.opts.maxInstances}`);
    }
    const services: Record<string, ServiceRef> = {};
    for (const [name, ref] of Object.entries(options.services ?? {})) {
      if (
        !ref ||
        typeof ref.namespace !== 'string' ||
        typeof ref.service !== 'string' ||
        !ref.namespace ||
        !ref.service
      ) {
        throw new TypeError(`services["${name}"] must be { namespace, service }`);
      }
      services[normalizeName(name)] = ref;
    }
    this.services = services;
    this.logger = options.logger ?? {};
    this.api = options.api ?? createSdkCloudMapApi(options.sdk);
  }

  /** True once close() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Where the API calls go (endpoint URL or Region), for `/discovery`. */
  get apiDescription(): string {
    return this.api.description;
  }

  pickCached(name: string, isAvailable?: (e: Endpoint) => boolean): Endpoint | undefined {
    const entry = this.entries.get(name) ?? this.entries.get(normalizeName(name));
    if (entry?.set === undefined) return undefined;
    const now = this.opts.now();
    entry.lastUsedAt = now;
    if (!this.count(entry, now)) return undefined;
    return pickEndpoint(entry.set.groups, this.opts.random, isAvailable);
  }

  async pick(
    name: string,
    isAvailable?: (e: Endpoint) => boolean,
    options: ResolveOptions = {},
  ): Promise<Endpoint> {
    return pickThrough(this, this.opts.random, name, isAvailable, options);
  }

  /**
   * The current instance set of `name`. A cold name waits for its first `DiscoverInstances`; after that
   * a call never waits for the API: it gets the last good set, or the last error at once.
   * @throws {DiscoveryError} ENOTFOUND (no such namespace/service), ENODATA (no usable instance),
   * ETHROTTLED, ETIMEOUT, EAPI with nothing to fall back on; ECANCELLED after close().
   */
  async resolve(name: string, options: ResolveOptions = {}): Promise<EndpointSet> {
    if (this.closed) throw new DiscoveryError('ECANCELLED', name, 'the source is closed');
    if (options.signal?.aborted) throw new DiscoveryError('ECANCELLED', name, 'aborted by the caller');
    const entry = this.entryFor(name);
    const now = this.opts.now();
    entry.lastUsedAt = now;
    if (entry.set && this.count(entry, now)) return entry.set;
    if (entry.inflight) await abortable(entry.inflight, options.signal, name);
    if (this.closed) throw new DiscoveryError('ECANCELLED', name, 'the source was closed during the lookup');
    if (entry.set && this.count(entry, this.opts.now())) return entry.set;
    throw entry.lastError ?? new DiscoveryError('ENODATA', name, 'no instances');
  }

  /** Cloud Map's answer is not cached upstream: "no instances" is final at once, there is no grace. */
  endGrace(): boolean {
    return false;
  }

  snapshot(): NameSnapshot[] {
    return [...this.entries.values()].map((entry) => {
      const set = entry.set;
      return {
        name: entry.name,
        source: this.kind,
        state: this.stateOf(entry),
        stale: set !== undefined && entry.failing,
        ttlSeconds: set?.ttlSeconds,
        lastRefresh: set ? new Date(set.fetchedAt).toISOString() : undefined,
        server: this.api.description,
        transport: 'api',
        revision: entry.revision,
        lastPoll: entry.lastPollAt !== undefined ? new Date(entry.lastPollAt).toISOString() : undefined,
        endpoints: set ? set.endpoints.map((e) => ({ ...e })) : [],
        rejected: set?.rejected ?? [],
        rejectedOmitted: set?.rejectedOmitted ?? 0,
        lastError: errorView(entry.lastError, entry.lastErrorAt),
      };
    });
  }

  stats(): CloudMapSourceStats {
    const c = this.counters;
    return {
      lookups: c.lookups,
      lookupErrors: { ...c.lookupErrors },
      cacheHits: c.cacheHits,
      staleServes: c.staleServes,
      apiCalls: Object.fromEntries(
        Object.entries(c.apiCalls).map(([op, byOutcome]) => [op, { ...byOutcome }]),
      ),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
    this.entries.clear();
    this.removeAllListeners();
  }

  /** True when `entry.set` may be served now (counting it as a hit or a stale serve); drops it past the stale limit. */
  private count(entry: Entry, now: number): boolean {
    if (!entry.failing) {
      this.counters.cacheHits++;
      return true;
    }
    if (entry.lastSuccessAt !== undefined && now < entry.lastSuccessAt + this.opts.maxStaleSeconds * 1000) {
      this.counters.staleServes++;
      return true;
    }
    this.drop(entry);
    return false;
  }

  private entryFor(name: string): Entry {
    const existing = this.entries.get(name);
    if (existing) return existing;
    const key = normalizeName(name);
    let entry = this.entries.get(key);
    if (entry) return entry;
    const ref = this.services[key] ?? defaultRef(key);
    entry = {
      name: key,
      ref,
      lastFullAt: 0,
      failing: false,
      staleAnnounced: false,
      consecutiveFailures: 0,
      lastUsedAt: this.opts.now(),
    };
    this.entries.set(key, entry);
    this.poll(entry);
    return entry;
  }

  /** One poll now (the first one lists in full), then the next one scheduled. */
  private poll(entry: Entry): void {
    entry.inflight = this.pollOnce(entry).finally(() => {
      entry.inflight = undefined;
      if (this.closed || this.entries.get(entry.name) !== entry) return;
      if (this.opts.now() - entry.lastUsedAt > this.opts.idleTimeoutMs) {
        this.entries.delete(entry.name); // unused for long: stop polling (a later use starts again)
        this.logger.debug?.({ name: entry.name }, 'Cloud Map name unused: polling stopped');
        return;
      }
      entry.timer = setTimeout(() => this.poll(entry), this.nextDelayMs(entry));
      entry.timer.unref();
    });
  }

  private async pollOnce(entry: Entry): Promise<void> {
    const now = this.opts.now();
    entry.lastPollAt = now;
    try {
      const full = entry.set === undefined || now - entry.lastFullAt >= this.opts.fullRefreshMs;
      if (!full) {
        const revision = await this.call('DiscoverInstancesRevision', (signal) =>
          this.api.discoverInstancesRevision(entry.ref, signal),
        );
        // A listing without a revision: the first one polled stands for it (the safety net lists anyway).
        entry.revision ??= revision;
        if (revision === entry.revision) {
          this.succeeded(entry, this.opts.now());
          return;
        }
      }
      await this.list(entry);
    } catch (err) {
      if (this.closed) return;
      this.failed(entry, err);
    }
  }

  /** A full `DiscoverInstances`, installed as the new set (or an authoritative "none"). */
  private async list(entry: Entry): Promise<void> {
    const started = this.opts.now();
    this.counters.lookups++;
    let outcome = 'ok';
    try {
      const found = await this.call('DiscoverInstances', (signal) =>
        this.api.discoverInstances(
          { ...entry.ref, healthStatus: this.opts.healthStatus, maxResults: this.opts.maxInstances },
          signal,
        ),
      );
      const now = this.opts.now();
      const ttlSeconds = this.opts.pollIntervalMs / 1000;
      const { endpoints, rejected } = endpointsFromInstances(
        found.instances,
        entry.ref,
        { allowUnsafeAddresses: this.opts.allowUnsafeAddresses, maxInstances: this.opts.maxInstances },
        ttlSeconds,
      );
      if (rejected.size > 0) {
        this.logger.warn?.({ name: entry.name, refused: rejected.summary() }, 'Cloud Map instances refused');
      }
      if (endpoints.length === 0 && found.instances.length > 0) {
        // Instances listed but none can be dialed (attributes missing or refused): an unusable answer,
        // not a "none". It counts as a failed call: the last good set is served stale, the revision is
        // left alone so that the next poll lists again.
        const message = `DiscoverInstances listed ${found.instances.length} instances, none usable: ${rejected.summary()}`;
        throw new CloudMapApiError('failed', message, 'InvalidInstances');
      }
      entry.lastFullAt = now;
      entry.revision = found.revision;
      if (endpoints.length === 0) {
        const why = 'the service has no instances';
        outcome = 'ENODATA';
        this.none(
          entry,
          new DiscoveryError('ENODATA', entry.name, `Cloud Map ${refText(entry.ref)}: ${why}`),
        );
        this.succeeded(entry, now);
        return;
      }
      const set = createEndpointSet({
        name: entry.name,
        endpoints,
        ttlSeconds,
        fetchedAt: now,
        server: this.api.description,
        transport: 'api',
        rejected: rejected.list,
        rejectedOmitted: rejected.omitted,
        incomplete: false,
      });
      const prev = entry.set;
      entry.set = set;
      this.succeeded(entry, now);
      const { added, removed } = diffSets(prev, set);
      if (added.length > 0 || removed.length > 0) {
        this.emit('change', { name: entry.name, added, removed, endpoints: set.endpoints });
      }
    } catch (err) {
      outcome = err instanceof CloudMapApiError ? codeOf(err) : 'EAPI';
      throw err;
    } finally {
      this.emit('lookup', { name: entry.name, durationMs: this.opts.now() - started, outcome });
    }
  }

  /** One API call with its timeout and the source's abort, counted by operation and outcome. */
  private async call<T>(operation: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const onClose = (): void => controller.abort();
    this.abort.signal.addEventListener('abort', onClose, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.opts.requestTimeoutMs);
    const byOutcome = (this.counters.apiCalls[operation] ??= {});
    // The timer settles the call itself, not only its signal: an API (or a credentials provider) that
    // ignores the abort must not hold the poll forever.
    let giveUp: (err: unknown) => void = () => undefined;
    const stop = new Promise<never>((_resolve, reject) => {
      giveUp = reject;
    });
    stop.catch(() => undefined); // settled after the race is over: nobody waits for it any more
    controller.signal.addEventListener('abort', () => giveUp(new Error('aborted')), { once: true });
    try {
      const result = await Promise.race([run(controller.signal), stop]);
      byOutcome.ok = (byOutcome.ok ?? 0) + 1;
      return result;
    } catch (err) {
      const error =
        timedOut && !this.closed
          ? new CloudMapApiError(
              'timeout',
              `${operation} did not answer in ${this.opts.requestTimeoutMs} ms`,
              undefined,
              {
                cause: err,
              },
            )
          : err instanceof CloudMapApiError
            ? err
            : new CloudMapApiError(
                'failed',
                `${operation}: ${String((err as Error)?.message ?? err)}`,
                undefined,
                {
                  cause: err,
                },
              );
      const code = codeOf(error);
      byOutcome[code] = (byOutcome[code] ?? 0) + 1;
      throw error;
    } finally {
      clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onClose);
    }
  }

  private succeeded(entry: Entry, now: number): void {
    entry.lastSuccessAt = now;
    entry.consecutiveFailures = 0;
    if (entry.failing) this.logger.warn?.({ name: entry.name }, 'Cloud Map API answers again');
    entry.failing = false;
    entry.staleAnnounced = false;
  }

  /** An authoritative "none" (no instances, no such service): the set goes at once. */
  private none(entry: Entry, error: DiscoveryError): void {
    this.record(entry, error);
    this.drop(entry);
  }

  private failed(entry: Entry, err: unknown): void {
    const apiError =
      err instanceof CloudMapApiError
        ? err
        : new CloudMapApiError('failed', String((err as Error)?.message ?? err));
    const code = codeOf(apiError);
    const error = new DiscoveryError(
      code,
      entry.name,
      `Cloud Map ${refText(entry.ref)}: ${apiError.message}`,
      {
        cause: apiError,
      },
    );
    entry.consecutiveFailures++;
    if (apiError.failure === 'not-found') {
      entry.revision = undefined;
      this.none(entry, error);
      return;
    }
    this.record(entry, error);
    this.logger.warn?.({ name: entry.name, code, err: apiError.message }, 'Cloud Map API call failed');
    if (entry.set) {
      entry.failing = true;
      if (!entry.staleAnnounced && entry.lastSuccessAt !== undefined) {
        entry.staleAnnounced = true;
        this.emit('stale', { name: entry.name, error, expiredAt: entry.lastSuccessAt });
      }
    }
  }

  private record(entry: Entry, error: DiscoveryError): void {
    entry.lastError = error;
    entry.lastErrorAt = this.opts.now();
    this.counters.lookupErrors[error.code] = (this.counters.lookupErrors[error.code] ?? 0) + 1;
  }

  private drop(entry: Entry): void {
    const prev = entry.set;
    if (!prev) return;
    entry.set = undefined;
    entry.failing = false;
    this.emit('change', { name: entry.name, added: [], removed: [...prev.endpoints], endpoints: [] });
  }

  /**
   * The poll interval jittered ±20 % while calls succeed; after failures, a back-off doubling from it
   * (full jitter between half and all of it), capped: a failing or throttling API is never hammered.
   */
  private nextDelayMs(entry: Entry): number {
    const base = this.opts.pollIntervalMs;
    if (entry.consecutiveFailures === 0) return base * (0.8 + 0.4 * this.opts.random());
    const backoff = Math.min(this.opts.maxBackoffMs, base * 2 ** entry.consecutiveFailures);
    return backoff * (0.5 + 0.5 * this.opts.random());
  }

  private stateOf(entry: Entry): EntryState {
    if (entry.set) return entry.failing ? 'stale' : 'fresh';
    if (entry.lastError) return NEGATIVE_CODES.has(entry.lastError.code) ? 'negative' : 'failed';
    return 'empty';
  }
}

/** `service_b.ecs.internal` → service `service_b` in namespace `ecs.internal`. */
function defaultRef(name: string): ServiceRef {
  const reason = invalidNameReason(name);
  if (reason !== undefined)
    throw new DiscoveryError('EBADNAME', name.slice(0, 80), `invalid name: ${reason}`);
  const dot = name.indexOf('.');
  if (dot === -1) {
    throw new DiscoveryError(
      'EBADNAME',
      name,
      'a Cloud Map name needs a service and a namespace (service.namespace)',
    );
  }
  return { service: name.slice(0, dot), namespace: name.slice(dot + 1) };
}

function codeOf(err: CloudMapApiError): DiscoveryErrorCode {
  switch (err.failure) {
    case 'throttled':
      return 'ETHROTTLED';
    case 'not-found':
      return 'ENOTFOUND';
    case 'timeout':
      return 'ETIMEOUT';
    case 'aborted':
      return 'ECANCELLED';
    case 'failed':
      return 'EAPI';
  }
}

function refText(ref: ServiceRef): string {
  return `${ref.namespace}/${ref.service}`;
}
