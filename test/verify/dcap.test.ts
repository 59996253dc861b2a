import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Collateral } from '../../src/verify/bundle.ts';
import { bytesToHex } from '../../src/verify/bytes.ts';
import { checkDcap, intelRootCa, INTEL_ROOT_CA_SHA256, qvlStage, type DcapOptions } from '../../src/verify/dcap.ts';
import { fetchCollateral, rawJsonMember, type FetchLike } from '../../src/verify/collateral.ts';
import { parsePckExtension } from '../../src/verify/pck.ts';
import { parseQuote, reportOffset } from '../../src/verify/quote.ts';
import { fingerprint, parseCertificate, pemToDers, verifyChain } from '../../src/verify/x509.ts';
import { hexToBytes } from '../../src/verify/bytes.ts';
import { check, collateral, fixtureBytes, flipBit, getQuote, NOW_90C06F, NOW_B0C06F, statuses, V0511 } from './helpers.ts';

const quote = parseQuote(getQuote(V0511).quote);
const col90 = collateral('90c06f');
const opts = (o: Partial<DcapOptions> = {}): DcapOptions => ({ now: NOW_90C06F, allowSimulator: false, requireCollateral: true, collateral: col90, ...o });

test('the dstack v0.5.11 quote passes every DCAP check: UpToDate, no advisories', async () => {
  const r = await checkDcap(quote, opts());
  for (const c of r.checks) assert.equal(c.status, 'pass', `${c.id}: ${c.summary}`);
  assert.deepEqual(r.tcb, { status: 'UpToDate', advisoryIds: [] });
  assert.equal(r.simulated, false);
  // Golden values from research/dstack.md §4.3: PPID (which dcap-qvl 0.3.9 leaves empty) and both device ids.
  assert.equal(r.facts.ppid, '897d3eb76ea887b783f9ad3d0771034b');
  assert.equal(r.facts.device_id, 'ea0ba482106a22ecb76b59b95fed32b5cc3a81534b27ee01a25a10a87cca7d03');
  assert.equal(r.facts.device_id_legacy, '38dfd642ee0326e5ddd826dd69eea6d516a2431106fe45c0db3f651bb61509d5');
  assert.equal(r.facts.fmspc, '90c06f000000');
  assert.equal(r.facts.pck_ca, 'platform');
  assert.equal(r.facts.trust_root, 'intel');
});

test('the generic v4 quote passes with its own collateral at 2025-07-04', async () => {
  const r = await checkDcap(parseQuote(fixtureBytes('tdx-quote-generic.bin')), opts({ now: NOW_B0C06F, collateral: collateral('b0c06f') }));
  for (const c of r.checks) assert.equal(c.status, 'pass', `${c.id}: ${c.summary}`);
  assert.deepEqual(r.tcb, { status: 'UpToDate', advisoryIds: [] });
});

test('the outdated v5 quote is never a pass: no matching TCB level', async () => {
  const r = await checkDcap(parseQuote(fixtureBytes('tdx-quote-v5-outdated.bin')), opts());
  const qvl = check(r, 'dcap.qvl');
  assert.equal(qvl.status, 'fail');
  assert.match(qvl.summary, /No matching TCB level found/);
  assert.equal(qvl.facts?.stage, 'tcb');
  assert.equal(r.tcb, null);
  // Its signatures are genuine: only the TCB level is the problem.
  assert.equal(check(r, 'quote.signature').status, 'pass');
});

test('one flipped bit of rtmr3 breaks the quote signature (ours and dcap-qvl)', async () => {
  const bad = parseQuote(flipBit(quote.raw, reportOffset(4, 'rtmr3') + 7, 3));
  const r = await checkDcap(bad, opts());
  assert.equal(check(r, 'quote.signature').status, 'fail');
  const qvl = check(r, 'dcap.qvl');
  assert.equal(qvl.status, 'fail');
  assert.match(qvl.summary, /ISV enclave report signature is invalid/);
  assert.equal(qvl.facts?.stage, 'quote-signature');
  // The rest of the chain is intact, and the report says so.
  for (const id of ['pck.chain', 'qe.report', 'collateral.signature']) assert.equal(check(r, id).status, 'pass', id);
});

