// The simulated machine: every fixed number that the quote, the PCK certificate and the collateral
// must agree on lives here, so the three cannot disagree. Values are plausible for an Intel TDX
// host but chosen for the simulator (its own FMSPC, QE measurement and TD measurements), never
// copied from a real platform's identity.

import { createHash } from 'node:crypto';

const sha = (alg: 'sha256' | 'sha384', label: string): Uint8Array =>
  new Uint8Array(createHash(alg).update(`dstack-webhost/simulator: ${label}`).digest());

/** Family-Model-Stepping-Platform-CustomSKU the PCK certificate and TCB info name. */
export const FMSPC = 'D5C06F000000';
export const PCE_ID = '0000';
/** SGX TCB components (CPUSVN), one SVN per byte, as in the PCK certificate. */
export const CPU_SVN = Uint8Array.of(3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0);
export const PCE_SVN = 13;
/** TDX TCB components as the TD report carries them in tee_tcb_svn. */
export const TEE_TCB_SVN = Uint8Array.of(5, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
export const TCB_EVALUATION_DATA_NUMBER = 17;
export const TCB_DATE = '2025-01-15T00:00:00Z';

/** Quoting enclave identity, mirrored in the QE report and in the QE identity collateral. */
export const QE = {
  isvProdId: 2,
  isvSvn: 4,
  miscSelect: 0,
  /** SGX attributes of the QE (INIT | MODE64BIT | PROVISIONKEY), never DEBUG. */
  attributes: Uint8Array.of(0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0),
  mrEnclave: sha('sha256', 'TD quoting enclave'),
  mrSigner: sha('sha256', 'TD quoting enclave signer'),
  cpuSvn: Uint8Array.of(4, 4, 0x19, 0x1b, 4, 0xff, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0),
} as const;

/** TD attributes: not DEBUG, SEPT_VE_DISABLE (bit 28) set, reserved bits clear. */
export const TD_ATTRIBUTES = Uint8Array.of(0, 0, 0, 0x10, 0, 0, 0, 0);
export const XFAM = Uint8Array.of(0xe7, 0x02, 0x06, 0, 0, 0, 0, 0);
export const MR_SEAM = sha('sha384', 'TDX module');
/** Intel-signed TDX modules have an all-zero mr_signer_seam; dstack requires it. */
export const MR_SIGNER_SEAM = new Uint8Array(48);
export const MR_TD = sha('sha384', 'TD initial memory (virtual firmware)');
export const OS_IMAGE_HASH = sha('sha256', 'dstack OS image');

/** The QE's authentication data; real QEs send 32 bytes, bound into the QE report data. */
export const QE_AUTH_DATA = Uint8Array.from({ length: 32 }, (_, i) => i);
