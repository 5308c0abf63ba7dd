import { EventEmitter } from 'node:events';
import { abortable } from './abort';
import { diffSets, type EndpointSet } from './endpoint-set';
import { DiscoveryError } from './errors';
import { lookupSrv, type LookupOutcome } from './lookup';
import { canServeStale, newEntry, snapshotOf, withinStaleLimit, type NameEntry } from './name-entry';
import type { Endpoint, RecordPolicy } from './records';
import {
  resolverSettings,
  type DiscoveryLogger,
  type ResolverSettings,
  type SrvResolverOptions,
} from './resolver-options';
import { pickEndpoint } from './select';
import {
  pickThrough,
  type EndpointSource,
  type NameSnapshot,
  type ResolveOptions,
  type SourceEvents,
  type SourceStats,
} from './source';
import { Exchanger } from './wire/exchange';
import { invalidNameReason, normalizeName } from './wire/message';
import type { DnsServer } from './wire/servers';

export type { DiscoveryLogger, SrvResolverOptions } from './resolver-options';

/** Counters of a resolver since it was made, for metrics. */
export interface ResolverStats extends SourceStats {
  /** DNS attempts by transport, then by outcome: an rcode (`NOERROR`, `NXDOMAIN`…) or a failure (`timeout`, `refused`…). */
  queries: { udp: Record<string, number>; tcp: Record<string, number> };
  /** Truncated UDP replies asked again over TCP. */
  tcpFallbacks: number;
  /** Wire messages dropped: wrong source, ID or question, undecodable. */
  dropped: number;
}

/** Events of the resolver (those of every source). */
export type ResolverEvents = SourceEvents;

/** Fail-fast window after a lookup failed with no set to fall back on, so callers do not pile up. */
const FAILURE_CACHE_MS = 1000;
/** How soon an empty answer after a good set is re-checked. */
const EMPTY_RECHECK_MS = 1000;
/** How soon a set with a target whose address query failed is re-checked. */
const INCOMPLETE_RECHECK_MS = 1000;

/**
 * SRV resolver with a cache run as a refresh state machine: refresh ahead of expiry in the background on
 * use (the warm path sends no packet), one query per name at a time, serve stale while DNS fails, grace
 * for a sudden empty answer, brief negative caching.
 */
export class SrvResolver extends EventEmitter<ResolverEvents> implements EndpointSource {
  /** This source's kind. */
  readonly kind = 'dns' as const;
  private readonly entries = new Map<string, NameEntry>();
  private readonly exchanger: Exchanger;
  private readonly servers: readonly DnsServer[];
  private readonly abort = new AbortController();
  private readonly opts: ResolverSettings;
  /** Fixed grace, or undefined for "the TTL of the last good set". */
  private readonly emptyGraceSeconds?: number;
  private readonly allowedSuffixes?: readonly string[];
  private readonly logger: DiscoveryLogger;
  private closed = false;
  private readonly counters = {
    queries: { udp: {} as Record<string, number>, tcp: {} as Record<string, number> },
    tcpFallbacks: 0,
    lookups: 0,
    lookupErrors: {} as Record<string, number>,
    cacheHits: 0,
    staleServes: 0,
  };

  /** @throws {TypeError} naming the first invalid option. */
  constructor(options: SrvResolverOptions = {}) {
    super();
    const settings = resolverSettings(options);
    this.opts = settings;
    this.servers = settings.servers;
    this.emptyGraceSeconds = settings.emptyGraceSeconds;
    this.allowedSuffixes = settings.allowedSuffixes;
    this.logger = settings.logger;
    const userObserver = settings.onAttempt;
    this.exchanger = new Exchanger({
      now: this.opts.now,
      onAttempt: (event) => {
        const byOutcome = this.counters.queries[event.transport];
        byOutcome[event.outcome] = (byOutcome[event.outcome] ?? 0) + 1;
        if (event.transport === 'tcp') this.counters.tcpFallbacks++;
        userObserver?.(event);
      },
    });
  }

  /** True once close() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** The DNS servers in use, in order. */
  get dnsServers(): readonly DnsServer[] {
    return this.servers;
  }

  /**
   * Picks an endpoint for `name` from the warm cache, or undefined when the name is not warm (then use
   * `pick`). Synchronous and packet-free; starts a background refresh once the refresh-ahead point passed.
   */
  pickCached(name: string, isAvailable?: (e: Endpoint) => boolean): Endpoint | undefined {
    const entry = this.entries.get(name) ?? this.entries.get(normalizeName(name));
    if (entry?.set === undefined) return undefined;
    const now = this.opts.now();
    entry.lastUsedAt = now;
    if (now >= entry.refreshAt && entry.inflight === undefined) this.refreshInBackground(entry);
    if (now < entry.expiresAt) this.counters.cacheHits++;
    else if (canServeStale(entry, now, this.opts.maxStaleSeconds)) this.countStale(entry);
    else return undefined;
    return pickEndpoint(entry.set.groups, this.opts.random, isAvailable);
  }

