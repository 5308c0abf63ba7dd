import type { EventEmitter } from 'node:events';
import { pickEndpoint, type Random } from './select';
import type { EndpointSet } from './endpoint-set';
import type { DiscoveryError } from './errors';
import type { Endpoint } from './records';

/**
 * Where endpoints come from. The HTTP integration, selection, passive health, `/discovery` and metrics
 * work over this interface only, whichever source is behind it: DNS SRV records (`SrvResolver`, the
 * default) or the Cloud Map API (`CloudMapSource`). Nothing of a source's protocol (DNS packets, AWS
 * types) crosses it.
 */
export interface EndpointSource extends Pick<EventEmitter<SourceEvents>, 'on' | 'off' | 'once'> {
  /** Which kind of source this is, for `/discovery` and metrics. */
  readonly kind: SourceKind;
  /** True once close() was called. */
  readonly isClosed: boolean;
  /**
   * Picks an endpoint of `name` from what is at hand, or undefined when nothing usable is (then use
   * `pick`). Synchronous, no I/O; may start a background refresh.
   */
  pickCached(name: string, isAvailable?: (e: Endpoint) => boolean): Endpoint | undefined;
  /** Picks an endpoint of `name`, looking it up first if needed. @throws {DiscoveryError} */
  pick(name: string, isAvailable?: (e: Endpoint) => boolean, options?: ResolveOptions): Promise<Endpoint>;
  /** The current endpoint set of `name`. @throws {DiscoveryError} */
  resolve(name: string, options?: ResolveOptions): Promise<EndpointSet>;
  /**
   * The source was told that `name` has no endpoints but still serves a set it keeps for a grace period:
   * end that grace now if no endpoint of the set is `usable`. @returns true when the set was dropped.
   */
  endGrace(name: string, usable: (e: Endpoint) => boolean): boolean;
  /** Everything the source knows, per name, for `/discovery`. */
  snapshot(): NameSnapshot[];
  /** Counters since the source was made (a copy). */
  stats(): SourceStats;
  /** Stops every lookup and timer; pending calls reject with ECANCELLED. Idempotent. */
  close(): void;
}

/** `dns`: SRV records through DNS; `cloudmap`: the Cloud Map API (DiscoverInstances). */
export type SourceKind = 'dns' | 'cloudmap';

/** Per-call options of `resolve` and `pick`. */
export interface ResolveOptions {
  /** Stops waiting: the call rejects with ECANCELLED (a lookup shared with other callers goes on). */
  signal?: AbortSignal;
}

/** Events of every source. */
export interface SourceEvents {
  /** A name's endpoint set changed. */
  change: [{ name: string; added: Endpoint[]; removed: Endpoint[]; endpoints: readonly Endpoint[] }];
  /** Once each time a name starts being served past its freshness because its source fails. */
  stale: [{ name: string; error: DiscoveryError; expiredAt: number }];
  /** After every uncached lookup (for latency metrics): `outcome` is `ok` or the error code. */
  lookup: [{ name: string; durationMs: number; outcome: string }];
}

/** A name's state, as `snapshot()` reports it. */
export type EntryState = 'fresh' | 'stale' | 'grace' | 'negative' | 'failed' | 'empty';

/** One name as the client sees it, for `/discovery`. */
export interface NameSnapshot {
  name: string;
  /** Which source this name comes from. */
  source: SourceKind;
  state: EntryState;
  /** True when the endpoints are served past their freshness because the source fails (RFC 8767). */
  stale: boolean;
  ttlSeconds?: number;
  ttlLeftSeconds?: number;
  /** When the set was last fetched (ISO time). */
  lastRefresh?: string;
  /** Who answered: a DNS server `host:port`, or the API endpoint. */
  server?: string;
  /** `udp`, `tcp` or `api`. */
  transport?: string;
  /** Cloud Map only: the `InstancesRevision` of the set. */
  revision?: number;
  /** Cloud Map only: when the revision was last polled (ISO time), whatever the outcome. */
  lastPoll?: string;
  endpoints: Array<Omit<Endpoint, 'key'> & { key: string }>;
  rejected: EndpointSet['rejected'];
  /** Refused records beyond those listed. */
  rejectedOmitted: number;
  lastError?: { code: string; message: string; at: string };
}

/** Counters every source keeps (a source may add its own). */
export interface SourceStats {
  /** Uncached lookups (one per name per refresh, however many callers shared it). */
  lookups: number;
  /** Lookups that failed, by code. */
  lookupErrors: Record<string, number>;
  /** Picks and resolves served from a fresh set. */
  cacheHits: number;
  /** Picks and resolves served past freshness because the source failed (RFC 8767). */
  staleServes: number;
}

/**
 * `pick` for any source: the warm set when it serves (`pickCached`), else the set `resolve` gets.
 * @throws {DiscoveryError} as `resolve` does.
 */
export async function pickThrough(
  source: Pick<EndpointSource, 'pickCached' | 'resolve'>,
  random: Random,
  name: string,
  isAvailable: ((e: Endpoint) => boolean) | undefined,
  options: ResolveOptions,
): Promise<Endpoint> {
  const cached = source.pickCached(name, isAvailable);
  if (cached) return cached;
  const set = await source.resolve(name, options);
  return pickEndpoint(set.groups, random, isAvailable)!;
}

/** A name's last error as `/discovery` shows it. */
export function errorView(
  error: DiscoveryError | undefined,
  at: number | undefined,
): NameSnapshot['lastError'] {
  if (!error || at === undefined) return undefined;
  return { code: error.code, message: error.message, at: new Date(at).toISOString() };
}
