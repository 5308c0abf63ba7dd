import express from 'express';
import { createBaseApp, createServiceMetrics, notFound, startServer, type RunningServer } from '../src';
import { expectSecurityHeaders, parseRaw, rawClient, type RawClient } from './helpers';

/** A base app with a `/slow` route that answers when the test says so (a request in flight). */
function slowApp(state: { draining: boolean }) {
  const app = createBaseApp(state);
  let arrived!: () => void;
  const inFlight = new Promise<void>((resolve) => (arrived = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  app.get('/slow', async (_req, res) => {
    arrived();
    await released;
    res.json({ done: true });
  });
  // Headers go out at once (keep-alive), the body when released: a response under way at SIGTERM.
  app.get('/stream', async (_req, res) => {
    res.type('text/plain');
    res.flushHeaders();
    arrived();
    await released;
    res.end('streamed');
  });
  app.use(notFound);
  return { app, inFlight, release };
}

describe('service-kit server: drain with requests in flight', () => {
  let running: RunningServer | undefined;
  let client: RawClient | undefined;
  afterEach(async () => {
    client?.socket.destroy();
    await running?.stop();
    running = client = undefined;
  });

  it('when a request is in flight at stop(), then its response says Connection: close, the server ends the connection and stop() resolves without forcing', async () => {
    const state = { draining: false };
    const { app, inFlight, release } = slowApp(state);
    const logger = { warn: jest.fn() };
    running = await startServer(app, { port: 0, host: '127.0.0.1', state, logger });
    client = await rawClient(running.port);
    client.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'); // HTTP/1.1: keep-alive by default
    await inFlight;

    const stopped = running.stop();
    release();
    await client.waitFor((t) => t.includes('{"done":true}'));
    const res = parseRaw(client.text());
    expect(res.status).toBe(200);
    expect(res.headers.connection).toBe('close');
    await client.ended(); // the server closed it: no wait for the keep-alive or forced-close timeout
    await stopped;
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('when a response already went out with keep-alive before stop(), then the server ends the connection once it is done', async () => {
    const state = { draining: false };
    const { app, inFlight, release } = slowApp(state);
    const logger = { warn: jest.fn() };
    running = await startServer(app, { port: 0, host: '127.0.0.1', state, logger });
    client = await rawClient(running.port);
    client.socket.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    await inFlight;
    await client.waitFor((t) => t.includes('\r\n\r\n'));
    expect(parseRaw(client.text()).headers.connection).toBe('keep-alive');

    const stopped = running.stop();
    release();
    await client.waitFor((t) => t.endsWith('0\r\n\r\n')); // last chunk: the response is complete
    expect(client.text()).toContain('streamed');
    await client.ended();
    await stopped;
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('when draining, then every response carries Connection: close and its connection is closed after it, /metrics included', async () => {
    const state = { draining: false };
    const app = createBaseApp(state, { metrics: createServiceMetrics('t', { defaultMetrics: false }) });
    app.use(notFound);
    running = await startServer(app, { port: 0, host: '127.0.0.1', state });
    state.draining = true; // as stop() sets it for the drain delay
    for (const path of ['/metrics', '/healthz', '/readyz', '/nope']) {
      const c = await rawClient(running.port);
      c.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await c.ended();
      const res = parseRaw(c.text());
      expect({ path, connection: res.headers.connection }).toEqual({ path, connection: 'close' });
      expectSecurityHeaders(res.headers);
    }
  });

  it('when stop() is called with requests that never finish, then it cuts them after closeTimeoutMs and says so', async () => {
    const state = { draining: false };
    const { app, inFlight, release } = slowApp(state);
    const logger = { warn: jest.fn() };
    running = await startServer(app, { port: 0, host: '127.0.0.1', state, logger, closeTimeoutMs: 200 });
    client = await rawClient(running.port);
    client.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await inFlight;
    await running.stop();
    await client.ended();
    expect(logger.warn).toHaveBeenCalledTimes(1);
    release();
  });
});

describe('service-kit server: requests the HTTP parser rejects', () => {
  let running: RunningServer;
  beforeAll(async () => {
    const state = { draining: false };
    const { app } = slowApp(state);
    running = await startServer(app, {
      port: 0,
      host: '127.0.0.1',
      state,
      keepAliveTimeoutMs: 200,
      headersTimeoutMs: 400,
    });
  });
  afterAll(() => running.stop());

  async function exchange(request: string): Promise<ReturnType<typeof parseRaw>> {
    const c = await rawClient(running.port);
    c.socket.write(request);
    await c.ended(10_000);
    return parseRaw(c.text());
  }

  it.each([
    ['headers over 16 kB', 431, `GET / HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`],
    [
      'chunk extensions over 16 kB',
      413,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
        `2;a=${'x'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`,
    ],
    ['headers that never end (headersTimeout)', 408, 'GET / HTTP/1.1\r\nHost: x\r\n'],
    ['a method unknown to HTTP', 400, 'BREW / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a control character in a header', 400, 'GET / HTTP/1.1\r\nHost: x\r\nx-a: b\u0001c\r\n\r\n'],
  ])('when a request has %s, then %d problem+json with every security header', async (_what, status, req) => {
    const res = await exchange(req);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers.connection).toBe('close');
    expectSecurityHeaders(res.headers);
    expect(JSON.parse(res.body)).toMatchObject({
      status,
      type: expect.any(String),
      title: expect.any(String),
    });
  });

  it('when a response is already under way and a pipelined request is garbage, then the connection is cut without writing into that response', async () => {
    const state = { draining: false };
    const { app, inFlight, release } = slowApp(state);
    const server = await startServer(express().use(app), { port: 0, host: '127.0.0.1', state });
    try {
      const c = await rawClient(server.port);
      c.socket.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
      await inFlight;
      await c.waitFor((t) => t.includes('\r\n\r\n'));
      c.socket.write('BREW / HTTP/1.1\r\nHost: x\r\n\r\n');
      await c.ended();
      expect(c.text()).not.toContain('HTTP/1.1 400');
      release();
    } finally {
      await server.stop();
    }
  });
});
