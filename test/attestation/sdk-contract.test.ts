// Contract test: dstack's own SDK (@phala/dstack-sdk DstackClient) drives the simulator over the
// unix socket and over HTTP, and gets what it gets from a real guest agent: quotes, Info with a
// parsed tcb_info, keys with their signature chain.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dcap from '@phala/dcap-qvl';
import { DstackClient } from '@phala/dstack-sdk';
import { replayRtmrsHex } from '../../src/attestation/event-log.ts';
import type { TdxEvent } from '../../src/attestation/guest-agent-types.ts';
import { readTdReport } from '../../src/attestation/tdx-quote.ts';
import { nowSecs, testSimulator } from './helpers.ts';

test('the dstack SDK gets verifiable quotes, Info and keys over the socket and over HTTP', async () => {
  const sim = await testSimulator({ httpPort: 0 });
  assert.ok(sim.httpUrl);
  for (const endpoint of [sim.endpoint, sim.httpUrl]) {
    const sdk = new DstackClient(endpoint);

    const q = await sdk.getQuote('hello from the SDK');
    // The SDK sends a string as its UTF-8 bytes; the agent pads them to 64 bytes.
    assert.equal(q.report_data, Buffer.concat([Buffer.from('hello from the SDK'), Buffer.alloc(46)]).toString('hex'));
    const quote = Buffer.from(q.quote, 'hex');
    const report = dcap.QuoteVerifier.newWithRootCa(Buffer.from(sim.rootCaDer)).verify(quote, sim.collateral(), nowSecs());
    assert.equal(report.status, 'UpToDate', endpoint);
    const f = readTdReport(quote).fields;
    const events = JSON.parse(q.event_log) as TdxEvent[];
    assert.deepEqual(replayRtmrsHex(events), [f.rtmr0, f.rtmr1, f.rtmr2, f.rtmr3]);
    // The SDK's own replay reuses digests, which GetQuote leaves empty for runtime events since
    // dstack 0.5.6 (research/dstack.md §1.4): it gets RTMR0-2 right and RTMR3 wrong.
    const sdkRtmrs = q.replayRtmrs();
    assert.deepEqual(sdkRtmrs.slice(0, 3), [f.rtmr0, f.rtmr1, f.rtmr2]);
    assert.notEqual(sdkRtmrs[3], f.rtmr3);

    const info = await sdk.info();
    assert.equal(info.app_id, sim.agent.info().app_id);
    assert.equal(info.tcb_info.rtmr3, f.rtmr3);
    assert.equal(info.tcb_info.mrtd, f.mrTd);
    assert.equal(typeof info.tcb_info.app_compose, 'string');

    const key = await sdk.getKey('sdk/path', 'test', 'secp256k1');
    assert.equal(key.key.length, 32);
    assert.equal(key.signature_chain.length, 2);
    assert.ok(key.signature_chain.every((s) => s.length === 65));
    const again = await sdk.getKey('sdk/path', 'test', 'secp256k1');
    assert.deepEqual(again.key, key.key);

    const v = await sdk.version();
    assert.equal(v.version, '0.5.11');
    const signed = await sdk.sign('ed25519', 'payload');
    assert.equal((await sdk.verify('ed25519', 'payload', signed.signature, signed.public_key)).valid, true);
    assert.equal(await sdk.isReachable(), true);
  }
});

test('an SDK EmitEvent shows up in the next quote', async () => {
  const sim = await testSimulator();
  const sdk = new DstackClient(sim.endpoint);
  await sdk.emitEvent('sdk-event', 'payload');
  const q = await sdk.getQuote(new Uint8Array(0));
  const events = JSON.parse(q.event_log) as TdxEvent[];
  const last = events.at(-1)!;
  assert.deepEqual([last.event, last.event_payload], ['sdk-event', Buffer.from('payload').toString('hex')]);
  const f = readTdReport(Buffer.from(q.quote, 'hex')).fields;
  assert.equal(replayRtmrsHex(events)[3], f.rtmr3);
});
