import * as packet from 'dns-packet';
import { DiscoveryError, SrvResolver } from '../src';
import { ScriptedDns, cloudMapRecords, reply, soa } from './helpers/scripted-dns';

const NAME = 'service_b.ecs.internal';
const TASKS: Array<[string, string, number]> = [
  ['0f3c9a5be1d24c1e9a4b7d3f2a1c00e1', '10.0.1.23', 49153],
  ['7a1b2c3d4e5f60718293a4b5c6d7e8f9', '10.0.1.24', 49154],
];

describe('SrvResolver against a DNS server on 127.0.0.1 over real UDP', () => {
  let dns: ScriptedDns;
  let dnsOpen = false;
  let resolver: SrvResolver | undefined;
  afterEach(async () => {
    resolver?.close();
    resolver = undefined;
    if (dnsOpen) await dns.close();
    dnsOpen = false;
  });

  async function serve(script: ConstructorParameters<typeof ScriptedDns>[0]): Promise<ScriptedDns> {
    dnsOpen = true;
    return new ScriptedDns(script).start();
  }

  function makeResolver(extra: ConstructorParameters<typeof SrvResolver>[0] = {}): SrvResolver {
    resolver = new SrvResolver({ servers: [dns.address], attemptTimeoutMs: 300, attempts: 2, ...extra });
    return resolver;
  }

  it('when the answer carries additionals, then one SRV query yields every endpoint with its TTL', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    dns = await serve((q) => reply(q, { answers: srv, additionals: a }));
    const set = await makeResolver().resolve(NAME);
    expect(
      set.endpoints.map((e) => [
        e.target,
        e.address,
        e.port,
        e.priority,
        e.weight,
        e.ttlSeconds,
        e.addressSource,
      ]),
    ).toEqual([
      [`${TASKS[0]![0]}.${NAME}`, '10.0.1.23', 49153, 1, 1, 10, 'additional'],
      [`${TASKS[1]![0]}.${NAME}`, '10.0.1.24', 49154, 1, 1, 10, 'additional'],
    ]);
    expect(set.ttlSeconds).toBe(10);
    expect(set.transport).toBe('udp');
    expect(dns.queries).toEqual([{ name: NAME, type: 'SRV', transport: 'udp', edns: true }]);
  });

  it('when the answer has no additionals, then each target is resolved with an A query at the same server', async () => {
    const { srv, a } = cloudMapRecords(TASKS, { ttl: 30 });
    dns = await serve((q) => {
      const question = q.questions[0]!;
      if (question.type === 'SRV') return reply(q, { answers: srv });
      const rec = a.find((r) => r.name === question.name);
      return reply(q, { answers: rec ? [{ ...rec, ttl: 7 }] : [] });
    });
    const set = await makeResolver().resolve(NAME);
    expect(set.endpoints.map((e) => [e.address, e.port, e.addressSource, e.ttlSeconds])).toEqual([
      ['10.0.1.23', 49153, 'query', 7],
      ['10.0.1.24', 49154, 'query', 7],
    ]);
    expect(set.ttlSeconds).toBe(7); // min of SRV (30) and A (7)
    expect(dns.count('A')).toBe(2);
  });

  it('when only some additionals are present, then only the missing targets are queried', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    dns = await serve((q) => {
      const question = q.questions[0]!;
      if (question.type === 'SRV') return reply(q, { answers: srv, additionals: [a[0]!] });
      return reply(q, { answers: a.filter((r) => r.name === question.name) });
    });
    const set = await makeResolver().resolve(NAME);
    expect(set.endpoints.map((e) => e.addressSource)).toEqual(['additional', 'query']);
    expect(dns.queries.filter((q) => q.type === 'A').map((q) => q.name)).toEqual([`${TASKS[1]![0]}.${NAME}`]);
  });

  it('when additionals name hosts that are not SRV targets, then they are ignored', async () => {
    const { srv, a } = cloudMapRecords(TASKS.slice(0, 1));
    const poison: packet.Answer = {
      type: 'A',
      name: 'evil.ecs.internal',
      ttl: 10,
      class: 'IN',
      data: '10.9.9.9',
    };
    dns = await serve((q) => reply(q, { answers: srv, additionals: [poison, ...a] }));
    const set = await makeResolver().resolve(NAME);
    expect(set.endpoints.map((e) => e.address)).toEqual(['10.0.1.23']);
  });

  it('when the name does not exist, then ENOTFOUND', async () => {
    dns = await serve((q) => reply(q, { rcode: 'NXDOMAIN', authorities: [soa()] }));
    await expect(makeResolver().resolve(NAME)).rejects.toMatchObject({ code: 'ENOTFOUND', hostname: NAME });
  });

  it('when the name has no SRV records, then ENODATA', async () => {
    dns = await serve((q) => reply(q, { authorities: [soa()] }));
    const err = await makeResolver()
      .resolve(NAME)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err).toMatchObject({ code: 'ENODATA' });
  });

  it('when the server answers SERVFAIL, then ESERVFAIL', async () => {
    dns = await serve((q) => reply(q, { rcode: 'SERVFAIL' }));
    await expect(makeResolver().resolve(NAME)).rejects.toMatchObject({ code: 'ESERVFAIL' });
    expect(dns.count('SRV')).toBe(2); // one per attempt: SERVFAIL moves on (RFC 1035 §7.2)
  });

  it('when the server stays silent, then ETIMEOUT after the bounded attempts', async () => {
    dns = await serve(() => undefined);
    await expect(makeResolver({ attemptTimeoutMs: 200, attempts: 2 }).resolve(NAME)).rejects.toMatchObject({
      code: 'ETIMEOUT',
    });
    expect(dns.count('SRV')).toBe(2);
  });

  it('when the reply is truncated, then the same query goes over TCP and its answer is used', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    dns = await serve((q, transport) =>
      transport === 'udp'
        ? reply(q, { flags: packet.TRUNCATED_RESPONSE })
        : reply(q, { answers: srv, additionals: a }),
    );
    const set = await makeResolver().resolve(NAME);
    expect(set.transport).toBe('tcp');
    expect(set.endpoints).toHaveLength(2);
    expect(dns.queries.map((q) => q.transport)).toEqual(['udp', 'tcp']);
  });

  it('when a reply has the wrong ID or question, then it is dropped and the real answer is still taken', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    dns = await serve((q) => [
      reply(
        { ...q, id: (q.id + 1) & 0xffff },
        { answers: srv, additionals: [{ ...a[0]!, data: '10.6.6.6' }] },
      ),
      reply(
        { ...q, questions: [{ name: 'other.ecs.internal', type: 'SRV', class: 'IN' }] },
        { answers: srv },
      ),
      Buffer.from('garbage that is not dns'),
      reply(q, { answers: srv, additionals: a }),
    ]);
    const set = await makeResolver().resolve(NAME);
    expect(set.endpoints.map((e) => e.address)).toEqual(['10.0.1.23', '10.0.1.24']);
  });

  it('when targets lie outside the zone or resolve to link-local addresses, then they are refused', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    const outside: packet.Answer = {
      type: 'SRV',
      name: NAME,
      ttl: 10,
      data: { priority: 1, weight: 1, port: 80, target: 'metadata.attacker.example' },
    };
    const linkLocal = [{ ...a[1]!, data: '169.254.169.254' }];
    dns = await serve((q) => reply(q, { answers: [...srv, outside], additionals: [a[0]!, ...linkLocal] }));
    const set = await makeResolver().resolve(NAME);
    expect(set.endpoints.map((e) => e.address)).toEqual(['10.0.1.23']);
    expect(set.rejected.map((r) => r.reason)).toEqual(
      expect.arrayContaining([expect.stringMatching(/outside/), expect.stringMatching(/refused range/)]),
    );
  });

  it('when the sole target is ".", then ENODATA says the service is not available', async () => {
    dns = await serve((q) =>
      reply(q, {
        answers: [
          { type: 'SRV', name: NAME, ttl: 10, data: { priority: 0, weight: 0, port: 0, target: '.' } },
        ],
      }),
    );
    await expect(makeResolver().resolve(NAME)).rejects.toThrow(/not available/);
  });

  it('when many lookups of a cold name run at once, then one SRV query serves them all', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    dns = await serve((q) => reply(q, { answers: srv, additionals: a }));
    const r = makeResolver();
    const picks = await Promise.all(Array.from({ length: 100 }, () => r.pick(NAME)));
    expect(picks).toHaveLength(100);
    expect(dns.count('SRV')).toBe(1);
  });

  it('when the cache is warm, then picks send no packet', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    dns = await serve((q) => reply(q, { answers: srv, additionals: a }));
    const r = makeResolver();
    await r.resolve(NAME);
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) seen.add(r.pickCached(NAME)!.key);
    expect(seen).toEqual(new Set(['10.0.1.23:49153', '10.0.1.24:49154']));
    expect(dns.count('SRV')).toBe(1);
  });

  it('when options are invalid, then the constructor throws a TypeError naming the option', () => {
    expect(() => new SrvResolver({ servers: ['not-an-ip'] })).toThrow(/servers/);
    expect(() => new SrvResolver({ servers: ['127.0.0.1'], attemptTimeoutMs: -1 })).toThrow(
      /attemptTimeoutMs/,
    );
    expect(() => new SrvResolver({ servers: ['127.0.0.1'], refreshAheadRatio: 1.5 })).toThrow(
      /refreshAheadRatio/,
    );
    expect(() => new SrvResolver({ servers: [] })).toThrow(TypeError);
  });

  it('when close() is called during a lookup, then it rejects with ECANCELLED and nothing stays open', async () => {
    dns = await serve(() => undefined);
    const r = makeResolver({ attemptTimeoutMs: 5000 });
    const pending = r.resolve(NAME);
    setImmediate(() => r.close());
    await expect(pending).rejects.toMatchObject({ code: 'ECANCELLED' });
    await expect(r.resolve(NAME)).rejects.toMatchObject({ code: 'ECANCELLED' });
  });
});

