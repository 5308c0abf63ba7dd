import { ConfigError } from '@ecs-srv/service-kit';
import { loadConfig } from '../src/config';

describe('service-a loadConfig', () => {
  it('when nothing is set, then the contract defaults apply and DNS servers come from the system', () => {
    const cfg = loadConfig({});
    expect(cfg).toEqual(
      expect.objectContaining({
        PORT: 8080,
        HOST: '0.0.0.0',
        SERVICE_B_SRV: 'service_b.ecs.internal',
        DNS_MAX_STALE_SECONDS: 900,
      }),
    );
    expect(cfg.DNS_SERVERS).toBeUndefined();
  });

  it('when DNS_SERVERS lists ip and ip:port entries, then each is parsed', () => {
    expect(loadConfig({ DNS_SERVERS: '127.0.0.1:5353, 10.0.0.2,[::1]:53' }).DNS_SERVERS).toEqual([
      { host: '127.0.0.1', port: 5353, family: 4 },
      { host: '10.0.0.2', port: 53, family: 4 },
      { host: '::1', port: 53, family: 6 },
    ]);
  });

  it('when SERVICE_B_URL is an http URL, then it is parsed; anything else is refused', () => {
    expect(loadConfig({ SERVICE_B_URL: 'http://10.0.0.5:8081' }).SERVICE_B_URL?.host).toBe('10.0.0.5:8081');
    expect(() => loadConfig({ SERVICE_B_URL: 'file:///etc/passwd' })).toThrow(/SERVICE_B_URL/);
  });

  it('when values are bad, then one ConfigError names every bad variable', () => {
    let error: unknown;
    try {
      loadConfig({
        DNS_SERVERS: 'dns.example:53',
        SERVICE_B_SRV: 'bad name!',
        UPSTREAM_TIMEOUT_MS: '0',
        PORT: '-1',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    for (const key of ['DNS_SERVERS', 'SERVICE_B_SRV', 'UPSTREAM_TIMEOUT_MS', 'PORT']) {
      expect((error as ConfigError).message).toContain(key);
    }
  });

  it('when DISCOVERY_SOURCE is unset, then DNS; the Cloud Map service and namespace derive from SERVICE_B_SRV', () => {
    const cfg = loadConfig({ SERVICE_B_SRV: 'orders.prod.internal' });
    expect(cfg).toMatchObject({
      DISCOVERY_SOURCE: 'dns',
      CLOUDMAP_SERVICE: 'orders',
      CLOUDMAP_NAMESPACE: 'prod.internal',
      CLOUDMAP_POLL_INTERVAL_MS: 5000,
      CLOUDMAP_HEALTH_STATUS: 'HEALTHY_OR_ELSE_ALL',
    });
  });

  it('when DISCOVERY_SOURCE=cloudmap with a Region, then explicit names and the endpoint override are taken', () => {
    const cfg = loadConfig({
      DISCOVERY_SOURCE: 'cloudmap',
      AWS_REGION: 'eu-west-1',
      CLOUDMAP_NAMESPACE: 'other.internal',
      CLOUDMAP_SERVICE: 'svc',
      AWS_ENDPOINT_URL_SERVICEDISCOVERY: 'http://127.0.0.1:4566',
    });
    expect(cfg).toMatchObject({
      DISCOVERY_SOURCE: 'cloudmap',
      CLOUDMAP_NAMESPACE: 'other.internal',
      CLOUDMAP_SERVICE: 'svc',
      AWS_ENDPOINT_URL_SERVICEDISCOVERY: 'http://127.0.0.1:4566',
    });
  });

  it('when DISCOVERY_SOURCE=cloudmap is misconfigured, then one ConfigError names every problem', () => {
    let error: unknown;
    try {
      loadConfig({
        DISCOVERY_SOURCE: 'cloudmap',
        SERVICE_B_SRV: 'single',
        CLOUDMAP_SERVICE: 'bad name',
        CLOUDMAP_POLL_INTERVAL_MS: '10',
        AWS_ENDPOINT_URL: 'ftp://x',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    for (const key of [
      'AWS_REGION',
      'CLOUDMAP_NAMESPACE',
      'CLOUDMAP_SERVICE',
      'CLOUDMAP_POLL_INTERVAL_MS',
      'AWS_ENDPOINT_URL',
    ]) {
      expect((error as ConfigError).message).toContain(key);
    }
    expect(() => loadConfig({ DISCOVERY_SOURCE: 'consul' })).toThrow(
      /DISCOVERY_SOURCE: must be dns or cloudmap/,
    );
  });
});
