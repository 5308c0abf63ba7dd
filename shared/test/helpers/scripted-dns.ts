import * as packet from 'dns-packet';
import dgram from 'node:dgram';
import net from 'node:net';

/** What the scripted server does with one query: a reply packet, raw bytes, several sends, or silence. */
export type Script = (
  query: packet.Packet & { id: number; questions: packet.Question[] },
  transport: 'udp' | 'tcp',
) =>
  | packet.Packet
  | Buffer
  | Array<packet.Packet | Buffer>
  | undefined
  | Promise<packet.Packet | Buffer | undefined>;

/** Builds a reply to `query` with the given sections (flags: QR, AA; RD copied). */
export function reply(
  query: { id: number; questions: packet.Question[] },
  sections: Partial<Pick<packet.Packet, 'answers' | 'additionals' | 'authorities'>> & {
    rcode?: string;
    flags?: number;
  } = {},
): packet.Packet {
  const rcodeBits = sections.rcode ? RCODES[sections.rcode]! : 0;
  return {
    type: 'response',
    id: query.id,
    flags: packet.AUTHORITATIVE_ANSWER | (sections.flags ?? 0) | rcodeBits,
    questions: query.questions,
    answers: sections.answers ?? [],
    additionals: sections.additionals ?? [],
    authorities: sections.authorities ?? [],
  };
}

const RCODES: Record<string, number> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
};

/** Cloud Map-shaped SRV + A records for tasks `[id, ip, port]` of `service_b.ecs.internal`. */
export function cloudMapRecords(
  tasks: Array<[id: string, ip: string, port: number]>,
  options: { name?: string; ttl?: number; priority?: number; weight?: number } = {},
): { srv: packet.SrvAnswer[]; a: packet.StringAnswer[] } {
  const name = options.name ?? 'service_b.ecs.internal';
  const ttl = options.ttl ?? 10;
  return {
    srv: tasks.map(([id, , port]) => ({
      type: 'SRV' as const,
      name,
      ttl,
      class: 'IN' as const,
      data: { priority: options.priority ?? 1, weight: options.weight ?? 1, port, target: `${id}.${name}` },
    })),
    a: tasks.map(([id, ip]) => ({
      type: 'A' as const,
      name: `${id}.${name}`,
      ttl,
      class: 'IN' as const,
      data: ip,
    })),
  };
}

/** SOA for the zone, as NXDOMAIN/NODATA replies carry in AUTHORITY. */
export function soa(zone = 'ecs.internal', minimum = 5): packet.Answer {
  return {
    type: 'SOA',
    name: zone,
    ttl: minimum,
    class: 'IN',
    data: {
      mname: `ns.${zone}`,
      rname: `hostmaster.${zone}`,
      serial: 1,
      refresh: 60,
      retry: 60,
      expire: 600,
      minimum,
    },
  };
}

/**
 * An in-test DNS server on 127.0.0.1 (UDP and TCP on the same port) whose answers come from `script`.
 * It records every query it receives.
 */
export class ScriptedDns {
  readonly queries: Array<{ name: string; type: string; transport: 'udp' | 'tcp'; edns: boolean }> = [];
  script: Script;
  private udp: dgram.Socket;
  private readonly tcp = net.createServer();
  private readonly conns = new Set<net.Socket>();
  private readonly host: string;
  port = 0;

  /** `options.host`: the loopback address to serve on (`127.0.0.1`, or `::1` for IPv6). */
  constructor(script: Script, options: { host?: string } = {}) {
    this.script = script;
    this.host = options.host ?? '127.0.0.1';
    this.udp = dgram.createSocket(this.family);
  }

  private get family(): 'udp4' | 'udp6' {
    return this.host.includes(':') ? 'udp6' : 'udp4';
  }

  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** Count of queries for `type` (optionally of `name`). */
  count(type: string, name?: string): number {
    return this.queries.filter((q) => q.type === type && (name === undefined || q.name === name)).length;
  }

  async start(): Promise<this> {
    // UDP and TCP ports are separate namespaces: the port the OS picked for UDP may be taken for TCP
    // (other tests run in parallel), so retry with a new UDP port a few times.
    for (let attempt = 1; ; attempt++) {
      await new Promise<void>((resolve) => this.udp.bind(0, this.host, resolve));
      this.port = this.udp.address().port;
      try {
        await new Promise<void>((resolve, reject) => {
          this.tcp.once('error', reject);
          this.tcp.listen(this.port, this.host, () => {
            this.tcp.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        await new Promise<void>((resolve) => this.udp.close(() => resolve()));
        if (attempt >= 5) throw err;
        this.udp = dgram.createSocket(this.family);
      }
    }
    this.tcp.on('connection', (socket) => this.onTcp(socket));
    this.udp.on('message', (msg, rinfo) => {
      void this.handle(msg, 'udp').then((outs) => {
        for (const out of outs) this.udp.send(out, rinfo.port, rinfo.address);
      });
    });
    return this;
  }

  /** Sends raw bytes to `port` from this server's own socket (for spoof tests). */
  sendFromServer(bytes: Buffer, port: number): void {
    this.udp.send(bytes, port, this.host);
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }

  private async handle(msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer[]> {
    let query: packet.Packet & { id: number; questions: packet.Question[] };
    try {
      query = packet.decode(msg) as typeof query;
    } catch {
      return [];
    }
    const q = query.questions[0];
    if (q) {
      this.queries.push({
        name: q.name,
        type: q.type,
        transport,
        edns: (query.additionals ?? []).some((a) => a.type === 'OPT'),
      });
    }
    const out = await this.script(query, transport);
    if (out === undefined) return [];
    const list = Array.isArray(out) ? out : [out];
    return list.map((o) => (Buffer.isBuffer(o) ? o : packet.encode(o)));
  }

  private onTcp(socket: net.Socket): void {
    this.conns.add(socket);
    socket.on('close', () => this.conns.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        void this.handle(msg, 'tcp').then((outs) => {
          for (const out of outs) {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(out.length);
            // Split the frame in two writes to exercise the client's reassembly of partial reads.
            socket.write(Buffer.concat([len, out.subarray(0, 3)]));
            setImmediate(() => socket.write(out.subarray(3)));
          }
        });
      }
    });
  }
}
