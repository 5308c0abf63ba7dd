import { formatServer, SrvHttpClient, SrvResolver, type DiscoveryLogger } from '@ecs-srv/shared';
import type { Config } from './config';
import { ServiceBClient, sendThroughDiscovery, sendToFixedUrl, type ServiceBApi } from './service-b-client';

/** How A reaches B, and what /discovery reports about it. */
export interface BRoute {
  serviceB: ServiceBApi;
  snapshot: () => object;
  /** The discovery client, absent in fixed-URL mode. */
  resolver?: SrvResolver;
  http?: SrvHttpClient;
  close: () => void;
}

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

/** B through SRV discovery (the product), or through `SERVICE_B_URL` when set (benchmarks, debugging). */
export function createBRoute(config: Config, logger: DiscoveryLogger): BRoute {
  if (config.SERVICE_B_URL) {
    const fixed = sendToFixedUrl(config.SERVICE_B_URL, {
      timeoutMs: config.UPSTREAM_TIMEOUT_MS,
      maxResponseBytes: config.UPSTREAM_MAX_RESPONSE_BYTES,
    });
    return {
      serviceB: new ServiceBClient(fixed.send),
      snapshot: () => ({ mode: 'fixed-url', url: config.SERVICE_B_URL!.href, names: [] }),
      close: fixed.close,
    };
  }
  const resolver = new SrvResolver({
    servers: config.DNS_SERVERS,
    attemptTimeoutMs: config.DNS_TIMEOUT_MS,
    attempts: config.DNS_ATTEMPTS,
    lookupTimeoutMs: config.DNS_LOOKUP_TIMEOUT_MS,
    maxStaleSeconds: config.DNS_MAX_STALE_SECONDS,
    staleAnswerClientTimeoutMs: config.DNS_STALE_ANSWER_TIMEOUT_MS,
    logger,
  });
  const http = new SrvHttpClient({
    resolver,
    name: config.SERVICE_B_SRV,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    budgetMs: config.UPSTREAM_BUDGET_MS,
    connectTimeoutMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
    maxAttempts: config.UPSTREAM_ATTEMPTS,
    idleSocketTimeoutMs: config.UPSTREAM_IDLE_SOCKET_TIMEOUT_MS,
    maxResponseBytes: config.UPSTREAM_MAX_RESPONSE_BYTES,
  });
  return {
    serviceB: new ServiceBClient(sendThroughDiscovery(http)),
    resolver,
    http,
    snapshot: () => ({
      mode: 'srv',
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
