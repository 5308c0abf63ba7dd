import type * as packet from 'dns-packet';
import { SrvResolver } from '../src';
import { isAllowedAddress } from '../src/address-policy';
import { ScriptedDns, cloudMapRecords, reply } from './helpers/scripted-dns';

const NAME = 'service_b.ecs.internal';

function srvRecord(
  target: string,
  port: number,
  extra: Partial<packet.SrvAnswer['data']> = {},
  ttl = 10,
): packet.SrvAnswer {
  return {
    type: 'SRV',
    name: NAME,
    ttl,
    class: 'IN',
    data: { priority: 1, weight: 1, port, target, ...extra },
  };
}

function aRecord(name: string, ip: string, ttl = 10): packet.StringAnswer {
  return { type: 'A', name, ttl, class: 'IN', data: ip };
}

describe('SRV records → endpoints', () => {
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function resolveWith(
    answers: packet.Answer[],
    additionals: packet.Answer[],
    options: ConstructorParameters<typeof SrvResolver>[0] = {},
  ) {
    const dns = await new ScriptedDns((q) => reply(q, { answers, additionals })).start();
    closers.push(() => dns.close());
    const r = new SrvResolver({ servers: [dns.address], attemptTimeoutMs: 300, ...options });
    closers.push(() => r.close());
    return r.resolve(NAME);
  }

  it('when a record has port 0, then it is refused and the others kept', async () => {
    const set = await resolveWith(
      [srvRecord(`t1.${NAME}`, 0), srvRecord(`t2.${NAME}`, 49153)],
      [aRecord(`t1.${NAME}`, '10.0.0.1'), aRecord(`t2.${NAME}`, '10.0.0.2')],
    );
    expect(set.endpoints.map((e) => e.key)).toEqual(['10.0.0.2:49153']);
    expect(set.rejected).toEqual([
      expect.objectContaining({ target: `t1.${NAME}`, reason: expect.stringMatching(/port 0/) }),
    ]);
  });

  it('when records repeat (also in another letter case), then they are merged', async () => {
    const set = await resolveWith(
      [srvRecord(`t1.${NAME}`, 49153), srvRecord(`T1.${NAME.toUpperCase()}.`, 49153)],
      [aRecord(`t1.${NAME}`, '10.0.0.1'), aRecord(`t1.${NAME}`, '10.0.0.1')],
    );
    expect(set.endpoints.map((e) => e.key)).toEqual(['10.0.0.1:49153']);
  });

  it('when an answer holds more records than maxRecords, then the lowest priorities are kept up to the cap', async () => {
    const answers = Array.from({ length: 10 }, (_, i) =>
      srvRecord(`t${i}.${NAME}`, 40000 + i, { priority: 10 - i }),
    );
    const additionals = Array.from({ length: 10 }, (_, i) => aRecord(`t${i}.${NAME}`, `10.0.0.${i + 1}`));
    const set = await resolveWith(answers, additionals, { maxRecords: 3 });
    expect(set.endpoints.map((e) => e.priority)).toEqual([1, 2, 3]);
    expect(set.rejected.filter((r) => /cap/.test(r.reason))).toHaveLength(7);
  });

  it('when TTLs are 0 or huge, then the effective TTL is clamped to [minTtlSeconds, maxTtlSeconds]', async () => {
    const { srv, a } = cloudMapRecords([['t1', '10.0.0.1', 49153]], { ttl: 0 });
    expect((await resolveWith(srv, a)).ttlSeconds).toBe(1);
    const big = cloudMapRecords([['t1', '10.0.0.1', 49153]], { ttl: 86400 });
    expect((await resolveWith(big.srv, big.a, { maxTtlSeconds: 60 })).ttlSeconds).toBe(60);
  });

  it('when additionals carry AAAA records for a target, then IPv6 endpoints are used ([addr]:port keys)', async () => {
    const set = await resolveWith(
      [srvRecord(`t1.${NAME}`, 49153)],
      [{ type: 'AAAA', name: `t1.${NAME}`, ttl: 10, class: 'IN', data: 'fd00::1' }],
    );
    expect(set.endpoints.map((e) => e.key)).toEqual(['[fd00::1]:49153']);
  });

  it('when addresses are unspecified, multicast or link-local IPv6, then they are refused unless allowed', async () => {
    const answers = ['t1', 't2', 't3'].map((t, i) => srvRecord(`${t}.${NAME}`, 49153 + i));
    const additionals: packet.Answer[] = [
      aRecord(`t1.${NAME}`, '0.0.0.0'),
      aRecord(`t2.${NAME}`, '239.1.1.1'),
      { type: 'AAAA', name: `t3.${NAME}`, ttl: 10, class: 'IN', data: 'fe80::1' },
    ];
    await expect(resolveWith(answers, additionals)).rejects.toMatchObject({ code: 'ENODATA' });
    const allowed = await resolveWith(answers, additionals, { allowUnsafeAddresses: true });
    expect(allowed.endpoints).toHaveLength(3);
  });

  it('when allowedSuffixes is set, then targets outside it are refused even inside the parent zone', async () => {
    const set = await resolveWith(
      [srvRecord(`t1.${NAME}`, 49153), srvRecord('t2.other.ecs.internal', 49154)],
      [aRecord(`t1.${NAME}`, '10.0.0.1'), aRecord('t2.other.ecs.internal', '10.0.0.2')],
      { allowedSuffixes: [NAME] },
    );
    expect(set.endpoints.map((e) => e.target)).toEqual([`t1.${NAME}`]);
  });
});

describe('isAllowedAddress', () => {
  it.each([
    ['10.0.1.23', true],
    ['127.0.0.1', true],
    ['172.28.0.11', true],
    ['169.253.1.1', true],
    ['169.254.169.254', false],
    ['169.254.170.2', false],
    ['0.0.0.0', false],
    ['0.1.2.3', false],
    ['224.0.0.1', false],
    ['239.255.255.255', false],
    ['240.0.0.1', false],
    ['255.255.255.255', false],
    ['fd00::1', true],
    ['fe80::1', false],
    ['ff02::1', false],
    ['::', false],
    ['not-an-ip', false],
    ['10.0.0.256', false],
  ])('when the address is %s, then allowed is %s', (address, allowed) => {
    expect(isAllowedAddress(address)).toBe(allowed);
  });
});
