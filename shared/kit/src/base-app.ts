import express, { type Express, type RequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServiceMetrics } from './metrics';
import type { ServingState } from './server';

/**
 * Response headers of every answer (what helmet sets by default that matters for a JSON API and a
 * same-origin page): no MIME sniffing, no framing, scripts and styles only from this origin, no referrer.
 */
export const SECURITY_HEADERS: ReadonlyArray<[string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  [
    'Content-Security-Policy',
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  ],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
];

/** Largest JSON body either service accepts; above it: 413. */
export const BODY_LIMIT = '100kb';

/** `Cache-Control: no-store` for answers that describe the moment (health, readiness, metrics, discovery). */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

/**
 * An Express app with what both services share: no `x-powered-by`, JSON bodies up to 100 kB, an
 * optional request logger first (so every response is logged), then security headers and
 * `Connection: close` while draining (keep-alive clients move to other tasks before the server closes)
 * on every response, metrics and `GET /metrics`, `GET /healthz` (liveness, calls nothing) and
 * `GET /readyz` (503 while draining); the ops routes answer with `Cache-Control: no-store`.
 */
export function createBaseApp(
  state: ServingState,
  options: { requestLogger?: RequestHandler; metrics?: ServiceMetrics } = {},
): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (options.requestLogger) app.use(options.requestLogger);
  app.use((_req, res, next) => {
    for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
    if (state.draining) res.setHeader('Connection', 'close');
    next();
  });
  if (options.metrics) {
    app.use(options.metrics.middleware);
    app.get('/metrics', noStore, options.metrics.handler);
  }
  app.get('/healthz', noStore, (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', noStore, (_req, res) => {
    if (state.draining) res.status(503).json({ status: 'draining' });
    else res.json({ status: 'ready' });
  });
  app.use(express.json({ limit: BODY_LIMIT }));
  return app;
}

/** Request ids we accept from callers: short and printable, so logs cannot be forged or flooded. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * pino-http `genReqId`: reuse a caller's well-formed `x-request-id`, else make one; either way echo it
 * in the response so callers can correlate.
 */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}
