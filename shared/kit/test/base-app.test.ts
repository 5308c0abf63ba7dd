import { METHODS } from 'node:http';
import request from 'supertest';
import { z } from 'zod';
import {
  createBaseApp,
  createServiceMetrics,
  methodLabel,
  methodNotAllowed,
  notFound,
  parseBody,
  problemErrorHandler,
  requireJson,
} from '../src';
import { expectSecurityHeaders } from './helpers';

/** A base app with one route of each kind, as both services build theirs. */
function makeApp(draining = false) {
  const metrics = createServiceMetrics('test', { defaultMetrics: false });
  const app = createBaseApp({ draining }, { metrics });
  app
    .route('/echo')
    .post(requireJson, (req, res) => {
      res.json(parseBody(z.strictObject({ message: z.string().min(1) }), req.body));
    })
    .all(methodNotAllowed(['POST']));
  app.get('/boom', () => {
    throw new Error('kaput');
  });
  app.use(notFound);
  app.use(problemErrorHandler({ logger: { error: () => undefined } }));
  return app;
}

const json = 'application/json';

describe('service-kit base app: security headers', () => {
  it.each<[string, (app: ReturnType<typeof makeApp>) => request.Test, number]>([
    ['GET /healthz', (app) => request(app).get('/healthz'), 200],
    ['GET /readyz', (app) => request(app).get('/readyz'), 200],
    ['GET /metrics', (app) => request(app).get('/metrics'), 200],
    ['a JSON answer', (app) => request(app).post('/echo').send({ message: 'hi' }), 200],
    ['an unknown route (404)', (app) => request(app).get('/nope'), 404],
    ['a wrong method (405)', (app) => request(app).put('/echo'), 405],
    ['an invalid body (400)', (app) => request(app).post('/echo').send({ message: '' }), 400],
    ['malformed JSON (400)', (app) => request(app).post('/echo').set('content-type', json).send('{"m'), 400],
    [
      'a body over 100 kB (413)',
      (app) =>
        request(app)
          .post('/echo')
          .set('content-type', json)
          .send(JSON.stringify({ message: 'x'.repeat(101 * 1024) })),
      413,
    ],
    ['a body that is not JSON (415)', (app) => request(app).post('/echo').type('text/plain').send('hi'), 415],
    ['an unexpected error (500)', (app) => request(app).get('/boom'), 500],
  ])('when %s is answered, then every security header is set', async (_what, send, status) => {
    const res = await send(makeApp());
    expect(res.status).toBe(status);
    expectSecurityHeaders(res.headers);
  });

  it('when draining, then /metrics carries Connection: close and the security headers like every route', async () => {
    const res = await request(makeApp(true)).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.connection).toBe('close');
    expectSecurityHeaders(res.headers);
  });
});

describe('service-kit base app: caching of ops endpoints', () => {
  it.each(['/healthz', '/readyz', '/metrics'])(
    'when %s is asked, then Cache-Control: no-store',
    async (path) => {
      const res = await request(makeApp()).get(path);
      expect(res.headers['cache-control']).toBe('no-store');
    },
  );

  it('when /readyz answers 503 while draining, then it is not cacheable either', async () => {
    const res = await request(makeApp(true)).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

describe('service-kit metrics: method label', () => {
  it('when requests use methods outside the known set, then they are counted as OTHER, never by name', async () => {
    const app = makeApp();
    await request(app).propfind('/echo');
    await request(app).purge('/nope');
    await request(app).mkcol('/x');
    await request(app).get('/healthz');
    const text = (await request(app).get('/metrics')).text;
    expect(text).toMatch(/http_requests_total\{[^}]*method="OTHER"[^}]*route="\/echo"[^}]*\} 1/);
    expect(text).toMatch(/http_requests_total\{[^}]*method="OTHER"[^}]*route="unmatched"[^}]*\} 2/);
    expect(text).toMatch(/http_requests_total\{[^}]*method="GET"[^}]*route="\/healthz"[^}]*\} 1/);
    expect(text).not.toMatch(/method="(PROPFIND|PURGE|MKCOL)"/);
  });

  it('when a method is one of the known ones, then it is its own label; any other of Node’s methods is OTHER', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])
      expect(methodLabel(m)).toBe(m);
    const others = METHODS.filter(
      (m) => !['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'].includes(m),
    );
    expect(others.length).toBeGreaterThan(20);
    for (const m of others) expect(methodLabel(m)).toBe('OTHER');
    expect(methodLabel(undefined)).toBe('OTHER');
  });
});
