// The Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK certificate: PPID, TCB (16
// component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type, platform instance ID and
// configuration, in the DER layout Intel's PCK certificates use. DCAP verifiers read the FMSPC and
// the SVNs from here to pick the TCB level, so it must agree with platform.ts.

import { bool, enumerated, integer, octets, oid, seq } from './der.ts';

export const SGX_EXTENSION_OID = '1.2.840.113741.1.13.1';
const SGX = SGX_EXTENSION_OID;

export interface SgxExtensionParams {
  ppid: Uint8Array;
  cpuSvn: Uint8Array;
  pceSvn: number;
  pceId: Uint8Array;
  fmspc: Uint8Array;
  platformInstanceId: Uint8Array;
}

const item = (o: string, value: Uint8Array) => seq(oid(o), value);

export function sgxExtensionValue(p: SgxExtensionParams): Uint8Array {
  if (p.ppid.length !== 16) throw new Error('PPID must be 16 bytes');
  if (p.cpuSvn.length !== 16) throw new Error('CPUSVN must be 16 bytes');
  if (p.pceId.length !== 2) throw new Error('PCE-ID must be 2 bytes');
  if (p.fmspc.length !== 6) throw new Error('FMSPC must be 6 bytes');
  const components = Array.from(p.cpuSvn, (svn, i) => item(`${SGX}.2.${i + 1}`, integer(svn)));
  const tcb = seq(...components, item(`${SGX}.2.17`, integer(p.pceSvn)), item(`${SGX}.2.18`, octets(p.cpuSvn)));
  return seq(
    item(`${SGX}.1`, octets(p.ppid)),
    item(`${SGX}.2`, tcb),
    item(`${SGX}.3`, octets(p.pceId)),
    item(`${SGX}.4`, octets(p.fmspc)),
    // SGX type 1 = "Scalable", what TDX-capable Xeon platforms report.
    item(`${SGX}.5`, enumerated(1)),
    item(`${SGX}.6`, octets(p.platformInstanceId)),
    item(
      `${SGX}.7`,
      seq(item(`${SGX}.7.1`, bool(true)), item(`${SGX}.7.2`, bool(true)), item(`${SGX}.7.3`, bool(true))),
    ),
  );
}