test('one edited character of tcb_info breaks the collateral signature', async () => {
  const tampered: Collateral = { ...col90, tcb_info: col90.tcb_info.replace('"tcbEvaluationDataNumber":18', '"tcbEvaluationDataNumber":19') };
  assert.notEqual(tampered.tcb_info, col90.tcb_info);
  const r = await checkDcap(quote, opts({ collateral: tampered }));
  const sig = check(r, 'collateral.signature');
  assert.equal(sig.status, 'fail');
  assert.match(sig.summary, /tcb_info signature is invalid/);
  const qvl = check(r, 'dcap.qvl');
  assert.equal(qvl.status, 'fail');
  assert.match(qvl.summary, /Signature is invalid for tcb_info/);
  assert.equal(qvl.facts?.stage, 'collateral');
  assert.equal(check(r, 'quote.signature').status, 'pass');
});

test('expired collateral at today\'s date fails with a clear reason', async () => {
  const today = new Date('2026-11-22T12:00:00Z');
  const r = await checkDcap(quote, opts({ now: today }));
  const fr = check(r, 'collateral.freshness');
  assert.equal(fr.status, 'fail');
  assert.match(fr.summary, /TCB info expired on 2026-03-20T10:58:51Z/);
  assert.match(fr.summary, /QE identity expired on 2026-03-20T10:42:15Z/);
  assert.equal(fr.actual, today.toISOString());
  assert.equal(check(r, 'crl.signature').status, 'fail', 'the PCK CRL expired too');
  assert.match(check(r, 'crl.signature').summary, /PCK CRL expired on 2026-03-20/);
  assert.match(check(r, 'dcap.qvl').summary, /TCBInfo expired/);
  // Certificates are valid for years: the chain itself still verifies today.
  assert.equal(check(r, 'pck.chain').status, 'pass');
});

test('collateral from another platform does not match', async () => {
  const r = await checkDcap(quote, opts({ collateral: collateral('b0c06f'), now: NOW_B0C06F }));
  const plat = check(r, 'collateral.platform');
  assert.equal(plat.status, 'fail');
  assert.equal(plat.expected, '90c06f000000');
  assert.equal(plat.actual, 'b0c06f000000');
  assert.equal(check(r, 'dcap.qvl').status, 'fail');
});

test('CRLs are authenticated here, unlike in dcap-qvl (which accepts junk CRLs)', async () => {
  // dcap-qvl 0.3.9 ignores CRLs it cannot parse: with junk CRLs it still says UpToDate.
  const junk = await checkDcap(quote, opts({ collateral: { ...col90, pck_crl: '00', root_ca_crl: '00' } }));
  assert.equal(check(junk, 'dcap.qvl').status, 'pass', 'dcap-qvl does not authenticate CRLs');
  assert.equal(check(junk, 'crl.signature').status, 'fail');
  assert.equal(check(junk, 'crl.revocation').status, 'fail');

  // A CRL with one flipped bit inside its signed part is caught by its signature.
  const crl = hexToBytes(col90.pck_crl);
  const forged = bytesToHex(flipBit(crl, crl.length - 100));
  const r = await checkDcap(quote, opts({ collateral: { ...col90, pck_crl: forged } }));
  assert.equal(check(r, 'crl.signature').status, 'fail');
  assert.match(check(r, 'crl.signature').summary, /PCK CRL is not signed by "Intel SGX PCK Platform CA"/);
  assert.equal(check(r, 'crl.revocation').status, 'warn');
  assert.equal(check(r, 'dcap.qvl').status, 'pass', 'dcap-qvl again does not notice');

  // Swapping the two CRLs: right signatures, wrong issuers.
  const swapped = await checkDcap(quote, opts({ collateral: { ...col90, pck_crl: col90.root_ca_crl, root_ca_crl: col90.pck_crl } }));
  assert.equal(check(swapped, 'crl.signature').status, 'fail');
});

