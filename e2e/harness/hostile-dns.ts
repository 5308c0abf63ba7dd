import * as packet from 'dns-packet';
import dgram from 'node:dgram';
import net from 'node:net';

/** SRV name every hostile plan answers for. */
export const NAME = 'service_b.ecs.internal';

/** A task the legitimate answer holds. */
export interface LegitTask {
  id: string;
  address: string;
  port: number;
}

/** Where records that must never be used point (a canary that counts connections, or a sentinel). */
export interface Trap {
  address: string;
  port: number;
}

/** One hostile UDP datagram sent in answer to an SRV query, before (or instead of) the real answer. */
export type UdpStep =
  | { kind: 'wrong-id' }
  | { kind: 'wrong-question'; variant: number }
  | { kind: 'spoof' }
  | { kind: 'loop' }
  | { kind: 'huge-counts' }
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'mutated'; edits: Array<[number, number]> }
  | { kind: 'truncated'; cut: number }
  | { kind: 'poison'; poison: number[]; withLegit: boolean }
  | { kind: 'tc' };

/** One hostile TCP frame (or behaviour) before the real answer over TCP. */
export type TcpStep =
  | { kind: 'wrong-id' }
  | { kind: 'wrong-question'; variant: number }
  | { kind: 'garbage'; bytes: Uint8Array }
  | { kind: 'lying-length' };

/** What the hostile server does for every SRV query of one run. */
export interface Plan {
  udp: UdpStep[];
  /** Whether the real answer follows the UDP steps. */
  udpFinal: boolean;
  tcp: TcpStep[];
  tcpFinal: boolean;
  /** Whether the real answer carries the targets' A records in ADDITIONAL. */
  additionals: boolean;
  /** How A queries for the targets are answered. */
  aAnswer: 'legit' | 'poison' | 'silent';
}

/** Steps after which the client must go on waiting: they can never be taken as the reply. */
export const NEVER_MATCH = new Set<UdpStep['kind'] | TcpStep['kind']>([
  'wrong-id',
  'wrong-question',
  'spoof',
  'loop',
  'huge-counts',
  'random',
  'mutated',
]);

/** True when the client must end up with exactly the legitimate endpoints. */
export function reachesLegit(plan: Plan): boolean {
  const addressesOk = plan.additionals || plan.aAnswer === 'legit';
  for (const step of plan.udp) {
    if (NEVER_MATCH.has(step.kind)) continue;
    if (step.kind === 'tc') {
      return plan.tcp.every((t) => NEVER_MATCH.has(t.kind)) && plan.tcpFinal && addressesOk;
    }
    return false; // a (possibly) matching reply decides the outcome
  }
  return plan.udpFinal && addressesOk;
}

type Query = packet.Packet & { id: number; questions: packet.Question[] };

/** Records a matching reply may carry that the client must refuse, each pointing at `trap`. */
export function poisons(
  trap: Trap,
): Array<{ srv?: packet.Answer; addr?: packet.Answer; extra?: packet.Answer }> {
  const srv = (target: string, port = trap.port, name = NAME): packet.Answer => ({
    type: 'SRV',
    name,
    ttl: 10,
    class: 'IN',
    data: { priority: 0, weight: 100, port, target },
  });
  const a = (name: string, data: string): packet.Answer => ({ type: 'A', name, ttl: 10, class: 'IN', data });
  return [
    { srv: srv('evil.example.com'), addr: a('evil.example.com', trap.address) }, // outside the zone
    { srv: srv(`${NAME}.evil.com`), addr: a(`${NAME}.evil.com`, trap.address) }, // suffix trick
    { srv: srv('xecs.internal'), addr: a('xecs.internal', trap.address) }, // no label boundary
    { srv: srv(`zero.${NAME}`, 0), addr: a(`zero.${NAME}`, trap.address) }, // port 0
    { srv: srv(`meta.${NAME}`, 80), addr: a(`meta.${NAME}`, '169.254.169.254') }, // instance metadata
    { srv: srv(`ll.${NAME}`), addr: a(`ll.${NAME}`, '169.254.1.1') }, // link-local
    { srv: srv(`any.${NAME}`), addr: a(`any.${NAME}`, '0.0.0.0') }, // unspecified
    { srv: srv(`mc.${NAME}`), addr: a(`mc.${NAME}`, '224.0.0.1') }, // multicast
    { srv: srv(`bc.${NAME}`), addr: a(`bc.${NAME}`, '255.255.255.255') }, // broadcast
    {
      srv: srv(`v6.${NAME}`),
      addr: { type: 'AAAA', name: `v6.${NAME}`, ttl: 10, class: 'IN', data: 'fe80::1' },
    },
    { srv: srv('.') }, // "not available" mixed with others
    // An SRV of another owner name, and an address for a name that is no SRV target (RFC 2181 §5.4.1).
    { srv: srv(`c.${NAME}`, trap.port, 'service_c.ecs.internal'), addr: a(`c.${NAME}`, trap.address) },
    { extra: a(`unrelated.${NAME}`, trap.address) },
  ];
}

