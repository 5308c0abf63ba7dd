import type { EndpointSet } from './endpoint-set';
import { NEGATIVE_CODES, type DiscoveryError } from './errors';
import { errorView, type EntryState, type NameSnapshot } from './source';

/** What the resolver knows about one name: the cache entry its refresh state machine runs on. */
export interface NameEntry {
  name: string;
  set?: EndpointSet;
  /** Clock ms: from then on, a use starts a background refresh. */
  refreshAt: number;
  /** Clock ms: end of the set's TTL. */
  expiresAt: number;
  inflight?: Promise<void>;
  lastError?: DiscoveryError;
  lastErrorAt?: number;
  /** Clock ms until which lookups fail at once with lastError (negative or failure caching). */
  failUntil?: number;
  /** Set while DNS fails (timeout, SERVFAIL, network): the set may be served stale. */
  failing: boolean;
  /** A `stale` event was emitted for the current failure. */
  staleAnnounced?: boolean;
  /** Clock ms of the first empty/NXDOMAIN answer after a good set (the grace period). */
  emptySince?: number;
  /** Negative-caching time of that empty answer (RFC 2308), for when the grace ends. */
  negativeTtlSeconds?: number;
  /** The running refresh outlived a caller's client response timer: serve stale until it settles. */
  staleWhileRefreshing?: boolean;
  /** Clock ms of the last use, for evicting the least recently used name. */
  lastUsedAt: number;
}

/** A new entry for `name` (normalized), used at `now`. */
export function newEntry(name: string, now: number): NameEntry {
  return { name, refreshAt: 0, expiresAt: 0, failing: false, lastUsedAt: now };
}

/** The entry's state for `/discovery`. */
export function stateOf(entry: NameEntry, now: number): EntryState {
  if (entry.set) {
    if (entry.emptySince !== undefined) return 'grace';
    return now < entry.expiresAt ? 'fresh' : 'stale';
  }
  if (entry.lastError) return NEGATIVE_CODES.has(entry.lastError.code) ? 'negative' : 'failed';
  return 'empty';
}

/** True while the set is within `maxStaleSeconds` of its expiry. */
export function withinStaleLimit(entry: NameEntry, now: number, maxStaleSeconds: number): boolean {
  return now < entry.expiresAt + maxStaleSeconds * 1000;
}

/**
 * RFC 8767 §5: the expired set is served only because DNS is failing (or slower than the client response
 * timer), and only up to maxStaleSeconds.
 */
export function canServeStale(entry: NameEntry, now: number, maxStaleSeconds: number): boolean {
  return (
    (entry.failing || entry.staleWhileRefreshing === true) && withinStaleLimit(entry, now, maxStaleSeconds)
  );
}

/** The entry as `/discovery` shows it. */
export function snapshotOf(entry: NameEntry, now: number): NameSnapshot {
  const set = entry.set;
  return {
    name: entry.name,
    source: 'dns',
    state: stateOf(entry, now),
    stale: set !== undefined && now >= entry.expiresAt,
    ttlSeconds: set?.ttlSeconds,
    ttlLeftSeconds: set ? Math.max(0, Math.round((entry.expiresAt - now) / 100) / 10) : undefined,
    lastRefresh: set ? new Date(set.fetchedAt).toISOString() : undefined,
    server: set?.server,
    transport: set?.transport,
    endpoints: set ? set.endpoints.map((e) => ({ ...e })) : [],
    rejected: set?.rejected ?? [],
    rejectedOmitted: set?.rejectedOmitted ?? 0,
    lastError: errorView(entry.lastError, entry.lastErrorAt),
  };
}
