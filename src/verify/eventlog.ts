// dstack's event log: parse the JSON string GetQuote returns, replay RTMR0-3, compare with the
// quote. Runtime events (imr 3, type 0x08000001) are always re-digested from their name and
// payload: since OS 0.5.6 their `digest` is "", and a digest taken from the log would let an
// event claim any payload while replaying correctly.
import { sha384 } from '@noble/hashes/sha2';
import type { TdxEvent } from './bundle.ts';
import { bytesToHex, concatBytes, hexToBytes, isHex, utf8ToBytes } from './bytes.ts';
import { compare, errorMessage, fail, pass, skip, type Check, type Facts } from './check.ts';
import { canonicalJson } from './deployment.ts';

export const RUNTIME_EVENT_TYPE = 0x08000001;
const ZERO48 = new Uint8Array(48);

export type { TdxEvent };

/** Strict parse of the `event_log` JSON string: field types, imr range, hex fields. */
export function parseEventLog(text: string): TdxEvent[] {
  const arr = JSON.parse(text) as unknown;
  if (!Array.isArray(arr)) throw new Error('event log is not a JSON array');
  return arr.map((raw, i) => {
    const e = raw as Record<string, unknown>;
    const where = `event ${i}`;
    if (typeof e !== 'object' || e === null) throw new Error(`${where} is not an object`);
    const { imr, event_type, digest, event, event_payload } = e;
    if (typeof imr !== 'number' || !Number.isInteger(imr) || imr < 0 || imr > 3) throw new Error(`${where}: imr must be 0..3`);
    if (typeof event_type !== 'number' || !Number.isInteger(event_type) || event_type < 0 || event_type > 0xffffffff) throw new Error(`${where}: bad event_type`);
    if (typeof digest !== 'string' || !isHex(digest) || (digest.length !== 96 && digest.length !== 0)) throw new Error(`${where}: digest must be 48 bytes of hex or empty`);
    if (typeof event !== 'string') throw new Error(`${where}: event must be a string`);
    if (typeof event_payload !== 'string' || !isHex(event_payload)) throw new Error(`${where}: event_payload must be hex`);
    const out: TdxEvent = { imr, event_type, digest: digest.toLowerCase(), event, event_payload: event_payload.toLowerCase() };
    if (e.version !== undefined) {
      if (e.version !== 1 && e.version !== 2) throw new Error(`${where}: unknown runtime event version ${String(e.version)}`);
      out.version = e.version;
    }
    if (e.preimage !== undefined) {
      if (typeof e.preimage !== 'string' || !isHex(e.preimage)) throw new Error(`${where}: preimage must be hex`);
      out.preimage = e.preimage.toLowerCase();
    }
    return out;
  });
}

export function isRuntimeEvent(e: TdxEvent): boolean {
  return e.event_type === RUNTIME_EVENT_TYPE;
}

/** The bytes a runtime event's digest covers. V1: u32le(type) ‖ ":" ‖ name ‖ ":" ‖ payload. V2: JCS JSON. */
export function runtimeDigestPreimage(e: TdxEvent): Uint8Array {
  const payload = hexToBytes(e.event_payload);
  if (e.version === 2) {
    return utf8ToBytes(canonicalJson({ name: e.event, payload: bytesToHex(payload), type: RUNTIME_EVENT_TYPE }));
  }
  const type = new Uint8Array([RUNTIME_EVENT_TYPE & 0xff, (RUNTIME_EVENT_TYPE >>> 8) & 0xff, (RUNTIME_EVENT_TYPE >>> 16) & 0xff, RUNTIME_EVENT_TYPE >>> 24]);
  return concatBytes(type, utf8ToBytes(`:${e.event}:`), payload);
}

export function runtimeDigest(e: TdxEvent): Uint8Array {
  return sha384(runtimeDigestPreimage(e));
}

export interface DigestProblem {
  index: number;
  event: string;
  problem: string;
}

/** The digest used in replay for each event, and the inconsistencies found on the way. */
export function eventDigests(events: readonly TdxEvent[]): { digests: Uint8Array[]; problems: DigestProblem[] } {
  const problems: DigestProblem[] = [];
  const digests = events.map((e, index) => {
    if (isRuntimeEvent(e)) {
      const pre = runtimeDigestPreimage(e);
      const d = sha384(pre);
      // A stated digest or V2 preimage must agree with what we recompute; replay never uses them.
      if (e.digest && e.digest !== bytesToHex(d)) problems.push({ index, event: e.event, problem: 'stated digest differs from the digest of its name and payload' });
      if (e.preimage !== undefined && e.preimage !== bytesToHex(pre)) problems.push({ index, event: e.event, problem: 'stated preimage is not the canonical form of its name and payload' });
      return d;
    }
    if (e.imr === 3) problems.push({ index, event: e.event, problem: `imr-3 event of type 0x${e.event_type.toString(16)} is not a runtime event` });
    if (!e.digest) {
      problems.push({ index, event: e.event, problem: 'boot event without a digest' });
      return ZERO48;
    }
    return hexToBytes(e.digest);
  });
  return { digests, problems };
}

