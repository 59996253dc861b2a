// Intel DCAP verification of a TDX quote: the hardware half of the trust chain.
//
// Two layers, both always run:
//  1. Our own checks, one per link, with @noble/curves: trust root, PCK certificate chain, QE
//     report, quote signature, collateral signatures, freshness and platform match, CRL
//     signatures and revocation. They name the link that breaks and close dcap-qvl 0.3.9's gaps
//     (CRLs never authenticated, certificate validity skipped in browsers, PPID always empty).
//  2. @phala/dcap-qvl's verify(), which is authoritative for what we do not re-implement: QE
//     identity policy (MRSIGNER, ISVPRODID, attribute masks, ISVSVN) and TCB level matching, which
//     yields the TCB status and advisory IDs.
import dcap from '@phala/dcap-qvl';
import { sha256 } from '@noble/hashes/sha2';
import type { Collateral } from './bundle.ts';
import { bytesEqual, bytesToHex, concatBytes, hexToBytes, isAllZero, utf8ToBytes } from './bytes.ts';
import { errorMessage, fail, pass, skip, warn, type Check, type Fact, type Facts } from './check.ts';
import { crlBytes, fetchCollateral, parseQeIdentity, parseTcbInfo, type FetchLike } from './collateral.ts';
import { deviceIdFromPpid, deviceIdFromUserData, parsePckExtension, type PckExtension } from './pck.ts';
import { parseQuote, type ParsedQuote } from './quote.ts';
import { fingerprint, parseCertificate, parseCrl, pemToDers, verifyChain, verifyEcdsaDer, verifyEcdsaRaw, type Certificate, type Crl } from './x509.ts';

/** SHA-256 of the DER of "Intel SGX Root CA" (valid 2018-05-21 to 2049-12-31). */
export const INTEL_ROOT_CA_SHA256 = '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3';

// dcap-qvl hands DER to asn1.js, which insists on its own Buffer class (Node's in Node, the npm
// `buffer` package in a browser bundle). Borrow that class from one of dcap-qvl's own values
// instead of importing `buffer` ourselves, so both builds get the matching implementation.
const QvlBuffer = dcap.constants.TRUSTED_ROOT_CA_DER.constructor as unknown as { from(b: Uint8Array): Uint8Array };
const toQvl = (b: Uint8Array) => QvlBuffer.from(b) as Parameters<typeof dcap.QuoteVerifier.newWithRootCa>[0];

/** Intel's root, taken from dcap-qvl and pinned by fingerprint so a tampered dependency is caught. */
export function intelRootCa(): Uint8Array {
  const der = Uint8Array.from(dcap.constants.TRUSTED_ROOT_CA_DER);
  if (fingerprint(der) !== INTEL_ROOT_CA_SHA256) throw new Error('dcap-qvl ships an unexpected Intel root CA');
  return der;
}

export interface DcapOptions {
  collateral?: Collateral;
  pccsUrl?: string;
  fetch?: FetchLike;
  now: Date;
  allowSimulator: boolean;
  /** The simulator's root CA: DER bytes, hex of the DER, or PEM. Used only with allowSimulator. */
  simulatorRootCa?: Uint8Array | string;
  /** Without collateral the TCB status is unknown: fail (true) or skip (false) the dcap checks that need it. */
  requireCollateral: boolean;
}

export interface TcbResult {
  status: string;
  advisoryIds: string[];
}

export interface DcapOutcome {
  checks: Check[];
  facts: Facts;
  simulated: boolean;
  /** Set only when dcap-qvl verified the quote. */
  tcb: TcbResult | null;
}

function rootFromInput(v: Uint8Array | string): Uint8Array {
  if (typeof v !== 'string') return v;
  if (v.includes('BEGIN CERTIFICATE')) {
    const [der] = pemToDers(v);
    if (!der) throw new Error('simulator root CA PEM holds no certificate');
    return der;
  }
  return hexToBytes(v.trim());
}

/** dcap-qvl throws plain messages; map them to the link of the chain they concern. */
export function qvlStage(message: string): string {
  const rules: [RegExp, string][] = [
    [/tcb.?info|QE Identity|qe_identity|QeIdentity/i, 'collateral'],
    [/qe_report|QE report|QE (MRSIGNER|ISVPRODID|MISCSELECT|ATTRIBUTES|ISVSVN)/i, 'qe-report'],
    [/ISV enclave report signature/i, 'quote-signature'],
    [/certificate|CaUsedAsEndEntity|PCK/i, 'certificates'],
    [/Fmspc|TCB level|TCB status/i, 'tcb'],
    [/Debug|SEPT_VE|Reserved bits|mr service td/i, 'td-attributes'],
    [/quote|Unsupported/i, 'quote'],
  ];
  for (const [re, stage] of rules) if (re.test(message)) return stage;
  return 'unknown';
}

