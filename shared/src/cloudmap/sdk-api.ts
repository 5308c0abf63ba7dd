import { CloudMapApiError, type CloudMapApi, type CloudMapFailure } from './api';

/** AWS credentials (the SDK's `AwsCredentialIdentity`, restated so these types never need the SDK's). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** Options of the SDK-backed Cloud Map API. Everything unset comes from the SDK's standard configuration. */
export interface SdkCloudMapApiOptions {
  /** AWS Region. @default the SDK's chain (`AWS_REGION`, profile…) */
  region?: string;
  /**
   * A custom endpoint (tests, local runs). @default `AWS_ENDPOINT_URL_SERVICEDISCOVERY`, else
   * `AWS_ENDPOINT_URL`, else AWS's own. With a custom endpoint the API's `data-` host prefix is not
   * prepended (`data-127.0.0.1` would not resolve).
   */
  endpoint?: string;
  /** Credentials, or a function that provides them. @default the SDK's default provider chain (on ECS: the task role) */
  credentials?: AwsCredentials | (() => Promise<AwsCredentials>);
  /** Environment read for the endpoint override. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * The Cloud Map API through `@aws-sdk/client-servicediscovery` (v3), loaded only when this is called so
 * that DNS-only users never load the SDK. One call per poll: the SDK's own retries are off, the source
 * backs off itself.
 */
export function createSdkCloudMapApi(options: SdkCloudMapApiOptions = {}): CloudMapApi {
  type Sdk = typeof import('@aws-sdk/client-servicediscovery');
  let sdk: Sdk;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (see above)
    sdk = require('@aws-sdk/client-servicediscovery') as Sdk;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    throw new TypeError(
      'CloudMapSource needs @aws-sdk/client-servicediscovery (npm install @aws-sdk/client-servicediscovery), or an `api` option',
    );
  }
  const env = options.env ?? process.env;
  const endpoint =
    options.endpoint ?? nonEmpty(env.AWS_ENDPOINT_URL_SERVICEDISCOVERY) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const client = new sdk.ServiceDiscoveryClient({
    region: options.region,
    credentials: options.credentials,
    maxAttempts: 1,
    ...(endpoint !== undefined ? { endpoint, disableHostPrefix: true } : {}),
  });
  const call = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw toApiError(err);
    }
  };
  return {
    description:
      endpoint ??
      `servicediscovery ${options.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? '(SDK default region)'}`,
    discoverInstances: (query, signal) =>
      call(async () => {
        const out = await client.send(
          new sdk.DiscoverInstancesCommand({
            NamespaceName: query.namespace,
            ServiceName: query.service,
            HealthStatus: query.healthStatus,
            MaxResults: query.maxResults,
          }),
          { abortSignal: signal },
        );
        return {
          instances: (out.Instances ?? []).map((i) => ({
            instanceId: i.InstanceId ?? '',
            attributes: i.Attributes ?? {},
            healthStatus: i.HealthStatus,
          })),
          revision: out.InstancesRevision,
        };
      }),
    discoverInstancesRevision: (query, signal) =>
      call(async () => {
        const out = await client.send(
          new sdk.DiscoverInstancesRevisionCommand({
            NamespaceName: query.namespace,
            ServiceName: query.service,
          }),
          { abortSignal: signal },
        );
        if (typeof out.InstancesRevision !== 'number') {
          throw new CloudMapApiError('failed', 'DiscoverInstancesRevision answered no InstancesRevision');
        }
        return out.InstancesRevision;
      }),
  };
}

/** An SDK error as a CloudMapApiError: its name decides what the source does next. */
function toApiError(err: unknown): CloudMapApiError {
  if (err instanceof CloudMapApiError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  let failure: CloudMapFailure = 'failed';
  if (name === 'RequestLimitExceeded' || name === 'ThrottlingException' || status === 429)
    failure = 'throttled';
  else if (name === 'NamespaceNotFound' || name === 'ServiceNotFound') failure = 'not-found';
  else if (name === 'AbortError') failure = 'aborted';
  else if (name === 'TimeoutError') failure = 'timeout';
  const message = `${name}${status !== undefined ? ` (HTTP ${status})` : ''}: ${String(e.message ?? err).slice(0, 300)}`;
  return new CloudMapApiError(failure, message, name, { cause: err });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
