import type { Answer, SrvAnswer } from 'dns-packet';
import { isAllowedAddress } from './address-policy';
import { normalizeName, sameName, type Reply } from './wire/message';

/** One SRV record as it came off the wire (RFC 2782). */
export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  /** Normalized (lower case, no trailing dot). */
  target: string;
  ttlSeconds: number;
}

/** An address for a target, and where it was learnt. */
export interface TargetAddress {
  address: string;
  ttlSeconds: number;
  source: 'additional' | 'query';
}

/** A validated endpoint: where to send requests, and what DNS said about it. */
export interface Endpoint {
  /** `address:port` (`[v6]:port`): unique within a set, the key for health and connection pools. */
  readonly key: string;
  readonly target: string;
  readonly address: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
  /** min(SRV TTL, address TTL), seconds, before clamping. */
  readonly ttlSeconds: number;
  readonly addressSource: 'additional' | 'query';
}

/** Record-level rules (see resolver options for their meaning and defaults). */
export interface RecordPolicy {
  /** Lower-case suffixes a target must lie under (`ecs.internal` admits `x.ecs.internal`). */
  allowedSuffixes: readonly string[];
  /** Accept link-local, unspecified and multicast addresses. */
  allowUnsafeAddresses: boolean;
  /** At most this many SRV records are used (lowest priority first). */
  maxRecords: number;
}

/** Why records were dropped, for logs and the discovery snapshot. */
export interface Rejection {
  target: string;
  reason: string;
}

/**
 * The SRV records of `name` in a reply's answer section, validated: owner must be `name`, port 1..65535,
 * target under an allowed suffix, duplicates merged, at most `maxRecords`. A sole "." target means the
 * service is decidedly not available (RFC 2782) and yields `notAvailable`.
 */
export function srvRecordsOf(
  reply: Reply,
  name: string,
  policy: RecordPolicy,
): { records: SrvRecord[]; rejected: Rejection[]; notAvailable: boolean } {
  const rejected: Rejection[] = [];
  const seen = new Set<string>();
  const records: SrvRecord[] = [];
  const srv = reply.answers.filter((a): a is SrvAnswer => a.type === 'SRV' && sameName(a.name, name));
  if (srv.length === 1 && (srv[0]!.data.target === '.' || srv[0]!.data.target === '')) {
    return { records, rejected, notAvailable: true };
  }
  for (const answer of srv) {
    const { priority, weight, port } = answer.data;
    const target = normalizeName(answer.data.target);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      rejected.push({ target, reason: `port ${port} is not usable` });
      continue;
    }
    if (!policy.allowedSuffixes.some((suffix) => target.endsWith(`.${suffix}`))) {
      rejected.push({ target, reason: `target is outside ${policy.allowedSuffixes.join(', ')}` });
      continue;
    }
    const dedupe = `${target}:${port}`;
    if (seen.has(dedupe)) continue;
    seen.add(dedupe);
    records.push({ priority: priority ?? 0, weight: weight ?? 0, port, target, ttlSeconds: answer.ttl ?? 0 });
  }
  records.sort((a, b) => a.priority - b.priority);
  if (records.length > policy.maxRecords) {
    for (const r of records.splice(policy.maxRecords))
      rejected.push({ target: r.target, reason: 'over the record cap' });
  }
  return { records, rejected, notAvailable: false };
}

/**
 * Addresses of `targets` found in a reply's additional (or answer) section: only records whose owner is
 * one of the targets count (anything else is unsolicited data, RFC 2181 §5.4.1).
 */
export function addressesFrom(
  answers: readonly Answer[],
  targets: ReadonlySet<string>,
): Map<string, TargetAddress[]> {
  const found = new Map<string, TargetAddress[]>();
  for (const answer of answers) {
    if (answer.type !== 'A' && answer.type !== 'AAAA') continue;
    const owner = normalizeName(answer.name);
    if (!targets.has(owner)) continue;
    const list = found.get(owner) ?? [];
    list.push({ address: answer.data, ttlSeconds: answer.ttl ?? 0, source: 'additional' });
    found.set(owner, list);
  }
  return found;
}

/**
 * Joins SRV records with their targets' addresses into endpoints: one per (address, port), refused
 * addresses dropped unless allowed. Records without any address are left out.
 */
export function joinEndpoints(
  records: readonly SrvRecord[],
  addresses: ReadonlyMap<string, readonly TargetAddress[]>,
  policy: RecordPolicy,
  rejected: Rejection[],
): Endpoint[] {
  const endpoints: Endpoint[] = [];
  const seen = new Set<string>();
  for (const record of records) {
    for (const addr of addresses.get(record.target) ?? []) {
      if (!policy.allowUnsafeAddresses && !isAllowedAddress(addr.address)) {
        rejected.push({ target: record.target, reason: `address ${addr.address} is in a refused range` });
        continue;
      }
      const key = addr.address.includes(':')
        ? `[${addr.address}]:${record.port}`
        : `${addr.address}:${record.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      endpoints.push({
        key,
        target: record.target,
        address: addr.address,
        port: record.port,
        priority: record.priority,
        weight: record.weight,
        ttlSeconds: Math.min(record.ttlSeconds, addr.ttlSeconds),
        addressSource: addr.source,
      });
    }
  }
  return endpoints;
}