interface Ctx {
  q: ParsedQuote;
  o: DcapOptions;
  now: Date;
  checks: Check[];
  facts: Facts;
}

function chooseAnchor(c: Ctx, pckCerts: Certificate[]): { anchor: Certificate; simulated: boolean } {
  const intel = parseCertificate(intelRootCa());
  const top = pckCerts[pckCerts.length - 1];
  const id = 'dcap.trust-root';
  const title = 'Trust anchor';
  const intelFacts: Facts = { root: intel.subjectCN, root_sha256: INTEL_ROOT_CA_SHA256 };
  let sim: Certificate | null = null;
  if (c.o.simulatorRootCa !== undefined) {
    try {
      sim = parseCertificate(rootFromInput(c.o.simulatorRootCa));
    } catch (e) {
      // Unusable configuration: say so, and fall back to Intel's root alone.
      c.checks.push(fail(id, title, `The simulator root CA given to the verifier is unreadable: ${errorMessage(e)}.`));
      c.facts.trust_root = 'untrusted';
      return { anchor: intel, simulated: false };
    }
  }
  const endsAt = (root: Certificate) => !!top && (bytesEqual(top.raw, root.raw) || bytesEqual(top.issuer, root.subject));
  if (top && endsAt(intel)) {
    c.checks.push(pass(id, title, `The quote's certificate chain is anchored at Intel's SGX Root CA (pinned by SHA-256).`, { expected: INTEL_ROOT_CA_SHA256, actual: fingerprint(intel.raw), facts: intelFacts }));
    c.facts.trust_root = 'intel';
    return { anchor: intel, simulated: false };
  }
  if (sim && endsAt(sim)) {
    const simFp = fingerprint(sim.raw);
    if (c.o.allowSimulator) {
      c.checks.push(
        warn(id, title, 'SIMULATED: the quote is anchored at the simulator\'s development root CA, trusted only because the policy allows the simulator. It is not evidence of Intel TDX hardware.', {
          expected: INTEL_ROOT_CA_SHA256,
          actual: simFp,
          facts: { root: sim.subjectCN, root_sha256: simFp },
        }),
      );
      c.facts.trust_root = 'simulator';
      return { anchor: sim, simulated: true };
    }
    c.checks.push(fail(id, title, 'The quote is anchored at the simulator\'s development root CA, which this policy does not trust (allowSimulator is off).', { expected: INTEL_ROOT_CA_SHA256, actual: simFp }));
    c.facts.trust_root = 'untrusted';
    return { anchor: intel, simulated: false };
  }
  const actual = top ? fingerprint(top.raw) : 'no certificate';
  c.checks.push(fail(id, title, `The quote's certificate chain ends at ${top ? `"${top.subjectCN}"` : 'nothing'}, not at Intel's SGX Root CA.`, { expected: INTEL_ROOT_CA_SHA256, actual }));
  c.facts.trust_root = 'untrusted';
  return { anchor: intel, simulated: false };
}

function checkPck(c: Ctx, pckCerts: Certificate[], anchor: Certificate): PckExtension | null {
  const r = verifyChain(pckCerts, anchor, c.now);
  const leaf = pckCerts[0];
  const facts: Facts = {};
  let ext: PckExtension | null = null;
  if (leaf) {
    facts.leaf = leaf.subjectCN;
    facts.issuer = leaf.issuerCN;
    facts.leaf_not_after = leaf.notAfter.toISOString();
    try {
      ext = parsePckExtension(leaf);
      Object.assign(facts, {
        fmspc: bytesToHex(ext.fmspc),
        ppid: bytesToHex(ext.ppid),
        pce_id: bytesToHex(ext.pceId),
        pce_svn: ext.pceSvn,
        cpu_svn: bytesToHex(ext.cpuSvn),
        ca: ext.ca,
      });
      c.facts.fmspc = bytesToHex(ext.fmspc);
      c.facts.ppid = bytesToHex(ext.ppid);
      c.facts.pck_ca = ext.ca;
      c.facts.device_id = deviceIdFromPpid(ext.ppid);
    } catch (e) {
      c.checks.push(fail('pck.chain', 'PCK certificate chain', `The PCK certificate's Intel SGX extension is unreadable: ${errorMessage(e)}`, { facts }));
      return null;
    }
  }
  c.facts.device_id_legacy = deviceIdFromUserData(c.q.header.userData);
  const title = 'PCK certificate chain';
  if (r.ok) c.checks.push(pass('pck.chain', title, `The platform's PCK certificate chains to the trust anchor: ${r.reason}.`, { facts }));
  else c.checks.push(fail('pck.chain', title, `The PCK certificate chain does not verify: ${r.reason}.`, { facts }));
  return ext;
}