/** RTMR_i = SHA384(RTMR_i ‖ digest) over the events of imr i, in log order, from 48 zero bytes. */
export function replayRtmrs(events: readonly TdxEvent[]): [Uint8Array, Uint8Array, Uint8Array, Uint8Array] {
  const { digests } = eventDigests(events);
  const rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array] = [ZERO48, ZERO48, ZERO48, ZERO48];
  events.forEach((e, i) => {
    rtmr[e.imr as 0 | 1 | 2 | 3] = sha384(concatBytes(rtmr[e.imr as 0 | 1 | 2 | 3], digests[i]!));
  });
  return rtmr;
}

export interface EventLogOutcome {
  checks: Check[];
  events: TdxEvent[] | null;
  /** Per RTMR: did the replay match the quote? */
  matched: [boolean, boolean, boolean, boolean];
  facts: Facts;
}

const RTMR_TITLES = ['RTMR0 (firmware, ACPI, boot config)', 'RTMR1 (kernel)', 'RTMR2 (kernel command line, initrd)', 'RTMR3 (dstack runtime events)'];

/** Parses the log and checks every RTMR of the (signature-verified) quote against the replay. */
export function checkEventLog(eventLog: string | undefined, quoteRtmrs: readonly Uint8Array[]): EventLogOutcome {
  const none: [boolean, boolean, boolean, boolean] = [false, false, false, false];
  if (eventLog === undefined) {
    const why = 'No event log was given, so the measurements cannot be explained.';
    return { checks: [skip('eventlog.parse', 'Event log', why), ...[0, 1, 2, 3].map((i) => skip(`rtmr.${i}`, RTMR_TITLES[i]!, why))], events: null, matched: none, facts: {} };
  }
  let events: TdxEvent[];
  try {
    events = parseEventLog(eventLog);
  } catch (e) {
    const why = 'The event log is unreadable, so no RTMR can be replayed.';
    return {
      checks: [fail('eventlog.parse', 'Event log', `The event log is malformed: ${errorMessage(e)}`), ...[0, 1, 2, 3].map((i) => skip(`rtmr.${i}`, RTMR_TITLES[i]!, why))],
      events: null,
      matched: none,
      facts: {},
    };
  }
  const { problems } = eventDigests(events);
  const runtime = events.filter(isRuntimeEvent);
  const stripped = runtime.some((e) => e.digest === '') || events.some((e) => !isRuntimeEvent(e) && e.event_payload === '');
  const facts: Facts = {
    events: events.length,
    per_imr: [0, 1, 2, 3].map((i) => events.filter((e) => e.imr === i).length),
    format: stripped ? 'stripped (0.5.6+: boot payloads dropped, runtime digests empty)' : 'full (digests and payloads)',
    runtime_events: runtime.map((e) => e.event),
  };
  const checks: Check[] = [];
  checks.push(
    problems.length
      ? fail('eventlog.parse', 'Event log', `The event log is inconsistent: ${problems.map((p) => `#${p.index} ${p.event || '(unnamed)'}: ${p.problem}`).join('; ')}.`, { facts })
      : pass('eventlog.parse', 'Event log', `${events.length} events parsed; every runtime event digest is recomputed from its name and payload.`, { facts }),
  );
  const replayed = replayRtmrs(events);
  const matched = [0, 1, 2, 3].map((i) => {
    const expected = bytesToHex(quoteRtmrs[i]!);
    const actual = bytesToHex(replayed[i]!);
    const n = events.filter((e) => e.imr === i).length;
    checks.push(
      compare(
        `rtmr.${i}`,
        RTMR_TITLES[i]!,
        expected,
        actual,
        `Replaying the ${n} imr-${i} events reproduces the quote's RTMR${i}.`,
        `Replaying the ${n} imr-${i} events does not reproduce the quote's RTMR${i}: the log is incomplete, reordered or altered.`,
      ),
    );
    return expected === actual;
  }) as [boolean, boolean, boolean, boolean];
  return { checks, events, matched, facts };
}
