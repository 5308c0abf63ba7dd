import type { SoaAnswer } from 'dns-packet';
import { createEndpointSet, type EndpointSet } from './endpoint-set';
import { DiscoveryError } from './errors';
import { addressesFrom, joinEndpoints, srvRecordsOf, type RecordPolicy, type TargetAddress } from './records';
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
 * @throws {DiscoveryError} on server failure, timeout or cancellation (not on NXDOMAIN/NODATA).
 */
export async function lookupSrv(
  exchanger: Exchanger,
  name: string,
  policy: RecordPolicy,
  limits: LookupLimits,
  now: () => number,
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
    const why =
      rejected.length > 0
        ? `every SRV record was refused: ${rejected.map((r) => `${r.target}: ${r.reason}`).join('; ')}`
        : 'no SRV records';
    return negative(srv.reply, new DiscoveryError('ENODATA', name, why), limits);
  }

  const targets = new Set(records.map((r) => r.target));
  const addresses: Map<string, TargetAddress[]> = addressesFrom(
    [...srv.reply.answers, ...srv.reply.additionals],
    targets,
  );
  const missing = [...targets].filter((t) => !addresses.has(t));
  const failures: DiscoveryError[] = [];
  await Promise.all(
    missing.map(async (target) => {
      try {
        // Ask the server that gave the SRV answer: it knows these targets.
        const a = await exchanger.exchange({ name: target, type: 'A' }, { ...limits, servers: [srv.server] });
        const found = addressesFrom(a.reply.answers, new Set([target])).get(target) ?? [];
        if (found.length === 0) rejected.push({ target, reason: `no A record (${a.reply.rcode})` });
        addresses.set(
          target,
          found.map((f) => ({ ...f, source: 'query' as const })),
        );
      } catch (err) {
        if (err instanceof DiscoveryError && err.code === 'ECANCELLED') throw err;
        failures.push(err as DiscoveryError);
        rejected.push({ target, reason: `A lookup failed: ${(err as Error).message}` });
      }
    }),
  );

  const endpoints = joinEndpoints(records, addresses, policy, rejected);
  if (endpoints.length === 0) {
    // Every target failed to resolve because the server failed: that is a failure, not an answer.
    if (failures.length > 0) throw failures[0]!;
    const why = `no SRV target has a usable address: ${rejected.map((r) => `${r.target}: ${r.reason}`).join('; ')}`;
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
      rejected,
    }),
  };
}

/** RFC 2308 §5: a negative answer is cached for min(SOA TTL, SOA MINIMUM), here also ≤ the TTL bounds. */
function negative(reply: Reply, error: DiscoveryError, limits: LookupLimits): LookupOutcome {
  const soa = reply.authorities.find((a): a is SoaAnswer => a.type === 'SOA');
  const soaTtl = soa ? Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0) : 0;
  return { kind: 'negative', error, negativeTtlSeconds: Math.min(soaTtl, limits.maxTtlSeconds) };
}
