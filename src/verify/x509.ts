// Just enough X.509 for Intel's DCAP PKI (ECDSA P-256 with SHA-256 everywhere): certificates,
// CRLs, chain building to a pinned anchor, and signature checks with @noble/curves. We do this
// ourselves, next to dcap-qvl, to name each link in the report and to close dcap-qvl's gaps: it
// never authenticates CRLs, and in a browser it skips certificate validity periods.
import { p256 } from '@noble/curves/nist';
import { sha256 } from '@noble/hashes/sha2';
import { base64ToBytes, bytesEqual, bytesToHex } from './bytes.ts';
import { TAG, bitStringBytes, children, decodeOid, decodeTime, expectTag, integerHex, parseDer, type Tlv } from './der.ts';

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_P256 = '1.2.840.10045.3.1.7';
const OID_CN = '2.5.4.3';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';

export interface Extension {
  critical: boolean;
  value: Uint8Array;
}

export interface Certificate {
  raw: Uint8Array;
  tbs: Uint8Array;
  serial: string;
  issuer: Uint8Array;
  subject: Uint8Array;
  issuerCN: string;
  subjectCN: string;
  notBefore: Date;
  notAfter: Date;
  /** Uncompressed SEC1 P-256 point (65 B). */
  publicKey: Uint8Array;
  sigAlg: string;
  signature: Uint8Array;
  extensions: Map<string, Extension>;
  isCa: boolean;
}

export interface Crl {
  raw: Uint8Array;
  tbs: Uint8Array;
  issuer: Uint8Array;
  issuerCN: string;
  thisUpdate: Date;
  nextUpdate: Date | null;
  revokedSerials: string[];
  sigAlg: string;
  signature: Uint8Array;
}

export function pemToDers(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(pem); m; m = re.exec(pem)) out.push(base64ToBytes(m[1]!));
  return out;
}

function commonName(name: Tlv): string {
  for (const rdn of children(name)) {
    for (const atv of children(rdn)) {
      const [oid, val] = children(atv);
      if (oid && val && decodeOid(oid.value) === OID_CN) return new TextDecoder().decode(val.value);
    }
  }
  return '';
}

function algOid(t: Tlv | undefined): string {
  const [oid] = children(expectTag(t, TAG.SEQUENCE, 'AlgorithmIdentifier'));
  return decodeOid(expectTag(oid, TAG.OID, 'algorithm OID').value);
}

function parseSpki(t: Tlv | undefined): Uint8Array {
  const [alg, key] = children(expectTag(t, TAG.SEQUENCE, 'SubjectPublicKeyInfo'));
  const [kOid, curve] = children(expectTag(alg, TAG.SEQUENCE, 'SPKI algorithm'));
  if (decodeOid(expectTag(kOid, TAG.OID, 'key OID').value) !== OID_EC_PUBLIC_KEY) throw new Error('X.509: public key is not EC');
  if (decodeOid(expectTag(curve, TAG.OID, 'curve OID').value) !== OID_P256) throw new Error('X.509: public key is not P-256');
  const point = bitStringBytes(expectTag(key, TAG.BIT_STRING, 'public key'));
  if (point.length !== 65 || point[0] !== 0x04) throw new Error('X.509: expected an uncompressed P-256 point');
  return point;
}

export function parseCertificate(der: Uint8Array): Certificate {
  const [tbsT, sigAlgT, sigT] = children(expectTag(parseDer(der), TAG.SEQUENCE, 'Certificate'));
  const tbs = expectTag(tbsT, TAG.SEQUENCE, 'tbsCertificate');
  const f = children(tbs);
  let i = 0;
  if (f[0]?.tag === 0xa0) i++; // explicit version
  const serial = integerHex(expectTag(f[i++], TAG.INTEGER, 'serialNumber').value);
  i++; // signature algorithm inside tbs (must equal the outer one; checked below)
  const issuer = expectTag(f[i++], TAG.SEQUENCE, 'issuer');
  const [nb, na] = children(expectTag(f[i++], TAG.SEQUENCE, 'validity'));
  const subject = expectTag(f[i++], TAG.SEQUENCE, 'subject');
  const publicKey = parseSpki(f[i++]);
  const extensions = new Map<string, Extension>();
  for (; i < f.length; i++) {
    if (f[i]!.tag !== 0xa3) continue;
    const [list] = children(f[i]!);
    for (const ext of children(expectTag(list, TAG.SEQUENCE, 'extensions'))) {
      const parts = children(ext);
      const oid = decodeOid(expectTag(parts[0], TAG.OID, 'extension OID').value);
      const critical = parts.length === 3 && parts[1]!.tag === TAG.BOOLEAN && parts[1]!.value[0] !== 0;
      const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extension value').value;
      if (extensions.has(oid)) throw new Error(`X.509: duplicate extension ${oid}`);
      extensions.set(oid, { critical, value });
    }
  }
  const sigAlg = algOid(sigAlgT);
  if (algOid(f[f[0]?.tag === 0xa0 ? 2 : 1]) !== sigAlg) throw new Error('X.509: inner and outer signature algorithms differ');
  let isCa = false;
  const bc = extensions.get(OID_BASIC_CONSTRAINTS);
  if (bc) {
    const [flag] = children(parseDer(bc.value));
    isCa = flag?.tag === TAG.BOOLEAN && flag.value[0] !== 0;
  }
  return {
    raw: der,
    tbs: tbs.raw,
    serial,
    issuer: issuer.raw,
    subject: subject.raw,
    issuerCN: commonName(issuer),
    subjectCN: commonName(subject),
    notBefore: decodeTime(nb!),
    notAfter: decodeTime(na!),
    publicKey,
    sigAlg,
    signature: bitStringBytes(expectTag(sigT, TAG.BIT_STRING, 'signature')),
    extensions,
    isCa,
  };
}

