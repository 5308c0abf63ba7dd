import { isIPv4 } from 'node:net';
import type { Answer, Question } from 'dns-packet';

/** One registered task, as Cloud Map publishes it: an SRV target and that target's A record. */
export interface DevDnsInstance {
  instanceId: string;
  ip: string;
  port: number;
  /** `<instanceId>.<service>.<zone>`, the SRV target and owner of the A record. */
  target: string;
  /**
   * Health as Cloud Map reports it (`HealthStatus`); registered healthy. DNS answers only healthy
   * instances while any is healthy, as Route 53 does for records with health checks.
   */
  healthy: boolean;
  /** Custom attributes beside `AWS_INSTANCE_IPV4`/`AWS_INSTANCE_PORT` (the Cloud Map API returns them). */
  attributes: Record<string, string>;
}

/** What the zone says about one question: the rcode and the three record sections. */
export interface ZoneAnswer {
  rcode: 'NOERROR' | 'NXDOMAIN' | 'REFUSED';
  /** AA bit (RFC 1035 §4.1.1): set for every name inside the zone, clear for REFUSED. */
  authoritative: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

/** Settings of a {@link Registry}, already validated by the server. */
export interface RegistryOptions {
  zone: string;
  ttlSeconds: number;
  maxAnswers: number;
  random: () => number;
  /** Lower-cased names below the zone (`_service_b._tcp`) → the service whose records they also answer. */
  aliases?: ReadonlyMap<string, string>;
}

/** The service name Cloud Map uses in this project's design. */
export const DEFAULT_SERVICE = 'service_b';

// RFC 2181 §11 allows any octet in a label; Cloud Map ids and service names use these, and `_` is why
// BIND needs `check-names ignore` for them (design.md).
const LABEL = /^[A-Za-z0-9_-]{1,63}$/;

/** True when `value` is one DNS label of letters, digits, '-' or '_' (1..63 chars). */
export function isDnsLabel(value: unknown): value is string {
  return typeof value === 'string' && LABEL.test(value);
}

/** Lower-cases ASCII letters only: RFC 4343 §3 makes just A-Z/a-z equal, so 'K' (U+212A) must not match 'k'. */
export function asciiLower(name: string): string {
  return name.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}

// Route 53 private hosted zones (which Cloud Map creates) answer with this SOA/NS pair.
const MNAME = 'ns-0.awsdns-00.com';
const RNAME = 'awsdns-hostmaster.amazon.com';

/** The zone's data: registrations in, answer sections out. Pure: no sockets, no clock. */
export class Registry {
  readonly #options: RegistryOptions;
  readonly #zoneKey: string;
  /** asciiLower(service) → asciiLower(instanceId) → instance; DNS names are case-insensitive. */
  readonly #services = new Map<string, Map<string, DevDnsInstance>>();
  /**
   * asciiLower(service) → its `InstancesRevision`. A service exists for the API once it had a task (or is
   * the default one) and keeps its revision when its last task leaves, as a Cloud Map service does.
   */
  readonly #revisions = new Map<string, number>([[DEFAULT_SERVICE, 1]]);

  constructor(options: RegistryOptions) {
    this.#options = options;
    this.#zoneKey = asciiLower(options.zone);
  }

  /**
   * Adds or replaces a task's SRV + A record pair.
   * @throws {TypeError} when instanceId or service is not a DNS label, ip not IPv4, port not 1..65535.
   */
  register(
    instanceId: string,
    ip: string,
    port: number,
    service: string = DEFAULT_SERVICE,
    attributes: Record<string, string> = {},
  ): void {
    if (!isDnsLabel(instanceId)) {
      throw new TypeError(
        `instanceId must be a DNS label (letters, digits, '-', '_'; 1..63 chars), got ${JSON.stringify(instanceId)}`,
      );
    }
    if (!isDnsLabel(service)) {
      throw new TypeError(
        `service must be a DNS label (letters, digits, '-', '_'; 1..63 chars), got ${JSON.stringify(service)}`,
      );
    }
    if (typeof ip !== 'string' || !isIPv4(ip)) {
      throw new TypeError(`ip must be an IPv4 address, got ${JSON.stringify(ip)}`);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TypeError(`port must be an integer in 1..65535, got ${String(port)}`);
    }
    const target = `${instanceId}.${service}.${this.#options.zone}`;
    // RFC 1035 §2.3.4: 255 octets on the wire, i.e. 253 characters in dotted form.
    if (target.length > 253) {
      throw new TypeError(`name ${target} is longer than 253 characters`);
    }
    const serviceKey = asciiLower(service);
    const instances = this.#services.get(serviceKey) ?? new Map<string, DevDnsInstance>();
    this.#services.set(serviceKey, instances);
    const key = asciiLower(instanceId);
    // Re-registering keeps the health, as RegisterInstance on an existing id updates it in Cloud Map.
    const healthy = instances.get(key)?.healthy ?? true;
    instances.set(key, { instanceId, ip, port, target, healthy, attributes: { ...attributes } });
    this.#bump(serviceKey);
  }

  /** Removes a task's records; true when it was registered. */
  deregister(instanceId: string, service: string = DEFAULT_SERVICE): boolean {
    const serviceKey = asciiLower(String(service));
    const instances = this.#services.get(serviceKey);
    const removed = instances?.delete(asciiLower(String(instanceId))) ?? false;
    if (instances?.size === 0) this.#services.delete(serviceKey);
    if (removed) this.#bump(serviceKey);
    return removed;
  }

