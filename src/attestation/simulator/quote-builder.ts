// Synthesizes TDX v4 DCAP quotes for the simulated platform: header, TD report 1.0, and the ECDSA
// auth data (quote signature by the attestation key; QE report signed by the PCK leaf and binding
// the attestation key; the PCK certificate chain). Everything but the RTMR3 and report_data parts
// is fixed per PKI, so it is built once; each quote costs one P-256 signature.

import { createHash, sign } from 'node:crypto';
import { concatBytes, hexToBytes, utf8 } from '../hex.ts';
import { ATTESTATION_KEY_TYPE_ECDSA_P256, INTEL_QE_VENDOR_ID, QUOTE_HEADER_LEN, TD10, TD_REPORT10_LEN, TEE_TYPE_TDX } from '../tdx-quote.ts';
import type { P256Key } from './derive.ts';
import { pemChain, type Pki } from './pki.ts';
import { MR_SEAM, MR_SIGNER_SEAM, QE, QE_AUTH_DATA, TD_ATTRIBUTES, TEE_TCB_SVN, XFAM } from './platform.ts';

const SIGNED_LEN = QUOTE_HEADER_LEN + TD_REPORT10_LEN; // 632
const QE_REPORT_LEN = 384;
const CERT_TYPE_PCK_CHAIN = 5;
const CERT_TYPE_QE_REPORT = 6;

export interface TdMeasurements {
  mrTd: Uint8Array;
  rtmrs: readonly Uint8Array[];
}

const u16 = (n: number) => {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, n, true);
  return b;
};
const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

function signP1363(key: P256Key, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }));
}

/** The QE's SGX report: its identity (matching the QE identity collateral) and, in report_data, sha256(attestation key ‖ auth data). */
function qeReport(attestationPublic: Uint8Array): Uint8Array {
  const r = new Uint8Array(QE_REPORT_LEN);
  const dv = new DataView(r.buffer);
  r.set(QE.cpuSvn, 0);
  dv.setUint32(16, QE.miscSelect, true);
  r.set(QE.attributes, 48);
  r.set(QE.mrEnclave, 64);
  r.set(QE.mrSigner, 128);
  dv.setUint16(256, QE.isvProdId, true);
  dv.setUint16(258, QE.isvSvn, true);
  r.set(createHash('sha256').update(concatBytes(attestationPublic, QE_AUTH_DATA)).digest(), 320);
  return r;
}

export class QuoteBuilder {
  readonly #template: Uint8Array;
  readonly #tail: Uint8Array;
  readonly #attestationKey: P256Key;
  readonly #bodyAt = QUOTE_HEADER_LEN;

  constructor(pki: Pki, attestationKey: P256Key, m: TdMeasurements) {
    this.#attestationKey = attestationKey;
    const t = new Uint8Array(SIGNED_LEN);
    const dv = new DataView(t.buffer);
    dv.setUint16(0, 4, true);
    dv.setUint16(2, ATTESTATION_KEY_TYPE_ECDSA_P256, true);
    dv.setUint32(4, TEE_TYPE_TDX, true);
    // Bytes 8..12 (QE SVN and PCE SVN in SGX quotes) are zero in dstack's TDX quotes; left so.
    t.set(hexToBytes(INTEL_QE_VENDOR_ID), 12);
    t.set(pki.qeId, 28); // user_data: QE ID, then 4 zero bytes
    this.#put(t, 'teeTcbSvn', TEE_TCB_SVN);
    this.#put(t, 'mrSeam', MR_SEAM);
    this.#put(t, 'mrSignerSeam', MR_SIGNER_SEAM);
    this.#put(t, 'tdAttributes', TD_ATTRIBUTES);
    this.#put(t, 'xfam', XFAM);
    this.#put(t, 'mrTd', m.mrTd);
    for (let i = 0; i < 3; i++) this.#put(t, `rtmr${i}` as 'rtmr0', m.rtmrs[i]!);
    this.#template = t;

    const report = qeReport(attestationKey.rawPublic);
    const chain = concatBytes(utf8(pemChain(pki.pck, pki.platformCa, pki.root)), Uint8Array.of(0));
    const qeCertData = concatBytes(
      report,
      signP1363(pki.pck.key, report),
      u16(QE_AUTH_DATA.length),
      QE_AUTH_DATA,
      u16(CERT_TYPE_PCK_CHAIN),
      u32(chain.length),
      chain,
    );
    this.#tail = concatBytes(attestationKey.rawPublic, u16(CERT_TYPE_QE_REPORT), u32(qeCertData.length), qeCertData);
  }

  #put(t: Uint8Array, field: keyof typeof TD10, value: Uint8Array): void {
    const [off, len] = TD10[field];
    if (value.length !== len) throw new Error(`${field} must be ${len} bytes, got ${value.length}`);
    t.set(value, this.#bodyAt + off);
  }

  /** A signed quote over the current RTMR3 and the given 64-byte report_data. */
  build(rtmr3: Uint8Array, reportData: Uint8Array): Uint8Array {
    const signedPart = this.#template.slice();
    this.#put(signedPart, 'rtmr3', rtmr3);
    this.#put(signedPart, 'reportData', reportData);
    const signature = signP1363(this.#attestationKey, signedPart);
    return concatBytes(signedPart, u32(signature.length + this.#tail.length), signature, this.#tail);
  }
}
