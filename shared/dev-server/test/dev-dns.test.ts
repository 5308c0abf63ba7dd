import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as packet from 'dns-packet';
import type {
  Answer,
  DecodedPacket as PacketWithFlags,
  OptAnswer,
  Packet,
  RecordType,
  SoaAnswer,
  SrvAnswer,
} from 'dns-packet';
import { DevDnsServer } from '@ecs-srv/dev-server';
import type { DevDnsQueryEvent, DevDnsServerOptions } from '@ecs-srv/dev-server';

const SERVICE = 'service_b.ecs.internal';
/** Generous: only a lost packet or a hung server reaches it, never a slow machine. */
const REPLY_TIMEOUT_MS = 10_000;

let server: DevDnsServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function startServer(options: DevDnsServerOptions = {}): Promise<number> {
  server = new DevDnsServer(options);
  return (await server.start()).port;
}

/** dns-packet decodes the header's opcode and rcode too, but its types leave them out. */
type DecodedPacket = PacketWithFlags & { opcode: string; rcode: string };

let nextId = 1;
function query(name: string, type: RecordType, extra: Partial<Packet> = {}): Packet {
  return {
    type: 'query',
    id: nextId++,
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    ...extra,
  };
}

function edns(udpPayloadSize: number, ednsVersion = 0): OptAnswer {
  return {
    type: 'OPT',
    name: '.',
    udpPayloadSize,
    extendedRcode: 0,
    ednsVersion,
    flags: 0,
    flag_do: false,
    options: [],
  };
}

