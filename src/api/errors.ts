// One place renders every error as `{"error", "code", "field"?}`. Unexpected errors become a
// generic 500 whose message never carries internal detail (it could hold a path or a secret).
import type { Context } from 'hono';
import { HttpError } from '../lib/http-error.ts';

export function errorResponse(err: unknown, c: Context, log: (msg: string) => void): Response {
  if (err instanceof HttpError) {
    return c.json(err.toJSON(), err.status as 400);
  }
  log(`internal error on ${c.req.method} ${new URL(c.req.url).pathname}: ${(err as Error)?.stack ?? String(err)}`);
  return c.json({ error: 'internal error', code: 'internal' }, 500);
}