  /**
   * Sets a task's health; false when it is not registered. Like Cloud Map, this does not change the
   * service's `InstancesRevision` (only registrations and deregistrations do).
   */
  setHealth(instanceId: string, healthy: boolean, service: string = DEFAULT_SERVICE): boolean {
    const instance = this.#services.get(asciiLower(String(service)))?.get(asciiLower(String(instanceId)));
    if (instance === undefined) return false;
    instance.healthy = healthy;
    return true;
  }

  /** Current registrations of `service`, in registration order. */
  instances(service: string = DEFAULT_SERVICE): DevDnsInstance[] {
    const instances = this.#services.get(asciiLower(String(service)));
    return [...(instances?.values() ?? [])].map((instance) => ({
      ...instance,
      attributes: { ...instance.attributes },
    }));
  }

  /** The service's `InstancesRevision`, or undefined when the service never existed. */
  revision(service: string): number | undefined {
    return this.#revisions.get(asciiLower(String(service)));
  }

  /** True when `name` is the zone (the Cloud Map namespace), case-insensitively. */
  isZone(name: string): boolean {
    return asciiLower(String(name).replace(/\.$/, '')) === this.#zoneKey;
  }

  #bump(serviceKey: string): void {
    this.#revisions.set(serviceKey, (this.#revisions.get(serviceKey) ?? 0) + 1);
  }

  /** Answers one question as a Route 53 private hosted zone would. */
  answer(question: Question): ZoneAnswer {
    const name = asciiLower(question.name);
    const zone = this.#zoneKey;
    // We hold class IN data only, and are not authoritative for names outside the zone: REFUSED
    // (RFC 1035 §4.1.1), as Route 53 and BIND answer for zones they do not serve.
    if ((question.class ?? 'IN') !== 'IN' || (name !== zone && !name.endsWith(`.${zone}`))) {
      return { rcode: 'REFUSED', authoritative: false, answers: [], authorities: [], additionals: [] };
    }
    const relative = name === zone ? '' : name.slice(0, -zone.length - 1);
    const alias = this.#options.aliases?.get(relative);
    const labels = alias !== undefined ? [asciiLower(alias)] : relative === '' ? [] : relative.split('.');
    const node = this.#lookup(question.name, labels);
    // RFC 2308 §3 (NXDOMAIN) and §2.2 (NODATA): negative answers carry the SOA for negative caching.
    const negative = (rcode: 'NOERROR' | 'NXDOMAIN'): ZoneAnswer => {
      return { rcode, authoritative: true, answers: [], authorities: [this.#soa()], additionals: [] };
    };
    if (node === undefined) return negative('NXDOMAIN');
    const type: string = question.type; // dns-packet decodes QTYPE 255 as 'ANY', outside its RecordType union
    const answers = node.records.filter((r) => type === 'ANY' || r.type === type);
    if (answers.length === 0) return negative('NOERROR');
    return { rcode: 'NOERROR', authoritative: true, answers, authorities: [], additionals: node.additionals };
  }

  /** Records at a name given as labels below the apex (lower-cased); undefined when the name does not exist. */
  #lookup(owner: string, labels: string[]): { records: Answer[]; additionals: Answer[] } | undefined {
    const ttl = this.#options.ttlSeconds;
    const [first, second] = labels;
    if (first === undefined) {
      return { records: [this.#soa(owner), { type: 'NS', name: owner, ttl, data: MNAME }], additionals: [] };
    }
    if (second === undefined) {
      const all = [...(this.#services.get(first)?.values() ?? [])];
      // Route 53 answers with healthy records only; when none is healthy it answers as if all were.
      const healthy = all.filter((i) => i.healthy);
      const picked = this.#pick(healthy.length > 0 ? healthy : all);
      // A service whose last task stopped has no record set left in Cloud Map: NXDOMAIN, not NODATA.
      if (picked.length === 0) return undefined;
      return {
        records: picked.map((i) => ({
          type: 'SRV',
          name: owner,
          ttl,
          data: { priority: 1, weight: 1, port: i.port, target: i.target },
        })),
        // RFC 2782 "Target": the server may add the targets' address records as additional data.
        additionals: picked.map((i) => ({ type: 'A', name: i.target, ttl, data: i.ip })),
      };
    }
    const instance = labels.length === 2 ? this.#services.get(second)?.get(first) : undefined;
    if (instance === undefined) return undefined;
    return { records: [{ type: 'A', name: owner, ttl, data: instance.ip }], additionals: [] };
  }

  /** MULTIVALUE routing: a random subset of at most maxAnswers, in random order. */
  #pick(instances: DevDnsInstance[]): DevDnsInstance[] {
    // Fisher–Yates: every order is equally likely, so its first maxAnswers entries are a uniform subset.
    for (let i = instances.length - 1; i > 0; i--) {
      const r = this.#options.random();
      const j = r >= 0 && r < 1 ? Math.floor(r * (i + 1)) : i;
      [instances[i], instances[j]] = [instances[j]!, instances[i]!];
    }
    return instances.slice(0, this.#options.maxAnswers);
  }

  #soa(owner: string = this.#options.zone): Answer {
    const ttl = this.#options.ttlSeconds;
    // RFC 2308 §5: the negative-cache TTL is min(SOA TTL, SOA MINIMUM); both are ttlSeconds here.
    const data = {
      mname: MNAME,
      rname: RNAME,
      serial: 1,
      refresh: 7200,
      retry: 900,
      expire: 1209600,
      minimum: ttl,
    };
    return { type: 'SOA', name: owner, ttl, data };
  }
}
