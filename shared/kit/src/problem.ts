import type { ErrorRequestHandler, RequestHandler, Response } from 'express';

/** RFC 9457 problem details, as every error response of both services carries them. */
export interface Problem {
  /** URI reference naming the problem type (relative: resolved against the service's base URL). */
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Machine-readable code where one exists (e.g. a DiscoveryError code). */
  code?: string;
  [extension: string]: unknown;
}

/** Media type of every error body (RFC 9457 §3). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Error that carries its problem details: throw it from a handler and the error middleware answers it. */
export class HttpProblem extends Error {
  /** The problem details sent to the client. */
  readonly problem: Problem;

  /** @param problem what the client is told. */
  constructor(problem: Problem, options?: { cause?: unknown }) {
    super(problem.detail, options);
    this.name = 'HttpProblem';
    this.problem = problem;
  }
}

/** Sends `problem` as `application/problem+json` with its status. */
export function sendProblem(res: Response, problem: Problem): void {
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

/** Catch-all for unknown routes: 404 problem+json. Register after every route. */
export const notFound: RequestHandler = (req, res) => {
  sendProblem(res, {
    type: '/problems/not-found',
    title: 'Not Found',
    status: 404,
    detail: `No route for ${req.method} ${req.path}`,
  });
};

/** Answers 405 with an `Allow` header: mount with `.all()` after a path's real methods. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  const allow = allowed.join(', ');
  return (req, res) => {
    res.setHeader('Allow', allow);
    sendProblem(res, {
      type: '/problems/method-not-allowed',
      title: 'Method Not Allowed',
      status: 405,
      detail: `${req.method} is not allowed here; use ${allow}`,
    });
  };
}

/** Maps an error to a problem, or returns undefined to fall through to the generic mapping. */
export type ProblemMapper = (err: unknown) => Problem | undefined;

/** Minimal logger the error middleware reports unexpected errors to. */
export interface ErrorLogger {
  error(obj: object, msg?: string): void;
}

/** Body-parser failures (`err.type`, set by express.json) and their answers. */
const BODY_ERRORS: Record<string, { type: string; title: string; status: number }> = {
  'entity.parse.failed': { type: '/problems/malformed-json', title: 'Malformed JSON', status: 400 },
  'entity.too.large': { type: '/problems/payload-too-large', title: 'Payload Too Large', status: 413 },
  'encoding.unsupported': {
    type: '/problems/unsupported-encoding',
    title: 'Unsupported Content-Encoding',
    status: 415,
  },
  'charset.unsupported': { type: '/problems/unsupported-charset', title: 'Unsupported Charset', status: 415 },
  'request.aborted': { type: '/problems/request-aborted', title: 'Request Aborted', status: 400 },
  'request.size.invalid': { type: '/problems/bad-request', title: 'Bad Request', status: 400 },
};

function bodyProblem(err: unknown): Problem | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { type, message, status, expose } = err as {
    type?: unknown;
    message?: unknown;
    status?: unknown;
    expose?: unknown;
  };
  const known = typeof type === 'string' ? BODY_ERRORS[type] : undefined;
  // body-parser's messages are safe to show ("request entity too large", JSON.parse's position text).
  if (known) return { ...known, detail: typeof message === 'string' ? message : known.title };
  // Other client errors raised by Express's stack as http-errors (e.g. a body that says gzip but is
  // not): `expose` marks their message as meant for the client.
  if (expose === true && typeof status === 'number' && status >= 400 && status < 500) {
    return {
      type: '/problems/bad-request',
      title: STATUS_TEXT[status] ?? 'Bad Request',
      status,
      detail: typeof message === 'string' ? message : 'The request could not be processed',
    };
  }
  return undefined;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
};

/**
 * The one error middleware, registered last: HttpProblem as is, then `mapError` (e.g. discovery and
 * upstream failures), then body-parser errors; anything else is a 500 whose details stay in the log.
 */
export function problemErrorHandler(options: {
  logger: ErrorLogger;
  mapError?: ProblemMapper;
}): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const problem =
      (err instanceof HttpProblem ? err.problem : undefined) ?? options.mapError?.(err) ?? bodyProblem(err);
    if (problem) {
      sendProblem(res, problem);
      return;
    }
    options.logger.error({ err }, 'unhandled error');
    sendProblem(res, {
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: 'The server failed to handle this request',
    });
  };
}
