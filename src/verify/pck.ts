// Intel's SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1): PPID, TCB (CPUSVN,
// PCESVN), PCE-ID, FMSPC, SGX type. Parsed ourselves because dcap-qvl 0.3.9 always returns an
// empty PPID, and dstack's device_id (KMS >= 0.5.6) is sha256(PPID).
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from './bytes.ts';
import { TAG, children, decodeOid, expectTag, parseDer } from './der.ts';
import type { Certificate } from './x509.ts';

const SGX_EXT = '1.2.840.113741.1.13.1';

export interface PckExtension {
  ppid: Uint8Array;
  cpuSvn: Uint8Array;
  pceSvn: number;
  pceId: Uint8Array;
  fmspc: Uint8Array;
  /** 0 = Standard, 1 = Scalable, 2 = Scalable with integrity (ENUMERATED). */
  sgxType: number | null;
  /** 'platform' or 'processor': which Intel PCK CA issued the certificate (selects the PCK CRL). */
  ca: 'platform' | 'processor' | 'unknown';
}

function uint(bytes: Uint8Array): number {
  let v = 0;
  for (const b of bytes) v = v * 256 + b;
  return v;
}

export function parsePckExtension(cert: Certificate): PckExtension {
  const ext = cert.extensions.get(SGX_EXT);
  if (!ext) throw new Error('PCK certificate has no Intel SGX extension');
  const tlvs = new Map<string, ReturnType<typeof parseDer>>();
  for (const item of children(expectTag(parseDer(ext.value), TAG.SEQUENCE, 'SGX extension'))) {
    const [oid, val] = children(item);
    const id = decodeOid(expectTag(oid, TAG.OID, 'SGX extension OID').value);
    if (!val) throw new Error(`SGX extension ${id} has no value`);
    if (tlvs.has(id)) throw new Error(`SGX extension ${id} is duplicated`);
    tlvs.set(id, val);
  }
  const octets = (id: string, len: number, name: string): Uint8Array => {
    const t = tlvs.get(id);
    if (!t || t.tag !== TAG.OCTET_STRING || t.value.length !== len) throw new Error(`PCK ${name} missing or not ${len} bytes`);
    return t.value;
  };
  const tcb = tlvs.get(`${SGX_EXT}.2`);
  if (!tcb) throw new Error('PCK TCB missing');
  let cpuSvn: Uint8Array | null = null;
  let pceSvn: number | null = null;
  for (const comp of children(expectTag(tcb, TAG.SEQUENCE, 'PCK TCB'))) {
    const [oid, val] = children(comp);
    const id = decodeOid(expectTag(oid, TAG.OID, 'TCB component OID').value);
    if (id === `${SGX_EXT}.2.17`) pceSvn = uint(expectTag(val, TAG.INTEGER, 'PCESVN').value);
    if (id === `${SGX_EXT}.2.18`) cpuSvn = expectTag(val, TAG.OCTET_STRING, 'CPUSVN').value;
  }
  if (!cpuSvn || cpuSvn.length !== 16 || pceSvn === null) throw new Error('PCK CPUSVN/PCESVN missing');
  const sgxTypeT = tlvs.get(`${SGX_EXT}.5`);
  const issuer = cert.issuerCN.toLowerCase();
  return {
    ppid: octets(`${SGX_EXT}.1`, 16, 'PPID'),
    cpuSvn,
    pceSvn,
    pceId: octets(`${SGX_EXT}.3`, 2, 'PCE-ID'),
    fmspc: octets(`${SGX_EXT}.4`, 6, 'FMSPC'),
    sgxType: sgxTypeT && sgxTypeT.tag === TAG.ENUMERATED ? uint(sgxTypeT.value) : null,
    ca: issuer.includes('platform') ? 'platform' : issuer.includes('processor') ? 'processor' : 'unknown',
  };
}

/** dstack's device_id as KMS >= 0.5.6 computes it: sha256(PPID). */
export function deviceIdFromPpid(ppid: Uint8Array): string {
  return bytesToHex(sha256(ppid));
}

/** dstack's device_id as KMS <= 0.5.5 computed it: sha256(quote header user_data). */
export function deviceIdFromUserData(userData: Uint8Array): string {
  return bytesToHex(sha256(userData));
}
