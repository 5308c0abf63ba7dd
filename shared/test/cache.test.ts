import { SrvResolver, type SrvResolverOptions } from '../src';
import { ScriptedDns, cloudMapRecords, reply, soa, type Script } from './helpers/scripted-dns';

const NAME = 'service_b.ecs.internal';
const TASKS: Array<[string, string, number]> = [
  ['0f3c9a5be1d24c1e9a4b7d3f2a1c00e1', '10.0.1.23', 49153],
  ['7a1b2c3d4e5f60718293a4b5c6d7e8f9', '10.0.1.24', 49154],
];
const { srv, a } = cloudMapRecords(TASKS); // TTL 10 s
const healthy: Script = (q) => reply(q, { answers: srv, additionals: a });

/** Polls `cond` on real time (DNS replies travel over real sockets); bounded. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('SrvResolver cache (injected clock crosses TTLs; DNS over real UDP)', () => {
  let dns: ScriptedDns;
  let resolver: SrvResolver;
  let clock = 1_000_000;
  beforeEach(async () => {
    clock = 1_000_000;
    dns = await new ScriptedDns(healthy).start();
  });
  afterEach(async () => {
    resolver.close();
    await dns.close();
  });

  function makeResolver(extra: SrvResolverOptions = {}): SrvResolver {
    resolver = new SrvResolver({
      servers: [dns.address],
      attemptTimeoutMs: 200,
      attempts: 1,
      now: () => clock,
      random: () => 0.5,
      ...extra,
    });
    return resolver;
  }

  it('when picks continue across many TTLs, then exactly one SRV query is sent per TTL, ahead of expiry', async () => {
    const r = makeResolver();
    await r.resolve(NAME);
    for (let second = 1; second <= 60; second++) {
      clock += 1000;
      for (let i = 0; i < 100; i++) expect(r.pickCached(NAME)).toBeDefined();
      await new Promise((res) => setImmediate(res));
      await until(() => r.snapshot()[0]!.state === 'fresh', 'a fresh set');
    }
    // Refresh at ~76% of the 10 s TTL: 60 s of picks → 7-8 queries in all, never one per pick.
    expect(dns.count('SRV')).toBeGreaterThanOrEqual(7);
    expect(dns.count('SRV')).toBeLessThanOrEqual(8);
  });

  it('when nobody uses a name past its TTL, then the next use looks it up again', async () => {
    const r = makeResolver();
    await r.resolve(NAME);
    clock += 11_000;
    expect(r.pickCached(NAME)).toBeUndefined();
    await r.pick(NAME);
    expect(dns.count('SRV')).toBe(2);
  });

  it('when DNS fails after a good answer, then the last set is served stale up to maxStaleSeconds, then the error', async () => {
    const r = makeResolver({ maxStaleSeconds: 60, failureRetrySeconds: 5 });
    const staleEvents: string[] = [];
    const lookups: string[] = [];
    r.on('stale', (e) => staleEvents.push(e.error.code));
    r.on('lookup', (e) => lookups.push(e.outcome));
    await r.resolve(NAME);
    dns.script = (q) => reply(q, { rcode: 'SERVFAIL' });
    clock += 11_000; // expired
    await expect(r.resolve(NAME)).resolves.toMatchObject({ name: NAME });
    r.pickCached(NAME);
    expect(staleEvents).toEqual(['ESERVFAIL']); // once per outage, not per pick
    expect(lookups).toEqual(['ok', 'ESERVFAIL']);
    expect(r.snapshot()[0]).toMatchObject({ state: 'stale', stale: true, lastError: { code: 'ESERVFAIL' } });
    expect(r.pickCached(NAME)).toBeDefined();

    clock += 30_000; // still within 60 s past expiry
    expect(r.pickCached(NAME)).toBeDefined();
    await until(() => dns.count('SRV') >= 3, 'the periodic retry');

    clock += 31_000; // 72 s past expiry: beyond maxStaleSeconds
    await expect(r.resolve(NAME)).rejects.toMatchObject({ code: 'ESERVFAIL' });

    dns.script = healthy;
    clock += 2_000; // past the failure cache
    await expect(r.resolve(NAME)).resolves.toMatchObject({ name: NAME });
    expect(r.snapshot()[0]).toMatchObject({ state: 'fresh', stale: false });
  });

  it('when an empty answer follows a good set, then the set is kept through the grace and dropped once confirmed', async () => {
    const r = makeResolver({ emptyGraceSeconds: 3 });
    await r.resolve(NAME);
    dns.script = (q) => reply(q, { rcode: 'NXDOMAIN', authorities: [soa()] });
    clock += 8_000; // past refresh-ahead
    r.pickCached(NAME);
    await until(() => r.snapshot()[0]!.state === 'grace', 'the grace state');
    expect(r.pickCached(NAME)).toBeDefined();

    clock += 1_500; // re-check within the grace: still kept
    r.pickCached(NAME);
    await until(() => dns.count('SRV') === 3, 'the re-check');
    expect(r.pickCached(NAME)).toBeDefined();

    clock += 2_000; // grace over: the next empty answer confirms
    r.pickCached(NAME);
    await until(() => r.snapshot()[0]!.state === 'negative', 'the confirmed empty set');
    await expect(r.pick(NAME)).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('when no grace is configured, then an empty answer is confirmed only after one TTL of the set', async () => {
    const r = makeResolver();
    await r.resolve(NAME);
    dns.script = (q) => reply(q, { rcode: 'NXDOMAIN', authorities: [soa()] });
    clock += 8_000;
    r.pickCached(NAME);
    await until(() => r.snapshot()[0]!.state === 'grace', 'the grace state');
    for (let i = 0; i < 9; i++) {
      clock += 1_000; // 9 s of re-checks, all empty: still within the 10 s TTL of the set
      expect(r.pickCached(NAME)).toBeDefined();
      await until(() => r.snapshot()[0]!.lastError !== undefined && dns.count('SRV') >= 3 + i, 're-check');
    }
    clock += 1_500;
    r.pickCached(NAME);
    await until(() => r.snapshot()[0]!.state === 'negative', 'the confirmed empty set');
  });

  it('when the records come back within the grace, then no pick ever failed', async () => {
    const r = makeResolver({ emptyGraceSeconds: 3 });
    await r.resolve(NAME);
    dns.script = (q) => reply(q, { authorities: [soa()] }); // NODATA
    clock += 8_000;
    r.pickCached(NAME);
    await until(() => r.snapshot()[0]!.state === 'grace', 'the grace state');
    dns.script = healthy;
    clock += 1_100;
    expect(r.pickCached(NAME)).toBeDefined();
    await until(() => r.snapshot()[0]!.state === 'fresh', 'a fresh set again');
    expect(r.pickCached(NAME)).toBeDefined();
  });

  it('when a cold name does not exist, then the negative answer is cached for the SOA minimum (capped)', async () => {
    dns.script = (q) => reply(q, { rcode: 'NXDOMAIN', authorities: [soa('ecs.internal', 2)] });
    const r = makeResolver();
    await expect(r.resolve(NAME)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(r.resolve(NAME)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(dns.count('SRV')).toBe(1);
    clock += 2_001;
    await expect(r.resolve(NAME)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(dns.count('SRV')).toBe(2);
  });

  it('when the endpoint set changes, then a change event lists what was added and removed', async () => {
    const r = makeResolver();
    const changes: Array<{ added: string[]; removed: string[] }> = [];
    r.on('change', (e) =>
      changes.push({ added: e.added.map((x) => x.key), removed: e.removed.map((x) => x.key) }),
    );
    await r.resolve(NAME);
    const next = cloudMapRecords([TASKS[1]!, ['aaaabbbbccccddddeeeeffff00001111', '10.0.1.25', 49155]]);
    dns.script = (q) => reply(q, { answers: next.srv, additionals: next.a });
    clock += 11_000;
    await r.resolve(NAME);
    expect(changes).toEqual([
      { added: ['10.0.1.23:49153', '10.0.1.24:49154'], removed: [] },
      { added: ['10.0.1.25:49155'], removed: ['10.0.1.23:49153'] },
    ]);
  });
});
