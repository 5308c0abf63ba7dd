import { promises as dns } from 'node:dns';
import { DevDnsServer } from '../src';

describe('DevDnsServer aliases', () => {
  it('when an RFC 2782 alias is set, then it answers the same SRV records as the Cloud Map name', async () => {
    const server = new DevDnsServer({ aliases: { '_service_b._tcp': 'service_b' } });
    const { host, port } = await server.start();
    try {
      server.register('task-a', '10.0.0.1', 49153);
      const resolver = new dns.Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([`${host}:${port}`]);
      const viaAlias = await resolver.resolveSrv('_SERVICE_B._tcp.ecs.internal');
      expect(viaAlias).toEqual(await resolver.resolveSrv('service_b.ecs.internal'));
      expect(viaAlias).toEqual([
        { name: 'task-a.service_b.ecs.internal', port: 49153, priority: 1, weight: 1 },
      ]);
      await expect(resolver.resolveSrv('_other._tcp.ecs.internal')).rejects.toMatchObject({
        code: 'ENOTFOUND',
      });
    } finally {
      await server.close();
    }
  });

  it('when an alias is not a name or its service not a label, then construction throws a TypeError', () => {
    expect(() => new DevDnsServer({ aliases: { 'bad name': 'service_b' } })).toThrow(TypeError);
    expect(() => new DevDnsServer({ aliases: { _x: 'a.b' } })).toThrow(TypeError);
  });
});
