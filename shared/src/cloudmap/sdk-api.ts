import * as http from 'node:http';
import * as https from 'node:https';
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
 * How long an idle keep-alive connection is kept for the next call. Node's agent closes an idle socket
 * after this, or 1 s before the server's own announced limit (`Keep-Alive: timeout=N`) when that is
 * shorter; Node 20 honours that announcement only when the agent has a timeout, hence one here.
 * Well above the 5 s poll (±20 %), so that polls to a server that announces no limit keep reusing one
 * connection (on AWS a TLS handshake per poll would cost more than the rare retry below); below the idle
 * limits of what may sit in between (load balancers 60 s, NAT gateways and VPC endpoints 350 s), so a
 * socket left idle through a back-off is not reused after they have dropped it.
 */
const IDLE_SOCKET_TIMEOUT_MS = 30_000;

/**
 * The Cloud Map API through `@aws-sdk/client-servicediscovery` (v3), loaded only when this is called so
 * that DNS-only users never load the SDK. One call per poll: the SDK's own retries are off, the source
 * backs off itself; the only retry is a call whose connection was reset or closed before any answer
 * (see {@link isConnectionReset}), sent again once at once on a fresh connection.
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
  // The SDK's own agent settings (keep-alive, 50 sockets) plus an idle limit, in agents of our own so that
  // a retry can drop their idle sockets first.
  const agentOptions = { keepAlive: true, maxSockets: 50, timeout: IDLE_SOCKET_TIMEOUT_MS };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const client = new sdk.ServiceDiscoveryClient({
    region: options.region,
    credentials: options.credentials,
    maxAttempts: 1,
    requestHandler: { httpAgent, httpsAgent },
    ...(endpoint !== undefined ? { endpoint, disableHostPrefix: true } : {}),
  });
  // Both operations only read, so a request lost with its connection before any answer is safe to send
  // again. A server (or load balancer) closing a keep-alive connection it saw idle races with the next
  // poll written on it: `socket hang up`/ECONNRESET or EPIPE, nothing wrong. Such a request is sent again
  // once, at once, by a middleware at the very end of the SDK's stack, around its HTTP handler. There a
  // failure can only be the handler's own, before any answer (it resolves as soon as an answer's head
  // arrives: a throttling, 4xx or 5xx answer, or a connection lost while reading one, never gets here),
  // and the error is Node's as Node raised it. Not a custom `retryStrategy`, nor a retry around
  // `client.send`: there these errors are renamed `TimeoutError` like the SDK's own socket timeouts,
  // mixed with deserialization failures, and, when not of the SDK's realm (as under jest), rebuilt as a
  // bare "AWS SDK error wrapper for …" without their code; a strategy would also apply to every call,
  // with the SDK's retry quota and delays. The resend shares the call's signal, hence the source's
  // deadline, and is not sent once the caller has aborted.
  const resendOnceOnReset =
    (signal: AbortSignal) =>
    <A, R>(next: (args: A) => Promise<R>) =>
    async (args: A): Promise<R> => {
      try {
        return await next(args);
      } catch (err) {
        if (signal.aborted || !isConnectionReset(err)) throw err;
      }
      // Idle sockets in the pool have been idle about as long as the one just lost and may be closing as
      // well: dropped, so that the retry gets a new connection (or one that has just answered).
      for (const agent of [httpAgent, httpsAgent]) {
        for (const sockets of Object.values(agent.freeSockets)) {
          for (const socket of sockets ?? []) socket.destroy();
        }
      }
      return await next(args);
    };
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
        const command = new sdk.DiscoverInstancesCommand({
          NamespaceName: query.namespace,
          ServiceName: query.service,
          HealthStatus: query.healthStatus,
          MaxResults: query.maxResults,
        });
        command.middlewareStack.add(resendOnceOnReset(signal), RESEND_STEP);
        const out = await client.send(command, { abortSignal: signal });
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
        const command = new sdk.DiscoverInstancesRevisionCommand({
          NamespaceName: query.namespace,
          ServiceName: query.service,
        });
        command.middlewareStack.add(resendOnceOnReset(signal), RESEND_STEP);
        const out = await client.send(command, { abortSignal: signal });
        if (typeof out.InstancesRevision !== 'number') {
          throw new CloudMapApiError('failed', 'DiscoverInstancesRevision answered no InstancesRevision');
        }
        return out.InstancesRevision;
      }),
  };
}

/** Where the resend middleware sits: after the deserializer, so next to the HTTP handler. */
const RESEND_STEP = {
  step: 'deserialize',
  priority: 'low',
  name: 'ecsSrvResendOnceOnResetMiddleware',
} as const;

/** Node's codes for a connection reset or closed by the peer (`socket hang up` is ECONNRESET too). */
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Whether the SDK's HTTP handler failed because the connection was reset or closed (before any answer:
 * the handler has resolved by the time one arrives). NodeHttpHandler rejects with Node's request error,
 * renamed `TimeoutError` for ECONNRESET, EPIPE and ETIMEDOUT, its `code` kept. Not retried: its own
 * timeouts (`TimeoutError` without a code for the socket and connection timeouts, ETIMEDOUT for the
 * request timeout), ETIMEDOUT from the OS, a refused or unreachable server, an abort (`AbortError`).
 */
function isConnectionReset(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { name, code } = err as { name?: unknown; code?: unknown };
  return name !== 'AbortError' && typeof code === 'string' && RESET_CODES.has(code);
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
