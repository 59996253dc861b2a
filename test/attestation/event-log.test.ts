// The simulator's boot story is consistent: the GetQuote event log (0.5.6+ stripped shape) replays
// to the quote's RTMR0–3, compose-hash is the SHA-256 of the exact app-compose text Info returns,
// app-id is its first 20 bytes, and EmitEvent moves RTMR3 in step with the log. The same replay
// code is checked against real dstack quotes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import dcap from '@phala/dcap-qvl';
import { GuestAgentClient } from '../../src/attestation/guest-agent-client.ts';
import { RUNTIME_EVENT_TYPE, type TdxEvent } from '../../src/attestation/guest-agent-types.ts';
import { replayRtmrsHex, runtimeEventDigest } from '../../src/attestation/event-log.ts';
import { readTdReport } from '../../src/attestation/tdx-quote.ts';
import { DEFAULT_IMAGE_REF } from '../../src/attestation/simulator/index.ts';
import { nowSecs, testSimulator } from './helpers.ts';

const FIXTURES = new URL('./fixtures', import.meta.url).pathname;
const sha256hex = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');
const quoteRtmrs = (quoteHex: string) => {
  const f = readTdReport(Buffer.from(quoteHex, 'hex')).fields;
  return [f.rtmr0, f.rtmr1, f.rtmr2, f.rtmr3];
};
const BOOT_SEQUENCE = ['system-preparing', 'app-id', 'compose-hash', 'instance-id', 'boot-mr-done', 'key-provider', 'system-ready'];

function bootEvent(events: TdxEvent[], name: string): TdxEvent {
  const ready = events.findIndex((e) => e.imr === 3 && e.event === 'system-ready');
  const found = events.slice(0, ready).filter((e) => e.imr === 3 && e.event === name);
  assert.equal(found.length, 1, `exactly one ${name} event before system-ready`);
  return found[0]!;
}

