import http from 'node:http';
import net from 'node:net';

/** A response as the tests look at it. */
export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON when it is JSON, else undefined. */
  json?: unknown;
}

/** One request. */
export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON (with content-type application/json unless given). */
  body?: unknown;
  agent?: http.Agent;
  /** @default 10000 */
  timeoutMs?: number;
}

/** Sends one HTTP/1.1 request with node:http; network errors and timeouts reject. */
export function request(url: string, options: HttpRequest = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  let payload: Buffer | undefined;
  if (options.body !== undefined) {
    if (typeof options.body === 'string' || Buffer.isBuffer(options.body)) {
      payload = Buffer.from(options.body as string);
    } else {
      payload = Buffer.from(JSON.stringify(options.body));
      headers['content-type'] ??= 'application/json';
    }
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', headers, agent: options.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          if (/json/.test(res.headers['content-type'] ?? '')) {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** GET `url` and return the parsed JSON body (throws on a non-2xx status). */
export async function getJson<T>(url: string): Promise<T> {
  const res = await request(url);
  if (res.status < 200 || res.status >= 300) throw new Error(`GET ${url} → ${res.status}: ${res.text}`);
  return res.json as T;
}

/** A raw response read off a socket (for requests node:http refuses to send). */
export interface RawResult {
  /** Status code from the status line; 0 when the server closed without answering. */
  status: number;
  head: string;
  body: string;
}

/**
 * Writes `raw` bytes to `host:port` and reads until the server closes the connection (the request should
 * carry `Connection: close`) or `timeoutMs` passes.
 */
export function rawRequest(
  host: string,
  port: number,
  raw: string | Buffer,
  timeoutMs = 5000,
): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split === -1 ? text : text.slice(0, split);
      const body = split === -1 ? '' : text.slice(split + 4);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
    socket.on('connect', () => socket.write(raw));
  });
}
