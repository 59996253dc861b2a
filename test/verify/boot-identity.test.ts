import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TdxEvent } from '../../src/verify/bundle.ts';
import { bytesToHex, utf8ToBytes } from '../../src/verify/bytes.ts';
import { checkBootIdentity, extractBootIdentity, mrAggregated, mrSystem } from '../../src/verify/boot-identity.ts';
import { parseEventLog, RUNTIME_EVENT_TYPE } from '../../src/verify/eventlog.ts';
import { parseQuote } from '../../src/verify/quote.ts';
import { getQuote, OLD, STRIPPED, V0511 } from './helpers.ts';

const g = getQuote(V0511);
const events = parseEventLog(g.eventLog);
const report = parseQuote(g.quote).report;

const ev = (event: string, payloadHex = ''): TdxEvent => ({ imr: 3, event_type: RUNTIME_EVENT_TYPE, digest: '', event, event_payload: payloadHex });

test('golden boot identity of the dstack v0.5.11 vector (research/dstack.md §4.3)', () => {
  const r = extractBootIdentity(events);
  assert.ok(r.ok);
  const id = r.identity;
  assert.equal(id.appId, '3763bc34552cf3a27ff71ad5f7a90471562a1a2d');
  assert.equal(id.composeHash, '3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7');
  assert.equal(id.instanceId, 'c3714eb66990eace777b4e664c16e09375dec4c9');
  assert.equal(id.keyProvider, '{"name":"local-sgx","id":"1b7a49378403249b6986a907844cab0921eca32dd47e657f3c10311ccaeccf8b"}');
  assert.deepEqual(id.keyProviderInfo, { name: 'local-sgx', id: '1b7a49378403249b6986a907844cab0921eca32dd47e657f3c10311ccaeccf8b' });
  // Without a KMS, dstack derives app-id from the compose hash.
  assert.ok(id.composeHash.startsWith(id.appId));
  assert.deepEqual(id.bootEvents, ['system-preparing', 'app-id', 'compose-hash', 'instance-id', 'boot-mr-done', 'key-provider', 'system-ready']);
  assert.equal(mrSystem(report, id.keyProviderHex), 'e1ae776a1492d4f87937b7e563d265c16300be4aba5d748207587023bb7dbb75');
  assert.equal(mrAggregated(report), '233c659f83048505bb1ef7f105245aa80f5d04e3d096c329da272d7ee13fbf38');
});

test('the stripped 0.6 log gives a KMS identity with the KMS-measured OS image hash', () => {
  const r = extractBootIdentity(parseEventLog(getQuote(STRIPPED).eventLog));
  assert.ok(r.ok);
  assert.equal(r.identity.keyProviderInfo?.name, 'kms');
  assert.ok(r.identity.keyProviderInfo?.id.startsWith('3059301306072a8648ce3d02'), 'KMS id is a P-256 SPKI');
  assert.equal(r.identity.osImageHash, '07a2388c7a6a1b6a646d443f1517990a4ec294471d63146cda9d56972765051d');
  assert.equal(r.identity.appId, '86b0e55f2fa8e4fb69d890f14f54d5612707646e');
});

test('the old (0.4-era) log with rootfs-hash still yields its identity', () => {
  const r = extractBootIdentity(parseEventLog(getQuote(OLD).eventLog));
  assert.ok(r.ok);
  assert.equal(r.identity.composeHash, '06768e6df639ce3be65e9e5321f8b2d82dbffb01c74323462d34c2feb9653aff');
  assert.ok(r.identity.bootEvents.includes('rootfs-hash'));
});

test('a fake compose-hash emitted after system-ready is ignored', () => {
  const fake = ev('compose-hash', 'ee'.repeat(32));
  const r = extractBootIdentity([...events, fake]);
  assert.ok(r.ok);
  assert.equal(r.identity.composeHash, '3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7');
  // Even before the real one in the app's own events (after system-ready), nothing changes.
  const ready = events.findIndex((e) => e.event === 'system-ready');
  const r2 = extractBootIdentity([...events.slice(0, ready + 1), fake, ev('app-id', 'ee'.repeat(20)), ...events.slice(ready + 1)]);
  assert.ok(r2.ok);
  assert.equal(r2.identity.appId, '3763bc34552cf3a27ff71ad5f7a90471562a1a2d');
});

test('duplicates before system-ready and a missing system-ready are rejected', () => {
  const ready = events.findIndex((e) => e.event === 'system-ready');
  const dup = [...events.slice(0, ready), ev('compose-hash', 'ee'.repeat(32)), ...events.slice(ready)];
  const r = extractBootIdentity(dup);
  assert.ok(!r.ok);
  assert.match(r.reason, /"compose-hash" appears twice before system-ready/);
  const noReady = events.filter((e) => e.event !== 'system-ready');
  const r2 = extractBootIdentity(noReady);
  assert.ok(!r2.ok);
  assert.match(r2.reason, /no system-ready/);
});

test('missing or malformed identity events are rejected', () => {
  const base = [ev('system-preparing'), ev('app-id', 'aa'.repeat(20)), ev('compose-hash', 'bb'.repeat(32)), ev('instance-id', ''), ev('system-ready')];
  const ok = extractBootIdentity(base);
  assert.ok(ok.ok && ok.identity.instanceId === '' && ok.identity.keyProvider === null);
  assert.match((extractBootIdentity(base.filter((e) => e.event !== 'app-id')) as { reason: string }).reason, /no app-id/);
  assert.match((extractBootIdentity(base.map((e) => (e.event === 'compose-hash' ? ev('compose-hash', 'bb') : e))) as { reason: string }).reason, /compose-hash payload is 1 bytes/);
  const kp = [...base.slice(0, 4), ev('key-provider', bytesToHex(utf8ToBytes('not json'))), ev('system-ready')];
  assert.match((extractBootIdentity(kp) as { reason: string }).reason, /key-provider payload/);
  // Events of other RTMRs never count, even with the right name.
  const otherImr = [{ ...ev('system-ready'), imr: 2 }, ...base.filter((e) => e.event !== 'system-ready')];
  assert.ok(!extractBootIdentity(otherImr).ok);
});

test('boot.identity fails when the events do not replay to RTMR3', () => {
  assert.equal(checkBootIdentity(events, true, report).check.status, 'pass');
  const r = checkBootIdentity(events, false, report);
  assert.equal(r.check.status, 'fail');
  assert.match(r.check.summary, /not bound/);
  assert.equal(r.identity, null);
});
