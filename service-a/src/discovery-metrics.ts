import { CloudMapSource, SrvResolver, type EndpointSource } from '@ecs-srv/shared';
import type { SrvHttpClient } from '@ecs-srv/shared/axios';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Exposes the discovery client's counters on A's registry. Counters are read from `stats()` at scrape
 * time (nothing on the request path); lookup latency is observed from the source's `lookup` events.
 */
export function registerDiscoveryMetrics(
  registry: Registry,
  source: EndpointSource,
  http: SrvHttpClient,
  srvName: string,
): void {
  const registers = [registry];
  // Sources key names normalized (lower case, no trailing dot), as DNS compares them.
  const nameKey = srvName.toLowerCase().replace(/\.$/, '');
  /** A counter whose value is copied from a stats() reading at each scrape. */
  const mirrored = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: () => Array<[Partial<Record<L, string>>, number]>,
  ): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of read()) if (value > 0) this.inc(labels, value);
      },
    });
  };

  if (source instanceof SrvResolver) registerDnsMetrics(source);
  if (source instanceof CloudMapSource) {
    mirrored(
      'srv_cloudmap_api_calls_total',
      'Cloud Map API calls by operation and outcome (ok or an error code)',
      ['operation', 'outcome'],
      () =>
        Object.entries(source.stats().apiCalls).flatMap(([operation, byOutcome]) =>
          Object.entries(byOutcome).map(([outcome, n]): [Record<'operation' | 'outcome', string>, number] => [
            { operation, outcome },
            n,
          ]),
        ),
    );
  }
  mirrored('srv_lookups_total', 'Uncached SRV lookups', [], () => [[{}, source.stats().lookups]]);
  mirrored('srv_lookup_errors_total', 'Failed SRV lookups by code', ['code'], () =>
    Object.entries(source.stats().lookupErrors).map(([code, n]): [{ code: string }, number] => [{ code }, n]),
  );
  mirrored('srv_cache_hits_total', 'Picks served from a fresh cached endpoint set', [], () => [
    [{}, source.stats().cacheHits],
  ]);
  mirrored(
    'srv_stale_serves_total',
    'Picks served from an expired set while DNS fails (RFC 8767)',
    [],
    () => [[{}, source.stats().staleServes]],
  );
  mirrored('srv_picks_total', 'Requests sent to each endpoint, retries included', ['endpoint'], () =>
    Object.entries(http.stats().picks).map(([endpoint, n]): [{ endpoint: string }, number] => [
      { endpoint },
      n,
    ]),
  );
  mirrored('srv_upstream_retries_total', 'Requests retried on another endpoint', [], () => [
    [{}, http.stats().retries],
  ]);
  mirrored('srv_upstream_failures_total', 'Requests that failed after retries, by kind', ['kind'], () =>
    Object.entries(http.stats().failures).map(([kind, n]): [{ kind: string }, number] => [{ kind }, n]),
  );
  mirrored('srv_ejections_total', 'Endpoints ejected by passive health', [], () => [
    [{}, http.stats().ejections],
  ]);

  new Gauge({
    name: 'srv_endpoints',
    help: 'Endpoints currently known for the SRV name, by health',
    labelNames: ['name', 'health'],
    registers,
    collect() {
      this.reset();
      const snapshot = source.snapshot().find((n) => n.name === nameKey);
      const endpoints = snapshot?.endpoints ?? [];
      const ejected = endpoints.filter((e) => !http.health.isAvailable(e)).length;
      this.set({ name: srvName, health: 'healthy' }, endpoints.length - ejected);
      this.set({ name: srvName, health: 'ejected' }, ejected);
    },
  });
  new Gauge({
    name: 'srv_endpoint_set_stale',
    help: '1 while the endpoint set is served past its TTL because DNS fails',
    labelNames: ['name'],
    registers,
    collect() {
      const snapshot = source.snapshot().find((n) => n.name === nameKey);
      this.set({ name: srvName }, snapshot?.stale ? 1 : 0);
    },
  });

  const latency = new Histogram({
    name: 'srv_lookup_duration_seconds',
    help: 'Uncached SRV lookup latency (SRV query plus any A queries), by outcome',
    labelNames: ['outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  source.on('lookup', ({ durationMs, outcome }) => latency.observe({ outcome }, durationMs / 1000));

  /** What only DNS has: queries by transport and outcome, TCP fallbacks, dropped messages. */
  function registerDnsMetrics(resolver: SrvResolver): void {
    mirrored(
      'srv_dns_queries_total',
      'DNS attempts by transport and outcome (rcode or failure)',
      ['transport', 'outcome'],
      () => {
        const { queries } = resolver.stats();
        return (['udp', 'tcp'] as const).flatMap((transport) =>
          Object.entries(queries[transport]).map(
            ([outcome, n]): [Record<'transport' | 'outcome', string>, number] => [{ transport, outcome }, n],
          ),
        );
      },
    );
    mirrored('srv_dns_tcp_fallbacks_total', 'Truncated UDP answers retried over TCP', [], () => [
      [{}, resolver.stats().tcpFallbacks],
    ]);
    mirrored(
      'srv_dns_dropped_total',
      'DNS messages dropped (spoofed source, ID or question; undecodable)',
      [],
      () => [[{}, resolver.stats().dropped]],
    );
  }
}