function checkQeReport(c: Ctx, leaf: Certificate | undefined) {
  const id = 'qe.report';
  const title = 'Quoting Enclave report';
  const q = c.q;
  const expected = bytesToHex(sha256(concatBytes(q.attestationKey, q.qeAuthData)));
  const actual = bytesToHex(q.qeReport.reportData.subarray(0, 32));
  const facts: Facts = {
    qe_mr_signer: bytesToHex(q.qeReport.mrSigner),
    qe_mr_enclave: bytesToHex(q.qeReport.mrEnclave),
    qe_isv_prod_id: q.qeReport.isvProdId,
    qe_isv_svn: q.qeReport.isvSvn,
  };
  if (!leaf) return c.checks.push(fail(id, title, 'No PCK certificate to check the QE report signature with.', { facts }));
  if (!verifyEcdsaRaw(q.qeReport.raw, q.qeReportSignature, leaf.publicKey)) {
    return c.checks.push(fail(id, title, 'The QE report signature does not verify under the PCK certificate key.', { facts }));
  }
  if (expected !== actual || !isAllZero(q.qeReport.reportData.subarray(32))) {
    return c.checks.push(fail(id, title, 'The QE report does not bind the attestation key: sha256(attestation key ‖ QE auth data) differs from its report_data.', { expected, actual, facts }));
  }
  c.checks.push(pass(id, title, 'The QE report is signed by the PCK key and binds the attestation key (report_data = sha256(attestation key ‖ QE auth data)).', { expected, actual, facts }));
}

function checkQuoteSignature(c: Ctx) {
  const key = concatBytes(new Uint8Array([4]), c.q.attestationKey);
  const ok = verifyEcdsaRaw(c.q.signedRegion, c.q.signature, key);
  const facts: Facts = { attestation_key: bytesToHex(c.q.attestationKey), signed_bytes: c.q.signedRegion.length };
  const title = 'Quote signature';
  c.checks.push(
    ok
      ? pass('quote.signature', title, 'The TD report (measurements and report_data) is signed by the attestation key that the QE report certifies.', { facts })
      : fail('quote.signature', title, 'The quote signature does not verify: the header or TD report (measurements, RTMRs, report_data) was altered after signing.', { facts }),
  );
}

function certsOf(pem: string): Certificate[] {
  return pemToDers(pem).map(parseCertificate);
}

/** collateral.signature: TCB info and QE identity signed by a TCB Signing certificate that chains to the anchor. Returns the signers. */
function checkCollateralSignature(c: Ctx, col: Collateral, anchor: Certificate): Certificate[] {
  const problems: string[] = [];
  const signers: Certificate[] = [];
  const signed = (name: string, chainPem: string, text: string, sigHex: string | number[]) => {
    try {
      const chain = certsOf(chainPem);
      const r = verifyChain(chain, anchor, c.now);
      if (!r.ok) return problems.push(`${name} issuer chain: ${r.reason}`);
      signers.push(chain[0]!);
      if (!verifyEcdsaRaw(utf8ToBytes(text), crlBytes(sigHex), chain[0]!.publicKey)) problems.push(`${name} signature is invalid`);
    } catch (e) {
      problems.push(`${name} is malformed (${errorMessage(e)})`);
    }
  };
  signed('tcb_info', col.tcb_info_issuer_chain, col.tcb_info, col.tcb_info_signature);
  signed('qe_identity', col.qe_identity_issuer_chain, col.qe_identity, col.qe_identity_signature);
  const title = 'Collateral signatures';
  c.checks.push(
    problems.length
      ? fail('collateral.signature', title, `Intel's collateral does not verify: ${problems.join('; ')}.`)
      : pass('collateral.signature', title, `TCB info and QE identity are signed by "${signers[0]?.subjectCN ?? ''}", which chains to the trust anchor.`),
  );
  return signers;
}

