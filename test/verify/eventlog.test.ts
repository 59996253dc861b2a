import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha384 } from '@noble/hashes/sha2';
import type { TdxEvent } from '../../src/verify/bundle.ts';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '../../src/verify/bytes.ts';
import { checkEventLog, eventDigests, parseEventLog, replayRtmrs, runtimeDigest, runtimeDigestPreimage, RUNTIME_EVENT_TYPE } from '../../src/verify/eventlog.ts';
import { parseQuote } from '../../src/verify/quote.ts';
import { check, getQuote, OLD, STRIPPED, V0511 } from './helpers.ts';

function rtmrsOf(name: string) {
  const g = getQuote(name);
  return { log: g.eventLog, rtmr: parseQuote(g.quote).report.rtmr, events: parseEventLog(g.eventLog) };
}

test('RTMR0-3 replay from the event log of every dstack fixture', () => {
  for (const name of [V0511, STRIPPED, OLD]) {
    const { log, rtmr } = rtmrsOf(name);
    const r = checkEventLog(log, rtmr);
    for (const c of r.checks) assert.equal(c.status, 'pass', `${name} ${c.id}: ${c.summary}`);
    assert.deepEqual(r.matched, [true, true, true, true]);
  }
});

test('the stripped 0.6 log replays only because runtime digests are recomputed', () => {
  const { events, rtmr } = rtmrsOf(STRIPPED);
  const runtime = events.filter((e) => e.imr === 3);
  assert.ok(runtime.length >= 9 && runtime.every((e) => e.digest === ''), 'runtime events carry digest ""');
  assert.ok(runtime.some((e) => e.event === 'os-image-hash') && runtime.some((e) => e.event === 'storage-fs'));
  // What the SDK's replayRtmrs does: trust the digest field (zero-padded when empty).
  let sdk: Uint8Array = new Uint8Array(48);
  for (const e of runtime) sdk = sha384(concatBytes(sdk, e.digest ? hexToBytes(e.digest) : new Uint8Array(48)));
  assert.notEqual(bytesToHex(sdk), bytesToHex(rtmr[3]));
  assert.equal(bytesToHex(replayRtmrs(events)[3]), bytesToHex(rtmr[3]));
});

test('runtime digest V1 is SHA-384(u32le(0x08000001) ‖ ":" ‖ name ‖ ":" ‖ payload) and matches the logged digests', () => {
  const { events } = rtmrsOf(V0511);
  const appId = events.find((e) => e.event === 'app-id')!;
  const pre = runtimeDigestPreimage(appId);
  assert.equal(bytesToHex(pre.subarray(0, 5)), '010000083a');
  assert.deepEqual(pre, concatBytes(hexToBytes('010000083a'), utf8ToBytes('app-id:'), hexToBytes(appId.event_payload)));
  for (const e of events.filter((x) => x.imr === 3)) assert.equal(bytesToHex(runtimeDigest(e)), e.digest, e.event);
});

test('runtime digest V2 hashes the JCS form and validates a stated preimage', () => {
  const e: TdxEvent = { imr: 3, event_type: RUNTIME_EVENT_TYPE, digest: '', event: 'compose-hash', event_payload: 'ABCD', version: 2 };
  const parsed = parseEventLog(JSON.stringify([e]))[0]!;
  const text = '{"name":"compose-hash","payload":"abcd","type":134217729}';
  assert.equal(new TextDecoder().decode(runtimeDigestPreimage(parsed)), text);
  assert.equal(bytesToHex(runtimeDigest(parsed)), bytesToHex(sha384(utf8ToBytes(text))));
  const good = { ...parsed, preimage: bytesToHex(utf8ToBytes(text)), digest: bytesToHex(sha384(utf8ToBytes(text))) };
  assert.deepEqual(eventDigests([good]).problems, []);
  const lying = { ...good, preimage: bytesToHex(utf8ToBytes(text.replace('abcd', 'abce'))) };
  assert.match(eventDigests([lying]).problems[0]!.problem, /preimage/);
});

test('dropping one event breaks the replay of its RTMR', () => {
  const { events, rtmr } = rtmrsOf(V0511);
  for (const imr of [0, 3]) {
    const i = events.findIndex((e) => e.imr === imr);
    const dropped = events.filter((_, j) => j !== i);
    const r = checkEventLog(JSON.stringify(dropped), rtmr);
    assert.equal(check(r, `rtmr.${imr}`).status, 'fail', `drop in imr ${imr}`);
    for (const other of [0, 1, 2, 3].filter((x) => x !== imr)) assert.equal(check(r, `rtmr.${other}`).status, 'pass');
  }
});

test('reordering two events of the same RTMR breaks its replay', () => {
  const { events, rtmr } = rtmrsOf(V0511);
  const idx = events.map((e, i) => [e, i] as const).filter(([e]) => e.imr === 3).map(([, i]) => i);
  const swapped = events.slice();
  [swapped[idx[1]!], swapped[idx[2]!]] = [swapped[idx[2]!]!, swapped[idx[1]!]!];
  const r = checkEventLog(JSON.stringify(swapped), rtmr);
  const c = check(r, 'rtmr.3');
  assert.equal(c.status, 'fail');
  assert.equal(c.expected, bytesToHex(rtmr[3]));
  assert.notEqual(c.actual, c.expected);
});

test('a runtime event whose payload was changed fails replay even if its stated digest is kept', () => {
  const { events, rtmr } = rtmrsOf(V0511);
  const forged = events.map((e) => (e.event === 'compose-hash' ? { ...e, event_payload: 'ff'.repeat(32) } : e));
  const r = checkEventLog(JSON.stringify(forged), rtmr);
  assert.equal(check(r, 'rtmr.3').status, 'fail');
  assert.equal(check(r, 'eventlog.parse').status, 'fail', 'the stated digest no longer matches the payload');
});

test('an imr-3 event that is not a runtime event is refused (its digest would not bind its payload)', () => {
  const { events, rtmr } = rtmrsOf(V0511);
  const odd = events.map((e) => (e.event === 'app-id' ? { ...e, event_type: 1 } : e));
  const r = checkEventLog(JSON.stringify(odd), rtmr);
  assert.equal(check(r, 'eventlog.parse').status, 'fail');
  assert.match(check(r, 'eventlog.parse').summary, /not a runtime event/);
});

test('malformed logs are rejected with a reason, and a missing log skips the RTMR checks', () => {
  assert.throws(() => parseEventLog('{}'), /not a JSON array/);
  assert.throws(() => parseEventLog('[{"imr":4,"event_type":1,"digest":"","event":"","event_payload":""}]'), /imr must be 0..3/);
  assert.throws(() => parseEventLog('[{"imr":0,"event_type":1,"digest":"zz","event":"","event_payload":""}]'), /digest/);
  assert.throws(() => parseEventLog('[{"imr":0,"event_type":1,"digest":"","event":"","event_payload":"x"}]'), /event_payload/);
  const rtmr = rtmrsOf(V0511).rtmr;
  const bad = checkEventLog('not json', rtmr);
  assert.equal(check(bad, 'eventlog.parse').status, 'fail');
  assert.equal(check(bad, 'rtmr.0').status, 'skip');
  const none = checkEventLog(undefined, rtmr);
  assert.deepEqual(none.checks.map((c) => c.status), ['skip', 'skip', 'skip', 'skip', 'skip']);
});
