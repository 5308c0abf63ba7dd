import * as packet from 'dns-packet';
import { DiscoveryError, SrvResolver, type SrvResolverOptions } from '../src';
import { buildQuery } from '../src/wire/message';
import { parseServer } from '../src/wire/servers';
import { acceptDatagram } from '../src/wire/udp';
import { ScriptedDns, cloudMapRecords, reply, type Script } from './helpers/scripted-dns';

const NAME = 'service_b.ecs.internal';
const TASKS: Array<[string, string, number]> = [
  ['0f3c9a5be1d24c1e9a4b7d3f2a1c00e1', '10.0.1.23', 49153],
  ['7a1b2c3d4e5f60718293a4b5c6d7e8f9', '10.0.1.24', 49154],
];
const { srv, a } = cloudMapRecords(TASKS);

describe('DNS lookups under the faults a VPC produces (real UDP/TCP on loopback)', () => {
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function serve(script: Script, host?: string): Promise<ScriptedDns> {
    const dns = await new ScriptedDns(script, { host }).start();
    closers.push(() => dns.close());
    return dns;
  }

  function resolverFor(servers: string[], extra: SrvResolverOptions = {}): SrvResolver {
    const r = new SrvResolver({ servers, attemptTimeoutMs: 300, ...extra });
    closers.push(() => r.close());
    return r;
  }

  describe('wire', () => {
    it('when a datagram comes from another address or port, then acceptDatagram refuses it even with the right ID', () => {
      const server = parseServer('127.0.0.1:5300');
      const query = buildQuery({ name: NAME, type: 'SRV' });
      const bytes = packet.encode(
        reply({ id: query.id, questions: [{ name: NAME, type: 'SRV', class: 'IN' }] }),
      );
      expect(acceptDatagram(bytes, { address: '127.0.0.1', port: 5300 }, server, query)).toBeDefined();
      expect(acceptDatagram(bytes, { address: '127.0.0.1', port: 5301 }, server, query)).toBeUndefined();
      expect(acceptDatagram(bytes, { address: '127.0.0.2', port: 5300 }, server, query)).toBeUndefined();
      expect(
        acceptDatagram(Buffer.from('garbage'), { address: '127.0.0.1', port: 5300 }, server, query),
      ).toBeUndefined();
    });

    it('when a server is given as an object in long IPv6 form, then it is made canonical too', async () => {
      const dns = await serve((q) => reply(q, { answers: srv, additionals: a }), '::1');
      const obj = new SrvResolver({ servers: [{ host: '0:0:0:0:0:0:0:1', port: dns.port, family: 6 }] });
      closers.push(() => obj.close());
      expect((await obj.resolve(NAME)).endpoints).toHaveLength(2);
    });

    it('when an IPv6 server is written in long form, then it is canonical and its replies are accepted', async () => {
      const dns = await serve((q) => reply(q, { answers: srv, additionals: a }), '::1');
      const r = resolverFor([`[0:0:0:0:0:0:0:1]:${dns.port}`]);
      expect(r.dnsServers[0]!.host).toBe('::1');
      const set = await r.resolve(NAME);
      expect(set.endpoints).toHaveLength(2);
      expect(r.stats().dropped).toBe(0);
    });

    it('when a server answers FORMERR to EDNS, then the same query is asked again without EDNS (RFC 6891 §7)', async () => {
      const dns = await serve((q) =>
        (q.additionals ?? []).some((x) => x.type === 'OPT')
          ? reply(q, { rcode: 'FORMERR' })
          : reply(q, { answers: srv, additionals: a }),
      );
      const set = await resolverFor([dns.address], { attempts: 1 }).resolve(NAME);
      expect(set.endpoints).toHaveLength(2);
      expect(dns.queries.map((q) => q.edns)).toEqual([true, false]);
    });

    it('when a name has a 70-character label or a bad character, then EBADNAME and nothing goes on the wire', async () => {
      const dns = await serve((q) => reply(q, { answers: srv, additionals: a }));
      const r = resolverFor([dns.address]);
      for (const bad of [
        `${'x'.repeat(70)}.ecs.internal`,
        'service b.ecs.internal',
        'a..b',
        `${'a.'.repeat(130)}b`,
      ]) {
        await expect(r.resolve(bad)).rejects.toMatchObject({ code: 'EBADNAME' });
        await expect(r.lookup(bad)).rejects.toMatchObject({ code: 'EBADNAME' });
      }
      expect(dns.queries).toHaveLength(0);
    });

    it('when every server fails differently, then the error keeps every attempt, not only the last', async () => {
      const silent = await serve(() => undefined);
      const failing = await serve((q) => reply(q, { rcode: 'SERVFAIL' }));
      const err = (await resolverFor([silent.address, failing.address], {
        attempts: 2,
        attemptTimeoutMs: 100,
      })
        .resolve(NAME)
        .catch((e: unknown) => e)) as DiscoveryError;
      expect(err.attempts).toEqual([
        { server: silent.address, transport: 'udp', code: 'ETIMEOUT' },
        { server: failing.address, transport: 'udp', code: 'ESERVFAIL' },
      ]);
      expect(err.code).toBe('ESERVFAIL');
      expect(err.message).toContain(`${silent.address} udp ETIMEOUT`);
    });

    it('when the resolver is closed while lookups are starting, then they reject ECANCELLED and nothing throws later', async () => {
      const dns = await serve((q) => reply(q, { answers: srv, additionals: a }));
      const uncaught: unknown[] = [];
      const onUncaught = (err: unknown): number => uncaught.push(err);
      process.on('uncaughtException', onUncaught);
      try {
        for (let i = 0; i < 50; i++) {
          const r = new SrvResolver({ servers: [dns.address] });
          const pending = r.resolve(`n${i}.ecs.internal`);
          r.close();
          await expect(pending).rejects.toMatchObject({ code: 'ECANCELLED' });
        }
        await new Promise((resolve) => setTimeout(resolve, 50)); // let any late socket callback run
      } finally {
        process.off('uncaughtException', onUncaught);
      }
      expect(uncaught).toEqual([]);
    });
  });

  describe('records', () => {
    it('when AAAA additionals hold AWS metadata addresses (also IPv4-mapped), then they are refused and a mapped private address is dialed as IPv4', async () => {
      const targets = ['t1', 't2', 't3', 't4'].map((t) => `${t}.${NAME}`);
      const dns = await serve((q) =>
        reply(q, {
          answers: targets.map((target, i) => ({
            type: 'SRV' as const,
            name: NAME,
            ttl: 10,
            data: { priority: 1, weight: 1, port: 8000 + i, target },
          })),
          additionals: [
            { type: 'AAAA', name: targets[0]!, ttl: 10, data: 'fd00:ec2::254' },
            { type: 'AAAA', name: targets[1]!, ttl: 10, data: '::ffff:169.254.169.254' },
            { type: 'AAAA', name: targets[2]!, ttl: 10, data: 'fd00:ec2::253' },
            { type: 'AAAA', name: targets[3]!, ttl: 10, data: '::ffff:10.0.1.9' },
            { type: 'AAAA', name: targets[0]!, ttl: 10, data: '::ffff:0:a9fe:a9fe' }, // IPv4-translated
            { type: 'AAAA', name: targets[1]!, ttl: 10, data: '64:ff9b:1::a9fe:a9fe' }, // local-use NAT64
          ],
        }),
      );
      const set = await resolverFor([dns.address]).resolve(NAME);
      expect(set.endpoints.map((e) => e.key)).toEqual(['10.0.1.9:8003']);
      expect(set.rejected.map((r) => r.reason).sort()).toEqual(
        [
          'address fd00:ec2::254 is in a refused range',
          'address ::ffff:a9fe:a9fe is in a refused range', // dns-packet decodes it in hex form
          'address fd00:ec2::253 is in a refused range',
          'address ::ffff:0:a9fe:a9fe is in a refused range', // IPv4-translated
          'address 64:ff9b:1::a9fe:a9fe is in a refused range', // local-use NAT64
        ].sort(),
      );
    });

    it('when an SRV target carries CR/LF or spaces, then the record is refused and the text escaped', async () => {
      const dns = await serve((q) =>
        reply(q, {
          answers: [
            ...srv,
            {
              type: 'SRV',
              name: NAME,
              ttl: 10,
              data: { priority: 1, weight: 1, port: 9, target: `evil\r\nX-Injected: 1.${NAME}` },
            },
          ],
          additionals: a,
        }),
      );
      const set = await resolverFor([dns.address]).resolve(NAME);
      expect(set.endpoints).toHaveLength(2);
      expect(set.rejected).toHaveLength(1);
      expect(set.rejected[0]!.target).not.toMatch(/[\r\n]/);
      expect(set.rejected[0]!.reason).toMatch(/not a host name/);
    });

    it('when an answer is huge and every record is refused, then the error, rejections and snapshot stay small', async () => {
      const bad = Array.from({ length: 300 }, (_, i) => ({
        type: 'SRV' as const,
        name: NAME,
        ttl: 10,
        data: { priority: 1, weight: 1, port: 1000 + i, target: `t${i}.elsewhere.example` },
      }));
      const dns = await serve((q) => reply(q, { answers: bad }));
      const r = resolverFor([dns.address], { maxRecords: 1000 });
      const err = (await r.resolve(NAME).catch((e: unknown) => e)) as DiscoveryError;
      expect(err.code).toBe('ENODATA');
      expect(err.message).toMatch(/and 297 more/);
      expect(err.message.length).toBeLessThan(400);
      expect(JSON.stringify(r.snapshot()).length).toBeLessThan(2000);
    });

    it('when a target has more addresses than maxAddressesPerTarget, then only that many are used', async () => {
      const many = Array.from({ length: 50 }, (_, i) => ({
        type: 'A' as const,
        name: srv[0]!.data.target,
        ttl: 10,
        data: `10.0.2.${i + 1}`,
      }));
      const dns = await serve((q) => reply(q, { answers: [srv[0]!], additionals: many }));
      const set = await resolverFor([dns.address], { maxAddressesPerTarget: 4 }).resolve(NAME);
      expect(set.endpoints.map((e) => e.address)).toEqual(['10.0.2.1', '10.0.2.2', '10.0.2.3', '10.0.2.4']);
    });
  });

  describe('resolver', () => {
    let clock = 1_000_000;
    beforeEach(() => (clock = 1_000_000));

    it('when a negative answer has no SOA, then one call sends one query (not two)', async () => {
      const dns = await serve((q) => reply(q, { rcode: 'NXDOMAIN' }));
      const r = resolverFor([dns.address], { now: () => clock });
      await expect(r.resolve(NAME)).rejects.toMatchObject({ code: 'ENOTFOUND' });
      expect(dns.count('SRV')).toBe(1);
      await expect(r.resolve(NAME)).rejects.toMatchObject({ code: 'ENOTFOUND' });
      expect(dns.count('SRV')).toBe(2);
    });

    it('when names differ only in case or a trailing dot, then they share one cache entry', async () => {
      const dns = await serve((q) => reply(q, { answers: srv, additionals: a }));
      const r = resolverFor([dns.address]);
      await r.resolve(NAME);
      await r.resolve('SERVICE_B.ecs.internal.');
      expect(r.pickCached('Service_B.ECS.internal')).toBeDefined();
      expect(dns.count('SRV')).toBe(1);
      expect(r.snapshot()).toHaveLength(1);
    });

    it('when more names than maxNames are used, then the least recently used are forgotten', async () => {
      const dns = await serve((q) =>
        reply(q, { answers: cloudMapRecords([['t', '10.0.0.1', 80]], { name: q.questions[0]!.name }).srv }),
      );
      const r = resolverFor([dns.address], { maxNames: 3, now: () => clock });
      for (let i = 0; i < 10; i++) {
        clock += 1;
        await r.resolve(`n${i}.ecs.internal`).catch(() => undefined);
      }
      expect(r.snapshot().map((n) => n.name)).toEqual([
        'n7.ecs.internal',
        'n8.ecs.internal',
        'n9.ecs.internal',
      ]);
    });

    it('when DNS goes silent at expiry, then a caller with a stale set waits only the client response timer, then gets the stale set', async () => {
      let silent = false;
      const dns = await serve((q) => (silent ? undefined : reply(q, { answers: srv, additionals: a })));
      const r = resolverFor([dns.address], {
        now: () => clock,
        attemptTimeoutMs: 5000,
        attempts: 1,
        lookupTimeoutMs: 5000,
        staleAnswerClientTimeoutMs: 50,
      });
      await r.resolve(NAME);
      silent = true;
      clock += 11_000; // past the 10 s TTL
      const set = await r.resolve(NAME);
      expect(set.endpoints).toHaveLength(2);
      // Served while the refresh was still waiting for its 5 s attempt: it had not failed yet.
      expect(r.stats().lookupErrors).toEqual({});
      expect(r.snapshot()[0]).toMatchObject({ state: 'stale', stale: true });
      // Later callers do not wait again while that refresh runs: the set is served stale at once.
      expect(r.pickCached(NAME)).toBeDefined();
      expect(r.stats().staleServes).toBe(2);
      expect(dns.count('SRV')).toBe(2);
    });

    it("when one target's A query fails, then its last known address is kept, the set is re-checked soon, and the address returns", async () => {
      let failA = false;
      const dns = await serve((q) => {
        const question = q.questions[0]!;
        if (question.type === 'SRV') return reply(q, { answers: srv }); // no additionals
        if (failA && question.name === srv[1]!.data.target) return reply(q, { rcode: 'SERVFAIL' });
        return reply(q, { answers: a.filter((x) => x.name === question.name) });
      });
      const r = resolverFor([dns.address], { now: () => clock, attempts: 1 });
      expect((await r.resolve(NAME)).endpoints).toHaveLength(2);
      failA = true;
      clock += 11_000;
      await r.resolve(NAME);
      await until(() => r.snapshot()[0]!.state === 'fresh' && r.stats().lookups === 2);
      const kept = r.snapshot()[0]!.endpoints;
      expect(kept.map((e) => [e.address, e.addressSource])).toEqual([
        ['10.0.1.23', 'query'],
        ['10.0.1.24', 'previous'],
      ]);
      failA = false;
      clock += 1_500; // the incomplete set is re-checked after 1 s, not a whole TTL
      r.pickCached(NAME);
      await until(() => r.stats().lookups === 3 && r.snapshot()[0]!.endpoints[1]!.addressSource === 'query');
    });

    it('when the A query fails on a cold lookup, then that target is left out and reported, not invented', async () => {
      const dns = await serve((q) => {
        const question = q.questions[0]!;
        if (question.type === 'SRV') return reply(q, { answers: srv });
        if (question.name === srv[1]!.data.target) return reply(q, { rcode: 'SERVFAIL' });
        return reply(q, { answers: a.filter((x) => x.name === question.name) });
      });
      const set = await resolverFor([dns.address], { attempts: 1 }).resolve(NAME);
      expect(set.endpoints.map((e) => e.address)).toEqual(['10.0.1.23']);
      expect(set.incomplete).toBe(true);
      expect(set.rejected[0]!.reason).toMatch(/A lookup failed: ESERVFAIL/);
    });
  });
});

async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
