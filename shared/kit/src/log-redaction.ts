/**
 * pino `redact` paths for pino-http's request and response records: credentials a caller sends
 * (cookies, bearer tokens, proxy credentials) and cookies a response sets never reach the logs.
 * Use as `pino({ redact: { paths: [...LOG_REDACT_PATHS], censor: '[Redacted]' } })`.
 */
export const LOG_REDACT_PATHS: readonly string[] = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
];
