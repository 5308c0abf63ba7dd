import type { RequestHandler } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A service's Prometheus registry with HTTP request metrics. */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Counts and times every response by method, route pattern and status. Mount before the routes. */
  readonly middleware: RequestHandler;
  /** `GET /metrics` handler: Prometheus text format. */
  readonly handler: RequestHandler;
}

/** Methods that get their own `method` label (RFC 9110 §9 plus PATCH); any other of Node's 34 is `OTHER`. */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/** The `method` label of a request: a known method as is, anything else `OTHER` (bounded cardinality). */
export function methodLabel(method: string | undefined): string {
  return method !== undefined && KNOWN_METHODS.has(method) ? method : 'OTHER';
}

/**
 * One registry per app (not prom-client's global one), so several apps can live in one process (tests,
 * `npm start`). Route labels use the matched pattern, never the raw path, and methods outside
 * `KNOWN_METHODS` count as `OTHER`, so label cardinality stays bounded.
 */
export function createServiceMetrics(
  service: string,
  options: { defaultMetrics?: boolean } = {},
): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const middleware: RequestHandler = (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const labels = {
        method: methodLabel(req.method),
        route: String(route),
        status: String(res.statusCode),
      };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    });
    next();
  };
  const handler: RequestHandler = (_req, res, next) => {
    registry.metrics().then((text) => {
      res.type(registry.contentType).send(text);
    }, next);
  };
  return { registry, middleware, handler };
}
