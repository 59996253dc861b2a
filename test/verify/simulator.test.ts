// The verifier against quotes from the project's own simulator (src/attestation/simulator): the
// simulator's root is trusted only when the policy says so, and the report then says SIMULATED.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/attestation/simulator/index.ts';
import { reportDataForPreimage } from '../../src/verify/binding.ts';
import type { Preimage } from '../../src/verify/bundle.ts';
import { bytesToHex, hexToBytes, utf8ToBytes } from '../../src/verify/bytes.ts';
import { SIMULATED_NOTICE } from '../../src/verify/check.ts';
import { verifyQuote, type QuoteEvidence } from '../../src/verify/verify-quote.ts';
import { tempDir } from '../helpers/tmp.ts';
import { check } from './helpers.ts';

async function sim(o: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const s = await startSimulator({ dir: tempDir('wh-verify-sim-'), ...o });
  after(() => s.close());
  return s;
}

function evidence(s: Simulator, reportData: Uint8Array): QuoteEvidence {
  const q = s.agent.getQuote(reportData);
  const info = s.agent.info();
  const appCompose = (JSON.parse(info.tcb_info) as { app_compose: string }).app_compose;
  return { quote: hexToBytes(q.quote), eventLog: q.event_log, appCompose, expectedReportData: reportData };
}

const preimage = (nonce: string | null): Preimage => ({
  v: 'dstack-webhost/v1',
  project: 'demo',
  deployment: { id: 'a'.repeat(64), tree_hash: null, commit_sha: null, manifest_digest: 'b'.repeat(64), image_digests: [] },
  log: { origin: 'sim/demo', size: 1, root_hash: 'AA==', public_key: 'sim+00000000+AQ==' },
  app_key: null,
  nonce,
});

test('a simulator quote is trusted only with allowSimulator and its root, and is then reported SIMULATED', async () => {
  const s = await sim();
  const p = preimage('c0ffee');
  const ev = { ...evidence(s, reportDataForPreimage(p)), preimage: p };
  delete ev.expectedReportData;

  const strict = await verifyQuote(ev, { collateral: s.collateral(), simulatorRootCa: s.rootCaDer });
  assert.equal(strict.ok, false);
  assert.equal(strict.simulated, false);
  const tr = check(strict, 'dcap.trust-root');
  assert.equal(tr.status, 'fail');
  assert.match(tr.summary, /simulator's development root CA, which this policy does not trust/);

  const noRoot = await verifyQuote(ev, { collateral: s.collateral(), allowSimulator: true });
  assert.equal(noRoot.ok, false);
  assert.match(check(noRoot, 'dcap.trust-root').summary, /not at Intel's SGX Root CA/);

  const allowed = await verifyQuote(ev, { collateral: s.collateral(), allowSimulator: true, simulatorRootCa: bytesToHex(s.rootCaDer), nonce: 'C0FFEE' });
  assert.equal(allowed.ok, true, allowed.summary);
  assert.equal(allowed.simulated, true);
  assert.ok(allowed.summary.startsWith(SIMULATED_NOTICE), allowed.summary);
  assert.match(allowed.summary, /SIMULATED/);
  assert.equal(check(allowed, 'dcap.trust-root').status, 'warn');
  assert.equal(check(allowed, 'binding.report-data').status, 'pass');
  assert.equal(check(allowed, 'binding.nonce').status, 'pass');
  assert.equal(check(allowed, 'compose.daemon-image').status, 'pass');
  assert.equal((allowed.facts.platform as Record<string, unknown>).trust_root, 'simulator');

  const stale = await verifyQuote(ev, { collateral: s.collateral(), allowSimulator: true, simulatorRootCa: s.rootCaDer, nonce: '0123' });
  assert.equal(check(stale, 'binding.nonce').status, 'fail');
});

test('collateral fetched from the simulator\'s PCCS verifies the same way', async () => {
  const s = await sim();
  const r = await verifyQuote(evidence(s, utf8ToBytes('pccs')), { pccsUrl: s.pccsUrl, allowSimulator: true, simulatorRootCa: s.rootCaDer });
  assert.equal(r.ok, true, r.summary);
  assert.equal((r.facts.platform as Record<string, unknown>).collateral_source, s.pccsUrl);
});

test('an app-emitted compose-hash after system-ready is in RTMR3 but never in the identity', async () => {
  const s = await sim();
  const before = evidence(s, utf8ToBytes('x'));
  s.agent.emitEvent('compose-hash', hexToBytes('ee'.repeat(32)));
  s.agent.emitEvent('app-id', hexToBytes('ee'.repeat(20)));
  const after = evidence(s, utf8ToBytes('x'));
  const r = await verifyQuote(after, { collateral: s.collateral(), allowSimulator: true, simulatorRootCa: s.rootCaDer });
  assert.equal(check(r, 'rtmr.3').status, 'pass', 'the quote covers the emitted events');
  assert.equal(check(r, 'boot.identity').status, 'pass');
  assert.equal(check(r, 'compose.hash').status, 'pass', 'the booted app-compose still matches');
  const id = r.facts.identity as Record<string, unknown>;
  const idBefore = (await verifyQuote(before, { collateral: s.collateral(), allowSimulator: true, simulatorRootCa: s.rootCaDer })).facts.identity as Record<string, unknown>;
  assert.equal(id.compose_hash, idBefore.compose_hash);
  assert.equal(id.app_id, idBefore.app_id);
  assert.notEqual(id.compose_hash, 'ee'.repeat(32));
});

test('a platform whose TCB is not up to date fails by default and warns when tolerated, advisories shown', async () => {
  const s = await sim({ tcbStatus: 'SWHardeningNeeded' });
  const ev = evidence(s, utf8ToBytes('tcb'));
  const base = { collateral: s.collateral(), allowSimulator: true, simulatorRootCa: s.rootCaDer };
  const strict = await verifyQuote(ev, base);
  const t = check(strict, 'tcb.status');
  assert.equal(t.status, 'fail');
  assert.equal(t.actual, 'SWHardeningNeeded');
  assert.equal(strict.ok, false);
  const tolerant = await verifyQuote(ev, { ...base, toleratedTcbStatuses: ['SWHardeningNeeded'] });
  assert.equal(check(tolerant, 'tcb.status').status, 'warn');
  assert.match(check(tolerant, 'tcb.status').summary, /SIM-SA-00001/);
  assert.equal(tolerant.ok, true);
});
