// RTMR arithmetic over a dstack event log (research/dstack.md §2.3–2.4). The simulator uses it to
// compute the RTMRs it writes into quotes; tests use it to replay what GetQuote returns. Runtime
// (RTMR3) digests are always recomputed from name and payload, never read from the `digest`
// field: since dstack OS 0.5.6 GetQuote sends them empty.

import { sha384 } from '@noble/hashes/sha2';
import canonicalize from 'canonicalize';
import { RUNTIME_EVENT_TYPE, type TdxEvent } from './guest-agent-types.ts';
import { bytesToHex, concatBytes, hexToBytes, utf8 } from './hex.ts';

const RTMR_LEN = 48;

/** dstack's V1 runtime-event digest: SHA-384(u32le(0x08000001) ‖ ":" ‖ name ‖ ":" ‖ payload). */
export function runtimeEventDigest(event: string, payload: Uint8Array): Uint8Array {
  const type = new Uint8Array(4);
  new DataView(type.buffer).setUint32(0, RUNTIME_EVENT_TYPE, true);
  return sha384(concatBytes(type, utf8(':'), utf8(event), utf8(':'), payload));
}

/** dstack master's opt-in V2 digest: SHA-384 of the JCS form {name, payload (hex), type}. */
export function runtimeEventDigestV2(event: string, payload: Uint8Array): Uint8Array {
  const text = canonicalize({ name: event, payload: bytesToHex(payload), type: RUNTIME_EVENT_TYPE });
  if (text === undefined) throw new Error('cannot canonicalize runtime event');
  return sha384(utf8(text));
}

/** The digest an event extends its RTMR with. */
export function eventDigest(e: TdxEvent): Uint8Array {
  if (e.event_type === RUNTIME_EVENT_TYPE) {
    const payload = hexToBytes(e.event_payload, `payload of event '${e.event}'`);
    return e.version === 2 ? runtimeEventDigestV2(e.event, payload) : runtimeEventDigest(e.event, payload);
  }
  const d = hexToBytes(e.digest, `digest of imr ${e.imr} event`);
  if (d.length !== RTMR_LEN) throw new Error(`digest of imr ${e.imr} event is ${d.length} bytes, expected ${RTMR_LEN}`);
  return d;
}

/** RTMR := SHA-384(RTMR ‖ digest), from 48 zero bytes. */
export function extendRtmr(rtmr: Uint8Array, digest: Uint8Array): Uint8Array {
  return sha384(concatBytes(rtmr, digest));
}

/** Replays RTMR0–3 from an event log; returns the four values as bytes. */
export function replayRtmrs(events: readonly TdxEvent[]): Uint8Array[] {
  const rtmrs: Uint8Array[] = [0, 1, 2, 3].map(() => new Uint8Array(RTMR_LEN));
  for (const e of events) {
    if (!Number.isInteger(e.imr) || e.imr < 0 || e.imr > 3) throw new Error(`event has invalid imr ${String(e.imr)}`);
    rtmrs[e.imr] = extendRtmr(rtmrs[e.imr]!, eventDigest(e));
  }
  return rtmrs;
}

/** Replays RTMR0–3 and returns them as lowercase hex. */
export function replayRtmrsHex(events: readonly TdxEvent[]): string[] {
  return replayRtmrs(events).map(bytesToHex);
}

/**
 * The shape GetQuote sends on OS 0.5.6+: boot events keep only their digest, runtime events keep
 * only name and payload (digest ""). Info's tcb_info keeps both.
 */
export function stripEvent(e: TdxEvent): TdxEvent {
  if (e.imr === 3 && e.event_type === RUNTIME_EVENT_TYPE) return { ...e, digest: '' };
  return { ...e, event_payload: '' };
}
