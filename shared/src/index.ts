/**
 * SRV discovery for services on Amazon ECS in bridge mode (AWS Cloud Map), and for any DNS server that
 * publishes SRV records (BIND, CoreDNS, Consul).
 */
export { DiscoveryError, isDiscoveryError, RCODE_TO_CODE } from './errors';
export type { DiscoveryErrorCode } from './errors';
export type { EndpointSet } from './endpoint-set';
export type { Endpoint, Rejection } from './records';
export { SrvResolver, parentZone } from './resolver';
export type {
  DiscoveryLogger,
  EntryState,
  NameSnapshot,
  ResolveOptions,
  ResolverStats,
  SrvResolverOptions,
} from './resolver';
export { groupByPriority, pickEndpoint, pickInGroup, rfc2782Order } from './select';
export type { PriorityGroup, Random } from './select';
export { EndpointHealth } from './health';
export type { EndpointHealthEvents, EndpointHealthOptions, EndpointHealthState } from './health';
export { SrvHttpClient, UpstreamError, toUpstreamError } from './http';
export type { HttpClientStats, SrvHttpClientOptions, UpstreamFailure } from './http';
export { formatServer, parseServer, parseServerList, systemServers } from './wire/servers';
export type { DnsServer } from './wire/servers';
