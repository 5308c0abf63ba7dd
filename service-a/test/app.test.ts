import { DiscoveryError, UpstreamError, type Endpoint } from '@ecs-srv/shared';
import request from 'supertest';
import { createApp } from '../src/app';
import type { ServiceBApi } from '../src/service-b-client';

const endpoint: Endpoint = {
  key: '10.0.1.23:49153',
  target: 'task1.service_b.ecs.internal',
  address: '10.0.1.23',
  port: 49153,
  priority: 1,
  weight: 1,
  ttlSeconds: 10,
  addressSource: 'additional',
};

/** A ServiceBApi double that records calls and answers like B (or fails as told). */
function fakeB(failure?: Error) {
  const calls: Array<{ route: string; message?: string; requestId: string }> = [];
  const api: ServiceBApi = {
    async whoami({ requestId }) {
      calls.push({ route: 'whoami', requestId });
      if (failure) throw failure;
      return { servedBy: { service: 'service-b', instance: 'task1' }, endpoint: endpoint.key };
    },
    async echo(message, { requestId }) {
      calls.push({ route: 'echo', message, requestId });
      if (failure) throw failure;
      return { servedBy: { message, instance: 'task1' }, endpoint: endpoint.key };
    },
  };
  return { api, calls };
}

function makeApp(b = fakeB(), draining = false) {
  return createApp({
    state: { draining },
    logger: { error: jest.fn() },
    serviceB: b.api,
    discovery: () => ({ srvName: 'service_b.ecs.internal', dnsServers: ['127.0.0.1:53'], names: [] }),
  });
}

function expectProblem(res: request.Response, status: number, code?: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toEqual(
    expect.objectContaining({ type: expect.any(String), title: expect.any(String), status }),
  );
  if (code) expect(res.body.code).toBe(code);
  expect(res.text).not.toMatch(/\n\s+at /);
}

describe('service-a app', () => {
  it('when /healthz and /readyz are asked, then 200; when draining, then /readyz 503', async () => {
    expect((await request(makeApp()).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(makeApp()).get('/readyz')).status).toBe(200);
    expect((await request(makeApp(fakeB(), true)).get('/readyz')).status).toBe(503);
  });

  it('when /api/whoami is asked, then B’s body and the endpoint come back, with the request id forwarded', async () => {
    const b = fakeB();
    const res = await request(makeApp(b)).get('/api/whoami').set('x-request-id', 'abc-123');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      servedBy: { service: 'service-b', instance: 'task1' },
      endpoint: '10.0.1.23:49153',
    });
    expect(b.calls).toEqual([{ route: 'whoami', requestId: 'abc-123' }]);
    expect(res.headers['x-request-id']).toBe('abc-123');
  });

  it('when x-request-id is missing or malformed, then a fresh id is made and forwarded', async () => {
    const b = fakeB();
    const res = await request(makeApp(b)).get('/api/whoami').set('x-request-id', 'x'.repeat(500));
    expect(b.calls[0]!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-request-id']).toBe(b.calls[0]!.requestId);
  });

  it('when a valid message is posted, then it is forwarded and B’s answer returned', async () => {
    const b = fakeB();
    const res = await request(makeApp(b)).post('/api/echo').send({ message: 'hi' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ servedBy: { message: 'hi', instance: 'task1' }, endpoint: '10.0.1.23:49153' });
    expect(b.calls).toEqual([expect.objectContaining({ route: 'echo', message: 'hi' })]);
  });

  it.each([
    ['an empty message', { message: '' }],
    ['a message over 1024 characters', { message: 'x'.repeat(1025) }],
    ['no message', {}],
    ['an extra field', { message: 'hi', url: 'http://169.254.169.254/' }],
  ])('when the body has %s, then 400 naming the field and B is not called', async (_what, body) => {
    const b = fakeB();
    const res = await request(makeApp(b)).post('/api/echo').send(body);
    expectProblem(res, 400);
    expect(res.body.errors.length).toBeGreaterThan(0);
    expect(b.calls).toEqual([]);
  });

  it('when JSON is malformed, too large, or not JSON, then 400, 413 and 415', async () => {
    const app = makeApp();
    expectProblem(
      await request(app).post('/api/echo').set('content-type', 'application/json').send('{oops'),
      400,
    );
    const big = JSON.stringify({ message: 'x'.repeat(200_000) });
    expectProblem(
      await request(app).post('/api/echo').set('content-type', 'application/json').send(big),
      413,
    );
    expectProblem(await request(app).post('/api/echo').set('content-type', 'text/plain').send('hi'), 415);
  });

  it('when the route is unknown or the method wrong, then 404 / 405 problem+json (never proxied)', async () => {
    const b = fakeB();
    expectProblem(await request(makeApp(b)).get('/api/whoami/../../v1/whoami?x=1'), 404);
    expectProblem(await request(makeApp(b)).get('/v1/whoami'), 404);
    expectProblem(await request(makeApp(b)).put('/api/whoami'), 405);
    expect(b.calls).toEqual([]);
  });

  it.each([
    [
      'discovery finds nothing',
      new DiscoveryError('ENOTFOUND', 'service_b.ecs.internal', 'no such service name'),
      503,
      'ENOTFOUND',
    ],
    ['DNS times out', new DiscoveryError('ETIMEOUT', 'service_b.ecs.internal', 'no answer'), 503, 'ETIMEOUT'],
    [
      'B is unreachable',
      new UpstreamError('unreachable', 'ECONNREFUSED', endpoint.key, 'refused'),
      502,
      'ECONNREFUSED',
    ],
    [
      'B answers garbage',
      new UpstreamError('bad-response', 'EBADUPSTREAM', endpoint.key, 'garbage'),
      502,
      'EBADUPSTREAM',
    ],
    ['B is too slow', new UpstreamError('timeout', 'ETIMEDOUT', endpoint.key, 'slow'), 504, 'ETIMEDOUT'],
  ])('when %s, then %i problem+json with code', async (_what, failure, status, code) => {
    expectProblem(await request(makeApp(fakeB(failure))).get('/api/whoami'), status, code);
    expectProblem(
      await request(makeApp(fakeB(failure)))
        .post('/api/echo')
        .send({ message: 'x' }),
      status,
      code,
    );
  });

  it('when /discovery is asked, then the client’s view is returned', async () => {
    const res = await request(makeApp()).get('/discovery');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ srvName: 'service_b.ecs.internal', dnsServers: ['127.0.0.1:53'], names: [] });
  });

  it('when /metrics is asked, then Prometheus text comes back', async () => {
    const app = makeApp();
    await request(app).get('/api/whoami');
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/http_requests_total\{[^}]*route="\/api\/whoami"/);
  });
});

describe('service-a discovery page', () => {
  it('when / is asked, then the page and its script and stylesheet are served', async () => {
    const app = makeApp();
    const page = await request(app).get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('/ui/app.js');
    expect((await request(app).get('/ui/app.js')).headers['content-type']).toMatch(/javascript/);
    expect((await request(app).get('/ui/style.css')).status).toBe(200);
    expectProblem(await request(app).get('/ui/../package.json'), 404);
  });
});
