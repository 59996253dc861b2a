// SCALE encoding of dstack 0.5.x's VersionedAttestation::V0, the `/Attest` answer:
//   0x00 (V0) ‖ 0x00 (AttestationQuote::DstackTdx) ‖ Vec<u8> quote ‖ Vec<TdxEvent> event_log
//   ‖ Vec<RuntimeEvent> runtime_events ‖ [u8; 64] report_data ‖ String config (vm_config)
// TdxEvent = {u32 imr, u32 event_type, Vec<u8> digest, String event, Vec<u8> payload};
// RuntimeEvent = {String event, Vec<u8> payload}. Integers little-endian; Vec/String carry a SCALE
// compact length prefix.

import type { TdxEvent } from '../guest-agent-types.ts';
import { concatBytes, hexToBytes, utf8 } from '../hex.ts';

export function compactLength(n: number): Uint8Array {
  if (n < 1 << 6) return Uint8Array.of(n << 2);
  if (n < 1 << 14) {
    const v = (n << 2) | 1;
    return Uint8Array.of(v & 0xff, v >> 8);
  }
  if (n < 2 ** 30) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, ((n << 2) | 2) >>> 0, true);
    return b;
  }
  throw new Error('SCALE length too large');
}

const bytes = (b: Uint8Array) => concatBytes(compactLength(b.length), b);
const str = (s: string) => bytes(utf8(s));
const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

function vec<T>(items: readonly T[], enc: (t: T) => Uint8Array): Uint8Array {
  return concatBytes(compactLength(items.length), ...items.map(enc));
}

export interface AttestationParts {
  quote: Uint8Array;
  /** Full event log (digests and payloads). */
  events: readonly TdxEvent[];
  reportData: Uint8Array;
  vmConfig: string;
}

export function encodeVersionedAttestationV0(a: AttestationParts): Uint8Array {
  const tdxEvent = (e: TdxEvent) =>
    concatBytes(u32(e.imr), u32(e.event_type), bytes(hexToBytes(e.digest)), str(e.event), bytes(hexToBytes(e.event_payload)));
  const runtime = a.events.filter((e) => e.imr === 3);
  const runtimeEvent = (e: TdxEvent) => concatBytes(str(e.event), bytes(hexToBytes(e.event_payload)));
  if (a.reportData.length !== 64) throw new Error('report_data must be 64 bytes');
  return concatBytes(
    Uint8Array.of(0, 0),
    bytes(a.quote),
    vec(a.events, tdxEvent),
    vec(runtime, runtimeEvent),
    a.reportData,
    str(a.vmConfig),
  );
}
