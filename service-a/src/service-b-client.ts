import { UpstreamError, callWithDeadline, classifyError } from '@ecs-srv/shared';
import { AxiosFastPath, SrvHttpClient, createUndiciAdapter, toUpstreamError } from '@ecs-srv/shared/axios';
import axios, { AxiosError, type AxiosRequestConfig, type CreateAxiosDefaults } from 'axios';
import http from 'node:http';
import { z } from 'zod';

/**
 * What B's `/v1/whoami` must answer for A to pass it on. Only these fields are passed on (anything else
 * B sends is dropped), each bounded: A never relays what it does not understand.
 */
const whoamiBody = z.object({
  service: z.string().max(64),
  instance: z.string().max(256),
  pid: z.number().int().optional(),
  time: z.string().max(64).optional(),
});
/** What B's `/v1/echo` must answer (B echoes at most 1024 characters). */
const echoBody = z.object({ message: z.string().max(1024), instance: z.string().max(256) });

/** B's answer as A reports it: B's body and the endpoint that served it. */
export interface Served<T> {
  servedBy: T;
  endpoint: string;
}

/** Per-call context: the request id to forward, and a signal that aborts when A's caller goes away. */
export interface CallContext {
  requestId: string;
  signal?: AbortSignal;
}

/** The calls A makes to B (the seam between A's routes and how B is reached). */
export interface ServiceBApi {
  whoami(ctx: CallContext): Promise<Served<z.output<typeof whoamiBody>>>;
  echo(message: string, ctx: CallContext): Promise<Served<z.output<typeof echoBody>>>;
}

/** Sends one request to B and says which endpoint answered. @throws {UpstreamError|DiscoveryError} */
export type SendToB = (config: AxiosRequestConfig) => Promise<{ data: unknown; endpoint: string }>;

/** ServiceBApi over any transport: builds B's requests and checks B's answers. */
export class ServiceBClient implements ServiceBApi {
  constructor(private readonly send: SendToB) {}

  async whoami({ requestId, signal }: CallContext): Promise<Served<z.output<typeof whoamiBody>>> {
    const { data, endpoint } = await this.send({
      method: 'GET',
      url: '/v1/whoami',
      headers: { 'x-request-id': requestId },
      signal,
    });
    return { servedBy: parse(whoamiBody, data, endpoint), endpoint };
  }

  async echo(
    message: string,
    { requestId, signal }: CallContext,
  ): Promise<Served<z.output<typeof echoBody>>> {
    const { data, endpoint } = await this.send({
      method: 'POST',
      url: '/v1/echo',
      data: { message },
      headers: { 'x-request-id': requestId },
      signal,
    });
    return { servedBy: parse(echoBody, data, endpoint), endpoint };
  }
}

/** Sends through SRV discovery: a pick per request, retries elsewhere when safe. */
export function sendThroughDiscovery(client: SrvHttpClient): SendToB {
  return async (config) => {
    const { response, endpoint } = await client.request(config);
    return { data: response.data, endpoint: endpoint.key };
  };
}

/**
 * Sends to one fixed base URL (`SERVICE_B_URL`), with the same axios set-up as discovery: a benchmark
 * baseline and a debugging aid, never what runs on ECS.
 */
export function sendToFixedUrl(
  baseUrl: URL,
  options: { timeoutMs: number; maxResponseBytes: number },
): { send: SendToB; close: () => void } {
  // The same transport as discovery (axios over undici), so the baseline differs from it only by discovery.
  const undici = createUndiciAdapter({
    maxSocketsPerEndpoint: 256,
    connectTimeoutMs: 1000,
    idleSocketTimeoutMs: 4000,
    maxResponseBytes: options.maxResponseBytes,
  });
  const agent = undici ? undefined : new http.Agent({ keepAlive: true, maxSockets: 256, scheduling: 'lifo' });
  const axiosConfig: CreateAxiosDefaults = {
    adapter: undici?.adapter ?? 'http',
    baseURL: baseUrl.origin,
    httpAgent: agent,
    decompress: false,
    // The undici adapter asks for no compression itself.
    ...(undici ? {} : { headers: { 'Accept-Encoding': 'identity' } }),
    maxContentLength: options.maxResponseBytes,
    maxRedirects: 0,
    proxy: false,
    transitional: { clarifyTimeoutError: true },
  };
  // As SrvHttpClient does with undici: axios's pipeline skipped where it would change nothing.
  const client: Pick<AxiosFastPath, 'request'> = undici
    ? AxiosFastPath.create(axiosConfig)
    : axios.create(axiosConfig);
  return {
    send: async (config) => {
      const data = await callWithDeadline(
        async (signal) => (await client.request({ ...config, signal })).data as unknown,
        {
          endpoint: baseUrl.host,
          timeoutMs: options.timeoutMs,
          signal: config.signal as AbortSignal | undefined,
          classify: (err) =>
            err instanceof AxiosError ? toUpstreamError(err, baseUrl.host) : classifyError(err, baseUrl.host),
        },
      );
      return { data, endpoint: baseUrl.host };
    },
    close: () => {
      agent?.destroy();
      undici?.close().catch(() => undefined);
    },
  };
}

function parse<S extends z.ZodType>(schema: S, data: unknown, endpoint: string): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  throw new UpstreamError(
    'bad-response',
    'EBADUPSTREAM',
    endpoint,
    `${endpoint} answered an unexpected body`,
  );
}
