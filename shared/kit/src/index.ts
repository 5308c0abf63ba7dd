/**
 * What both services share besides discovery: problem+json errors, env parsing, the base app with
 * health routes, and the server lifecycle with drain. Never imports a logger implementation.
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
export { fieldErrors, parseBody, requireJson } from './validation';
export type { FieldError } from './validation';
