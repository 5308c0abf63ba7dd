import {
  CloudMapSource,
  formatServer,
  SrvResolver,
  type DiscoveryLogger,
  type EndpointSource,
} from '@ecs-srv/shared';
import { SrvHttpClient } from '@ecs-srv/shared/axios';
import type { Config } from './config';
import { ServiceBClient, sendThroughDiscovery, sendToFixedUrl, type ServiceBApi } from './service-b-client';

/** How A reaches B, and what /discovery reports about it. */
export interface BRoute {
  serviceB: ServiceBApi;
  snapshot: () => object;
  /** Where B's endpoints come from (DNS or the Cloud Map API); absent in fixed-URL mode. */
  source?: EndpointSource;
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

/**
 * B through discovery (the product: SRV records by default, the Cloud Map API with
 * DISCOVERY_SOURCE=cloudmap), or through `SERVICE_B_URL` when set (benchmarks, debugging).
 */
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
  const source = createSource(config, logger);
  const http = new SrvHttpClient({
    source,
    name: config.SERVICE_B_SRV,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    budgetMs: config.UPSTREAM_BUDGET_MS,
    connectTimeoutMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
    maxAttempts: config.UPSTREAM_ATTEMPTS,
    idleSocketTimeoutMs: config.UPSTREAM_IDLE_SOCKET_TIMEOUT_MS,
    maxResponseBytes: config.UPSTREAM_MAX_RESPONSE_BYTES,
  });
  const where =
    source instanceof SrvResolver
      ? { mode: 'srv', source: 'dns', dnsServers: source.dnsServers.map(formatServer) }
      : {
          mode: 'cloudmap',
          source: 'cloudmap',
          namespace: config.CLOUDMAP_NAMESPACE,
          service: config.CLOUDMAP_SERVICE,
          api: (source as CloudMapSource).apiDescription,
          pollIntervalMs: config.CLOUDMAP_POLL_INTERVAL_MS,
        };
  return {
    serviceB: new ServiceBClient(sendThroughDiscovery(http)),
    source,
    http,
    snapshot: () => ({
      ...where,
      srvName: config.SERVICE_B_SRV,
      names: source.snapshot().map((name) => ({
        ...name,
        endpoints: name.endpoints.map((e) => ({ ...e, health: healthOf(http, e.key) })),
      })),
    }),
    close: (): void => {
      http.close();
      source.close();
    },
  };
}

/** The endpoint source DISCOVERY_SOURCE names: SRV records through DNS, or the Cloud Map API. */
function createSource(config: Config, logger: DiscoveryLogger): EndpointSource {
  if (config.DISCOVERY_SOURCE === 'cloudmap') {
    return new CloudMapSource({
      services: {
        [config.SERVICE_B_SRV]: { namespace: config.CLOUDMAP_NAMESPACE, service: config.CLOUDMAP_SERVICE },
      },
      healthStatus: config.CLOUDMAP_HEALTH_STATUS,
      pollIntervalMs: config.CLOUDMAP_POLL_INTERVAL_MS,
      maxStaleSeconds: config.DNS_MAX_STALE_SECONDS,
      sdk: {
        region: config.AWS_REGION ?? config.AWS_DEFAULT_REGION,
        endpoint: config.AWS_ENDPOINT_URL_SERVICEDISCOVERY ?? config.AWS_ENDPOINT_URL,
      },
      logger,
    });
  }
  return new SrvResolver({
    servers: config.DNS_SERVERS,
    attemptTimeoutMs: config.DNS_TIMEOUT_MS,
    attempts: config.DNS_ATTEMPTS,
    lookupTimeoutMs: config.DNS_LOOKUP_TIMEOUT_MS,
    maxStaleSeconds: config.DNS_MAX_STALE_SECONDS,
    staleAnswerClientTimeoutMs: config.DNS_STALE_ANSWER_TIMEOUT_MS,
    logger,
  });
}
