import { SECURITY_HEADERS } from '@ecs-srv/service-kit';
import request from 'supertest';
import { createApp } from '../src/app';

const logger = { error: jest.fn() };

function makeApp(draining = false) {
  return createApp({ instanceId: 'task-1', state: { draining }, logger });
}

function expectProblem(res: request.Response, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toEqual(
    expect.objectContaining({
      type: expect.any(String),
      title: expect.any(String),
      status,
      detail: expect.any(String),
    }),
  );
  expect(res.text).not.toMatch(/\bat .+\.(js|ts):\d+/); // no stack trace
}

describe('service-b app', () => {
  it('when /healthz is asked, then it answers 200 {status:"ok"} without x-powered-by', async () => {
    const res = await request(makeApp()).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('when serving, then /readyz is 200; when draining, then 503 while /healthz stays 200', async () => {
    expect((await request(makeApp()).get('/readyz')).status).toBe(200);
    const draining = makeApp(true);
    const ready = await request(draining).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.headers.connection).toBe('close');
    expect((await request(draining).get('/healthz')).status).toBe(200);
  });

  it('when /v1/whoami is asked, then it names the service and the instance id', async () => {
    const res = await request(makeApp()).get('/v1/whoami');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.objectContaining({ service: 'service-b', instance: 'task-1' }));
  });

  it('when a valid message is echoed, then it comes back with the instance id', async () => {
    const res = await request(makeApp()).post('/v1/echo').send({ message: 'héllo ✓' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ message: 'héllo ✓', instance: 'task-1' });
  });

  it('when the message is 1024 characters, then it is accepted; at 1025, then 400', async () => {
    expect(
      (
        await request(makeApp())
          .post('/v1/echo')
          .send({ message: 'x'.repeat(1024) })
      ).status,
    ).toBe(200);
    const res = await request(makeApp())
      .post('/v1/echo')
      .send({ message: 'x'.repeat(1025) });
    expectProblem(res, 400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'message' })]);
  });

  it.each([
    ['an empty message', { message: '' }, 'message'],
    ['a missing message', {}, 'message'],
    ['a non-string message', { message: 42 }, 'message'],
    ['an unknown extra field', { message: 'hi', admin: true }, '(root)'],
  ])('when the body has %s, then 400 problem+json names the field', async (_what, body, field) => {
    const res = await request(makeApp()).post('/v1/echo').send(body);
    expectProblem(res, 400);
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    expect(res.body.detail).toContain(field);
  });

  it('when the JSON is malformed, then 400 problem+json', async () => {
    const res = await request(makeApp())
      .post('/v1/echo')
      .set('content-type', 'application/json')
      .send('{"message": ');
    expectProblem(res, 400);
    expect(res.body.title).toBe('Malformed JSON');
  });

  it('when the body is over 100 kB, then 413 problem+json', async () => {
    const res = await request(makeApp())
      .post('/v1/echo')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ message: 'x'.repeat(101 * 1024) }));
    expectProblem(res, 413);
  });

  it('when the body is not JSON, then 415 problem+json', async () => {
    const res = await request(makeApp())
      .post('/v1/echo')
      .set('content-type', 'text/plain')
      .send('message=hi');
    expectProblem(res, 415);
  });

  it('when the route is unknown, then 404 problem+json', async () => {
    expectProblem(await request(makeApp()).get('/nope'), 404);
  });

  it('when a known route gets the wrong method, then 405 with Allow', async () => {
    const res = await request(makeApp()).delete('/v1/echo');
    expectProblem(res, 405);
    expect(res.headers.allow).toBe('POST');
  });
});

describe('service-b metrics', () => {
  it('when requests were served, then /metrics counts them by route pattern in Prometheus text format', async () => {
    const app = makeApp();
    await request(app).get('/v1/whoami');
    await request(app).post('/v1/echo').send({ message: '' });
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/http_requests_total\{[^}]*route="\/v1\/whoami"[^}]*status="200"[^}]*\} 1/);
    expect(res.text).toMatch(/http_requests_total\{[^}]*route="\/v1\/echo"[^}]*status="400"[^}]*\} 1/);
  });
});

describe('service-b security headers', () => {
  function expectSecurityHeaders(res: request.Response): void {
    for (const [name, value] of SECURITY_HEADERS)
      expect([name, res.headers[name.toLowerCase()]]).toEqual([name, value]);
    expect(res.headers['x-powered-by']).toBeUndefined();
  }

  it.each<[string, () => request.Test]>([
    ['GET /healthz', () => request(makeApp()).get('/healthz')],
    ['GET /readyz while draining (503)', () => request(makeApp(true)).get('/readyz')],
    ['GET /metrics', () => request(makeApp()).get('/metrics')],
    ['GET /metrics while draining', () => request(makeApp(true)).get('/metrics')],
    ['GET /v1/whoami', () => request(makeApp()).get('/v1/whoami')],
    ['POST /v1/echo', () => request(makeApp()).post('/v1/echo').send({ message: 'hi' })],
    ['an invalid body (400)', () => request(makeApp()).post('/v1/echo').send({ message: '' })],
    ['an unknown route (404)', () => request(makeApp()).get('/nope')],
    ['a wrong method (405)', () => request(makeApp()).delete('/v1/echo')],
    ['a body that is not JSON (415)', () => request(makeApp()).post('/v1/echo').type('text/plain').send('x')],
  ])('when %s is answered, then every security header is set', async (_what, send) => {
    expectSecurityHeaders(await send());
  });

  it.each(['/healthz', '/readyz', '/metrics'])(
    'when %s is asked, then Cache-Control: no-store',
    async (route) => {
      expect((await request(makeApp()).get(route)).headers['cache-control']).toBe('no-store');
    },
  );
});
