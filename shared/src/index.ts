/**
 * SRV discovery for services on Amazon ECS in bridge mode (AWS Cloud Map), and for any DNS server that
 * publishes SRV records (BIND, CoreDNS, Consul).
 */
export { DiscoveryError, isDiscoveryError, RCODE_TO_CODE } from './errors';
export type { DiscoveryErrorCode } from './errors';
export type { EndpointSet } from './endpoint-set';
export type { Endpoint, Rejection } from './records';
export { SrvResolver, parentZone } from './resolver';
export type { DiscoveryLogger, ResolverStats, SrvResolverOptions } from './resolver';
export type {
  EndpointSource,
  EntryState,
  NameSnapshot,
  ResolveOptions,
  SourceEvents,
  SourceKind,
  SourceStats,
} from './source';
export { groupByPriority, pickEndpoint, pickInGroup, rfc2782Order } from './select';
export type { PriorityGroup, Random } from './select';
export { EndpointHealth } from './health';
export type { EndpointHealthEvents, EndpointHealthOptions, EndpointHealthState } from './health';
export { SrvHttpClient, toUpstreamError } from './http';
export type { HttpClientStats, SrvHttpClientOptions, SrvRequestConfig } from './http';
export { EndpointCaller } from './caller';
export type { CallOptions, CallerStats, EndpointCall, EndpointCallerOptions } from './caller';
export { UpstreamError, classifyError } from './upstream';
export type { UpstreamFailure } from './upstream';
export { formatServer, parseServer, parseServerList, systemServers } from './wire/servers';
export type { DnsServer } from './wire/servers';
export { CloudMapSource } from './cloudmap/source';
export type { CloudMapSourceOptions, CloudMapSourceStats } from './cloudmap/source';
export { CloudMapApiError } from './cloudmap/api';
export type {
  CloudMapApi,
  CloudMapFailure,
  CloudMapInstance,
  DiscoveredInstances,
  HealthStatusFilter,
  InstancesQuery,
  ServiceRef,
} from './cloudmap/api';
export { createSdkCloudMapApi } from './cloudmap/sdk-api';
export type { SdkCloudMapApiOptions } from './cloudmap/sdk-api';
