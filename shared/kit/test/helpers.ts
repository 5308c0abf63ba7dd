import net from 'node:net';
import { SECURITY_HEADERS } from '../src';

/** Response headers as Node's clients give them: lower-case names. */
export type Headers = Record<string, string | string[] | undefined>;

/** Asserts every security header of SECURITY_HEADERS with its exact value, and no `X-Powered-By`. */
export function expectSecurityHeaders(headers: Headers): void {
  expect(SECURITY_HEADERS).toHaveLength(6);
  const seen = Object.fromEntries(SECURITY_HEADERS.map(([name]) => [name, headers[name.toLowerCase()]]));
  expect(seen).toEqual(Object.fromEntries(SECURITY_HEADERS));
  expect(headers['x-powered-by']).toBeUndefined();
}

/** A raw HTTP/1.1 response split into status, lower-case headers and body. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses the head of a raw response (the first one in `text`). */
export function parseRaw(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete response head in ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers, body: text.slice(end + 4) };
}

/** A raw client connection: what arrived so far, and whether the server closed its side. */
export interface RawClient {
  socket: net.Socket;
  text: () => string;
  /** Resolves when the server ends the connection (FIN or reset); rejects after `timeoutMs`. */
  ended: (timeoutMs?: number) => Promise<void>;
  /** Resolves once `test(text)` holds; rejects after `timeoutMs` or when the connection ends first. */
  waitFor: (test: (text: string) => boolean, timeoutMs?: number) => Promise<void>;
}

/** Opens a raw TCP connection to `127.0.0.1:port`. */
export async function rawClient(port: number): Promise<RawClient> {
  const socket = net.connect(port, '127.0.0.1');
  let out = '';
  let closed = false;
  const waiters = new Set<() => void>();
  const wake = (): void => waiters.forEach((w) => w());
  socket.on('data', (d: Buffer) => {
    out += d.toString('latin1');
    wake();
  });
  socket.on('end', () => {
    closed = true;
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  socket.on('error', () => undefined); // a reset shows as 'close'
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const waitFor = (test: () => boolean, what: string, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (test()) done(resolve);
        else if (closed && what !== 'end')
          done(() => reject(new Error(`connection ended before ${what}: ${out}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(out)}`))),
        timeoutMs,
      );
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });
  return {
    socket,
    text: () => out,
    ended: (timeoutMs = 5000) => waitFor(() => closed, 'end', timeoutMs),
    waitFor: (test, timeoutMs = 5000) => waitFor(() => test(out), 'the expected data', timeoutMs),
  };
}