/** collateral.freshness and collateral.platform. */
function checkCollateralDocs(c: Ctx, col: Collateral, ext: PckExtension | null) {
  let tcbInfo, qeId;
  try {
    tcbInfo = parseTcbInfo(col.tcb_info);
    qeId = parseQeIdentity(col.qe_identity);
  } catch (e) {
    const why = `The collateral documents are unreadable: ${errorMessage(e)}`;
    c.checks.push(fail('collateral.freshness', 'Collateral freshness', why), fail('collateral.platform', 'Collateral matches the platform', why));
    return;
  }
  const now = c.now.toISOString();
  const windows: Facts = {
    tcb_info: `${tcbInfo.issueDate} .. ${tcbInfo.nextUpdate}`,
    qe_identity: `${qeId.issueDate} .. ${qeId.nextUpdate}`,
    now,
  };
  c.facts.collateral_window = `${tcbInfo.issueDate} .. ${tcbInfo.nextUpdate}`;
  c.facts.tcb_evaluation_data_number = tcbInfo.tcbEvaluationDataNumber ?? null;
  const stale: string[] = [];
  for (const [name, doc] of [['TCB info', tcbInfo], ['QE identity', qeId]] as const) {
    const from = Date.parse(doc.issueDate);
    const to = Date.parse(doc.nextUpdate);
    if (!(from <= c.now.getTime())) stale.push(`${name} is issued in the future (${doc.issueDate})`);
    if (!(c.now.getTime() <= to)) stale.push(`${name} expired on ${doc.nextUpdate}`);
  }
  const frTitle = 'Collateral freshness';
  c.checks.push(
    stale.length
      ? fail('collateral.freshness', frTitle, `The collateral is not valid at ${now}: ${stale.join('; ')}. Fetch fresh collateral from a PCCS.`, {
          expected: String(windows.tcb_info),
          actual: now,
          facts: windows,
        })
      : pass('collateral.freshness', frTitle, `TCB info and QE identity are within their validity windows at ${now}.`, { facts: windows }),
  );

  const plat: string[] = [];
  if (tcbInfo.id !== 'TDX' || !(tcbInfo.version >= 3)) plat.push(`TCB info is ${tcbInfo.id} v${tcbInfo.version}, not TDX v3+`);
  if (qeId.id !== 'TD_QE') plat.push(`QE identity is for ${qeId.id}, not TD_QE`);
  const pckFmspc = ext ? bytesToHex(ext.fmspc) : '';
  const colFmspc = String(tcbInfo.fmspc).toLowerCase();
  if (!ext || colFmspc !== pckFmspc) plat.push(`TCB info FMSPC ${colFmspc} does not match the PCK certificate's ${pckFmspc || '(unknown)'}`);
  if (ext && String(tcbInfo.pceId).toLowerCase() !== bytesToHex(ext.pceId)) plat.push(`TCB info PCE-ID ${tcbInfo.pceId} does not match the PCK certificate's ${bytesToHex(ext.pceId)}`);
  const plTitle = 'Collateral matches the platform';
  c.checks.push(
    plat.length
      ? fail('collateral.platform', plTitle, `${plat.join('; ')}.`, { expected: pckFmspc, actual: colFmspc })
      : pass('collateral.platform', plTitle, 'TDX TCB info and TD_QE identity for this platform\'s FMSPC and PCE-ID.', { expected: pckFmspc, actual: colFmspc }),
  );
}

/**
 * crl.signature and crl.revocation. dcap-qvl matches serials against any CRL without checking who
 * signed it or when (and ignores CRLs it cannot parse); we require the root CA CRL signed by the
 * anchor, the PCK CRL signed by a CA that chains to it and that issued this PCK, both current.
 */
