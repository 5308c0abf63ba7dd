import * as packet from 'dns-packet';
import dgram from 'node:dgram';
import fc from 'fast-check';
import { SrvResolver } from '../src';
import { answersQuery, buildQuery, decodeReply } from '../src/wire/message';
import { ScriptedDns, cloudMapRecords, reply } from './helpers/scripted-dns';

const NAME = 'service_b.ecs.internal';
const { srv, a } = cloudMapRecords([['0f3c9a5be1d24c1e9a4b7d3f2a1c00e1', '10.0.1.23', 49153]]);

describe('DNS wire', () => {
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function serve(script: ConstructorParameters<typeof ScriptedDns>[0]): Promise<ScriptedDns> {
    const dns = await new ScriptedDns(script).start();
    closers.push(() => dns.close());
    return dns;
  }

  function resolverFor(
    servers: string[],
    extra: ConstructorParameters<typeof SrvResolver>[0] = {},
  ): SrvResolver {
    const r = new SrvResolver({ servers, ...extra });
    closers.push(() => r.close());
    return r;
  }

  it('when queries are built, then IDs are random and the query round-trips with EDNS0 (1232 bytes)', () => {
    const ids = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const q = buildQuery({ name: NAME, type: 'SRV' });
      ids.add(q.id);
      const decoded = packet.decode(q.bytes);
      expect(decoded.id).toBe(q.id);
      expect(decoded.questions).toEqual([{ name: NAME, type: 'SRV', class: 'IN' }]);
      expect(decoded.additionals).toEqual([expect.objectContaining({ type: 'OPT', udpPayloadSize: 1232 })]);
    }
    expect(ids.size).toBeGreaterThan(190); // sequential or constant IDs would fail this
  });

  it('when a reply echoes the question in another letter case, then it still matches (RFC 4343)', () => {
    const q = buildQuery({ name: NAME, type: 'SRV' });
    const r = decodeReply(
      packet.encode(reply({ id: q.id, questions: [{ name: NAME.toUpperCase(), type: 'SRV', class: 'IN' }] })),
    )!;
    expect(answersQuery(r, q)).toBe(true);
    expect(answersQuery({ ...r, id: (q.id + 1) & 0xffff }, q)).toBe(false);
    expect(answersQuery({ ...r, questions: [{ name: NAME, type: 'A', class: 'IN' }] }, q)).toBe(false);
  });

  it('when a spoofed reply arrives from another source port first, then the connected socket never receives it and the real one is taken', async () => {
    const spoofer = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => spoofer.bind(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => spoofer.close(() => resolve(undefined))));
    let clientPort = 0;
    const dns = await serve(async (q) => {
      // The spoofer knows the ID and the question (the worst case) but not the server's port.
      const forged = packet.encode(reply(q, { answers: srv, additionals: [{ ...a[0]!, data: '10.6.6.6' }] }));
      await new Promise((resolve) => spoofer.send(forged, clientPort, '127.0.0.1', resolve));
      await new Promise((resolve) => setTimeout(resolve, 20));
      return reply(q, { answers: srv, additionals: a });
    });
    // Learn the client's source port from the server side of the exchange.
    const original = dns.script;
    dns.script = (q, t) => original(q, t);
    const udpOn = (dns as unknown as { udp: dgram.Socket }).udp;
    udpOn.prependListener('message', (_m, rinfo) => (clientPort = rinfo.port));
    const r = resolverFor([dns.address]);
    const set = await r.resolve(NAME);
    expect(set.endpoints.map((e) => e.address)).toEqual(['10.0.1.23']);
    expect(clientPort).toBeGreaterThan(0); // the forgery was sent to the client's real port…
    // …and the kernel dropped it (the socket is connected to the server): nothing reached the decoder.
    // acceptDatagram's own source check is tested apart below, since the kernel hides it here.
    expect(r.stats().dropped).toBe(0);
  });

  it('when the first server is silent, then the next one answers within the deadline', async () => {
    const silent = await serve(() => undefined);
    const good = await serve((q) => reply(q, { answers: srv, additionals: a }));
    const set = await resolverFor([silent.address, good.address], { attemptTimeoutMs: 200 }).resolve(NAME);
    expect(set.server).toBe(good.address);
    expect(silent.count('SRV')).toBe(1);
  });

  it('when every server is silent, then ETIMEOUT comes by the overall deadline, not after every attempt', async () => {
    const s1 = await serve(() => undefined);
    const s2 = await serve(() => undefined);
    const r = resolverFor([s1.address, s2.address], {
      attemptTimeoutMs: 400,
      attempts: 10,
      lookupTimeoutMs: 1000,
    });
    const started = Date.now();
    await expect(r.resolve(NAME)).rejects.toMatchObject({ code: 'ETIMEOUT' });
    // 10 attempts × 400 ms would take 4 s; the deadline stops them after ~1 s (generous bound for slow CI).
    expect(Date.now() - started).toBeLessThan(3500);
    expect(s1.count('SRV') + s2.count('SRV')).toBeLessThanOrEqual(4);
  });

  it('when the server port is closed, then the refusal moves on at once instead of waiting for a timeout', async () => {
    const closed = await serve(() => undefined);
    const port = closed.port;
    await closed.close();
    closers.pop();
    const good = await serve((q) => reply(q, { answers: srv, additionals: a }));
    const set = await resolverFor([`127.0.0.1:${port}`, good.address], { attemptTimeoutMs: 3000 }).resolve(
      NAME,
    );
    expect(set.server).toBe(good.address);
  });

  it('when arbitrary bytes come back, then nothing throws and the answer is an error code or the later real reply', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 600 }),
        fc.boolean(),
        async (bytes, thenAnswer) => {
          const dns = await new ScriptedDns((q) =>
            thenAnswer
              ? [Buffer.from(bytes), reply(q, { answers: srv, additionals: a })]
              : Buffer.from(bytes),
          ).start();
          const r = new SrvResolver({ servers: [dns.address], attemptTimeoutMs: 100, attempts: 1 });
          try {
            const outcome = await r.resolve(NAME).then(
              (set) => set.endpoints.map((e) => e.address).join(','),
              (err: { code?: string }) => err.code,
            );
            if (thenAnswer) expect(outcome).toBe('10.0.1.23');
            else expect(['ETIMEOUT', 'EBADRESP']).toContain(outcome);
          } finally {
            r.close();
            await dns.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('when random bytes are decoded, then decodeReply never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (bytes) => {
        expect(() => decodeReply(Buffer.from(bytes))).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });

  it('when a valid reply is mutated byte by byte, then decoding and matching never throw', () => {
    const q = buildQuery({ name: NAME, type: 'SRV' });
    const good = packet.encode(
      reply(
        { id: q.id, questions: [{ name: NAME, type: 'SRV', class: 'IN' }] },
        { answers: srv, additionals: a },
      ),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(good.length),
        (edits, cut) => {
          const bytes = Buffer.from(good.subarray(0, Math.max(12, cut)));
          for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
          const decoded = decodeReply(bytes);
          if (decoded) expect(() => answersQuery(decoded, q)).not.toThrow();
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('DNS over TCP when the server hangs up', () => {
  it('when the server closes the TCP connection without answering, then EOF (not ECONNREFUSED)', async () => {
    const dns = await new ScriptedDns((q, transport) =>
      transport === 'udp' ? reply(q, { flags: packet.TRUNCATED_RESPONSE }) : undefined,
    ).start();
    const hangUp = (dns as unknown as { tcp: import('node:net').Server }).tcp;
    hangUp.prependListener('connection', (socket) => socket.end());
    const r = new SrvResolver({ servers: [dns.address], attempts: 1, attemptTimeoutMs: 2000 });
    try {
      await expect(r.resolve(NAME)).rejects.toMatchObject({ code: 'EOF' });
    } finally {
      r.close();
      await dns.close();
    }
  });
});
