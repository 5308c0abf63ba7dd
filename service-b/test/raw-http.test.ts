import { SECURITY_HEADERS, startServer, type RunningServer } from '@ecs-srv/service-kit';
import net from 'node:net';
import zlib from 'node:zlib';
import { createApp } from '../src/app';

/** Sends raw bytes and returns the whole raw response (the server closes after answering: Connection: close or an error). */
function raw(port: number, request: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let out = '';
    socket.on('data', (d) => (out += d.toString()));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.write(request);
  });
}

/** Every security header, exact, in a raw response head. */
function expectSecurityHeaders(res: string): void {
  const head = res.slice(0, res.indexOf('\r\n\r\n')).toLowerCase();
  for (const [name, value] of SECURITY_HEADERS)
    expect(head).toContain(`\r\n${name.toLowerCase()}: ${value.toLowerCase()}\r\n`);
}

describe('service-b with malformed HTTP (real server)', () => {
  let running: RunningServer;
  const logger = { error: jest.fn() };
  beforeAll(async () => {
    const state = { draining: false };
    running = await startServer(createApp({ instanceId: 'raw', state, logger }), {
      port: 0,
      host: '127.0.0.1',
      state,
    });
  });
  afterAll(() => running.stop());

  it('when a header is far too large, then 431 problem+json (not a bare 431)', async () => {
    const res = await raw(
      running.port,
      `GET /v1/whoami HTTP/1.1\r\nHost: x\r\nx-request-id: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(res).toMatch(/^HTTP\/1\.1 431 /);
    expect(res).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 431 });
    expectSecurityHeaders(res);
  });

  it('when the method is unknown to HTTP or a header holds a control character, then 400 problem+json', async () => {
    for (const request of [
      'BREW /v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /v1/whoami HTTP/1.1\r\nHost: x\r\nx-a: b\u0001c\r\n\r\n',
    ]) {
      const res = await raw(running.port, request);
      expect(res).toMatch(/^HTTP\/1\.1 400 /);
      expect(res).toMatch(/content-type: application\/problem\+json/i);
      expectSecurityHeaders(res);
    }
  });

  it('when a body claims gzip but is not, then 400 problem+json (not 500)', async () => {
    const body = 'this is not gzip';
    const res = await raw(
      running.port,
      `POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(res).toMatch(/^HTTP\/1\.1 400 /);
    expect(res).toMatch(/content-type: application\/problem\+json/i);
    expectSecurityHeaders(res);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('when a body really is gzip, then it is accepted', async () => {
    const body = zlib.gzipSync(JSON.stringify({ message: 'zipped' }));
    const head = `POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const res = await raw(running.port, Buffer.concat([Buffer.from(head), body]));
    expect(res).toMatch(/^HTTP\/1\.1 200 /);
    expect(res).toContain('"message":"zipped"');
  });
});
