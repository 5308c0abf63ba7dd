/**
 * Service discovery for Node services on Amazon ECS (AWS Cloud Map): endpoints from DNS SRV records
 * (`SrvResolver`) or from the Cloud Map API (`CloudMapSource`), and calls to them with RFC 2782 selection,
 * passive health and safe retries (`EndpointCaller`; the axios and undici integrations are the entry
 * points `@ecs-srv/shared/axios` and `@ecs-srv/shared/undici`).
 */
export { DiscoveryError, isDiscoveryError } from './errors';
export type { AttemptRecord, DiscoveryErrorCode, NetworkErrorCode } from './errors';
export { UpstreamError, classifyError } from './upstream';
export type { UpstreamFailure } from './upstream';
export type { EndpointSet } from './endpoint-set';
export type { Endpoint, Rejection } from './records';
export { SrvResolver } from './resolver';
export type { DiscoveryLogger, ResolverStats, SrvResolverOptions } from './resolver';
export { CloudMapSource } from './cloudmap/source';
export type { CloudMapSourceOptions, CloudMapSourceStats } from './cloudmap/source';
export type {
  CloudMapApi,
  CloudMapInstance,
  DiscoveredInstances,
  HealthStatusFilter,
  InstancesQuery,
  ServiceRef,
} from './cloudmap/api';
export { CloudMapApiError } from './cloudmap/api';
export type { CloudMapFailure } from './cloudmap/api';
export type { AwsCredentials, SdkCloudMapApiOptions } from './cloudmap/sdk-api';
export type {
  EndpointSource,
  EntryState,
  NameSnapshot,
  ResolveOptions,
  SourceEvents,
  SourceKind,
  SourceStats,
} from './source';
export { EndpointCaller, callWithDeadline } from './caller';
export type {
  CallOptions,
  CallerStats,
  DeadlineOptions,
  EndpointCall,
  EndpointCallerOptions,
} from './caller';
export { EndpointHealth } from './health';
export type { EndpointHealthEvents, EndpointHealthOptions, EndpointHealthState } from './health';
export { formatServer, parseServerList } from './wire/servers';
export type { DnsServer } from './wire/servers';