test('no collateral: the quote chain still verifies; collateral checks skip; dcap.qvl fails or skips by policy', async () => {
  const strict = await checkDcap(quote, opts({ collateral: undefined }));
  const s = statuses(strict);
  assert.equal(s['quote.signature'], 'pass');
  assert.equal(s['pck.chain'], 'pass');
  assert.equal(s['qe.report'], 'pass');
  assert.equal(s['collateral.signature'], 'skip');
  assert.equal(s['dcap.qvl'], 'fail');
  assert.match(check(strict, 'dcap.qvl').summary, /No collateral/);
  const lax = await checkDcap(quote, opts({ collateral: undefined, requireCollateral: false }));
  assert.equal(check(lax, 'dcap.qvl').status, 'skip');
});

test('configuring a simulator root never changes the anchor of a real Intel quote', async () => {
  const foreign = pemToDers(col90.tcb_info_issuer_chain)[0]!;
  const r = await checkDcap(quote, opts({ simulatorRootCa: foreign, allowSimulator: true }));
  assert.equal(check(r, 'dcap.trust-root').status, 'pass', 'the real quote is anchored at Intel whatever simulator root is configured');
  assert.equal(r.simulated, false);
});

test('an unreadable simulator root is a failing check, not an exception', async () => {
  const r = await checkDcap(quote, opts({ simulatorRootCa: 'zz', allowSimulator: true }));
  assert.equal(check(r, 'dcap.trust-root').status, 'fail');
  assert.match(check(r, 'dcap.trust-root').summary, /unreadable/);
});

test('Intel root is pinned by fingerprint', () => {
  assert.equal(fingerprint(intelRootCa()), INTEL_ROOT_CA_SHA256);
  const root = parseCertificate(intelRootCa());
  assert.equal(root.subjectCN, 'Intel SGX Root CA');
});

test('chain verification: wrong anchor, expiry, and a leaf posing as CA are rejected', () => {
  const chain = pemToDers(quote.pckChainPem).map(parseCertificate);
  const root = parseCertificate(intelRootCa());
  assert.ok(verifyChain(chain, root, NOW_90C06F).ok);
  assert.ok(verifyChain(chain.slice(0, 2), root, NOW_90C06F).ok, 'the root may be left out of the chain');
  const tcbSigner = parseCertificate(pemToDers(col90.tcb_info_issuer_chain)[0]!);
  assert.match(verifyChain(chain, tcbSigner, NOW_90C06F).reason, /not issued by/);
  assert.match(verifyChain(chain, root, new Date('2040-01-01T00:00:00Z')).reason, /expired on/);
  assert.match(verifyChain(chain, root, new Date('2010-01-01T00:00:00Z')).reason, /not valid before/);
  assert.match(verifyChain(chain.slice(1), root, NOW_90C06F).reason, /is a CA certificate/);
  // A leaf whose signature bytes are altered.
  const leaf = chain[0]!;
  const badSig = { ...leaf, signature: flipBit(leaf.signature, 10) };
  assert.match(verifyChain([badSig, ...chain.slice(1)], root, NOW_90C06F).reason, /signature on .* is invalid/);
});

test('PCK extension: FMSPC, PCE-ID, SVNs, SGX type', () => {
  const ext = parsePckExtension(parseCertificate(pemToDers(quote.pckChainPem)[0]!));
  assert.equal(bytesToHex(ext.ppid), '897d3eb76ea887b783f9ad3d0771034b');
  assert.equal(bytesToHex(ext.fmspc), '90c06f000000');
  assert.equal(bytesToHex(ext.pceId), '0000');
  assert.equal(ext.cpuSvn.length, 16);
  assert.ok(ext.pceSvn > 0);
  assert.equal(ext.ca, 'platform');
});

test('dcap-qvl error messages map to the link they concern', () => {
  assert.equal(qvlStage('TCBInfo expired'), 'collateral');
  assert.equal(qvlStage('Signature is invalid for qe_identity'), 'collateral');
  assert.equal(qvlStage('Signature is invalid for qe_report in quote'), 'qe-report');
  assert.equal(qvlStage('QE MRSIGNER mismatch: expected A, got B'), 'qe-report');
  assert.equal(qvlStage('ISV enclave report signature is invalid'), 'quote-signature');
  assert.equal(qvlStage('Failed to verify certificate chain - leaf signature invalid'), 'certificates');
  assert.equal(qvlStage('No matching TCB level found'), 'tcb');
  assert.equal(qvlStage('TCB status is invalid: Revoked'), 'tcb');
  assert.equal(qvlStage('SEPT_VE_DISABLE is not enabled'), 'td-attributes');
});

