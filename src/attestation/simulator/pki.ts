// The simulator's development PKI, shaped like Intel's SGX/TDX provisioning PKI so DCAP verifiers
// walk it the same way: a root CA; a "PCK Platform CA" under it; a PCK leaf certificate carrying
// the Intel SGX extension; and a TCB signing certificate that signs TCB info and QE identity.
// Every name says SIMULATED: nothing here may pass for Intel. Keys come from the seed
// (derive.ts); the issued certificates are persisted so the root's fingerprint survives restarts.

import { X509Certificate, randomBytes } from 'node:crypto';
import path from 'node:path';
import { bytesEqual, hexToBytes } from '../hex.ts';
import { deriveBytes, deriveP256Key, type P256Key } from './derive.ts';
import { CPU_SVN, FMSPC, PCE_ID, PCE_SVN } from './platform.ts';
import { SGX_EXTENSION_OID, sgxExtensionValue } from './sgx-extension.ts';
import { PKI_FILE, readJsonFile, writeFileAtomic } from './state.ts';
import { ext, issueCertificate, keyIdentifier, toPem, type DistinguishedName } from './x509.ts';

const ORG = 'dstack-webhost simulator - not Intel';
export const PKI_NAMES = {
  root: { commonName: 'dstack-webhost SIMULATED SGX Root CA', organization: ORG },
  // "Platform" in the CA name is what DCAP tooling looks for to fetch the CRL with ca=platform.
  platformCa: { commonName: 'dstack-webhost SIMULATED SGX PCK Platform CA', organization: ORG },
  pck: { commonName: 'dstack-webhost SIMULATED SGX PCK Certificate', organization: ORG },
  tcbSigning: { commonName: 'dstack-webhost SIMULATED SGX TCB Signing', organization: ORG },
} as const satisfies Record<string, DistinguishedName>;

export type PkiRole = keyof typeof PKI_NAMES;
const ROLES: PkiRole[] = ['root', 'platformCa', 'pck', 'tcbSigning'];
const DAY = 86_400_000;
/** Certificates are reissued (same keys, so the same root key) when one would expire this soon. */
const RENEW_MARGIN_MS = 60 * DAY;

export interface IssuedCert {
  der: Uint8Array;
  pem: string;
  name: DistinguishedName;
  key: P256Key;
  /** Subject key identifier, the authority key identifier of what this certificate signs. */
  keyId: Uint8Array;
}

export type Pki = Record<PkiRole, IssuedCert> & {
  /** Platform identity bound into the PCK certificate (PPID) and the quote header (QE ID). */
  ppid: Uint8Array;
  qeId: Uint8Array;
};

interface PkiFile {
  version: 1;
  certificates: Record<PkiRole, string>;
}

function platformIdentity(seed: Uint8Array) {
  return {
    ppid: deriveBytes(seed, 'ppid', 16),
    qeId: deriveBytes(seed, 'qe-id', 16),
    platformInstanceId: deriveBytes(seed, 'platform-instance-id', 16),
  };
}

function deriveKeys(seed: Uint8Array): Record<PkiRole, P256Key> {
  return {
    root: deriveP256Key(seed, 'pki/root-ca'),
    platformCa: deriveP256Key(seed, 'pki/pck-platform-ca'),
    pck: deriveP256Key(seed, 'pki/pck-leaf'),
    tcbSigning: deriveP256Key(seed, 'pki/tcb-signing'),
  };
}

function serial(): Uint8Array {
  const b = new Uint8Array(randomBytes(16));
  b[0] = (b[0]! & 0x7f) | 0x01; // positive, no leading zero byte
  return b;
}

