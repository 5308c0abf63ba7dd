import {
  echoRequestBody,
  createBaseApp,
  createServiceMetrics,
  methodNotAllowed,
  notFound,
  parseBody,
  problemErrorHandler,
  requireJson,
  type ErrorLogger,
  type ServiceMetrics,
  type ServingState,
} from '@ecs-srv/service-kit';
import type { Express, RequestHandler } from 'express';

/** Request body of `POST /v1/echo` (the contract, shared with A). */
export const echoBody = echoRequestBody;

/** What service-b's app needs from the outside. */
export interface AppDeps {
  instanceId: string;
  state: ServingState;
  logger: ErrorLogger;
  /** Express middleware run before the routes (e.g. pino-http). */
  requestLogger?: RequestHandler;
  /** Prometheus metrics served on `/metrics`. @default a fresh registry */
  metrics?: ServiceMetrics;
}

/** service-b's HTTP API; never listens (see server startup in main.ts). */
export function createApp(deps: AppDeps): Express {
  const app = createBaseApp(deps.state, {
    requestLogger: deps.requestLogger,
    metrics: deps.metrics ?? createServiceMetrics('service-b', { defaultMetrics: false }),
  });
  const identity = { service: 'service-b', instance: deps.instanceId, pid: process.pid };

  app
    .route('/v1/whoami')
    .get((_req, res) => {
      res.json({ ...identity, time: new Date().toISOString() });
    })
    .all(methodNotAllowed(['GET']));

  app
    .route('/v1/echo')
    .post(requireJson, (req, res) => {
      const { message } = parseBody(echoBody, req.body);
      res.json({ message, instance: deps.instanceId });
    })
    .all(methodNotAllowed(['POST']));

  app.use(notFound);
  app.use(problemErrorHandler({ logger: deps.logger }));
  return app;
}
