import type { SoaAnswer } from 'dns-packet';
import { createEndpointSet, type EndpointSet } from './endpoint-set';
import { DiscoveryError } from './errors';
import {
  addressesFrom,
  joinEndpoints,
  srvRecordsOf,
  type RecordPolicy,
  type RejectionLog,
  type TargetAddress,
} from './records';
import type { Exchanger } from './wire/exchange';
import type { Reply } from './wire/message';
import type { DnsServer } from './wire/servers';
import { formatServer } from './wire/servers';

/** What one uncached lookup found: a set of endpoints, or an authoritative "none" with its cache time. */
export type LookupOutcome =
  | { kind: 'endpoints'; set: EndpointSet }
  | { kind: 'negative'; error: DiscoveryError; negativeTtlSeconds: number };

/** Limits of one lookup (see SrvResolverOptions). */
export interface LookupLimits {
  servers: readonly DnsServer[];
  attemptTimeoutMs: number;
  attempts: number;
  /** Absolute clock time (ms) by which the whole lookup (SRV and A queries) must be done. */
  deadline: number;
  minTtlSeconds: number;
  maxTtlSeconds: number;
  signal?: AbortSignal;
}

/**
 * One uncached SRV lookup: the SRV query, addresses from the additional section where their owner is an
 * SRV target, and concurrent A queries at the same server for the targets still missing (BIND drops
 * additionals without setting TC when a 512-byte answer fills up).
 *
 * An A query that fails (timeout, SERVFAIL — not an authoritative "no address") says nothing about the
 * task: its target keeps the address it had in `previous`, so an incomplete lookup never shrinks a set.
 * Such a set is marked `incomplete` for the resolver to re-check soon.
 * @throws {DiscoveryError} on server failure, timeout or cancellation (not on NXDOMAIN/NODATA).
 */
export async function lookupSrv(
  exchanger: Exchanger,
  name: string,
  policy: RecordPolicy,
  limits: LookupLimits,
  now: () => number,
  previous?: EndpointSet,
): Promise<LookupOutcome> {
  const srv = await exchanger.exchange({ name, type: 'SRV' }, limits);
  if (srv.reply.rcode === 'NXDOMAIN') {
    return negative(srv.reply, new DiscoveryError('ENOTFOUND', name, 'no such service name'), limits);
  }
  const { records, rejected, notAvailable } = srvRecordsOf(srv.reply, name, policy);
  if (notAvailable) {
    return negative(
      srv.reply,
      new DiscoveryError('ENODATA', name, 'the service is not available (SRV target ".")'),
      limits,
    );
  }
  if (records.length === 0) {
    const why = rejected.size > 0 ? `every SRV record was refused: ${rejected.summary()}` : 'no SRV records';
    return negative(srv.reply, new DiscoveryError('ENODATA', name, why), limits);
  }

  const targets = new Set(records.map((r) => r.target));
  const addresses: Map<string, TargetAddress[]> = addressesFrom(
    [...srv.reply.answers, ...srv.reply.additionals],
    targets,
  );
  const missing = [...targets].filter((t) => !addresses.has(t));
  const failures = await queryAddresses(exchanger, missing, srv.server, limits, addresses, rejected);
  let incomplete = false;
  for (const [target, error] of failures) {
    const kept = previousAddresses(previous, target);
    incomplete = true;
    if (kept.length > 0) addresses.set(target, kept);
    else rejected.add(target, `A lookup failed: ${error.code}`);
  }

  const endpoints = joinEndpoints(records, addresses, policy, rejected);
  if (endpoints.length === 0) {
    // Every target failed to resolve because the server failed: that is a failure, not an answer.
    const [first] = failures.values();
    if (first) throw first;
    const why = `no SRV target has a usable address: ${rejected.summary()}`;
    return negative(srv.reply, new DiscoveryError('ENODATA', name, why), limits);
  }
  const ttl = Math.min(...endpoints.map((e) => e.ttlSeconds));
  return {
    kind: 'endpoints',
    set: createEndpointSet({
      name,
      endpoints,
      ttlSeconds: Math.min(Math.max(ttl, limits.minTtlSeconds), limits.maxTtlSeconds),
      fetchedAt: now(),
      server: formatServer(srv.server),
      transport: srv.transport,
      rejected: rejected.list,
      rejectedOmitted: rejected.omitted,
      incomplete,
    }),
  };
}

/**
 * A queries for `targets`, concurrently, at the server that gave the SRV answer (it knows them). Found
 * addresses go into `addresses`; an authoritative "none" is a rejection; failures are returned by target.
 */
async function queryAddresses(
  exchanger: Exchanger,
  targets: readonly string[],
  server: DnsServer,
  limits: LookupLimits,
  addresses: Map<string, TargetAddress[]>,
  rejected: RejectionLog,
): Promise<Map<string, DiscoveryError>> {
  const failures = new Map<string, DiscoveryError>();
  await Promise.all(
    targets.map(async (target) => {
      try {
        const a = await exchanger.exchange({ name: target, type: 'A' }, { ...limits, servers: [server] });
        const found = addressesFrom(a.reply.answers, new Set([target])).get(target) ?? [];
        if (found.length === 0) rejected.add(target, `no A record (${a.reply.rcode})`);
        addresses.set(
          target,
          found.map((f) => ({ ...f, source: 'query' as const })),
        );
      } catch (err) {
        if (err instanceof DiscoveryError && err.code === 'ECANCELLED') throw err;
        failures.set(
          target,
          err instanceof DiscoveryError
            ? err
            : new DiscoveryError('EBADRESP', target, 'A lookup failed', { cause: err }),
        );
      }
    }),
  );
  return failures;
}

/** The addresses `target` had in the previous set, to keep while its A query fails. */
function previousAddresses(previous: EndpointSet | undefined, target: string): TargetAddress[] {
  if (!previous) return [];
  return previous.endpoints
    .filter((e) => e.target === target)
    .map((e) => ({ address: e.address, ttlSeconds: e.ttlSeconds, source: 'previous' as const }));
}

/** RFC 2308 §5: a negative answer is cached for min(SOA TTL, SOA MINIMUM), here also ≤ the TTL bounds. */
function negative(reply: Reply, error: DiscoveryError, limits: LookupLimits): LookupOutcome {
  const soa = reply.authorities.find((a): a is SoaAnswer => a.type === 'SOA');
  const soaTtl = soa ? Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0) : 0;
  return { kind: 'negative', error, negativeTtlSeconds: Math.min(soaTtl, limits.maxTtlSeconds) };
}
