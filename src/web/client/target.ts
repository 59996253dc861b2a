// Which app the verifier page checks, from the page's own address (mirrors csp.ts
// verifierConnectSources, which allows exactly the origins this resolves to):
//   /<name>/.well-known/tee-attestation   on the daemon's origin → that origin, <name>
//   /_webhost/verify/<name>                on the daemon's origin → that origin, <name>
//   /.well-known/tee-attestation           on the project's own origin <name>.<domain> → <domain>, <name>
//   /_webhost/verify?url=<app url>         anywhere → what the URL names (as `webhost verify` reads it)
// Pure: takes a URL, so tests run it in Node.
import { isProjectName, parseVerifyTarget, type VerifyTarget } from '../../verify/endpoints.ts';

export type PageTarget =
  | { kind: 'daemon'; base: string; name: string; appUrl: string }
  | { kind: 'document'; url: string }
  | { kind: 'ask'; reason: string | null }
  | { kind: 'unresolved'; reason: string };

export interface PageOptions {
  pccs?: string;
  rpc?: string;
  kms?: string;
}

function fromTarget(t: VerifyTarget): PageTarget {
  return t.kind === 'daemon' ? { kind: 'daemon', base: t.base, name: t.name, appUrl: `${t.base}/${t.name}/` } : t;
}

export function resolveTarget(page: URL): PageTarget {
  const parts = page.pathname.split('/').filter(Boolean);
  if (parts[0] === '_webhost' && parts[1] === 'verify') {
    if (parts.length === 3 && isProjectName(parts[2]!)) return { kind: 'daemon', base: page.origin, name: parts[2]!, appUrl: `${page.origin}/${parts[2]}/` };
    const url = page.searchParams.get('url');
    if (!url) return { kind: 'ask', reason: null };
    try {
      return fromTarget(parseVerifyTarget(url.trim()));
    } catch (e) {
      return { kind: 'ask', reason: (e as Error).message };
    }
  }
  if (parts.length === 3 && parts[1] === '.well-known' && parts[2] === 'tee-attestation' && isProjectName(parts[0]!)) {
    return { kind: 'daemon', base: page.origin, name: parts[0]!, appUrl: `${page.origin}/${parts[0]}/` };
  }
  if (parts.length === 2 && parts[0] === '.well-known' && parts[1] === 'tee-attestation') {
    try {
      const t = parseVerifyTarget(`${page.origin}/`);
      if (t.kind === 'daemon') return { kind: 'daemon', base: t.base, name: t.name, appUrl: `${page.origin}/` };
    } catch {
      // A project's own port: the address does not say which daemon or project this is.
    }
    return { kind: 'unresolved', reason: 'This address does not name the project and its daemon (a project\'s own port). Open the verifier from the daemon\'s address: https://<daemon>/<name>/.well-known/tee-attestation, or run webhost verify <app url>.' };
  }
  return { kind: 'unresolved', reason: 'This is not a verifier page address.' };
}

const HTTP_URL = /^https?:\/\/[^\s]+$/i;

/** `pccs`, `rpc` and `kms` from the page's query, where well-formed. */
export function pageOptions(page: URL): PageOptions {
  const o: PageOptions = {};
  const pccs = page.searchParams.get('pccs');
  const rpc = page.searchParams.get('rpc');
  const kms = page.searchParams.get('kms');
  if (pccs && HTTP_URL.test(pccs)) o.pccs = pccs;
  if (rpc && HTTP_URL.test(rpc)) o.rpc = rpc;
  if (kms && /^0x[0-9a-fA-F]{40}$/.test(kms)) o.kms = kms;
  return o;
}
