import * as dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { CloudMapApi } from './cloudmap-api';
import type { CloudMapApiOptions } from './cloudmap-api';
import { DEFAULT_SERVICE, Registry, asciiLower, isDnsLabel } from './registry';
import type { DevDnsInstance } from './registry';
import { respond } from './respond';
import type { Response, Transport } from './respond';

/** Settings of a {@link DevDnsServer}. */
export interface DevDnsServerOptions {
  /** Zone the server is authoritative for. @default 'ecs.internal' */
  zone?: string;
  /** Address to bind UDP and TCP on. @default '127.0.0.1' */
  host?: string;
  /** Port for both UDP and TCP; 0 = OS-assigned. @default 0 */
  port?: number;
  /** TTL of every record, seconds. @default 10 */
  ttlSeconds?: number;
  /** MULTIVALUE cap: at most this many SRV records per answer, a random subset when more are registered. @default 8 */
  maxAnswers?: number;
  /** Random source in [0,1) for the subset, injectable for tests. @default Math.random */
  random?: () => number;
  /**
   * Also answer the Cloud Map API (AWS JSON 1.1 over HTTP, see {@link CloudMapApi}) from the same
   * registrations: `true` for 127.0.0.1 on an OS-assigned port, or its host and port. @default false
   */
  api?: boolean | CloudMapApiOptions;
  /**
   * Extra SRV owner names below the zone, each answering with the records of the service it maps to, e.g.
   * `{ '_service_b._tcp': 'service_b' }` serves service_b's tasks also as `_service_b._tcp.ecs.internal`:
   * an RFC 2782 name (`_service._proto.name`) for tools that accept no other, such as HAProxy. Cloud Map
   * itself publishes no such name. @default {}
   */
  aliases?: Record<string, string>;
}

/** Payload of the 'query' event, emitted once per answered query. */
export interface DevDnsQueryEvent {
  name: string;
  type: string;
  transport: Transport;
  /** 'NOERROR', 'NXDOMAIN', 'REFUSED', 'FORMERR', 'NOTIMP' or 'BADVERS'. */
  rcode: string;
}

/** Counters since construction. */
export interface DevDnsStats {
  /** Queries answered (any rcode); garbage is not counted here. */
  queries: number;
  /** Answered queries by QTYPE of the first question ('SRV', 'A', 'UNKNOWN_65', ...). */
  byType: Record<string, number>;
  byTransport: Record<Transport, number>;
  /** Answered queries by rcode ('NOERROR', 'NXDOMAIN', ...). */
  byRcode: Record<string, number>;
  /** Messages dropped unanswered: undecodable, responses (QR set), no question. */
  dropped: number;
}

/** Events of a {@link DevDnsServer}. */
export interface DevDnsServerEvents {
  query: [DevDnsQueryEvent];
}

/** RFC 7766 §6.2.3: servers close idle connections after a time "of the order of seconds". */
const TCP_IDLE_TIMEOUT_MS = 10_000;
/** With port 0, UDP picks a free port and TCP may find that number taken: retry this many times. */
const BIND_ATTEMPTS = 5;

/**
 * A Cloud Map-like authoritative DNS server over UDP and TCP, for `npm start` and tests.
 * Emits 'query' ({@link DevDnsQueryEvent}) for every answered query.
 */
export class DevDnsServer extends EventEmitter<DevDnsServerEvents> {
  readonly #host: string;
  readonly #port: number;
  readonly #registry: Registry;
  readonly #api: CloudMapApi | undefined;
  readonly #connections = new Set<net.Socket>();
  #stats: DevDnsStats = { queries: 0, byType: {}, byTransport: { udp: 0, tcp: 0 }, byRcode: {}, dropped: 0 };
  #udp: dgram.Socket | undefined;
  #tcp: net.Server | undefined;
  #address: { host: string; port: number } | undefined;
  #starting: Promise<unknown> | undefined;
  #closing: Promise<void> | undefined;

