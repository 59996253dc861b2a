// Byte layout of TDX DCAP quotes (research/dstack.md §2.2): where the TD report fields sit in v4
// quotes (body at 48) and v5 quotes (2-byte body type + 4-byte size first, body at 54). The
// simulator writes with these offsets and tests read with them, so both agree on one table.

import { bytesToHex } from './hex.ts';

export const QUOTE_HEADER_LEN = 48;
export const TD_REPORT10_LEN = 584;
export const TEE_TYPE_TDX = 0x81;
export const ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
/** Intel's QE vendor ID; DCAP verifiers and parsers expect it in the header. */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';

/** Offsets of TD report 1.0 fields relative to the start of the report body. */
export const TD10 = {
  teeTcbSvn: [0, 16],
  mrSeam: [16, 48],
  mrSignerSeam: [64, 48],
  seamAttributes: [112, 8],
  tdAttributes: [120, 8],
  xfam: [128, 8],
  mrTd: [136, 48],
  mrConfigId: [184, 48],
  mrOwner: [232, 48],
  mrOwnerConfig: [280, 48],
  rtmr0: [328, 48],
  rtmr1: [376, 48],
  rtmr2: [424, 48],
  rtmr3: [472, 48],
  reportData: [520, 64],
} as const satisfies Record<string, readonly [number, number]>;

export type Td10Field = keyof typeof TD10;

export interface TdReportView {
  version: number;
  /** Offset of the TD report body inside the quote (48 for v4, 54 for v5). */
  bodyOffset: number;
  /** Length of the signed region (header + body), the bytes the attestation key signs. */
  signedLength: number;
  fields: Record<Td10Field, string>;
}

/** Reads the header and TD report of a TDX v4/v5 quote. Throws on anything else. */
export function readTdReport(quote: Uint8Array): TdReportView {
  if (quote.length < QUOTE_HEADER_LEN + TD_REPORT10_LEN) throw new Error(`quote is ${quote.length} bytes, too short for a TDX quote`);
  const dv = new DataView(quote.buffer, quote.byteOffset, quote.byteLength);
  const version = dv.getUint16(0, true);
  const teeType = dv.getUint32(4, true);
  if (teeType !== TEE_TYPE_TDX) throw new Error(`quote TEE type is 0x${teeType.toString(16)}, not TDX (0x81)`);
  let bodyOffset: number;
  let bodyLen = TD_REPORT10_LEN;
  if (version === 4) bodyOffset = QUOTE_HEADER_LEN;
  else if (version === 5) {
    const bodyType = dv.getUint16(48, true);
    bodyLen = dv.getUint32(50, true);
    if (bodyType !== 2 && bodyType !== 3) throw new Error(`quote v5 body type ${bodyType} is not a TD report`);
    bodyOffset = QUOTE_HEADER_LEN + 6;
  } else throw new Error(`quote version ${version} is not 4 or 5`);
  if (quote.length < bodyOffset + bodyLen) throw new Error('quote is truncated inside the TD report');
  const fields = {} as Record<Td10Field, string>;
  for (const [name, [off, len]] of Object.entries(TD10) as [Td10Field, readonly [number, number]][]) {
    fields[name] = bytesToHex(quote.subarray(bodyOffset + off, bodyOffset + off + len));
  }
  return { version, bodyOffset, signedLength: bodyOffset + bodyLen, fields };
}