export function parseCrl(der: Uint8Array): Crl {
  const [tbsT, sigAlgT, sigT] = children(expectTag(parseDer(der), TAG.SEQUENCE, 'CertificateList'));
  const tbs = expectTag(tbsT, TAG.SEQUENCE, 'tbsCertList');
  const f = children(tbs);
  let i = 0;
  if (f[0]?.tag === TAG.INTEGER) i++; // version
  const innerAlg = algOid(f[i++]);
  const issuer = expectTag(f[i++], TAG.SEQUENCE, 'CRL issuer');
  const thisUpdate = decodeTime(f[i++]!);
  let nextUpdate: Date | null = null;
  if (f[i] && (f[i]!.tag === TAG.UTC_TIME || f[i]!.tag === TAG.GENERALIZED_TIME)) nextUpdate = decodeTime(f[i++]!);
  const revokedSerials: string[] = [];
  if (f[i]?.tag === TAG.SEQUENCE) {
    for (const entry of children(f[i++]!)) {
      const [serial] = children(entry);
      revokedSerials.push(integerHex(expectTag(serial, TAG.INTEGER, 'revoked serial').value));
    }
  }
  const sigAlg = algOid(sigAlgT);
  if (innerAlg !== sigAlg) throw new Error('CRL: inner and outer signature algorithms differ');
  return {
    raw: der,
    tbs: tbs.raw,
    issuer: issuer.raw,
    issuerCN: commonName(issuer),
    thisUpdate,
    nextUpdate,
    revokedSerials,
    sigAlg,
    signature: bitStringBytes(expectTag(sigT, TAG.BIT_STRING, 'CRL signature')),
  };
}

/** ECDSA P-256 / SHA-256 over `message`; `derSignature` is an Ecdsa-Sig-Value. */
export function verifyEcdsaDer(message: Uint8Array, derSignature: Uint8Array, publicKey: Uint8Array, sigAlg = OID_ECDSA_SHA256): boolean {
  if (sigAlg !== OID_ECDSA_SHA256) return false;
  try {
    return p256.verify(derSignature, sha256(message), publicKey, { lowS: false, format: 'der' });
  } catch {
    return false;
  }
}

/** ECDSA P-256 / SHA-256 with a raw r ‖ s signature (quotes, QE reports, TCB info, QE identity). */
export function verifyEcdsaRaw(message: Uint8Array, rawSignature: Uint8Array, publicKey: Uint8Array): boolean {
  if (rawSignature.length !== 64) return false;
  try {
    return p256.verify(rawSignature, sha256(message), publicKey, { lowS: false, format: 'compact' });
  } catch {
    return false;
  }
}

export function fingerprint(der: Uint8Array): string {
  return bytesToHex(sha256(der));
}

function describe(c: Certificate): string {
  return c.subjectCN ? `"${c.subjectCN}"` : `serial ${c.serial}`;
}

function checkWindow(c: Certificate, now: Date): string | null {
  if (now < c.notBefore) return `certificate ${describe(c)} is not valid before ${c.notBefore.toISOString()}`;
  if (now > c.notAfter) return `certificate ${describe(c)} expired on ${c.notAfter.toISOString()}`;
  return null;
}

export interface ChainResult {
  ok: boolean;
  reason: string;
  /** The verified path, leaf first, ending with the anchor. */
  path: Certificate[];
}

/**
 * Verifies `certs` (leaf first; the anchor itself may be included at the end) up to the pinned
 * anchor at time `now`: issuer/subject chaining, signatures, validity windows, CA flags.
 */
export function verifyChain(certs: Certificate[], anchor: Certificate, now: Date, opts: { leafIsCa?: boolean } = {}): ChainResult {
  const chain = [...certs];
  const last = chain[chain.length - 1];
  if (last && bytesEqual(last.raw, anchor.raw)) chain.pop();
  const path = [...chain, anchor];
  const bad = (reason: string): ChainResult => ({ ok: false, reason, path });
  if (chain.length === 0) return bad('the chain holds no certificate below the root');
  // A CRL issuer chain starts at a CA; every other chain we verify ends in an end-entity certificate.
  if (chain[0]!.isCa !== !!opts.leafIsCa) return bad(`certificate ${describe(chain[0]!)} ${opts.leafIsCa ? 'is not' : 'is'} a CA certificate`);
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!;
    const issuer = chain[i + 1] ?? anchor;
    if (i > 0 && !c.isCa) return bad(`intermediate ${describe(c)} is not a CA certificate`);
    if (!bytesEqual(c.issuer, issuer.subject)) return bad(`certificate ${describe(c)} was not issued by ${describe(issuer)}`);
    if (!verifyEcdsaDer(c.tbs, c.signature, issuer.publicKey, c.sigAlg)) return bad(`signature on ${describe(c)} by ${describe(issuer)} is invalid`);
    const w = checkWindow(c, now);
    if (w) return bad(w);
  }
  if (!verifyEcdsaDer(anchor.tbs, anchor.signature, anchor.publicKey, anchor.sigAlg)) return bad('the root certificate is not self-signed');
  const w = checkWindow(anchor, now);
  if (w) return bad(w);
  return { ok: true, reason: `${path.map(describe).join(' → ')} verified at ${now.toISOString()}`, path };
}
