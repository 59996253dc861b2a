// Small typed readers for a parsed compose document. Every failure is a 400 that names the key
// path (`services.web.environment[2]`), so the developer can find it in the file.
import { badRequest, HttpError, unprocessable } from '../../../lib/http-error.ts';

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function invalid(field: string, message: string): HttpError {
  return badRequest('invalid_compose', `'${field}' ${message}`, field);
}

/** A key we understand and refuse on policy grounds (privileges, host access, escapes). */
export function forbidden(field: string, message: string): HttpError {
  return unprocessable('compose_forbidden', `'${field}' ${message}`, field);
}

/** A compose key we do not implement: refused loudly rather than silently ignored. */
export function unsupported(field: string, message = 'is not supported by this daemon'): HttpError {
  return unprocessable('compose_unsupported', `'${field}' ${message}`, field);
}

export function obj(v: unknown, field: string): Obj {
  if (!isObj(v)) throw invalid(field, 'must be a mapping');
  return v;
}

export function str(v: unknown, field: string): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') throw invalid(field, 'must be a string');
  if (v.includes('\0')) throw invalid(field, 'contains a NUL byte');
  return v;
}

export function bool(v: unknown, field: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalid(field, 'must be true or false');
}

export function int(v: unknown, field: string, min: number, max: number): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw invalid(field, `must be an integer from ${min} to ${max}`);
  return n;
}

export function list(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(field, 'must be a list');
  return v;
}

/** A string or a list of strings (compose allows both for command, dns, tmpfs, env_file, ...). */
export function strOrList(v: unknown, field: string): string[] {
  if (typeof v === 'string') return [v];
  return list(v, field).map((x, i) => str(x, `${field}[${i}]`));
}

/**
 * The "list of KEY=VALUE or mapping" form (environment, labels, build args, extra_hosts).
 * A bare KEY in the list (or KEY: null) gives null: the caller decides what that means.
 */
export function keyValues(v: unknown, field: string, sep: RegExp = /=/): Array<{ key: string; value: string | null; field: string }> {
  if (isObj(v)) {
    return Object.entries(v).map(([key, value]) => ({
      key,
      value: value === null || value === undefined ? null : str(value, `${field}.${key}`),
      field: `${field}.${key}`,
    }));
  }
  return list(v, field).map((item, i) => {
    const f = `${field}[${i}]`;
    const s = str(item, f);
    const m = sep.exec(s);
    if (!m) return { key: s, value: null, field: f };
    return { key: s.slice(0, m.index), value: s.slice(m.index + m[0].length), field: f };
  });
}
