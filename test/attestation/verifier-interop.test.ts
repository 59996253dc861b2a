// Simulator evidence through the project's own verifier (src/verify): with the simulator root
// allowed, every check passes or is a visible warning (SIMULATED trust root); with Intel's root
// only, it fails. This keeps the simulator and the verifier from drifting apart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestAgentClient } from '../../src/attestation/guest-agent-client.ts';
import { verifyQuote } from '../../src/verify/index.ts';
import { testSimulator } from './helpers.ts';

test('simulator quotes pass src/verify when its root is allowed, and only then', async () => {
  const sim = await testSimulator();
  const client = new GuestAgentClient(sim.endpoint);
  const reportData = new TextEncoder().encode('interop');
  const q = await client.getQuote(reportData);
  const info = await client.info();
  const evidence = { quote: q.quoteBytes, eventLog: q.event_log, appCompose: info.tcb_info!.app_compose, expectedReportData: reportData };
  for (const source of [{ collateral: sim.collateral() }, { pccsUrl: sim.pccsUrl }]) {
    const report = await verifyQuote(evidence, { ...source, allowSimulator: true, simulatorRootCa: sim.rootCaDer });
    const notPassed = report.checks.filter((c) => c.status !== 'pass' && c.status !== 'skip').map((c) => `${c.id}:${c.status}`);
    assert.deepEqual(notPassed, ['dcap.trust-root:warn'], JSON.stringify(report.checks.filter((c) => c.status === 'fail')));
    assert.equal(report.ok, true);
    assert.equal(report.simulated, true);
    for (const id of ['quote.signature', 'crl.signature', 'rtmr.3', 'boot.identity', 'compose.hash', 'binding.report-data']) {
      assert.equal(report.checks.find((c) => c.id === id)?.status, 'pass', id);
    }
  }
  const strict = await verifyQuote(evidence, { collateral: sim.collateral() });
  assert.equal(strict.ok, false);
  client.close();
});
