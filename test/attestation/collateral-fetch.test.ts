// The daemon fetches PCCS collateral for its own platform (on real hardware, from Phala's PCCS) and
// puts it into its evidence. Checked here against the simulator's PCCS, whose collateral a verifier
// must then accept like any other.
import test from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator } from '../../src/attestation/simulator/index.ts';
import { GuestAgentClient } from '../../src/attestation/guest-agent-client.ts';
import { collateralForQuote } from '../../src/verify/dcap.ts';
import { verifyQuote } from '../../src/verify/index.ts';
import type { FetchLike } from '../../src/verify/collateral.ts';
import { tempDir } from '../helpers/tmp.ts';

test('collateral fetched from a PCCS for the quote\'s platform verifies that quote', async () => {
  const sim = await startSimulator({ dir: tempDir('sim-') });
  try {
    const client = new GuestAgentClient({ endpoint: sim.endpoint });
    const q = await client.getQuote(new Uint8Array([7]));
    const collateral = await collateralForQuote(q.quoteBytes, sim.pccsUrl, fetch as unknown as FetchLike);
    assert.match(collateral.tcb_info, /"id":"TDX"/);
    const report = await verifyQuote({ quote: q.quoteBytes }, { collateral, allowSimulator: true, simulatorRootCa: sim.rootCaDer });
    assert.equal(report.checks.find((c) => c.id === 'dcap.qvl')?.status, 'pass');
    await assert.rejects(collateralForQuote(q.quoteBytes, 'http://127.0.0.1:9', fetch as unknown as FetchLike));
    client.close();
  } finally {
    await sim.close();
  }
});
