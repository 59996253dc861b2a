// Where a verifier finds the evidence of an app: the public endpoint paths (shapes in
// api-shapes.ts) and how an app URL a user was given maps to its daemon and project name. Pure, so
// the CLI and the verifier page resolve URLs the same way.

const NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NONCE_RE = /^(?:[0-9a-fA-F]{2}){1,64}$/;

export const isProjectName = (s: string): boolean => NAME_RE.test(s);
/** A nonce the daemon accepts: hex, whole bytes, 1 to 64 of them. */
export const isNonce = (s: string): boolean => NONCE_RE.test(s);

const seg = (name: string) => encodeURIComponent(name);

export function verificationPath(name: string, nonce?: string | null): string {
  return `/_api/verification/${seg(name)}${nonce ? `?nonce=${nonce}` : ''}`;
}

export function attestPath(name: string, nonce?: string | null): string {
  return `/_api/attest/${seg(name)}${nonce ? `?nonce=${nonce}` : ''}`;
}

export function auditPath(name: string, q: { consistency?: number; inclusion?: number } = {}): string {
  const params: string[] = [];
  if (q.consistency !== undefined) params.push(`consistency=${q.consistency}`);
  if (q.inclusion !== undefined) params.push(`inclusion=${q.inclusion}`);
  return `/_api/projects/${seg(name)}/audit${params.length ? `?${params.join('&')}` : ''}`;
}

/**
 * What a URL points at:
 * - `daemon`: a project on a daemon (`base` is the daemon's origin, `name` the project), from an app
 *   URL (`https://host/<name>/…`, `https://<name>.<domain>/`) or a verification endpoint URL;
 * - `document`: a bundle saved somewhere else (a `.json` URL), fetched as is.
 */
export type VerifyTarget = { kind: 'daemon'; base: string; name: string; nonce: string | null } | { kind: 'document'; url: string };

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

export function parseVerifyTarget(text: string): VerifyTarget {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error(`${JSON.stringify(text)} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`${u.protocol}// URLs are not supported (http or https)`);
  const parts = u.pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  const named = (name: string, base: string, nonce: string | null = null): VerifyTarget => {
    if (!isProjectName(name)) throw new Error(`${JSON.stringify(name)} is not a project name`);
    return { kind: 'daemon', base, name, nonce };
  };
  if (parts[0] === '_api') {
    if (parts[1] === 'verification' && parts.length === 3) return named(parts[2]!, u.origin, u.searchParams.get('nonce'));
    throw new Error(`${u.pathname} is not a verification endpoint (/_api/verification/<name>)`);
  }
  if (parts.length && parts[parts.length - 1]!.endsWith('.json')) return { kind: 'document', url: u.href };
  if (parts.length) return named(parts[0]!, u.origin);
  // https://<name>.<domain>/: the project's own origin; the API lives on the base domain.
  const labels = u.hostname.split('.');
  const isIp = IPV4.test(u.hostname) || u.hostname.startsWith('[');
  if (isIp || labels.length < 2 || (labels.length === 2 && labels[1] !== 'localhost')) {
    throw new Error(`cannot tell the project from ${u.href}: give https://<host>/<name>/ or https://<name>.<domain>/`);
  }
  const base = `${u.protocol}//${labels.slice(1).join('.')}${u.port ? `:${u.port}` : ''}`;
  return named(labels[0]!, base);
}