describe('SrvResolver lifecycle and counters', () => {
  it('when a caller aborts its lookup, then only that caller gets ECANCELLED', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    let answer: (() => void) | undefined;
    const dns = await new ScriptedDns(
      (q) =>
        new Promise(
          (resolve) => (answer = () => resolve(packet.encode(reply(q, { answers: srv, additionals: a })))),
        ),
    ).start();
    const r = new SrvResolver({ servers: [dns.address], attemptTimeoutMs: 2000 });
    try {
      const controller = new AbortController();
      const aborted = r.resolve(NAME, { signal: controller.signal });
      const patient = r.resolve(NAME);
      controller.abort();
      await expect(aborted).rejects.toMatchObject({ code: 'ECANCELLED' });
      while (!answer) await new Promise((res) => setTimeout(res, 5));
      answer();
      await expect(patient).resolves.toMatchObject({ name: NAME });
    } finally {
      r.close();
      await dns.close();
    }
  });

  it('when lookups and picks happen, then stats() counts queries, hits and TCP fallbacks', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    const dns = await new ScriptedDns((q, transport) =>
      transport === 'udp'
        ? reply(q, { flags: packet.TRUNCATED_RESPONSE })
        : reply(q, { answers: srv, additionals: a }),
    ).start();
    const r = new SrvResolver({ servers: [dns.address] });
    try {
      await r.resolve(NAME);
      for (let i = 0; i < 5; i++) r.pickCached(NAME);
      expect(r.stats()).toMatchObject({
        lookups: 1,
        tcpFallbacks: 1,
        cacheHits: 5,
        staleServes: 0,
        queries: { udp: { NOERROR: 1 }, tcp: { NOERROR: 1 } },
      });
    } finally {
      r.close();
      await dns.close();
    }
  });

  it('when closed during a lookup, then the query socket is closed', async () => {
    const dns = await new ScriptedDns(() => undefined).start();
    const count = (type: string): number => process.getActiveResourcesInfo().filter((t) => t === type).length;
    try {
      await new Promise((res) => setTimeout(res, 50)); // let earlier tests' sockets finish closing
      const sockets = count('UDPWrap');
      const r = new SrvResolver({ servers: [dns.address], attemptTimeoutMs: 5000 });
      const pending = r.resolve(NAME).catch(() => undefined);
      const settled = async (cond: () => boolean): Promise<boolean> => {
        const deadline = Date.now() + 5000;
        while (!cond() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
        return cond();
      };
      expect(await settled(() => dns.queries.length === 1)).toBe(true); // the query is out…
      expect(count('UDPWrap')).toBe(sockets + 1); // …on its own socket
      r.close();
      await pending;
      expect(await settled(() => count('UDPWrap') === sockets)).toBe(true);
    } finally {
      await dns.close();
    }
  });
});

describe('SrvResolver.lookup (uncached)', () => {
  it('when called twice, then each call queries DNS and the cache stays empty', async () => {
    const { srv, a } = cloudMapRecords(TASKS);
    const dns = await new ScriptedDns((q) => reply(q, { answers: srv, additionals: a })).start();
    const r = new SrvResolver({ servers: [dns.address] });
    try {
      expect((await r.lookup(NAME)).endpoints).toHaveLength(2);
      expect((await r.lookup(NAME)).endpoints).toHaveLength(2);
      expect(dns.count('SRV')).toBe(2);
      expect(r.pickCached(NAME)).toBeUndefined();
      expect(r.snapshot()).toEqual([]);
    } finally {
      r.close();
      await dns.close();
    }
  });

  it('when the name does not exist, then lookup rejects with ENOTFOUND', async () => {
    const dns = await new ScriptedDns((q) => reply(q, { rcode: 'NXDOMAIN', authorities: [soa()] })).start();
    const r = new SrvResolver({ servers: [dns.address] });
    try {
      await expect(r.lookup(NAME)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    } finally {
      r.close();
      await dns.close();
    }
  });
});
