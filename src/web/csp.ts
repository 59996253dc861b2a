// The Content-Security-Policy of each page, and the other headers every page carries. Scripts and
// styles come only from the daemon's own bundles (no inline code, no eval: there is no
// 'unsafe-*' anywhere); Trusted Types with no policy make every HTML-parsing DOM sink (innerHTML,
// document.write, …) throw, so a string can only ever reach the page as text. connect-src lists
// exactly the origins a page fetches, per request: see connectSources() for the verifier page.
import { parseVerifyTarget } from '../verify/endpoints.ts';

/** The git host API the verifier page asks for a commit's tree (see client/source-hosts.ts). */
export const GIT_HOST_APIS = ['https://api.github.com'] as const;

export interface PagePolicy {
  /** CSP source expressions the page may fetch from; empty means none. */
  connect: string[];
  /** Whether the page has a form that navigates (the standalone verifier's URL form). */
  formAction: 'self' | 'none';
}

export function contentSecurityPolicy(p: PagePolicy): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src ${p.connect.length ? [...new Set(p.connect)].join(' ') : "'none'"}`,
    `form-action ${p.formAction === 'self' ? "'self'" : "'none'"}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; ');
}

export function pageHeaders(p: PagePolicy, cache: 'no-cache' | 'no-store'): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': contentSecurityPolicy(p),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cache-control': cache,
  };
}

const HOST_PORT = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::\d{1,5})?$/;

/**
 * The origin of an http(s) URL as a CSP source, or null. URL parsing normalises it; the pattern
 * then makes sure nothing but scheme, host and port can reach the header.
 */
export function originSource(text: string | undefined): string | null {
  if (!text) return null;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return null;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
  const hostPort = u.host.toLowerCase();
  const ok = HOST_PORT.test(hostPort) || /^\[[0-9a-f:.]+\](?::\d{1,5})?$/.test(hostPort);
  return ok ? `${u.protocol}//${hostPort}` : null;
}

export interface VerifierRequest {
  /** The project, when the page is the one of a project (`/_webhost/verify/<name>`, or its `.well-known` alias). */
  name?: string;
  /** The Host header as received. */
  host?: string;
  /** Query parameters the page reads: `url` (standalone), `pccs`, `rpc`. */
  query: (key: string) => string | undefined;
}

/**
 * What the verifier page will fetch, mirroring client/target.ts:
 * - a project's page reached on the daemon's origin (`/<name>/.well-known/tee-attestation`) fetches
 *   the same origin; reached on the project's own origin (`<name>.<domain>`), it fetches the
 *   daemon's origin `<domain>` (the public endpoints are CORS-open), named here without a scheme
 *   so it keeps the page's;
 * - the standalone page fetches the origin of the `url` it was given, and nothing when it has none;
 * - every page may ask the git host's API for the source's tree, a PCCS for collateral (`pccs`)
 *   and a chain RPC for the on-chain checks (`rpc`), when those were given.
 */
export function verifierConnectSources(r: VerifierRequest): string[] {
  const out: string[] = [];
  if (r.name !== undefined) {
    const host = (r.host ?? '').toLowerCase();
    const parent = host.startsWith(`${r.name}.`) ? host.slice(r.name.length + 1) : '';
    out.push(parent && HOST_PORT.test(parent) ? parent : "'self'");
  } else {
    const url = r.query('url');
    if (url) {
      try {
        const t = parseVerifyTarget(url);
        const o = originSource(t.kind === 'daemon' ? t.base : t.url);
        if (o) out.push(o);
      } catch {
        // Not a URL the page can use: it says so and fetches nothing.
      }
    }
  }
  if (!out.length) return [];
  out.push(...GIT_HOST_APIS);
  for (const key of ['pccs', 'rpc']) {
    const o = originSource(r.query(key));
    if (o) out.push(o);
  }
  return out;
}