  /** @throws {TypeError} naming the first invalid option. */
  constructor(options: DevDnsServerOptions = {}) {
    super();
    const { zone = 'ecs.internal', host = '127.0.0.1', port = 0, ttlSeconds = 10, maxAnswers = 8 } = options;
    const { random = Math.random } = options;
    const zoneName = typeof zone === 'string' ? zone.replace(/\.$/, '') : zone;
    if (typeof zoneName !== 'string' || zoneName.length > 253 || !zoneName.split('.').every(isDnsLabel)) {
      throw new TypeError(
        `zone must be a DNS name of letters, digits, '-', '_' labels, got ${JSON.stringify(zone)}`,
      );
    }
    if (typeof host !== 'string' || host === '') {
      throw new TypeError(`host must be a non-empty string, got ${JSON.stringify(host)}`);
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TypeError(`port must be an integer in 0..65535, got ${String(port)}`);
    }
    // RFC 2181 §8: a TTL is an unsigned 31-bit number of seconds.
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > 2 ** 31 - 1) {
      throw new TypeError(`ttlSeconds must be an integer in 0..2147483647, got ${String(ttlSeconds)}`);
    }
    if (!Number.isInteger(maxAnswers) || maxAnswers < 1) {
      throw new TypeError(`maxAnswers must be a positive integer, got ${String(maxAnswers)}`);
    }
    if (typeof random !== 'function') {
      throw new TypeError('random must be a function returning a number in [0, 1)');
    }
    const { aliases = {} } = options;
    if (typeof aliases !== 'object' || aliases === null) {
      throw new TypeError(`aliases must be an object of name → service, got ${JSON.stringify(aliases)}`);
    }
    for (const [alias, service] of Object.entries(aliases)) {
      if (!alias.split('.').every(isDnsLabel) || !isDnsLabel(service)) {
        throw new TypeError(
          `aliases: ${JSON.stringify(alias)} → ${JSON.stringify(service)} is not name → label`,
        );
      }
    }
    const aliasMap = new Map(Object.entries(aliases).map(([a, s]) => [asciiLower(a), s]));
    this.#host = host;
    this.#port = port;
    this.#registry = new Registry({ zone: zoneName, ttlSeconds, maxAnswers, random, aliases: aliasMap });
    const { api = false } = options;
    if (api !== false && api !== true && (typeof api !== 'object' || api === null)) {
      throw new TypeError(`api must be a boolean or { host, port }, got ${JSON.stringify(api)}`);
    }
    this.#api =
      api === false ? undefined : new CloudMapApi(this.#registry, zoneName, api === true ? {} : api);
  }