  /** Picks an endpoint for `name` (RFC 2782), resolving it first if needed. @throws {DiscoveryError} */
  async pick(
    name: string,
    isAvailable?: (e: Endpoint) => boolean,
    options: ResolveOptions = {},
  ): Promise<Endpoint> {
    return pickThrough(this, this.opts.random, name, isAvailable, options);
  }

  /**
   * The current endpoint set of `name`: from the cache when fresh (or servable stale), else one shared
   * lookup. @throws {DiscoveryError} ENOTFOUND/ENODATA when the service has no endpoints, ETIMEOUT,
   * ESERVFAIL… when DNS fails with nothing to fall back on, ECANCELLED after close().
   */
  async resolve(name: string, options: ResolveOptions = {}): Promise<EndpointSet> {
    if (this.closed) throw new DiscoveryError('ECANCELLED', name, 'the resolver is closed');
    if (options.signal?.aborted) throw new DiscoveryError('ECANCELLED', name, 'aborted by the caller');
    const entry = this.entryFor(name);
    const now = this.opts.now();
    entry.lastUsedAt = now;
    if (entry.set && now < entry.expiresAt) {
      this.counters.cacheHits++;
      if (now >= entry.refreshAt && entry.inflight === undefined) this.refreshInBackground(entry);
      return entry.set;
    }
    if (entry.set && canServeStale(entry, now, this.opts.maxStaleSeconds)) {
      this.countStale(entry);
      if (now >= entry.refreshAt && entry.inflight === undefined) this.refreshInBackground(entry);
      return entry.set;
    }
    if (entry.failUntil !== undefined && now < entry.failUntil && entry.lastError) throw entry.lastError;
    const refresh = abortable(this.refresh(entry), options.signal, name);
    if (entry.set && withinStaleLimit(entry, now, this.opts.maxStaleSeconds)) {
      // RFC 8767 §5: with a stale answer at hand, wait for DNS only up to the client response timer.
      const settled = await settlesWithin(refresh, this.opts.staleAnswerClientTimeoutMs);
      if (!settled && entry.set && entry.inflight !== undefined) {
        entry.staleWhileRefreshing = true;
        this.countStale(entry);
        return entry.set;
      }
    }
    await refresh; // settled by now, or waited for here; rethrows the caller's abort
    if (this.closed)
      throw new DiscoveryError('ECANCELLED', name, 'the resolver was closed during the lookup');
    // The lookup just made settled the entry: a new set, a kept one (grace, stale), or an error.
    const after = this.opts.now();
    if (entry.set && after < entry.expiresAt) return entry.set;
    if (entry.set && canServeStale(entry, after, this.opts.maxStaleSeconds)) {
      this.countStale(entry);
      return entry.set;
    }
    throw entry.lastError ?? new DiscoveryError('ENODATA', name, 'no endpoints');
  }

  /**
   * One uncached lookup of `name`, bypassing and leaving the cache alone (for diagnostics and
   * measurements). @throws {DiscoveryError} including ENOTFOUND/ENODATA for negative answers.
   */
  async lookup(name: string, options: ResolveOptions = {}): Promise<EndpointSet> {
    if (this.closed) throw new DiscoveryError('ECANCELLED', name, 'the resolver is closed');
    checkName(name);
    const outcome = await abortable(this.lookupOnce(normalizeName(name)), options.signal, name);
    if (outcome.kind === 'negative') throw outcome.error;
    return outcome.set;
  }

  /** Counters since the resolver was made (a copy). */
  stats(): ResolverStats {
    const c = this.counters;
    return {
      ...c,
      queries: { udp: { ...c.queries.udp }, tcp: { ...c.queries.tcp } },
      lookupErrors: { ...c.lookupErrors },
      dropped: this.exchanger.stats.dropped,
    };
  }

  /** Everything the client knows, per name, for `/discovery`. */
  snapshot(): NameSnapshot[] {
    const now = this.opts.now();
    return [...this.entries.values()].map((entry) => snapshotOf(entry, now));
  }