/**
 * A DNS server on 127.0.0.1 (UDP and TCP on one port) that answers every SRV query with a hostile plan:
 * spoofs from another port, wrong IDs and questions, undecodable and lying packets, poisoned records, then
 * (maybe) the real answer.
 */
export class HostileDns {
  plan: Plan = { udp: [], udpFinal: true, tcp: [], tcpFinal: true, additionals: true, aAnswer: 'legit' };
  readonly queries: Array<{ type: string; transport: 'udp' | 'tcp' }> = [];
  port = 0;
  private readonly udp = dgram.createSocket('udp4');
  private readonly spoofer = dgram.createSocket('udp4');
  private readonly tcp = net.createServer();
  private readonly conns = new Set<net.Socket>();

  constructor(
    private readonly legit: readonly LegitTask[],
    private readonly trap: Trap,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.udp.bind(0, '127.0.0.1', resolve));
    this.port = this.udp.address().port;
    await new Promise<void>((resolve) => this.spoofer.bind(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.udp.on('message', (msg, rinfo) => void this.onUdp(msg, rinfo.port));
    this.udp.on('error', () => undefined);
    this.spoofer.on('error', () => undefined);
    this.tcp.on('connection', (socket) => this.onTcp(socket));
    return this;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
    await new Promise<void>((resolve) => this.spoofer.close(() => resolve()));
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }

  /** Legitimate SRV (+ additionals) reply to `q`. */
  private legitReply(
    q: Query,
    id = q.id,
    extra: { answers?: packet.Answer[]; additionals?: packet.Answer[] } = {},
  ): packet.Packet {
    return {
      type: 'response',
      id,
      flags: packet.AUTHORITATIVE_ANSWER,
      questions: q.questions,
      answers: [
        ...this.legit.map((t): packet.Answer => ({
          type: 'SRV',
          name: NAME,
          ttl: 10,
          class: 'IN',
          data: { priority: 1, weight: 1, port: t.port, target: `${t.id}.${NAME}` },
        })),
        ...(extra.answers ?? []),
      ],
      additionals: [
        ...(this.plan.additionals
          ? this.legit.map((t): packet.Answer => ({
              type: 'A',
              name: `${t.id}.${NAME}`,
              ttl: 10,
              class: 'IN',
              data: t.address,
            }))
          : []),
        ...(extra.additionals ?? []),
      ],
    };
  }

  /** A reply whose records all point at the trap (what a spoofer would send). */
  private trapReply(q: Query, id: number, questions = q.questions): Buffer {
    return packet.encode({
      type: 'response',
      id,
      flags: packet.AUTHORITATIVE_ANSWER,
      questions,
      answers: [
        {
          type: 'SRV',
          name: NAME,
          ttl: 10,
          class: 'IN',
          data: { priority: 0, weight: 1, port: this.trap.port, target: `spoof.${NAME}` },
        },
      ],
      additionals: [{ type: 'A', name: `spoof.${NAME}`, ttl: 10, class: 'IN', data: this.trap.address }],
    });
  }

  private wrongQuestion(q: Query, variant: number): Buffer {
    const base = q.questions[0]!;
    const variants: packet.Question[][] = [
      [{ ...base, name: 'service_c.ecs.internal' }],
      [{ ...base, name: `${NAME}.evil.com` }],
      [{ ...base, type: 'A' }],
      [{ ...base, class: 'CH' }],
      [base, { ...base, name: 'service_c.ecs.internal' }],
      [],
    ];
    return this.trapReply(q, q.id, variants[variant % variants.length]);
  }

  private udpBytes(q: Query, step: UdpStep): Buffer | undefined {
    switch (step.kind) {
      case 'wrong-id':
        return this.trapReply(q, (q.id + 1 + Math.floor(Math.random() * 0xfffe)) & 0xffff);
      case 'wrong-question':
        return this.wrongQuestion(q, step.variant);
      case 'loop': {
        // Question name = a pointer to itself (offset 12): a compression loop.
        const b = Buffer.alloc(18);
        b.writeUInt16BE(q.id, 0);
        b.writeUInt16BE(0x8400, 2);
        b.writeUInt16BE(1, 4);
        b.writeUInt16BE(0xc00c, 12);
        b.writeUInt16BE(33, 14);
        b.writeUInt16BE(1, 16);
        return b;
      }
      case 'huge-counts': {
        const b = Buffer.from(packet.encode(this.legitReply(q)));
        b.writeUInt16BE(0xffff, 6);
        b.writeUInt16BE(0xffff, 8);
        b.writeUInt16BE(0xffff, 10);
        return b;
      }
      case 'random':
        return Buffer.from(step.bytes);
      case 'mutated': {
        // Mutations of a reply with a wrong ID: the decoder must survive, the matcher must drop it.
        const b = Buffer.from(packet.encode(this.legitReply(q, (q.id + 7) & 0xffff)));
        for (const [at, value] of step.edits) {
          const i = 12 + (at % Math.max(1, b.length - 12));
          if (i < b.length) b[i] = value;
        }
        return b;
      }
      case 'truncated': {
        const b = packet.encode(this.legitReply(q));
        return b.subarray(0, 12 + (step.cut % Math.max(1, b.length - 13)));
      }
      case 'poison': {
        const list = poisons(this.trap);
        const chosen = step.poison.map((i) => list[i % list.length]!);
        const answers = chosen.flatMap((p) => (p.srv ? [p.srv] : []));
        const additionals = chosen.flatMap((p) => [
          ...(p.addr ? [p.addr] : []),
          ...(p.extra ? [p.extra] : []),
        ]);
        if (step.withLegit) return packet.encode(this.legitReply(q, q.id, { answers, additionals }));
        return packet.encode({
          type: 'response',
          id: q.id,
          flags: packet.AUTHORITATIVE_ANSWER,
          questions: q.questions,
          answers,
          additionals,
        });
      }
      case 'tc':
        return packet.encode({
          type: 'response',
          id: q.id,
          flags: packet.AUTHORITATIVE_ANSWER | packet.TRUNCATED_RESPONSE,
          questions: q.questions,
          answers: [],
        });
      case 'spoof':
        return undefined; // sent from the spoofer's socket
    }
  }

  private aReply(q: Query): Buffer | undefined {
    const name = q.questions[0]!.name.toLowerCase();
    const task = this.legit.find((t) => `${t.id}.${NAME}` === name);
    if (this.plan.aAnswer === 'silent') return undefined;
    const data = this.plan.aAnswer === 'poison' || !task ? '169.254.169.254' : task.address;
    return packet.encode({
      type: 'response',
      id: q.id,
      flags: packet.AUTHORITATIVE_ANSWER,
      questions: q.questions,
      answers: [{ type: 'A', name, ttl: 10, class: 'IN', data }],
    });
  }

  private async onUdp(msg: Buffer, clientPort: number): Promise<void> {
    let q: Query;
    try {
      q = packet.decode(msg) as Query;
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    this.queries.push({ type: question.type, transport: 'udp' });
    const send = (socket: dgram.Socket, bytes: Buffer): Promise<void> =>
      new Promise((resolve) => socket.send(bytes, clientPort, '127.0.0.1', () => resolve()));
    if (question.type === 'A') {
      const reply = this.aReply(q);
      if (reply) await send(this.udp, reply);
      return;
    }
    const plan = this.plan;
    for (const step of plan.udp) {
      if (step.kind === 'spoof') {
        await send(this.spoofer, this.trapReply(q, q.id));
      } else {
        await send(this.udp, this.udpBytes(q, step)!);
      }
    }
    if (plan.udpFinal) await send(this.udp, Buffer.from(packet.encode(this.legitReply(q))));
  }

  private onTcp(socket: net.Socket): void {
    this.conns.add(socket);
    socket.on('close', () => this.conns.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    const frame = (bytes: Buffer): Buffer => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(bytes.length);
      return Buffer.concat([len, bytes]);
    };
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
      buf = Buffer.alloc(0);
      let q: Query;
      try {
        q = packet.decode(msg) as Query;
      } catch {
        socket.destroy();
        return;
      }
      this.queries.push({ type: q.questions[0]?.type ?? '?', transport: 'tcp' });
      const plan = this.plan;
      for (const step of plan.tcp) {
        if (step.kind === 'wrong-id') socket.write(frame(this.trapReply(q, (q.id + 1) & 0xffff)));
        else if (step.kind === 'wrong-question') socket.write(frame(this.wrongQuestion(q, step.variant)));
        else if (step.kind === 'garbage')
          socket.write(frame(Buffer.concat([Buffer.from([0xde, 0xad]), Buffer.from(step.bytes)])));
        else {
          // Announces 2000 bytes, sends 10, hangs up.
          const head = Buffer.alloc(2);
          head.writeUInt16BE(2000);
          socket.end(Buffer.concat([head, Buffer.alloc(10, 0x41)]));
          return;
        }
      }
      if (plan.tcpFinal) socket.write(frame(Buffer.from(packet.encode(this.legitReply(q)))));
    });
  }
}
