import { DiscoveryError, UpstreamError } from '@ecs-srv/shared';
import {
  createBaseApp,
  createServiceMetrics,
  echoRequestBody,
  methodNotAllowed,
  noStore,
  notFound,
  parseBody,
  problemErrorHandler,
  requestId,
  requireJson,
  type ErrorLogger,
  type Problem,
  type ServiceMetrics,
  type ServingState,
} from '@ecs-srv/service-kit';
import express, { type Express, type Request, type RequestHandler } from 'express';
import path from 'node:path';
import type { CallContext, ServiceBApi } from './service-b-client';

const PUBLIC_DIR = path.resolve(__dirname, '../public');

/** Same rule as B's `POST /v1/echo` (one definition in the service kit): A rejects bad input itself. */
export const echoBody = echoRequestBody;

/** What service-a's app needs from the outside. */
export interface AppDeps {
  state: ServingState;
  logger: ErrorLogger;
  serviceB: ServiceBApi;
  /** The discovery client's view, for `GET /discovery`. */
  discovery: () => object;
  /** Requests per endpoint over the last minutes and discovery's timeline, for `GET /discovery/activity`. */
  activity?: () => object;
  requestLogger?: RequestHandler;
  metrics?: ServiceMetrics;
}

/** service-a's HTTP API: fixed routes only, never an open proxy. */
export function createApp(deps: AppDeps): Express {
  const app = createBaseApp(deps.state, {
    requestLogger: deps.requestLogger,
    metrics: deps.metrics ?? createServiceMetrics('service-a', { defaultMetrics: false }),
  });

  app
    .route('/api/whoami')
    .get(async (req, res) => {
      res.json(await deps.serviceB.whoami(callContext(req)));
    })
    .all(methodNotAllowed(['GET']));

  app
    .route('/api/echo')
    .post(requireJson, async (req, res) => {
      const { message } = parseBody(echoBody, req.body);
      res.json(await deps.serviceB.echo(message, callContext(req)));
    })
    .all(methodNotAllowed(['POST']));

  // The live discovery page: static files, no build step (public/ sits beside src/ and dist/).
  app.get('/', (_req, res) => res.sendFile(path.join(PUBLIC_DIR, 'index.html')));
  app.use('/ui', express.static(PUBLIC_DIR, { index: false, maxAge: 0 }));

  app
    .route('/discovery')
    .get(noStore, (_req, res) => {
      res.json(deps.discovery());
    })
    .all(methodNotAllowed(['GET']));

  const { activity } = deps;
  if (activity) {
    app
      .route('/discovery/activity')
      .get(noStore, (_req, res) => {
        res.json(activity());
      })
      .all(methodNotAllowed(['GET']));
  }

  app.use(notFound);
  app.use(problemErrorHandler({ logger: deps.logger, mapError: upstreamProblem }));
  return app;
}

/**
 * What A's call to B carries from A's caller: the request id, and a signal that aborts when the caller
 * goes away before A answered, so the call to B (and its socket) is cancelled instead of left running.
 */
function callContext(req: Request): CallContext {
  const controller = new AbortController();
  const res = req.res!;
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client closed the connection'));
  });
  return { requestId: requestIdOf(req), signal: controller.signal };
}

/** The request id pino-http assigned (a valid caller x-request-id, or a new one); made here without it. */
function requestIdOf(req: Request): string {
  const id = (req as Request & { id?: unknown }).id;
  if (typeof id === 'string' || typeof id === 'number') return String(id);
  return requestId(req, req.res!);
}

/** Discovery failures → 503; B unreachable or answering garbage → 502; B too slow → 504. */
export function upstreamProblem(err: unknown): Problem | undefined {
  if (err instanceof DiscoveryError) {
    return {
      type: '/problems/discovery-failed',
      title: 'Service B cannot be discovered',
      status: 503,
      detail: err.message,
      code: err.code,
    };
  }
  if (err instanceof UpstreamError && err.kind === 'cancelled') {
    // Nobody is left to read this; the status tells logs and metrics the caller left (nginx's 499).
    return {
      type: '/problems/client-closed',
      title: 'The client closed the connection',
      status: 499,
      detail: err.message,
      code: err.code,
    };
  }
  if (err instanceof UpstreamError) {
    const timeout = err.kind === 'timeout';
    return {
      type: timeout ? '/problems/upstream-timeout' : '/problems/upstream-failed',
      title: timeout ? 'Service B did not answer in time' : 'Service B failed',
      status: timeout ? 504 : 502,
      detail: err.message,
      code: err.code,
      endpoint: err.endpoint,
    };
  }
  return undefined;
}
