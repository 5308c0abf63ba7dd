import { formatServer, SrvHttpClient, SrvResolver, type DiscoveryLogger } from '@ecs-srv/shared';
import type { Config } from './config';
import { DiscoveredServiceB } from './service-b-client';

/** An endpoint's passive health as /discovery shows it. */
function healthOf(http: SrvHttpClient, key: string) {
  const state = http.health.stateOf(key);
  const ejected = state?.ejectedUntil !== undefined && Date.now() < state.ejectedUntil;
  return {
    status: ejected ? 'ejected' : 'healthy',
    consecutiveFailures: state?.consecutiveFailures ?? 0,
    ejectedUntil: ejected ? new Date(state!.ejectedUntil!).toISOString() : undefined,
  };
}

/** The discovery client and the B API built on it, from A's configuration. */
export function createDiscovery(config: Config, logger: DiscoveryLogger) {
  const resolver = new SrvResolver({
    servers: config.DNS_SERVERS,
    attemptTimeoutMs: config.DNS_TIMEOUT_MS,
    attempts: config.DNS_ATTEMPTS,
    lookupTimeoutMs: config.DNS_LOOKUP_TIMEOUT_MS,
    maxStaleSeconds: config.DNS_MAX_STALE_SECONDS,
    logger,
  });
  const http = new SrvHttpClient({
    resolver,
    name: config.SERVICE_B_SRV,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    connectTimeoutMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
    maxAttempts: config.UPSTREAM_ATTEMPTS,
  });
  return {
    resolver,
    serviceB: new DiscoveredServiceB(http),
    http,
    snapshot: () => ({
      srvName: config.SERVICE_B_SRV,
      dnsServers: resolver.dnsServers.map(formatServer),
      names: resolver.snapshot().map((name) => ({
        ...name,
        endpoints: name.endpoints.map((e) => ({ ...e, health: healthOf(http, e.key) })),
      })),
    }),
    close: (): void => {
      http.close();
      resolver.close();
    },
  };
}
