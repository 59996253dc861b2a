// PCCS collateral: fetching it (PCCS/PCS API v4, with an injectable fetch) and reading the parts
// our own checks need. We fetch ourselves rather than through dcap-qvl because its 0.3.9 fetcher
// asks for the wrong PCK CRL (processor CA for platform-issued PCKs) and re-serialises the signed
// tcbInfo/enclaveIdentity JSON, which only works while Intel's key order stays compact.
import type { Collateral } from './bundle.ts';
import { bytesToHex, bytesToUtf8, hexToBytes, isHex } from './bytes.ts';
import type { PckExtension } from './pck.ts';

export type FetchLike = (url: string) => Promise<{ ok: boolean; status: number; headers: { get(name: string): string | null }; arrayBuffer(): Promise<ArrayBuffer> }>;

export interface TcbInfoDoc {
  id: string;
  version: number;
  issueDate: string;
  nextUpdate: string;
  fmspc: string;
  pceId: string;
  tcbEvaluationDataNumber?: number;
}

export interface QeIdentityDoc {
  id: string;
  version: number;
  issueDate: string;
  nextUpdate: string;
  tcbEvaluationDataNumber?: number;
}

export function parseTcbInfo(text: string): TcbInfoDoc {
  const o = JSON.parse(text) as TcbInfoDoc;
  if (typeof o !== 'object' || o === null || typeof o.issueDate !== 'string' || typeof o.nextUpdate !== 'string' || typeof o.fmspc !== 'string') {
    throw new Error('tcb_info is not a TCB info document');
  }
  return o;
}

export function parseQeIdentity(text: string): QeIdentityDoc {
  const o = JSON.parse(text) as QeIdentityDoc;
  if (typeof o !== 'object' || o === null || typeof o.issueDate !== 'string' || typeof o.nextUpdate !== 'string') {
    throw new Error('qe_identity is not a QE identity document');
  }
  return o;
}

/** CRLs travel as hex (PCCS) in the collateral object; tolerate a number array too, as dcap-qvl does. */
export function crlBytes(v: string | number[] | Uint8Array): Uint8Array {
  if (typeof v === 'string') return hexToBytes(v);
  return Uint8Array.from(v);
}

/**
 * The raw text of the value of a top-level key in a JSON object, exactly as served. The TCB info
 * and QE identity signatures cover these bytes, so they must never be re-serialised.
 */
export function rawJsonMember(body: string, key: string): string {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  if (typeof parsed !== 'object' || parsed === null || !(key in parsed)) throw new Error(`response has no "${key}"`);
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '"') {
      // A key at depth 1: read it whole and compare.
      const end = findStringEnd(body, i);
      const name = JSON.parse(body.slice(i, end + 1)) as string;
      let j = end + 1;
      while (/\s/.test(body[j] ?? '')) j++;
      if (depth === 1 && name === key && body[j] === ':') {
        j++;
        while (/\s/.test(body[j] ?? '')) j++;
        const stop = valueEnd(body, j);
        return body.slice(j, stop);
      }
      i = end;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  throw new Error(`response has no top-level "${key}"`);
}

function findStringEnd(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i;
  }
  throw new Error('unterminated JSON string');
}

function valueEnd(s: string, start: number): number {
  if (s[start] === '"') return findStringEnd(s, start) + 1;
  if (s[start] !== '{' && s[start] !== '[') {
    let i = start;
    while (i < s.length && !/[,}\]\s]/.test(s[i]!)) i++;
    return i;
  }
  let depth = 0;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (c === '"') i = findStringEnd(s, i);
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  throw new Error('unterminated JSON value');
}

function baseUrl(pccsUrl: string): string {
  return pccsUrl.replace(/\/+$/, '').replace(/\/(sgx|tdx)\/certification\/v4$/, '');
}

const INTEL_ROOT_CRL_URL = 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der';

/** A CRL body may come as DER or as hex text depending on the server; return hex. */
function crlHex(body: Uint8Array): string {
  if (body[0] === 0x30) return bytesToHex(body);
  const text = bytesToUtf8(body).trim();
  if (isHex(text) && text.length > 0) return text.toLowerCase();
  throw new Error('CRL response is neither DER nor hex');
}

/** Fetches TDX collateral for a quote's platform from a PCCS (or Intel PCS) with API v4. */
export async function fetchCollateral(pccsUrl: string, pck: PckExtension, fetchFn: FetchLike): Promise<Collateral> {
  const base = baseUrl(pccsUrl);
  const fmspc = bytesToHex(pck.fmspc).toUpperCase();
  const ca = pck.ca === 'processor' ? 'processor' : 'platform';
  const get = async (url: string) => {
    const r = await fetchFn(url);
    if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
    return { body: new Uint8Array(await r.arrayBuffer()), headers: r.headers };
  };
  const header = (h: { get(n: string): string | null }, ...names: string[]): string => {
    for (const n of names) {
      const v = h.get(n);
      if (v) return decodeURIComponent(v);
    }
    throw new Error(`missing response header ${names.join(' or ')}`);
  };

  const pckCrl = await get(`${base}/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`);
  const tcb = await get(`${base}/tdx/certification/v4/tcb?fmspc=${fmspc}`);
  const qe = await get(`${base}/tdx/certification/v4/qe/identity?update=standard`);
  let rootCrl: Uint8Array;
  try {
    rootCrl = (await get(`${base}/sgx/certification/v4/rootcacrl`)).body;
  } catch {
    rootCrl = (await get(INTEL_ROOT_CRL_URL)).body;
  }
  const tcbBody = bytesToUtf8(tcb.body);
  const qeBody = bytesToUtf8(qe.body);
  return {
    pck_crl_issuer_chain: header(pckCrl.headers, 'SGX-PCK-CRL-Issuer-Chain'),
    root_ca_crl: crlHex(rootCrl),
    pck_crl: crlHex(pckCrl.body),
    tcb_info_issuer_chain: header(tcb.headers, 'TCB-Info-Issuer-Chain', 'SGX-TCB-Info-Issuer-Chain'),
    tcb_info: rawJsonMember(tcbBody, 'tcbInfo'),
    tcb_info_signature: String((JSON.parse(tcbBody) as { signature: unknown }).signature),
    qe_identity_issuer_chain: header(qe.headers, 'SGX-Enclave-Identity-Issuer-Chain'),
    qe_identity: rawJsonMember(qeBody, 'enclaveIdentity'),
    qe_identity_signature: String((JSON.parse(qeBody) as { signature: unknown }).signature),
  };
}