function issueAll(seed: Uint8Array, keys: Record<PkiRole, P256Key>, now: Date): Record<PkiRole, Uint8Array> {
  const id = platformIdentity(seed);
  const kid = (r: PkiRole) => keyIdentifier(keys[r].publicKey);
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - DAY);
  const years = (n: number) => new Date(notBefore.getTime() + n * 365 * DAY);
  const issue = (role: PkiRole, issuer: PkiRole, validYears: number, extra: ReturnType<typeof ext.subjectKeyId>[]) =>
    issueCertificate({
      serial: serial(),
      issuer: PKI_NAMES[issuer],
      subject: PKI_NAMES[role],
      notBefore,
      notAfter: years(validYears),
      publicKey: keys[role].publicKey,
      issuerKey: keys[issuer].privateKey,
      extensions: [...extra, ext.subjectKeyId(kid(role)), ext.authorityKeyId(kid(issuer))],
    });
  const sgx = sgxExtensionValue({
    ppid: id.ppid,
    cpuSvn: CPU_SVN,
    pceSvn: PCE_SVN,
    pceId: hexToBytes(PCE_ID),
    fmspc: hexToBytes(FMSPC),
    platformInstanceId: id.platformInstanceId,
  });
  return {
    root: issue('root', 'root', 30, [ext.basicConstraints(true, 1), ext.keyUsage('ca')]),
    platformCa: issue('platformCa', 'root', 15, [ext.basicConstraints(true, 0), ext.keyUsage('ca')]),
    pck: issue('pck', 'platformCa', 7, [
      ext.basicConstraints(false),
      ext.keyUsage('signing'),
      { oid: SGX_EXTENSION_OID, critical: false, value: sgx },
    ]),
    tcbSigning: issue('tcbSigning', 'root', 7, [ext.basicConstraints(false), ext.keyUsage('signing')]),
  };
}

const spki = (k: { export(o: { type: 'spki'; format: 'der' }): Buffer }) => new Uint8Array(k.export({ type: 'spki', format: 'der' }));

/** Loads the PKI persisted in `dir`, or issues and persists it. */
export function loadOrIssuePki(dir: string, seed: Uint8Array, now = new Date()): Pki {
  const keys = deriveKeys(seed);
  const file = path.join(dir, PKI_FILE);
  const stored = readJsonFile(file) as PkiFile | undefined;
  let ders: Record<PkiRole, Uint8Array> | undefined;
  if (stored !== undefined) {
    if (stored?.version !== 1 || typeof stored.certificates !== 'object') throw new Error(`${file} is not a simulator PKI file`);
    const loaded = {} as Record<PkiRole, Uint8Array>;
    let renew = false;
    for (const role of ROLES) {
      const pem = stored.certificates[role];
      if (typeof pem !== 'string') throw new Error(`${file} lacks the ${role} certificate`);
      const cert = new X509Certificate(pem);
      if (!bytesEqual(spki(cert.publicKey), spki(keys[role].publicKey))) {
        throw new Error(`${file}: the ${role} certificate does not belong to this folder's seed`);
      }
      if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_MARGIN_MS) renew = true;
      loaded[role] = new Uint8Array(cert.raw);
    }
    if (!renew) ders = loaded;
  }
  if (!ders) {
    ders = issueAll(seed, keys, now);
    const out: PkiFile = { version: 1, certificates: {} as Record<PkiRole, string> };
    for (const role of ROLES) out.certificates[role] = toPem(ders[role]);
    writeFileAtomic(file, `${JSON.stringify(out, null, 2)}\n`);
  }
  const id = platformIdentity(seed);
  const issued = (role: PkiRole): IssuedCert => ({
    der: ders[role],
    pem: toPem(ders[role]),
    name: PKI_NAMES[role],
    key: keys[role],
    keyId: keyIdentifier(keys[role].publicKey),
  });
  return {
    root: issued('root'),
    platformCa: issued('platformCa'),
    pck: issued('pck'),
    tcbSigning: issued('tcbSigning'),
    ppid: id.ppid,
    qeId: id.qeId,
  };
}

/** PEM chain (leaf first), as DCAP issuer-chain headers and quote certification data carry it. */
export function pemChain(...certs: IssuedCert[]): string {
  return certs.map((c) => c.pem).join('');
}
