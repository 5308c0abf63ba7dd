import type { Answer, SrvAnswer } from 'dns-packet';
import { dialableAddress } from './address-policy';
import { invalidNameReason, normalizeName, printable, sameName, type Reply } from './wire/message';

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
  /**
   * `additional`/`query`: from DNS; `previous`: the target's A query failed this time, so its last known
   * address was kept; `api`: from the Cloud Map API's instance attributes.
   */
  source: 'additional' | 'query' | 'previous' | 'api';
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
  readonly addressSource: TargetAddress['source'];
}

/** Record-level rules (see resolver options for their meaning and defaults). */
export interface RecordPolicy {
  /** Lower-case suffixes a target must lie under (`ecs.internal` admits `x.ecs.internal`). */
  allowedSuffixes: readonly string[];
  /** Accept link-local, unspecified and multicast addresses. */
  allowUnsafeAddresses: boolean;
  /** At most this many SRV records are used (lowest priority first). */
  maxRecords: number;
  /** At most this many addresses are used per SRV target. */
  maxAddressesPerTarget: number;
}

/** Why records were dropped, for logs and the discovery snapshot. */
export interface Rejection {
  /** The target as DNS gave it, escaped and cut to 80 characters. */
  target: string;
  reason: string;
}

/** Most rejections kept per answer: a hostile answer must not grow a 503 body, a log line or /discovery. */
export const MAX_REJECTIONS = 16;

/** Rejections of one answer, capped at MAX_REJECTIONS; the rest are only counted. */
export class RejectionLog {
  readonly list: Rejection[] = [];
  /** Rejections beyond the cap. */
  omitted = 0;

  add(target: string, reason: string): void {
    if (this.list.length < MAX_REJECTIONS) this.list.push({ target: printable(target), reason });
    else this.omitted++;
  }

  get size(): number {
    return this.list.length + this.omitted;
  }

  /** One short line for an error message: the first few rejections and how many more. */
  summary(shown = 3): string {
    const head = this.list.slice(0, shown).map((r) => `${r.target}: ${r.reason}`);
    const more = this.size - head.length;
    return more > 0 ? `${head.join('; ')}; and ${more} more` : head.join('; ');
  }
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
): { records: SrvRecord[]; rejected: RejectionLog; notAvailable: boolean } {
  const rejected = new RejectionLog();
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
      rejected.add(target, `port ${port} is not usable`);
      continue;
    }
    // The target becomes a Host header and a log field: it must be a plain DNS name (no CR/LF, spaces…).
    const badName = invalidNameReason(target);
    if (badName !== undefined) {
      rejected.add(target, `target is not a host name: ${badName}`);
      continue;
    }
    if (!policy.allowedSuffixes.some((suffix) => target.endsWith(`.${suffix}`))) {
      rejected.add(target, `target is outside ${policy.allowedSuffixes.join(', ')}`);
      continue;
    }
    const dedupe = `${target}:${port}`;
    if (seen.has(dedupe)) continue;
    seen.add(dedupe);
    records.push({ priority: priority ?? 0, weight: weight ?? 0, port, target, ttlSeconds: answer.ttl ?? 0 });
  }
  records.sort((a, b) => a.priority - b.priority);
  if (records.length > policy.maxRecords) {
    for (const r of records.splice(policy.maxRecords)) rejected.add(r.target, 'over the record cap');
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
 * addresses dropped unless allowed, IPv4-mapped IPv6 addresses dialed as IPv4, at most
 * `maxAddressesPerTarget` per target. Records without any address are left out.
 */
export function joinEndpoints(
  records: readonly SrvRecord[],
  addresses: ReadonlyMap<string, readonly TargetAddress[]>,
  policy: RecordPolicy,
  rejected: RejectionLog,
): Endpoint[] {
  const endpoints: Endpoint[] = [];
  const seen = new Set<string>();
  for (const record of records) {
    let used = 0;
    for (const addr of addresses.get(record.target) ?? []) {
      const address = policy.allowUnsafeAddresses ? addr.address : dialableAddress(addr.address);
      if (address === undefined) {
        rejected.add(record.target, `address ${printable(addr.address, 45)} is in a refused range`);
        continue;
      }
      const key = address.includes(':') ? `[${address}]:${record.port}` : `${address}:${record.port}`;
      if (seen.has(key)) continue;
      if (used === policy.maxAddressesPerTarget) {
        rejected.add(record.target, `more than ${policy.maxAddressesPerTarget} addresses: the rest ignored`);
        break;
      }
      used++;
      seen.add(key);
      endpoints.push({
        key,
        target: record.target,
        address,
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
