import {
  AxiosError,
  AxiosHeaders,
  type AxiosAdapter,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import type { Agent as UndiciAgent } from 'undici';
import { UpstreamError } from '../upstream';

/** Settings of the undici transport under axios. */
export interface UndiciAdapterOptions {
  /** Connections per endpoint. */
  maxSocketsPerEndpoint: number;
  /** Connect timeout, ms (`UND_ERR_CONNECT_TIMEOUT` counts as a connection failure). */
  connectTimeoutMs: number;
  /** Idle keep-alive sockets are closed after this long (and sooner when the server's `Keep-Alive` says so). */
  idleSocketTimeoutMs: number;
  /** Largest response body read; past it the exchange is cut and fails as `ERESPONSETOOLARGE`. */
  maxResponseBytes: number;
}

/**
 * An axios adapter on undici: the request axios built (headers, serialized body) is sent with undici's
 * `Agent#request` (a keep-alive pool per origin, no redirects, no proxy), the body read up to the size
 * limit, and the answer handed back for axios to parse and check as usual. axios stays the API; its own
 * http adapter (follow-redirects aside, a stream pipeline per response) costs more CPU per call than the
 * rest of A's request (measured in `npm run bench`). Returns undefined when undici (an optional peer) is
 * not installed, and the client then keeps axios's http adapter.
 */
export function createUndiciAdapter(
  options: UndiciAdapterOptions,
): { adapter: AxiosAdapter; close: () => Promise<void> } | undefined {
  let undici: typeof import('undici');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional peer, loaded only here
    undici = require('undici') as typeof import('undici');
  } catch {
    return undefined;
  }
  const agent: UndiciAgent = new undici.Agent({
    connections: options.maxSocketsPerEndpoint,
    keepAliveTimeout: options.idleSocketTimeoutMs,
    keepAliveMaxTimeout: options.idleSocketTimeoutMs,
    connect: { timeout: options.connectTimeoutMs },
    // The deadline is the caller's (one signal for the whole exchange): no separate undici timers.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const adapter: AxiosAdapter = async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
    const url = new URL(config.url ?? '/', config.baseURL);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(AxiosHeaders.from(config.headers).toJSON())) {
      if (value !== undefined && value !== null) headers[key.toLowerCase()] = String(value);
    }
    const res = await agent.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: (config.method ?? 'get').toUpperCase() as 'GET',
      headers,
      body: config.data as string | Buffer | undefined,
      signal: config.signal as AbortSignal | undefined,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > options.maxResponseBytes) {
        res.body.destroy();
        throw new UpstreamError(
          'bad-response',
          'ERESPONSETOOLARGE',
          url.host,
          `${String(headers.host ?? url.host)} (${url.host}) sent a response larger than ${options.maxResponseBytes} bytes`,
        );
      }
      chunks.push(chunk as Buffer);
    }
    const response: AxiosResponse = {
      data: Buffer.concat(chunks).toString('utf8'),
      status: res.statusCode,
      statusText: '',
      headers: AxiosHeaders.from(res.headers as Record<string, string>),
      config,
      request: {},
    };
    const validate = config.validateStatus;
    if (!validate || validate(res.statusCode)) return response;
    throw new AxiosError(
      `Request failed with status code ${res.statusCode}`,
      res.statusCode >= 500 ? AxiosError.ERR_BAD_RESPONSE : AxiosError.ERR_BAD_REQUEST,
      config,
      response.request,
      response,
    );
  };
  return { adapter, close: () => agent.close() };
}
