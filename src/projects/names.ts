// Project names are DNS labels, because a project is also reachable as `<name>.<base domain>`,
// and they become path segments, folder names and log origins.
import { badRequest } from '../lib/http-error.ts';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Names that would collide with the daemon's own hosts or pages. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['api', 'admin', 'www', 'webhost', 'verify', 'assets', 'static', 'localhost']);

export function validateName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || value === '') throw badRequest('invalid_name', `'${field}' is required: a DNS label of a-z, 0-9 and '-'`, field);
  if (value.length > 63) throw badRequest('invalid_name', `'${field}' is longer than 63 characters`, field);
  if (!LABEL.test(value)) {
    throw badRequest('invalid_name', `'${field}' must be a DNS label: lowercase a-z, 0-9 and '-', not starting or ending with '-'`, field);
  }
  if (RESERVED_NAMES.has(value)) throw badRequest('reserved_name', `'${value}' is reserved by the daemon`, field);
  return value;
}

/** A non-throwing check, for routing (a path segment that is not a valid name is never a project). */
export function isValidName(value: string): boolean {
  return value.length <= 63 && LABEL.test(value) && !RESERVED_NAMES.has(value);
}
