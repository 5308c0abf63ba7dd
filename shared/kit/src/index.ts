/**
 * What both services share besides discovery: `runService` (a service's whole start-up: config, pino
 * logger, signals and drain), problem+json errors, env parsing, the base app with health routes, and the
 * server lifecycle with drain. Only run-service.ts imports a logger implementation (pino).
 */
export { createBaseApp, noStore, requestId, BODY_LIMIT, SECURITY_HEADERS } from './base-app';
export { LOG_REDACT_PATHS } from './log-redaction';
export { ConfigError, envFields, parseEnv } from './config';
export { createServiceMetrics, methodLabel } from './metrics';
export type { ServiceMetrics } from './metrics';
export {
  HttpProblem,
  methodNotAllowed,
  notFound,
  problemErrorHandler,
  sendProblem,
  PROBLEM_CONTENT_TYPE,
} from './problem';
export type { ErrorLogger, Problem, ProblemMapper } from './problem';
export { announceListening, clientErrorResponse, exitOnSignals, startServer } from './server';
export type {
  LifecycleLogger,
  RunningServer,
  ServerLogger,
  ServingState,
  StartServerOptions,
} from './server';
export { runService } from './run-service';
export type { RunServiceOptions, ServiceConfig, ServiceContext, ServiceParts } from './run-service';
export { fieldErrors, parseBody, requireJson } from './validation';
export type { FieldError } from './validation';
export { echoRequestBody } from './contract';