  /**
   * Binds UDP and TCP on the same port; resolves with the bound address.
   * @throws {Error} when called twice or after close(), or when binding fails.
   */
  start(): Promise<{ host: string; port: number }> {
    if (this.#starting !== undefined || this.#closing !== undefined) {
      return Promise.reject(new Error('DevDnsServer.start() may be called once, before close()'));
    }
    const starting = this.#bind().then(async (address) => {
      try {
        await this.#api?.listen();
      } catch (error) {
        await this.#closeSockets();
        throw error;
      }
      return address;
    });
    this.#starting = starting.catch(() => undefined);
    return starting;
  }

  /**
   * The bound UDP/TCP address.
   * @throws {Error} before start() has resolved or after close().
   */
  get address(): { host: string; port: number } {
    if (this.#address === undefined) throw new Error('DevDnsServer is not listening');
    return { ...this.#address };
  }

  /**
   * The Cloud Map API side: its `endpoint`, fault injection (`inject`, `clearFaults`) and `stats()`.
   * @throws {Error} when the server was built without the `api` option.
   */
  get api(): CloudMapApi {
    if (this.#api === undefined) throw new Error('DevDnsServer was built without the api option');
    return this.#api;
  }

  /**
   * Registers a task of `service` as Cloud Map does: SRV `1 1 <port> <instanceId>.<service>.<zone>` and an A
   * record for that target. Re-registering the same id replaces it.
   * @default service 'service_b'
   * @throws {TypeError} when instanceId or service is not a DNS label, ip not IPv4, or port not 1..65535.
   */
  register(
    instanceId: string,
    ip: string,
    port: number,
    service: string = DEFAULT_SERVICE,
    attributes: Record<string, string> = {},
  ): void {
    this.#registry.register(instanceId, ip, port, service, attributes);
  }

  /**
   * Marks a task healthy or unhealthy (registered tasks start healthy); false when it is not registered.
   * DNS then answers only healthy tasks (all when none is); the API reports `HealthStatus` and filters on it.
   * Like Cloud Map, a health change does not move the service's `InstancesRevision`.
   * @default service 'service_b'
   */
  setHealth(instanceId: string, healthy: boolean, service: string = DEFAULT_SERVICE): boolean {
    return this.#registry.setHealth(instanceId, healthy, service);
  }

  /** Removes a task's records; true when it was registered. @default service 'service_b' */
  deregister(instanceId: string, service: string = DEFAULT_SERVICE): boolean {
    return this.#registry.deregister(instanceId, service);
  }

  /** Current registrations of `service`, for printing. @default service 'service_b' */
  instances(service: string = DEFAULT_SERVICE): DevDnsInstance[] {
    return this.#registry.instances(service);
  }

  /** A snapshot of the counters. */
  stats(): DevDnsStats {
    const s = this.#stats;
    return { ...s, byType: { ...s.byType }, byTransport: { ...s.byTransport }, byRcode: { ...s.byRcode } };
  }

  /** Closes the UDP socket, the TCP server and every open TCP connection; idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #bind(): Promise<{ host: string; port: number }> {
    for (let attempt = 1; ; attempt++) {
      const udp = dgram.createSocket(net.isIPv6(this.#host) ? 'udp6' : 'udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(this.#port, this.#host, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (error) {
        udp.close();
        throw error;
      }
      const { port } = udp.address();
      const tcp = net.createServer((socket) => this.#onConnection(socket));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ port, host: this.#host }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (error) {
        udp.close();
        // UDP and TCP port numbers are separate namespaces: the UDP port the OS chose may be taken for TCP.
        const taken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (this.#port === 0 && taken && attempt < BIND_ATTEMPTS) continue;
        throw error;
      }
      // A send to a vanished client may surface here; nothing to do but keep serving.
      udp.on('error', () => undefined);
      tcp.on('error', () => undefined);
      udp.on('message', (message, remote) => this.#onDatagram(message, remote));
      this.#udp = udp;
      this.#tcp = tcp;
      this.#address = { host: this.#host, port };
      return { ...this.#address };
    }
  }

  async #shutdown(): Promise<void> {
    await this.#starting;
    await Promise.all([this.#api?.close(), this.#closeSockets()]);
  }

  async #closeSockets(): Promise<void> {
    this.#address = undefined;
    const { udp, tcp } = { udp: this.#udp, tcp: this.#tcp };
    this.#udp = undefined;
    this.#tcp = undefined;
    const closed = Promise.all([
      new Promise<void>((resolve) => (udp ? udp.close(() => resolve()) : resolve())),
      // server.close() stops accepting and waits for open connections, which we destroy right after.
      new Promise<void>((resolve) => (tcp ? tcp.close(() => resolve()) : resolve())),
    ]);
    for (const socket of this.#connections) socket.destroy();
    await closed;
  }

  #onDatagram(message: Buffer, remote: dgram.RemoteInfo): void {
    const response = this.#answer(message, 'udp');
    if (response === undefined) return;
    // Errors (the socket closed meanwhile, an unreachable client) are the client's problem: it retries.
    this.#udp?.send(response.reply, remote.port, remote.address, () => undefined);
    this.#report(response, 'udp');
  }

  #onConnection(socket: net.Socket): void {
    this.#connections.add(socket);
    socket.on('close', () => this.#connections.delete(socket));
    // A reset or a write to a closed peer: 'close' follows and cleans up; it must not crash the process.
    socket.on('error', () => undefined);
    socket.setTimeout(TCP_IDLE_TIMEOUT_MS, () => socket.destroy());
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      // RFC 7766 §8: each message has a 2-byte length prefix; one read may hold several messages
      // (pipelining, §6.2.1.1) or part of one, so frame on the prefix, never on reads.
      while (pending.length >= 2) {
        const end = 2 + pending.readUInt16BE(0);
        if (pending.length < end) return;
        const response = this.#answer(pending.subarray(2, end), 'tcp');
        pending = pending.subarray(end);
        if (response === undefined) {
          // The stream is out of sync or hostile: there is no safe way to find the next message.
          socket.destroy();
          return;
        }
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(response.reply.length);
        if (socket.writable) socket.write(Buffer.concat([prefix, response.reply]));
        this.#report(response, 'tcp');
      }
    });
  }

  /** Builds the reply and counts it; undefined (counted as dropped) for garbage. Never throws. */
  #answer(message: Buffer, transport: Transport): Response | undefined {
    let response: Response | undefined;
    try {
      response = respond(message, transport, this.#registry);
    } catch {
      response = undefined; // a bug in encoding must cost one reply, not the process
    }
    const s = this.#stats;
    if (response === undefined) {
      s.dropped++;
      return undefined;
    }
    s.queries++;
    s.byTransport[transport]++;
    if (response.type !== '') s.byType[response.type] = (s.byType[response.type] ?? 0) + 1;
    s.byRcode[response.rcode] = (s.byRcode[response.rcode] ?? 0) + 1;
    return response;
  }

  #report(response: Response, transport: Transport): void {
    try {
      this.emit('query', { name: response.name, type: response.type, transport, rcode: response.rcode });
    } catch {
      // A throwing 'query' listener runs inside a socket handler, where it would crash the process.
    }
  }
}
