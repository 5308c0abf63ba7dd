import type { Endpoint, Rejection } from './records';
import { groupByPriority, type PriorityGroup } from './select';
import type { TransportName } from './wire/exchange';

/** How a set travelled: over DNS (UDP, TCP), or from an API (Cloud Map's DiscoverInstances). */
export type SetTransport = TransportName | 'api';

/** One good answer for a name: its endpoints, prepared for picking, and where it came from. Immutable. */
export interface EndpointSet {
  readonly name: string;
  readonly endpoints: readonly Endpoint[];
  /** Endpoints by priority, lowest first, ready for weighted picks. */
  readonly groups: readonly PriorityGroup[];
  /** Effective TTL: min over SRV and address TTLs, clamped to the resolver's bounds. */
  readonly ttlSeconds: number;
  /** Clock time (ms) the answer arrived. */
  readonly fetchedAt: number;
  /** Who answered: a DNS server `host:port`, or the API endpoint. */
  readonly server: string;
  readonly transport: SetTransport;
  /** Records that were refused, and why (for /discovery and logs), at most MAX_REJECTIONS of them. */
  readonly rejected: readonly Rejection[];
  /** Refused records beyond those listed in `rejected`. */
  readonly rejectedOmitted: number;
  /**
   * True when some target's address query failed and its last known address was kept (or, with none
   * known, it was left out): the resolver re-checks such a set soon instead of trusting it for a TTL.
   */
  readonly incomplete: boolean;
}

/** Builds the immutable set for `endpoints`. */
export function createEndpointSet(fields: Omit<EndpointSet, 'groups'>): EndpointSet {
  return Object.freeze({ ...fields, groups: groupByPriority(fields.endpoints) });
}

/** Keys present in `next` but not `prev` (added) and the reverse (removed). */
export function diffSets(
  prev: EndpointSet | undefined,
  next: EndpointSet | undefined,
): { added: Endpoint[]; removed: Endpoint[] } {
  const before = new Map((prev?.endpoints ?? []).map((e) => [e.key, e]));
  const after = new Map((next?.endpoints ?? []).map((e) => [e.key, e]));
  return {
    added: [...after.values()].filter((e) => !before.has(e.key)),
    removed: [...before.values()].filter((e) => !after.has(e.key)),
  };
}
