import { SrvHttpClient, UpstreamError, type Endpoint } from '@ecs-srv/shared';
import { z } from 'zod';

/** What B's `/v1/whoami` must answer for A to pass it on. */
const whoamiBody = z.looseObject({ service: z.string(), instance: z.string() });
/** What B's `/v1/echo` must answer. */
const echoBody = z.looseObject({ message: z.string(), instance: z.string() });

/** B's answer as A reports it: B's body and the endpoint that served it. */
export interface Served<T> {
  servedBy: T;
  endpoint: string;
}

/** The calls A makes to B (a seam for tests and for the fixed-URL variant). */
export interface ServiceBApi {
  whoami(requestId: string): Promise<Served<z.output<typeof whoamiBody>>>;
  echo(message: string, requestId: string): Promise<Served<z.output<typeof echoBody>>>;
}

/** ServiceBApi over SRV discovery: every call picks a B task and retries elsewhere when safe. */
export class DiscoveredServiceB implements ServiceBApi {
  constructor(private readonly http: SrvHttpClient) {}

  async whoami(requestId: string): Promise<Served<z.output<typeof whoamiBody>>> {
    const { response, endpoint } = await this.http.request({
      method: 'GET',
      url: '/v1/whoami',
      headers: { 'x-request-id': requestId },
    });
    return { servedBy: parse(whoamiBody, response.data, endpoint), endpoint: endpoint.key };
  }

  async echo(message: string, requestId: string): Promise<Served<z.output<typeof echoBody>>> {
    const { response, endpoint } = await this.http.request({
      method: 'POST',
      url: '/v1/echo',
      data: { message },
      headers: { 'x-request-id': requestId },
    });
    return { servedBy: parse(echoBody, response.data, endpoint), endpoint: endpoint.key };
  }
}

function parse<S extends z.ZodType>(schema: S, data: unknown, endpoint: Endpoint): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  throw new UpstreamError(
    'bad-response',
    'EBADUPSTREAM',
    endpoint,
    `${endpoint.key} answered an unexpected body`,
  );
}