test('GetQuote event log replays to the quote RTMR0-3, in the stripped 0.5.6+ shape', async () => {
  const sim = await testSimulator();
  const client = new GuestAgentClient(sim.endpoint);
  const q = await client.getQuote(new Uint8Array([0xab]));
  assert.deepEqual(replayRtmrsHex(q.events), quoteRtmrs(q.quote));
  for (const e of q.events) {
    assert.deepEqual(Object.keys(e), ['imr', 'event_type', 'digest', 'event', 'event_payload']);
    if (e.imr === 3) {
      assert.equal(e.event_type, RUNTIME_EVENT_TYPE);
      assert.equal(e.digest, '', 'runtime events carry no digest in GetQuote');
    } else {
      assert.equal(e.event_payload, '', 'boot events carry no payload in GetQuote');
      assert.match(e.digest, /^[0-9a-f]{96}$/);
    }
  }
  assert.ok([0, 1, 2].every((imr) => q.events.some((e) => e.imr === imr)), 'RTMR0-2 have events');
  assert.deepEqual(q.events.filter((e) => e.imr === 3).map((e) => e.event), BOOT_SEQUENCE);
  // Replaying a reordered log gives different RTMRs: the check can fail.
  const swapped = [...q.events];
  const i = swapped.findIndex((e) => e.event === 'app-id');
  [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
  assert.notEqual(replayRtmrsHex(swapped)[3], quoteRtmrs(q.quote)[3]);
  client.close();
});

test('compose-hash = sha256(app_compose), app-id = compose_hash[0..20], and Info agrees with the quote', async () => {
  const imageRef = `registry.example/webhost@sha256:${'ab'.repeat(32)}`;
  const sim = await testSimulator({ imageRef });
  const client = new GuestAgentClient(sim.endpoint);
  const info = await client.info();
  const q = await client.getQuote(new Uint8Array());
  assert.ok(info.tcb_info);
  const tcb = info.tcb_info;
  const composeHash = sha256hex(tcb.app_compose);
  assert.equal(info.compose_hash, composeHash);
  assert.equal(tcb.compose_hash, composeHash);
  assert.equal(bootEvent(q.events, 'compose-hash').event_payload, composeHash);
  assert.equal(bootEvent(q.events, 'app-id').event_payload, composeHash.slice(0, 40));
  assert.equal(info.app_id, composeHash.slice(0, 40));
  assert.equal(bootEvent(q.events, 'instance-id').event_payload, info.instance_id);
  const kp = JSON.parse(Buffer.from(bootEvent(q.events, 'key-provider').event_payload, 'hex').toString('utf8')) as { name: string; id: string };
  assert.equal(kp.name, 'local-sgx');
  assert.equal(info.key_provider_info, JSON.stringify(kp));
  // app-compose is deterministic JSON naming the configured image by digest.
  const compose = JSON.parse(tcb.app_compose) as Record<string, unknown>;
  assert.deepEqual(Object.keys(compose), Object.keys(compose).sort());
  assert.equal(JSON.stringify(compose), tcb.app_compose);
  assert.match(String(compose.docker_compose_file), new RegExp(`image: ${imageRef.replace(/[.]/g, '\\.')}\\n`));
  // Info's full log has digests and payloads, replays to its own rtmrs and to the quote's.
  const rtmrs = replayRtmrsHex(tcb.event_log);
  assert.deepEqual(rtmrs, [tcb.rtmr0, tcb.rtmr1, tcb.rtmr2, tcb.rtmr3]);
  assert.deepEqual(rtmrs, quoteRtmrs(q.quote));
  for (const e of tcb.event_log.filter((x) => x.imr === 3)) {
    assert.equal(e.digest, Buffer.from(runtimeEventDigest(e.event, Buffer.from(e.event_payload, 'hex'))).toString('hex'));
  }
  assert.equal(tcb.mrtd, readTdReport(q.quoteBytes).fields.mrTd);
  const f = readTdReport(q.quoteBytes).fields;
  const agg = createHash('sha256').update(Buffer.from(f.mrTd + f.rtmr0 + f.rtmr1 + f.rtmr2 + f.rtmr3, 'hex')).digest('hex');
  assert.equal(info.mr_aggregated, agg);
  assert.equal(JSON.parse(info.vm_config).os_image_hash, info.os_image_hash);
  assert.equal(q.vm_config, info.vm_config);
  client.close();
});

test('a different image ref gives a different compose-hash and app-id; the default is digest-pinned', async () => {
  assert.match(DEFAULT_IMAGE_REF, /^ghcr\.io\/dstack-webhost\/daemon@sha256:[0-9a-f]{64}$/);
  const a = await testSimulator();
  const b = await testSimulator({ imageRef: `ghcr.io/dstack-webhost/daemon@sha256:${'0'.repeat(64)}` });
  assert.notEqual(a.agent.info().compose_hash, b.agent.info().compose_hash);
  assert.notEqual(a.agent.info().app_id, b.agent.info().app_id);
  await assert.rejects(testSimulator({ imageRef: 'evil\n    privileged: true' }), /not a plain image reference/);
});

test('EmitEvent appends after system-ready and RTMR3 follows; the quote still verifies', async () => {
  const sim = await testSimulator();
  const client = new GuestAgentClient(sim.endpoint);
  const before = await client.getQuote(new Uint8Array());
  await client.emitEvent('compose-hash', 'forged by an app');
  await client.emitEvent('app-event', new Uint8Array([0, 0xff, 0x10]));
  const after = await client.getQuote(new Uint8Array());
  const r0 = quoteRtmrs(before.quote);
  const r1 = quoteRtmrs(after.quote);
  assert.deepEqual(r1.slice(0, 3), r0.slice(0, 3));
  assert.notEqual(r1[3], r0[3]);
  assert.deepEqual(replayRtmrsHex(after.events), r1);
  const tail = after.events.slice(-2);
  assert.deepEqual(tail.map((e) => [e.imr, e.event, e.digest, e.event_payload]), [
    [3, 'compose-hash', '', Buffer.from('forged by an app').toString('hex')],
    [3, 'app-event', '', '00ff10'],
  ]);
  // Identity still comes from before system-ready: the forged event does not replace it.
  assert.equal(bootEvent(after.events, 'compose-hash').event_payload, sim.agent.info().compose_hash);
  const report = dcap.QuoteVerifier.newWithRootCa(Buffer.from(sim.rootCaDer)).verify(after.quoteBytes, sim.collateral(), nowSecs());
  assert.equal(Buffer.from(report.report.asTd10()!.rtMr3).toString('hex'), r1[3]);
  const info = await client.info();
  assert.equal(info.tcb_info?.rtmr3, r1[3]);
  client.close();
});

test('the replay reproduces real dstack quotes (full and stripped logs)', () => {
  for (const name of ['dstack-getquote-v0.5.11.json', 'dstack-getquote-0.6-stripped.json']) {
    const fx = JSON.parse(readFileSync(`${FIXTURES}/${name}`, 'utf8')) as { quote: string; event_log: string };
    const events = JSON.parse(fx.event_log) as TdxEvent[];
    assert.deepEqual(replayRtmrsHex(events), quoteRtmrs(fx.quote), name);
  }
  const old = JSON.parse(readFileSync(`${FIXTURES}/dstack-getquote-v0.5.11.json`, 'utf8')) as { event_log: string };
  const events = JSON.parse(old.event_log) as TdxEvent[];
  assert.equal(bootEvent(events, 'compose-hash').event_payload, '3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7');
});