/** Rejects after REPLY_TIMEOUT_MS; the timer is always cleared. */
async function withTimeout<T>(what: string, run: (done: (value: T) => void) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), REPLY_TIMEOUT_MS);
      run(resolve);
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Sends every message from one UDP socket and resolves with the first datagram that comes back. */
async function udpExchange(port: number, messages: Buffer[]): Promise<Buffer> {
  const socket = dgram.createSocket('udp4');
  try {
    return await withTimeout<Buffer>('a UDP reply', (done) => {
      socket.once('message', done);
      for (const message of messages) socket.send(message, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

async function udpQuery(port: number, message: Packet): Promise<{ reply: DecodedPacket; bytes: number }> {
  const raw = await udpExchange(port, [packet.encode(message)]);
  return { reply: packet.decode(raw) as DecodedPacket, bytes: raw.length };
}

function frame(message: Packet): Buffer {
  return packet.streamEncode(message);
}

/** Writes each chunk separately (waiting for each write) and resolves with `count` framed replies. */
async function tcpExchange(port: number, chunks: Buffer[], count: number): Promise<DecodedPacket[]> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  try {
    return await withTimeout<DecodedPacket[]>('TCP replies', (done) => {
      let received = Buffer.alloc(0);
      const replies: DecodedPacket[] = [];
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        while (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
          const end = 2 + received.readUInt16BE(0);
          replies.push(packet.decode(received.subarray(2, end)) as DecodedPacket);
          received = received.subarray(end);
        }
        if (replies.length >= count) done(replies);
      });
      void (async () => {
        for (const chunk of chunks) {
          await new Promise<void>((resolve) => socket.write(chunk, () => resolve()));
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      })();
    });
  } finally {
    socket.destroy();
  }
}

/** Resolves once the server closes a connection that sent `bytes`. */
async function tcpClosedAfter(port: number, bytes: Buffer): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  try {
    await withTimeout<void>('the server to close the connection', (done) => {
      socket.once('close', () => done());
      socket.write(bytes);
    });
  } finally {
    socket.destroy();
  }
}

function srvRecords(reply: DecodedPacket): SrvAnswer[] {
  return (reply.answers ?? []).filter((a): a is SrvAnswer => a.type === 'SRV');
}

function soaOf(records: Answer[] | undefined): SoaAnswer | undefined {
  return (records ?? []).find((a): a is SoaAnswer => a.type === 'SOA');
}

/** A 32-hex-character id, as ECS task ids are. */
function taskId(i: number): string {
  return i.toString(16).padStart(32, 'f');
}

/** mulberry32: a seeded random source so subset tests are deterministic. */
function seededRandom(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('DevDnsServer answers', () => {
  it('when SRV is asked for a service with tasks, then each task is an SRV 1 1 port target with its A record as additional', async () => {
    const port = await startServer();
    server!.register('task-a', '10.0.1.23', 49153);
    server!.register('task-b', '10.0.1.24', 49154);
    const message = query(SERVICE, 'SRV');

    const { reply } = await udpQuery(port, message);

    expect(reply).toMatchObject({
      id: message.id,
      type: 'response',
      rcode: 'NOERROR',
      flag_aa: true,
      flag_rd: true,
      flag_tc: false,
    });
    expect(reply.questions).toEqual([{ name: SERVICE, type: 'SRV', class: 'IN' }]);
    const srv = srvRecords(reply).sort((x, y) => x.data.port - y.data.port);
    expect(srv.map((r) => ({ name: r.name, ttl: r.ttl, data: r.data }))).toEqual([
      { name: SERVICE, ttl: 10, data: { priority: 1, weight: 1, port: 49153, target: `task-a.${SERVICE}` } },
      { name: SERVICE, ttl: 10, data: { priority: 1, weight: 1, port: 49154, target: `task-b.${SERVICE}` } },
    ]);
    const additionals = (reply.additionals ?? []).map((a) =>
      a.type === 'OPT' ? a : { type: a.type, name: a.name, ttl: a.ttl, data: a.data },
    );
    expect(additionals).toEqual(
      expect.arrayContaining([
        { type: 'A', name: `task-a.${SERVICE}`, ttl: 10, data: '10.0.1.23' },
        { type: 'A', name: `task-b.${SERVICE}`, ttl: 10, data: '10.0.1.24' },
      ]),
    );
    expect(additionals).toHaveLength(2);
  });

  it('when A is asked for a task target, then its address comes back authoritatively', async () => {
    const port = await startServer({ ttlSeconds: 30 });
    server!.register('task-a', '10.0.1.23', 49153);

    const { reply } = await udpQuery(port, query(`task-a.${SERVICE}`, 'A'));

    expect(reply).toMatchObject({ rcode: 'NOERROR', flag_aa: true });
    expect(reply.answers).toEqual([
      { type: 'A', name: `task-a.${SERVICE}`, ttl: 30, class: 'IN', flush: false, data: '10.0.1.23' },
    ]);
  });

  it('when another type is asked at an existing name, then NODATA: NOERROR, no answer, the SOA in authority', async () => {
    const port = await startServer();
    server!.register('task-a', '10.0.1.23', 49153);

    for (const [name, type] of [
      [SERVICE, 'TXT'],
      [`task-a.${SERVICE}`, 'AAAA'],
      [SERVICE, 'A'],
    ] as const) {
      const { reply } = await udpQuery(port, query(name, type));
      expect(reply).toMatchObject({ rcode: 'NOERROR', flag_aa: true, answers: [] });
      expect(soaOf(reply.authorities)).toMatchObject({
        name: 'ecs.internal',
        ttl: 10,
        data: { minimum: 10 },
      });
    }
  });

  it('when an unknown name in the zone or a service without tasks is asked, then NXDOMAIN with the SOA in authority', async () => {
    const port = await startServer({ ttlSeconds: 15 });
    server!.register('task-a', '10.0.1.23', 49153);
    server!.deregister('task-a');

    for (const name of [SERVICE, 'service_c.ecs.internal', `task-a.${SERVICE}`, `x.task-a.${SERVICE}`]) {
      const { reply } = await udpQuery(port, query(name, name === SERVICE ? 'SRV' : 'A'));
      expect(reply).toMatchObject({ rcode: 'NXDOMAIN', flag_aa: true, answers: [] });
      expect(soaOf(reply.authorities)).toMatchObject({
        name: 'ecs.internal',
        ttl: 15,
        data: { minimum: 15 },
      });
    }
  });

  it('when the zone apex SOA is asked, then the SOA is the answer', async () => {
    const port = await startServer({ zone: 'dev.test' });

    const { reply } = await udpQuery(port, query('dev.test', 'SOA'));

    expect(reply).toMatchObject({ rcode: 'NOERROR', flag_aa: true });
    expect(soaOf(reply.answers)).toMatchObject({ name: 'dev.test', data: { minimum: 10 } });
  });

  it('when a name outside the zone is asked, then REFUSED without AA', async () => {
    const port = await startServer();
    server!.register('task-a', '10.0.1.23', 49153);

    for (const name of ['example.com', 'service_b.ecs.internal.evil', 'xecs.internal']) {
      const { reply } = await udpQuery(port, query(name, 'SRV'));
      expect(reply).toMatchObject({ rcode: 'REFUSED', flag_aa: false, answers: [], authorities: [] });
    }
  });

  it('when the name is asked in another case, then it matches and the question is echoed as asked', async () => {
    const port = await startServer();
    server!.register('Task-A', '10.0.1.23', 49153);
    const asked = 'SERVICE_B.Ecs.INTERNAL';

    const { reply } = await udpQuery(port, query(asked, 'SRV'));
    const a = await udpQuery(port, query(`tASK-a.${asked}`, 'A'));

    expect(reply.questions).toEqual([{ name: asked, type: 'SRV', class: 'IN' }]);
    expect(srvRecords(reply).map((r) => r.data.target)).toEqual([`Task-A.${SERVICE}`]);
    expect(a.reply.answers?.[0]).toMatchObject({ name: `tASK-a.${asked}`, data: '10.0.1.23' });
  });

  it('when RD is clear, then the reply has RD clear and copies the ID', async () => {
    const port = await startServer();
    const message = query(SERVICE, 'SRV', { id: 0xbeef, flags: 0 });

    const { reply } = await udpQuery(port, message);

    expect(reply).toMatchObject({ id: 0xbeef, flag_rd: false, flag_qr: true });
  });

  it('when 12 tasks are registered, then each answer holds 8 of them with their additionals and subsets vary', async () => {
    const port = await startServer({ random: seededRandom(42) });
    const all = new Set<string>();
    for (let i = 0; i < 12; i++) {
      server!.register(`task-${i}`, `10.0.0.${i + 1}`, 50000 + i);
      all.add(`task-${i}.${SERVICE}`);
    }

    const subsets = new Set<string>();
    for (let n = 0; n < 6; n++) {
      const { reply } = await udpQuery(port, query(SERVICE, 'SRV', { additionals: [edns(1232)] }));
      const targets = srvRecords(reply).map((r) => r.data.target);
      expect(targets).toHaveLength(8);
      expect(new Set(targets).size).toBe(8);
      for (const target of targets) expect(all.has(target)).toBe(true);
      const additionalNames = (reply.additionals ?? []).filter((a) => a.type === 'A').map((a) => a.name);
      expect(additionalNames.sort()).toEqual([...targets].sort());
      subsets.add([...targets].sort().join(','));
    }
    expect(subsets.size).toBeGreaterThan(1);
  });

  it('when maxAnswers is 3, then at most 3 SRV records come back', async () => {
    const port = await startServer({ maxAnswers: 3 });
    for (let i = 0; i < 5; i++) server!.register(`task-${i}`, '10.0.0.1', 50000 + i);

    const { reply } = await udpQuery(port, query(SERVICE, 'SRV'));

    expect(srvRecords(reply)).toHaveLength(3);
  });
});

describe('DevDnsServer message size limits', () => {
  it('when a non-EDNS answer of 3 long targets overflows 512 bytes, then the additionals are dropped without TC', async () => {
    const port = await startServer();
    for (let i = 0; i < 3; i++) server!.register(taskId(i), `10.0.0.${i + 1}`, 50000 + i);

    const { reply, bytes } = await udpQuery(port, query(SERVICE, 'SRV'));

    expect(bytes).toBeLessThanOrEqual(512);
    expect(reply).toMatchObject({ rcode: 'NOERROR', flag_tc: false, additionals: [] });
    expect(srvRecords(reply)).toHaveLength(3);
  });

  it('when a non-EDNS answer of 8 long targets cannot fit 512 bytes, then TC is set with no answer records', async () => {
    const port = await startServer();
    for (let i = 0; i < 8; i++) server!.register(taskId(i), `10.0.0.${i + 1}`, 50000 + i);

    const { reply, bytes } = await udpQuery(port, query(SERVICE, 'SRV'));

    expect(bytes).toBeLessThanOrEqual(512);
    expect(reply).toMatchObject({ rcode: 'NOERROR', flag_tc: true, answers: [], additionals: [] });
    expect(reply.questions).toEqual([{ name: SERVICE, type: 'SRV', class: 'IN' }]);
  });

  it('when the query has EDNS with a 4096-byte buffer, then 8 long targets and their additionals fit, with our OPT', async () => {
    const port = await startServer();
    for (let i = 0; i < 8; i++) server!.register(taskId(i), `10.0.0.${i + 1}`, 50000 + i);

    const { reply, bytes } = await udpQuery(port, query(SERVICE, 'SRV', { additionals: [edns(4096)] }));

    expect(bytes).toBeGreaterThan(512);
    expect(reply.flag_tc).toBe(false);
    expect(srvRecords(reply)).toHaveLength(8);
    const opt = (reply.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
    expect(opt).toMatchObject([{ udpPayloadSize: 1232, ednsVersion: 0 }]);
    expect((reply.additionals ?? []).filter((a) => a.type === 'A')).toHaveLength(8);
  });

  it('when EDNS with a buffer below 512 is sent, then 512 is used and TC still keeps our OPT', async () => {
    const port = await startServer();
    for (let i = 0; i < 8; i++) server!.register(taskId(i), `10.0.0.${i + 1}`, 50000 + i);

    const { reply, bytes } = await udpQuery(port, query(SERVICE, 'SRV', { additionals: [edns(100)] }));

    expect(bytes).toBeLessThanOrEqual(512);
    expect(reply).toMatchObject({ flag_tc: true, answers: [] });
    expect(reply.additionals).toMatchObject([{ type: 'OPT', udpPayloadSize: 1232 }]);
  });

  it('when the 8 long targets are asked over TCP, then every SRV and A record comes back', async () => {
    const port = await startServer();
    for (let i = 0; i < 8; i++) server!.register(taskId(i), `10.0.0.${i + 1}`, 50000 + i);

    const [reply] = await tcpExchange(port, [frame(query(SERVICE, 'SRV'))], 1);

    expect(reply).toMatchObject({ rcode: 'NOERROR', flag_tc: false });
    expect(srvRecords(reply!)).toHaveLength(8);
    expect(reply!.additionals).toHaveLength(8);
  });
});

describe('DevDnsServer TCP framing', () => {
  it('when two queries arrive in one write, then both are answered in order', async () => {
    const port = await startServer();
    server!.register('task-a', '10.0.1.23', 49153);
    const first = query(SERVICE, 'SRV');
    const second = query(`task-a.${SERVICE}`, 'A');

    const replies = await tcpExchange(port, [Buffer.concat([frame(first), frame(second)])], 2);

    expect(replies.map((r) => r.id)).toEqual([first.id, second.id]);
    expect(replies[1]?.answers?.[0]).toMatchObject({ type: 'A', data: '10.0.1.23' });
  });

  it('when one query is split over writes, even inside its length prefix, then it is answered once whole', async () => {
    const port = await startServer();
    server!.register('task-a', '10.0.1.23', 49153);
    const message = query(SERVICE, 'SRV');
    const bytes = frame(message);

    const [reply] = await tcpExchange(
      port,
      [bytes.subarray(0, 1), bytes.subarray(1, 9), bytes.subarray(9)],
      1,
    );

    expect(reply).toMatchObject({ id: message.id, rcode: 'NOERROR' });
    expect(srvRecords(reply!)).toHaveLength(1);
  });

  it('when an undecodable message arrives over TCP, then that connection is closed and counted as dropped', async () => {
    const port = await startServer();
    const garbage = Buffer.from([0x00, 0x03, 0xde, 0xad, 0xbe]);

    await tcpClosedAfter(port, garbage);

    expect(server!.stats().dropped).toBe(1);
  });

  it('when a client promises more bytes than it sends and then resets, then the server keeps serving', async () => {
    const port = await startServer();
    server!.register('task-a', '10.0.1.23', 49153);
    const liar = net.connect(port, '127.0.0.1');
    liar.on('error', () => undefined);
    await new Promise<void>((resolve) => liar.write(Buffer.from([0xff, 0xff, 0x12, 0x34]), () => resolve()));
    const closed = new Promise((resolve) => liar.once('close', resolve));
    liar.resetAndDestroy();
    await closed;

    const [reply] = await tcpExchange(port, [frame(query(SERVICE, 'SRV'))], 1);

    expect(srvRecords(reply!)).toHaveLength(1);
  });
});

describe('DevDnsServer robustness', () => {
  it('when garbage, a response and a question-less message precede a query over UDP, then only the query is answered and the rest counted', async () => {
    const port = await startServer();
    server!.register('task-a', '10.0.1.23', 49153);
    const valid = query(SERVICE, 'SRV');
    const response = packet.encode({ ...query(SERVICE, 'SRV'), type: 'response' });
    const noQuestion = packet.encode({ type: 'query', id: 7, questions: [] });

    const raw = await udpExchange(port, [Buffer.from([1, 2, 3]), response, noQuestion, packet.encode(valid)]);

    expect(packet.decode(raw)).toMatchObject({ id: valid.id, rcode: 'NOERROR' });
    expect(server!.stats()).toMatchObject({
      dropped: 3,
      queries: 1,
      byTransport: { udp: 1, tcp: 0 },
      byType: { SRV: 1 },
    });
  });

  it('when the opcode is not QUERY, then NOTIMP', async () => {
    const port = await startServer();
    const notify = query('ecs.internal', 'SOA', { flags: 4 << 11 });

    const { reply } = await udpQuery(port, notify);

    expect(reply).toMatchObject({ id: notify.id, opcode: 'NOTIFY', rcode: 'NOTIMP' });
  });

  it('when a query holds two questions, then FORMERR', async () => {
    const port = await startServer();
    const message = query(SERVICE, 'SRV');
    message.questions!.push({ name: `task-a.${SERVICE}`, type: 'A', class: 'IN' });

    const { reply } = await udpQuery(port, message);

    expect(reply).toMatchObject({ id: message.id, rcode: 'FORMERR', answers: [] });
  });

  it('when the EDNS version is not 0, then BADVERS in our OPT', async () => {
    const port = await startServer();

    const { reply } = await udpQuery(port, query(SERVICE, 'SRV', { additionals: [edns(1232, 1)] }));

    expect(reply.additionals).toMatchObject([{ type: 'OPT', extendedRcode: 1, ednsVersion: 0 }]);
    expect(reply.answers).toEqual([]);
  });

  it('when queries are answered, then a query event reports each one and stats count them by type and transport', async () => {
    const port = await startServer();
    const events: DevDnsQueryEvent[] = [];
    server!.on('query', (event) => events.push(event));

    await udpQuery(port, query(SERVICE, 'SRV'));
    await tcpExchange(port, [frame(query('example.com', 'A'))], 1);

    expect(events).toEqual([
      { name: SERVICE, type: 'SRV', transport: 'udp', rcode: 'NXDOMAIN' },
      { name: 'example.com', type: 'A', transport: 'tcp', rcode: 'REFUSED' },
    ]);
    expect(server!.stats()).toEqual({
      queries: 2,
      byType: { SRV: 1, A: 1 },
      byTransport: { udp: 1, tcp: 1 },
      byRcode: { NXDOMAIN: 1, REFUSED: 1 },
      dropped: 0,
    });
  });

  it('when a query listener throws, then the reply is still sent and the server survives', async () => {
    const port = await startServer();
    server!.on('query', () => {
      throw new Error('listener bug');
    });

    await udpQuery(port, query(SERVICE, 'SRV'));
    const { reply } = await udpQuery(port, query(SERVICE, 'SRV'));

    expect(reply.rcode).toBe('NXDOMAIN');
  });
});

describe('DevDnsServer registrations', () => {
  it.each([
    ['an instanceId with a dot', 'a.b', '10.0.0.1', 80, undefined, /instanceId/],
    ['an empty instanceId', '', '10.0.0.1', 80, undefined, /instanceId/],
    ['a 64-character instanceId', 'a'.repeat(64), '10.0.0.1', 80, undefined, /instanceId/],
    ['an IPv6 ip', 'task', '::1', 80, undefined, /ip/],
    ['a malformed ip', 'task', '10.0.0.256', 80, undefined, /ip/],
    ['port 0', 'task', '10.0.0.1', 0, undefined, /port/],
    ['port 65536', 'task', '10.0.0.1', 65536, undefined, /port/],
    ['a fractional port', 'task', '10.0.0.1', 80.5, undefined, /port/],
    ['a service with a space', 'task', '10.0.0.1', 80, 'service b', /service/],
  ])(
    'when register gets %s, then it throws a TypeError naming it',
    (_what, id, ip, port, service, message) => {
      server = new DevDnsServer();
      expect(() => server!.register(id, ip, port, service)).toThrow(TypeError);
      expect(() => server!.register(id, ip, port, service)).toThrow(message);
      expect(server.instances(service)).toEqual([]);
    },
  );

  it.each([
    [{ zone: 'bad zone' }, /zone/],
    [{ zone: '' }, /zone/],
    [{ port: -1 }, /port/],
    [{ port: 70000 }, /port/],
    [{ ttlSeconds: 1.5 }, /ttlSeconds/],
    [{ maxAnswers: 0 }, /maxAnswers/],
    [{ host: '' }, /host/],
    [{ random: 0.5 as unknown as () => number }, /random/],
  ])('when constructed with %p, then it throws a TypeError naming the option', (options, message) => {
    expect(() => new DevDnsServer(options)).toThrow(TypeError);
    expect(() => new DevDnsServer(options)).toThrow(message);
  });

  it('when an id is registered again, then it replaces the first registration', () => {
    const fresh = { healthy: true, attributes: {} };
    server = new DevDnsServer({ zone: 'ecs.internal.' });
    server.register('task-a', '10.0.0.1', 5000);
    server.register('TASK-A', '10.0.0.2', 6000);
    server.register('task-b', '10.0.0.3', 7000, 'other');

    expect(server.instances()).toEqual([
      { instanceId: 'TASK-A', ip: '10.0.0.2', port: 6000, target: `TASK-A.${SERVICE}`, ...fresh },
    ]);
    expect(server.instances('other')).toEqual([
      { instanceId: 'task-b', ip: '10.0.0.3', port: 7000, target: 'task-b.other.ecs.internal', ...fresh },
    ]);
  });

  it('when a task is deregistered, then it is gone from answers and a second deregister returns false', async () => {
    const port = await startServer();
    server!.register('task-a', '10.0.1.23', 49153);
    server!.register('task-b', '10.0.1.24', 49154);

    expect(server!.deregister('task-a')).toBe(true);
    expect(server!.deregister('task-a')).toBe(false);
    expect(server!.deregister('task-b', 'unknown')).toBe(false);
    const { reply } = await udpQuery(port, query(SERVICE, 'SRV'));

    expect(srvRecords(reply).map((r) => r.data.target)).toEqual([`task-b.${SERVICE}`]);
    expect(server!.instances().map((i) => i.instanceId)).toEqual(['task-b']);
  });
});

describe('DevDnsServer lifecycle', () => {
  it('when closed with a TCP connection open, then the connection ends, the port is free again, and close is idempotent', async () => {
    const port = await startServer();
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    const clientClosed = new Promise((resolve) => client.once('close', resolve));
    // Wait for one answer on the connection, so the server surely holds it.
    await withTimeout<void>('a TCP reply', (done) => {
      client.once('data', () => done());
      client.write(frame(query(SERVICE, 'SRV')));
    });

    await server!.close();
    await clientClosed;
    await server!.close();

    expect(() => server!.address).toThrow(/not listening/);
    const again = new DevDnsServer({ port });
    try {
      await expect(again.start()).resolves.toEqual({ host: '127.0.0.1', port });
    } finally {
      await again.close();
    }
  });

  it('when not started, then address throws and close resolves; after close, start rejects', async () => {
    server = new DevDnsServer();

    expect(() => server!.address).toThrow(/not listening/);
    await server.close();
    await expect(server.start()).rejects.toThrow(/start/);
  });

  it('when the TCP side of an explicit port is taken, then start rejects and close still resolves', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as net.AddressInfo;
      server = new DevDnsServer({ port });

      await expect(server.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(() => server!.address).toThrow(/not listening/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('when started, then address reports the bound host and the same port for UDP and TCP', async () => {
    const port = await startServer();

    expect(server!.address).toEqual({ host: '127.0.0.1', port });
    const [reply] = await tcpExchange(port, [frame(query(SERVICE, 'SRV'))], 1);
    expect(reply?.rcode).toBe('NXDOMAIN');
    await expect(server!.start()).rejects.toThrow(/once/);
  });
});
