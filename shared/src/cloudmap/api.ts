/**
 * The two Cloud Map calls discovery needs, in the source's own terms: no AWS SDK type crosses this line,
 * so the source, selection and HTTP layers never see one. `createSdkCloudMapApi` implements it with the
 * AWS SDK for JavaScript v3; tests may implement it directly.
 */
export interface CloudMapApi {
  /** `DiscoverInstances`: the instances of a service, with their attributes. */
  discoverInstances(query: InstancesQuery, signal: AbortSignal): Promise<DiscoveredInstances>;
  /** `DiscoverInstancesRevision`: a number that changes whenever the service's instance set changes. */
  discoverInstancesRevision(query: ServiceRef, signal: AbortSignal): Promise<number>;
  /** Where the calls go, for `/discovery` (an endpoint URL, or `servicediscovery <region>`). */
  readonly description: string;
}

/** A Cloud Map service by name. */
export interface ServiceRef {
  namespace: string;
  service: string;
}

/** Which instances `DiscoverInstances` returns, by their health (the API's `HealthStatus`). */
export type HealthStatusFilter = 'HEALTHY' | 'UNHEALTHY' | 'ALL' | 'HEALTHY_OR_ELSE_ALL';

/** One `DiscoverInstances` request. */
export interface InstancesQuery extends ServiceRef {
  healthStatus: HealthStatusFilter;
  /** 1..1000. */
  maxResults: number;
}

/** One instance as the API describes it. */
export interface CloudMapInstance {
  instanceId: string;
  /** `AWS_INSTANCE_IPV4`, `AWS_INSTANCE_PORT` and any custom attributes. */
  attributes: Readonly<Record<string, string>>;
  healthStatus?: string;
}

/** A `DiscoverInstances` answer. */
export interface DiscoveredInstances {
  instances: CloudMapInstance[];
  /** The revision of this instance set, when the API gave one. */
  revision?: number;
}

/** Why a call failed, reduced to what the source acts on. */
export type CloudMapFailure =
  /** `RequestLimitExceeded` (or HTTP 429): back off harder. */
  | 'throttled'
  /** `NamespaceNotFound` / `ServiceNotFound`: the service does not exist (an authoritative "none"). */
  | 'not-found'
  /** No answer in time. */
  | 'timeout'
  /** Aborted by the source (close). */
  | 'aborted'
  /** Anything else: credentials, network, a 5xx, invalid input… */
  | 'failed';

/** A failed Cloud Map call. `awsName` is the API's error name (`RequestLimitExceeded`…) when known. */
export class CloudMapApiError extends Error {
  constructor(
    readonly failure: CloudMapFailure,
    message: string,
    readonly awsName?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CloudMapApiError';
  }
}