/** A fake PCCS serving the fixture collateral the way PCCS API v4 does. */
function fakePccs(c: Collateral, seen: string[], tcbBodyOverride?: string): FetchLike {
  const res = (body: Uint8Array | string, headers: Record<string, string> = {}) => {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    const h = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    return { ok: true, status: 200, headers: { get: (n: string) => h.get(n.toLowerCase()) ?? null }, arrayBuffer: async () => bytes.slice().buffer };
  };
  return async (url: string) => {
    seen.push(url);
    const u = new URL(url);
    if (u.pathname.endsWith('/pckcrl')) return res(hexToBytes(c.pck_crl), { 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(c.pck_crl_issuer_chain) });
    if (u.pathname.endsWith('/tcb'))
      return res(tcbBodyOverride ?? `{"tcbInfo":${c.tcb_info},"signature":"${c.tcb_info_signature}"}`, { 'TCB-Info-Issuer-Chain': encodeURIComponent(c.tcb_info_issuer_chain) });
    if (u.pathname.endsWith('/qe/identity'))
      return res(`{"enclaveIdentity":${c.qe_identity},"signature":"${c.qe_identity_signature}"}`, { 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(c.qe_identity_issuer_chain) });
    if (u.pathname.endsWith('/rootcacrl')) return res(c.root_ca_crl);
    return { ok: false, status: 404, headers: { get: () => null }, arrayBuffer: async () => new ArrayBuffer(0) };
  };
}

test('collateral fetched from a PCCS asks for the Platform CA CRL and keeps the signed JSON bytes', async () => {
  const seen: string[] = [];
  const ext = parsePckExtension(parseCertificate(pemToDers(quote.pckChainPem)[0]!));
  const fetched = await fetchCollateral('https://pccs.example/sgx/certification/v4/', ext, fakePccs(col90, seen));
  assert.deepEqual(
    seen.map((u) => u.replace('https://pccs.example', '')),
    [
      '/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
      '/tdx/certification/v4/tcb?fmspc=90C06F000000',
      '/tdx/certification/v4/qe/identity?update=standard',
      '/sgx/certification/v4/rootcacrl',
    ],
  );
  for (const k of Object.keys(col90) as (keyof Collateral)[]) assert.equal(fetched[k], col90[k], k);

  const r = await checkDcap(quote, opts({ collateral: undefined, pccsUrl: 'https://pccs.example', fetch: fakePccs(col90, []) }));
  assert.equal(check(r, 'dcap.qvl').status, 'pass');
  assert.equal(r.facts.collateral_source, 'https://pccs.example');
});

test('raw JSON slicing survives whitespace and key order that re-serialising would destroy', () => {
  const inner = '{ "b" : [1, {"x":"}"}],  "a":"q\\"}" }';
  const body = `{\n  "signature": "ab",\n  "tcbInfo" :  ${inner}\n}`;
  assert.equal(rawJsonMember(body, 'tcbInfo'), inner);
  assert.equal(rawJsonMember(body, 'signature'), '"ab"');
  assert.throws(() => rawJsonMember('{"x":{"tcbInfo":{}}}', 'tcbInfo'), /no "tcbInfo"/);
});

test('a PCCS failure becomes a named failing check, not an exception', async () => {
  const down: FetchLike = async () => ({ ok: false, status: 503, headers: { get: () => null }, arrayBuffer: async () => new ArrayBuffer(0) });
  const r = await checkDcap(quote, opts({ collateral: undefined, pccsUrl: 'https://pccs.example', fetch: down }));
  const f = check(r, 'collateral.fetch');
  assert.equal(f.status, 'fail');
  assert.match(f.summary, /HTTP 503/);
  assert.equal(check(r, 'dcap.qvl').status, 'fail');
});
