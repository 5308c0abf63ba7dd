import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { HttpProblem } from './problem';

/** One invalid field of a request body: its dotted path (`(root)` for the body itself) and why. */
export interface FieldError {
  field: string;
  message: string;
}

/** Flattens zod issues into `{field, message}` pairs naming each bad field. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)',
    message: issue.message,
  }));
}

/** Parses `body` with `schema`, or throws a 400 HttpProblem naming every bad field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error);
  throw new HttpProblem({
    type: '/problems/validation-error',
    title: 'Invalid request body',
    status: 400,
    detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  });
}

/** Rejects a request whose body is not `application/json` with 415 (before anything parses it). */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (req.is('application/json')) {
    next();
    return;
  }
  next(
    new HttpProblem({
      type: '/problems/unsupported-media-type',
      title: 'Unsupported Media Type',
      status: 415,
      detail: `Content-Type must be application/json, got ${req.headers['content-type'] ?? 'none'}`,
    }),
  );
};
