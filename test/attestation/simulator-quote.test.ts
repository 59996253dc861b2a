// Simulator quotes are real DCAP quotes: dcap-qvl verifies them (UpToDate, at the current time)
// against the simulator's own root, and rejects them against Intel's root, after a one-bit
// change, or outside the collateral's validity window.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dcap from '@phala/dcap-qvl';
import { GuestAgentClient } from '../../src/attestation/guest-agent-client.ts';
import { readTdReport } from '../../src/attestation/tdx-quote.ts';
import { buildCollateral } from '../../src/attestation/simulator/collateral.ts';
import { loadOrIssuePki } from '../../src/attestation/simulator/pki.ts';
import { loadOrCreateSeed, ensureStateDir } from '../../src/attestation/simulator/state.ts';
import { tempDir } from '../helpers/tmp.ts';
import { nowSecs, testSimulator } from './helpers.ts';

const { QuoteVerifier, verify, getCollateral } = dcap;
const DAY = 86_400;

test('a GetQuote quote verifies UpToDate against the simulator root, now', async () => {
  const sim = await testSimulator();
  const client = new GuestAgentClient(sim.endpoint);
  const q = await client.getQuote(new TextEncoder().encode('dstack-webhost'));
  const report = QuoteVerifier.newWithRootCa(Buffer.from(sim.rootCaDer)).verify(q.quoteBytes, sim.collateral(), nowSecs());
  assert.equal(report.status, 'UpToDate');
  assert.deepEqual(report.advisory_ids, []);
  const td = report.report.asTd10();
  assert.ok(td);
  assert.equal(Buffer.from(td.reportData).toString('hex'), q.report_data);
  // The policy dstack and dcap-qvl apply: not debug, SEPT_VE_DISABLE set, mr_signer_seam zero.
  assert.equal(td.tdAttributes[0]! & 1, 0);
  assert.equal(td.tdAttributes[3]! & 0x10, 0x10);
  assert.ok(td.mrSignerSeam.every((b) => b === 0));
  client.close();
});

test('flipping any one bit of the signed region breaks the quote', async () => {
  const sim = await testSimulator();
  const q = sim.agent.getQuote(new Uint8Array([1, 2, 3]));
  const quote = Buffer.from(q.quote, 'hex');
  const verifier = QuoteVerifier.newWithRootCa(Buffer.from(sim.rootCaDer));
  const collateral = sim.collateral();
  assert.equal(verifier.verify(quote, collateral, nowSecs()).status, 'UpToDate');
  const view = readTdReport(quote);
  for (const offset of [0 + 12, view.bodyOffset + 472 /* rtmr3 */, view.bodyOffset + 520 /* report_data */, view.bodyOffset + 136 /* mr_td */]) {
    const bad = Buffer.from(quote);
    bad[offset]! ^= 0x01;
    assert.throws(() => verifier.verify(bad, collateral, nowSecs()), /signature is invalid/, `bit flip at ${offset}`);
  }
});

test("the same quote fails against Intel's root CA", async () => {
  const sim = await testSimulator();
  const quote = Buffer.from(sim.agent.getQuote(new Uint8Array()).quote, 'hex');
  assert.throws(() => verify(quote, sim.collateral(), nowSecs()), /certificate chain/i);
  assert.throws(() => QuoteVerifier.newProd().verify(quote, sim.collateral(), nowSecs()));
});

test('collateral has a 30-day window and is regenerated so a long-running simulator stays valid', async () => {
  const dir = tempDir('wh-att-');
  ensureStateDir(dir);
  const seed = loadOrCreateSeed(dir);
  const pki = loadOrIssuePki(dir, seed);
  const sim = await testSimulator({ dir });
  const quote = Buffer.from(sim.agent.getQuote(new Uint8Array()).quote, 'hex');
  const verifier = QuoteVerifier.newWithRootCa(Buffer.from(pki.root.der));
  const now = new Date();
  const c = buildCollateral(pki, now);
  const info = JSON.parse(c.collateral.tcb_info) as { issueDate: string; nextUpdate: string };
  const issued = Date.parse(info.issueDate) / 1000;
  assert.ok(issued <= nowSecs() && issued > nowSecs() - 600, 'issued now-ish');
  assert.equal(Date.parse(info.nextUpdate) / 1000 - issued, 30 * DAY);
  assert.throws(() => verifier.verify(quote, c.collateral, nowSecs() + 31 * DAY), /TCBInfo expired/);
  // Collateral made 200 days from now verifies then (the PKI outlives it by years).
  const later = buildCollateral(pki, new Date(now.getTime() + 200 * DAY * 1000));
  assert.equal(verifier.verify(quote, later.collateral, nowSecs() + 200 * DAY).status, 'UpToDate');
});

test('tampered collateral is rejected', async () => {
  const sim = await testSimulator();
  const quote = Buffer.from(sim.agent.getQuote(new Uint8Array()).quote, 'hex');
  const verifier = QuoteVerifier.newWithRootCa(Buffer.from(sim.rootCaDer));
  const c = sim.collateral();
  assert.throws(() => verifier.verify(quote, { ...c, tcb_info: c.tcb_info.replace('"UpToDate"', '"UpToDatf"') }, nowSecs()), /Signature is invalid for tcb_info/);
  assert.throws(() => verifier.verify(quote, { ...c, qe_identity: c.qe_identity.replace('"isvprodid":2', '"isvprodid":3') }, nowSecs()), /qe_identity/);
});

test('the mock PCCS serves collateral that dcap-qvl fetches and verifies with', async () => {
  for (const httpPort of [undefined, 0]) {
    const sim = await testSimulator({ httpPort });
    const quote = Buffer.from(sim.agent.getQuote(new Uint8Array(64).fill(7)).quote, 'hex');
    const fetched = await getCollateral(sim.pccsUrl, quote);
    const report = QuoteVerifier.newWithRootCa(Buffer.from(sim.rootCaDer)).verify(quote, fetched, nowSecs());
    assert.equal(report.status, 'UpToDate');
    // Same signed texts as the in-process collateral of the same day.
    assert.equal(fetched.tcb_info, sim.collateral().tcb_info);
    assert.equal(fetched.qe_identity, sim.collateral().qe_identity);
    assert.deepEqual(Buffer.from(fetched.root_ca_crl as number[]).toString('hex'), sim.collateral().root_ca_crl);
    assert.deepEqual(Buffer.from(fetched.pck_crl as number[]).toString('hex'), sim.collateral().pck_crl);
  }
});

test('a configured TCB status is what verification reports, with its advisory', async () => {
  const sim = await testSimulator({ tcbStatus: 'OutOfDate' });
  const quote = Buffer.from(sim.agent.getQuote(new Uint8Array()).quote, 'hex');
  const report = QuoteVerifier.newWithRootCa(Buffer.from(sim.rootCaDer)).verify(quote, sim.collateral(), nowSecs());
  assert.equal(report.status, 'OutOfDate');
  assert.deepEqual(report.advisory_ids, ['SIM-SA-00001']);
});