function checkCrls(c: Ctx, col: Collateral, anchor: Certificate, pckCerts: Certificate[], signers: Certificate[]) {
  const sigTitle = 'CRLs authentic and current';
  const rvTitle = 'No certificate revoked';
  let rootCrl: Crl, pckCrl: Crl, crlChain: Certificate[];
  try {
    rootCrl = parseCrl(crlBytes(col.root_ca_crl));
    pckCrl = parseCrl(crlBytes(col.pck_crl));
    crlChain = certsOf(col.pck_crl_issuer_chain);
  } catch (e) {
    c.checks.push(fail('crl.signature', sigTitle, `The CRLs are malformed: ${errorMessage(e)}.`));
    c.checks.push(fail('crl.revocation', rvTitle, 'Revocation cannot be checked without readable CRLs.'));
    return;
  }
  const problems: string[] = [];
  const nowMs = c.now.getTime();
  const fresh = (name: string, crl: Crl) => {
    if (crl.thisUpdate.getTime() > nowMs) problems.push(`${name} is issued in the future (${crl.thisUpdate.toISOString()})`);
    if (!crl.nextUpdate || crl.nextUpdate.getTime() < nowMs) problems.push(`${name} expired on ${crl.nextUpdate?.toISOString() ?? '(no nextUpdate)'}`);
  };
  if (!bytesEqual(rootCrl.issuer, anchor.subject) || !verifyEcdsaDer(rootCrl.tbs, rootCrl.signature, anchor.publicKey, rootCrl.sigAlg)) {
    problems.push('the root CA CRL is not signed by the trust anchor');
  }
  fresh('root CA CRL', rootCrl);
  const crlCa = crlChain[0];
  const caChain = verifyChain(crlChain, anchor, c.now, { leafIsCa: true });
  if (!crlCa || !caChain.ok) problems.push(`the PCK CRL issuer chain does not verify: ${caChain.reason}`);
  else if (!bytesEqual(pckCrl.issuer, crlCa.subject) || !verifyEcdsaDer(pckCrl.tbs, pckCrl.signature, crlCa.publicKey, pckCrl.sigAlg)) {
    problems.push(`the PCK CRL is not signed by "${crlCa.subjectCN}"`);
  }
  const pckLeaf = pckCerts[0];
  if (pckLeaf && !bytesEqual(pckLeaf.issuer, pckCrl.issuer)) problems.push(`the PCK CRL is from "${pckCrl.issuerCN}", but the PCK certificate was issued by "${pckLeaf.issuerCN}"`);
  fresh('PCK CRL', pckCrl);
  const facts: Facts = {
    root_crl: `${rootCrl.thisUpdate.toISOString()} .. ${rootCrl.nextUpdate?.toISOString() ?? '?'}`,
    pck_crl: `${pckCrl.issuerCN}, ${pckCrl.thisUpdate.toISOString()} .. ${pckCrl.nextUpdate?.toISOString() ?? '?'}, ${pckCrl.revokedSerials.length} revoked`,
  };
  c.checks.push(
    problems.length
      ? fail('crl.signature', sigTitle, `The revocation lists cannot be trusted: ${problems.join('; ')}.`, { facts })
      : pass('crl.signature', sigTitle, 'The root CA CRL and the PCK CRL are signed by their issuers, chain to the trust anchor and are current.', { facts }),
  );

  // Each certificate against the CRL of its own issuer.
  const revoked: string[] = [];
  const against = (cert: Certificate | undefined, crl: Crl) => {
    if (cert && bytesEqual(cert.issuer, crl.issuer) && crl.revokedSerials.includes(cert.serial)) revoked.push(`"${cert.subjectCN}" (serial ${cert.serial})`);
  };
  against(pckLeaf, pckCrl);
  for (const cert of [...pckCerts.slice(1), ...signers, crlCa]) against(cert, rootCrl);
  if (revoked.length) c.checks.push(fail('crl.revocation', rvTitle, `Revoked by Intel: ${revoked.join(', ')}.`));
  else if (problems.length) c.checks.push(warn('crl.revocation', rvTitle, 'No certificate is listed as revoked, but the CRLs themselves did not verify, so this proves little.'));
  else c.checks.push(pass('crl.revocation', rvTitle, "Neither the PCK certificate, its CA, nor the collateral signing certificate is on Intel's CRLs."));
}

