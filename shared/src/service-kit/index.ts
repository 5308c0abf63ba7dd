/**
 * What both services share besides discovery: problem+json errors, env parsing, the base app with
 * health routes, and the server lifecycle with drain. Never imports a logger implementation.
 */
export { createBaseApp, requestId, BODY_LIMIT, SECURITY_HEADERS } from './base-app';
export { ConfigError, envFields, parseEnv } from './config';
export { createServiceMetrics } from './metrics';
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
export { exitOnSignals, startServer } from './server';
export type { LifecycleLogger, RunningServer, ServingState, StartServerOptions } from './server';
export { fieldErrors, parseBody, requireJson } from './validation';
export type { FieldError } from './validation';