  /** Cancels every lookup (they reject with ECANCELLED) and forgets the cache. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.entries.clear();
    this.removeAllListeners();
  }

  /**
   * The cache entry of `name`, keyed by its normalized form (case and trailing dot do not make another
   * entry). A new name is validated first, and makes room by forgetting the least recently used one.
   * @throws {DiscoveryError} EBADNAME.
   */
  private entryFor(name: string): NameEntry {
    const existing = this.entries.get(name);
    if (existing) return existing;
    checkName(name);
    const key = normalizeName(name);
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= this.opts.maxNames) this.evictLeastRecentlyUsed();
      entry = newEntry(key, this.opts.now());
      this.entries.set(key, entry);
    }
    return entry;
  }

  private evictLeastRecentlyUsed(): void {
    let oldest: NameEntry | undefined;
    for (const entry of this.entries.values()) {
      if (entry.inflight === undefined && (!oldest || entry.lastUsedAt < oldest.lastUsedAt)) oldest = entry;
    }
    if (!oldest) return; // every name is being looked up: let the map grow past the cap for now
    this.entries.delete(oldest.name);
    this.logger.debug?.({ name: oldest.name }, 'name evicted from the discovery cache');
  }

  private countStale(entry: NameEntry): void {
    this.counters.staleServes++;
    if (entry.staleAnnounced || !entry.lastError) return;
    entry.staleAnnounced = true;
    this.emit('stale', { name: entry.name, error: entry.lastError, expiredAt: entry.expiresAt });
  }

  private refreshInBackground(entry: NameEntry): void {
    // Errors are recorded on the entry by refresh(); nothing to surface here.
    this.refresh(entry).catch(() => undefined);
  }

  /** Single flight: every caller of one name shares the lookup in progress. */
  private refresh(entry: NameEntry): Promise<void> {
    entry.inflight ??= this.runLookup(entry).finally(() => {
      entry.inflight = undefined;
      entry.staleWhileRefreshing = false;
    });
    return entry.inflight;
  }

  private async runLookup(entry: NameEntry): Promise<void> {
    this.counters.lookups++;
    const started = this.opts.now();
    const report = (outcome: string): void => {
      this.emit('lookup', { name: entry.name, durationMs: this.opts.now() - started, outcome });
    };
    try {
      const outcome = await this.lookupOnce(entry.name, entry.set);
      if (this.closed) return;
      report(outcome.kind === 'endpoints' ? 'ok' : outcome.error.code);
      if (outcome.kind === 'endpoints') this.install(entry, outcome.set);
      else this.onNegative(entry, outcome.error, outcome.negativeTtlSeconds);
    } catch (err) {
      if (this.closed) return;
      const error =
        err instanceof DiscoveryError
          ? err
          : new DiscoveryError('EBADRESP', entry.name, 'lookup failed', { cause: err });
      report(error.code);
      this.onFailure(entry, error);
    }
  }

  private lookupOnce(name: string, previous?: EndpointSet): Promise<LookupOutcome> {
    const { now } = this.opts;
    return lookupSrv(
      this.exchanger,
      name,
      this.policyFor(name),
      {
        servers: this.servers,
        attemptTimeoutMs: this.opts.attemptTimeoutMs,
        attempts: this.opts.attempts,
        deadline: now() + this.opts.lookupTimeoutMs,
        minTtlSeconds: this.opts.minTtlSeconds,
        maxTtlSeconds: this.opts.maxTtlSeconds,
        signal: this.abort.signal,
      },
      now,
      previous,
    );
  }

  private install(entry: NameEntry, set: EndpointSet): void {
    const prev = entry.set;
    const ttlMs = set.ttlSeconds * 1000;
    // Jitter (up to 10% earlier) spreads refreshes of many processes started together.
    let refreshMs = ttlMs * this.opts.refreshAheadRatio * (1 - 0.1 * this.opts.random());
    // A target's address query failed: its last known address is in the set; ask again soon.
    if (set.incomplete) refreshMs = Math.min(refreshMs, INCOMPLETE_RECHECK_MS);
    Object.assign(entry, {
      set,
      refreshAt: set.fetchedAt + refreshMs,
      expiresAt: set.fetchedAt + ttlMs,
      failing: false,
      staleAnnounced: false,
      emptySince: undefined,
      failUntil: undefined,
    });
    const { added, removed } = diffSets(prev, set);
    if (added.length > 0 || removed.length > 0) {
      this.emit('change', { name: entry.name, added, removed, endpoints: set.endpoints });
    }
  }

  /** NXDOMAIN/NODATA: after a good set only once confirmed (grace), else cached briefly (RFC 2308). */
  private onNegative(entry: NameEntry, error: DiscoveryError, negativeTtlSeconds: number): void {
    const now = this.opts.now();
    this.counters.lookupErrors[error.code] = (this.counters.lookupErrors[error.code] ?? 0) + 1;
    entry.lastError = error;
    entry.lastErrorAt = now;
    entry.negativeTtlSeconds = negativeTtlSeconds;
    if (entry.set) {
      const first = entry.emptySince === undefined;
      entry.emptySince ??= now;
      const graceSeconds = this.emptyGraceSeconds ?? entry.set.ttlSeconds;
      if (now - entry.emptySince < graceSeconds * 1000) {
        if (first) {
          this.logger.warn?.(
            { name: entry.name, code: error.code, graceSeconds },
            'empty answer after a good set: keeping it while re-checking',
          );
        }
        entry.refreshAt = now + EMPTY_RECHECK_MS;
        // Keep serving through the grace even if the TTL runs out meanwhile.
        entry.expiresAt = Math.max(entry.expiresAt, now + EMPTY_RECHECK_MS * 2);
        return;
      }
    }
    this.confirmEmpty(entry, now);
  }

  /**
   * Ends the empty-answer grace of `name` early when none of the endpoints it keeps is `usable` (each one
   * refused or was ejected): the grace is there to ride out a DNS flap while the tasks still run, and
   * holding endpoints that all fail would only turn DNS's "none" (503) into "unreachable" (502).
   * @returns true when the set was dropped.
   */
  endGrace(name: string, usable: (e: Endpoint) => boolean): boolean {
    const entry = this.entries.get(name) ?? this.entries.get(normalizeName(name));
    if (!entry?.set || entry.emptySince === undefined || entry.set.endpoints.some(usable)) return false;
    this.logger.warn?.(
      { name: entry.name, code: entry.lastError?.code },
      'empty answer confirmed early: every endpoint kept through the grace fails',
    );
    this.confirmEmpty(entry, this.opts.now());
    return true;
  }

  /** DNS's "none" is taken as final: the set (if any) is dropped and the answer cached briefly. */
  private confirmEmpty(entry: NameEntry, now: number): void {
    if (entry.set) {
      const prev = entry.set;
      entry.set = undefined;
      this.emit('change', { name: entry.name, added: [], removed: [...prev.endpoints], endpoints: [] });
    }
    entry.emptySince = undefined;
    entry.failing = false;
    const negativeSeconds = Math.min(entry.negativeTtlSeconds ?? 0, this.opts.maxNegativeTtlSeconds);
    entry.failUntil = now + negativeSeconds * 1000;
  }

  /** Timeout, SERVFAIL, network errors: keep the last good set (stale) and retry periodically. */
  private onFailure(entry: NameEntry, error: DiscoveryError): void {
    const now = this.opts.now();
    this.counters.lookupErrors[error.code] = (this.counters.lookupErrors[error.code] ?? 0) + 1;
    entry.lastError = error;
    entry.lastErrorAt = now;
    if (error.code === 'ECANCELLED') return;
    this.logger.warn?.({ name: entry.name, code: error.code, err: error.message }, 'SRV lookup failed');
    if (entry.set && now < entry.expiresAt + this.opts.maxStaleSeconds * 1000) {
      entry.failing = true;
      entry.refreshAt = now + this.opts.failureRetrySeconds * 1000;
      return;
    }
    if (entry.set) {
      const prev = entry.set;
      entry.set = undefined;
      this.emit('change', { name: entry.name, added: [], removed: [...prev.endpoints], endpoints: [] });
    }
    entry.failing = false;
    entry.failUntil = now + FAILURE_CACHE_MS;
  }

  private policyFor(name: string): RecordPolicy {
    return {
      allowedSuffixes: this.allowedSuffixes ?? [parentZone(name)],
      allowUnsafeAddresses: this.opts.allowUnsafeAddresses,
      maxRecords: this.opts.maxRecords,
      maxAddressesPerTarget: this.opts.maxAddressesPerTarget,
    };
  }
}

/** True when `work` settles (either way) within `ms`; the timer never outlives the wait. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** @throws {DiscoveryError} EBADNAME when `name` cannot go on the wire. */
function checkName(name: string): void {
  const reason = invalidNameReason(name);
  if (reason !== undefined)
    throw new DiscoveryError('EBADNAME', String(name).slice(0, 80), `invalid name: ${reason}`);
}

/** `service_b.ecs.internal` → `ecs.internal` (a one-label name is its own zone). */
export function parentZone(name: string): string {
  const n = normalizeName(name);
  const dot = n.indexOf('.');
  return dot === -1 ? n : n.slice(dot + 1);
}