function runQvl(c: Ctx, col: Collateral, anchor: Certificate): TcbResult | null {
  const id = 'dcap.qvl';
  const title = 'Intel DCAP quote verification (dcap-qvl)';
  try {
    const verifier = dcap.QuoteVerifier.newWithRootCa(toQvl(anchor.raw));
    const r = verifier.verify(toQvl(c.q.raw), col as unknown as Parameters<typeof verifier.verify>[1], Math.floor(c.now.getTime() / 1000));
    const tcb = { status: String(r.status), advisoryIds: [...r.advisory_ids].map(String) };
    c.checks.push(
      pass(id, title, `dcap-qvl verified the quote, the QE identity policy and the platform's TCB level: ${tcb.status}.`, {
        facts: { tcb_status: tcb.status, advisory_ids: tcb.advisoryIds, browser_mode: dcap.isBrowser },
      }),
    );
    return tcb;
  } catch (e) {
    const msg = errorMessage(e);
    c.checks.push(fail(id, title, `dcap-qvl rejected the quote: ${msg}.`, { facts: { error: msg, stage: qvlStage(msg), browser_mode: dcap.isBrowser } }));
    return null;
  }
}

/** Runs every DCAP check that applies to `q` and returns them with the facts they established. */
export async function checkDcap(q: ParsedQuote, o: DcapOptions): Promise<DcapOutcome> {
  const c: Ctx = { q, o, now: o.now, checks: [], facts: {} };
  c.facts.now = o.now.toISOString();
  c.facts.qe_vendor_id = bytesToHex(q.header.qeVendorId);
  let pckCerts: Certificate[] = [];
  try {
    pckCerts = pemToDers(q.pckChainPem).map(parseCertificate);
  } catch (e) {
    c.checks.push(fail('pck.chain', 'PCK certificate chain', `The quote's PCK certificate chain is unreadable: ${errorMessage(e)}`));
  }
  const { anchor, simulated } = chooseAnchor(c, pckCerts);
  const ext = pckCerts.length ? checkPck(c, pckCerts, anchor) : null;
  checkQeReport(c, pckCerts[0]);
  checkQuoteSignature(c);

  let col = o.collateral;
  if (!col && o.pccsUrl) {
    if (!ext) {
      c.checks.push(fail('collateral.fetch', 'Collateral from PCCS', 'Cannot fetch collateral without a readable PCK certificate (FMSPC unknown).'));
    } else if (!o.fetch && typeof fetch !== 'function') {
      c.checks.push(fail('collateral.fetch', 'Collateral from PCCS', 'No fetch function is available to reach the PCCS.'));
    } else {
      try {
        col = await fetchCollateral(o.pccsUrl, ext, o.fetch ?? (fetch as unknown as FetchLike));
        c.facts.collateral_source = o.pccsUrl;
      } catch (e) {
        c.checks.push(fail('collateral.fetch', 'Collateral from PCCS', `Fetching collateral from ${o.pccsUrl} failed: ${errorMessage(e)}`));
      }
    }
  } else if (col) {
    c.facts.collateral_source = 'given';
  }

  let tcb: TcbResult | null = null;
  if (col) {
    const signers = checkCollateralSignature(c, col, anchor);
    checkCollateralDocs(c, col, ext);
    checkCrls(c, col, anchor, pckCerts, signers);
    tcb = runQvl(c, col, anchor);
  } else {
    const why = 'No collateral was given (pass collateral or a PCCS URL), so the TCB status cannot be established.';
    for (const [id, title] of [
      ['collateral.signature', 'Collateral signatures'],
      ['collateral.freshness', 'Collateral freshness'],
      ['collateral.platform', 'Collateral matches the platform'],
      ['crl.signature', 'CRLs authentic and current'],
      ['crl.revocation', 'No certificate revoked'],
    ] as const) {
      c.checks.push(skip(id, title, why));
    }
    c.checks.push((o.requireCollateral ? fail : skip)('dcap.qvl', 'Intel DCAP quote verification (dcap-qvl)', why));
  }
  if (tcb) {
    c.facts.tcb_status = tcb.status;
    c.facts.advisory_ids = tcb.advisoryIds as Fact;
  }
  return { checks: c.checks, facts: c.facts, simulated, tcb };
}

/**
 * PCCS collateral for the platform that produced `quote` (its FMSPC and CA come from the quote's
 * PCK certificate). The daemon uses it to put collateral into its evidence, so a browser can
 * verify without a PCCS of its own; what it fetches is signed by Intel and checked like any other.
 */
export async function collateralForQuote(quote: Uint8Array, pccsUrl: string, fetchFn: FetchLike): Promise<Collateral> {
  const q = parseQuote(quote);
  const leaf = parseCertificate(pemToDers(q.pckChainPem)[0]!);
  return fetchCollateral(pccsUrl, parsePckExtension(leaf), fetchFn);
}
