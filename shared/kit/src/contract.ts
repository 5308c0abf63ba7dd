import { z } from 'zod';

/**
 * The body of `POST /v1/echo` on B and of `POST /api/echo` on A (which validates it itself before it
 * forwards anything): one definition, so the two services cannot drift apart.
 */
export const echoRequestBody = z.strictObject({
  message: z.string().min(1).max(1024),
});
