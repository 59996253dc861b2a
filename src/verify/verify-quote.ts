// The TEE half of verification, composed: quote → Intel DCAP → TCB → TD attributes → report_data
// binding → RTMR replay → boot identity → app-compose. Every check that applies runs (a failure
// early on does not hide later ones); those that cannot apply are skipped with the reason.
import type { Preimage } from './bundle.ts';
import { checkNonce, checkReportData } from './binding.ts';
import { checkBootIdentity } from './boot-identity.ts';
import { bytesToHex } from './bytes.ts';
import { buildReport, errorMessage, fail, pass, skip, type Check, type Facts, type Report } from './check.ts';
import { checkCompose } from './compose.ts';
import { checkDcap } from './dcap.ts';
import { checkEventLog } from './eventlog.ts';
import { resolvePolicy, type VerifyOptions } from './policy.ts';
import { parseQuote, type ParsedQuote } from './quote.ts';
import { checkTcb } from './tcb.ts';
import { checkTdPolicy } from './td-policy.ts';

export interface QuoteEvidence {
  quote: Uint8Array;
  /** GetQuote's event_log JSON string. */
  eventLog?: string;
  /** The exact app-compose.json text (or bytes) the CVM booted. */
  appCompose?: string | Uint8Array;
  /** report_data the caller expects (right-padded with zeros to 64 bytes, as GetQuote does). */
  expectedReportData?: Uint8Array;
  /** The published preimage; report_data must equal SHA-512(tag ‖ its canonical JSON). */
  preimage?: Preimage;
}

/** Every check id verifyQuote may emit, in report order. */
export const QUOTE_CHECK_IDS = [
  'quote.parse',
  'dcap.trust-root',
  'pck.chain',
  'qe.report',
  'quote.signature',
  /** Only when fetching collateral from a PCCS failed. */
  'collateral.fetch',
  'collateral.signature',
  'collateral.freshness',
  'collateral.platform',
  'crl.signature',
  'crl.revocation',
  'dcap.qvl',
  'tcb.status',
  'td.debug',
  'td.sept-ve-disable',
  'td.reserved-attributes',
  'td.mr-signer-seam',
  'td.mr-servicetd',
  'binding.report-data',
  'binding.nonce',
  'eventlog.parse',
  'rtmr.0',
  'rtmr.1',
  'rtmr.2',
  'rtmr.3',
  'boot.identity',
  'compose.hash',
  'compose.images',
  'compose.daemon-image',
] as const;

export function quoteFacts(q: ParsedQuote): Facts {
  const r = q.report;
  const f: Facts = {
    version: q.header.version,
    body: r.type === 'td15' ? 'TD 1.5' : 'TD 1.0',
    qe_svn: q.header.qeSvn,
    pce_svn: q.header.pceSvn,
    user_data: bytesToHex(q.header.userData),
    tee_tcb_svn: bytesToHex(r.teeTcbSvn),
    mr_seam: bytesToHex(r.mrSeam),
    mr_signer_seam: bytesToHex(r.mrSignerSeam),
    td_attributes: bytesToHex(r.tdAttributes),
    xfam: bytesToHex(r.xfam),
    mrtd: bytesToHex(r.mrTd),
    mr_config_id: bytesToHex(r.mrConfigId),
    mr_owner: bytesToHex(r.mrOwner),
    mr_owner_config: bytesToHex(r.mrOwnerConfig),
    rtmr0: bytesToHex(r.rtmr[0]),
    rtmr1: bytesToHex(r.rtmr[1]),
    rtmr2: bytesToHex(r.rtmr[2]),
    rtmr3: bytesToHex(r.rtmr[3]),
    report_data: bytesToHex(r.reportData),
  };
  if (r.mrServiceTd) f.mr_servicetd = bytesToHex(r.mrServiceTd);
  if (r.teeTcbSvn2) f.tee_tcb_svn2 = bytesToHex(r.teeTcbSvn2);
  return f;
}

export async function verifyQuote(evidence: QuoteEvidence, options: VerifyOptions = {}): Promise<Report> {
  const policy = resolvePolicy(options);
  const checks: Check[] = [];
  const facts: Facts = {};

  let q: ParsedQuote;
  try {
    q = parseQuote(evidence.quote);
  } catch (e) {
    checks.push(fail('quote.parse', 'TDX quote structure', `The quote is malformed: ${errorMessage(e)}.`, { facts: { bytes: evidence.quote.length } }));
    for (const id of QUOTE_CHECK_IDS.slice(1)) if (id !== 'collateral.fetch') checks.push(skip(id, id, 'The quote could not be parsed.'));
    return buildReport(checks, facts, false);
  }
  facts.quote = quoteFacts(q);
  checks.push(
    pass('quote.parse', 'TDX quote structure', `TDX quote v${q.header.version} (${q.report.type === 'td15' ? 'TD 1.5' : 'TD 1.0'} body), ECDSA-P256 attestation key, PCK chain in certification data; every length consistent.`, {
      facts: { bytes: q.raw.length, trailing_zero_bytes: q.trailingBytes },
    }),
  );

  const dcap = await checkDcap(q, {
    now: policy.now,
    allowSimulator: policy.allowSimulator,
    requireCollateral: policy.requireCollateral,
    ...(policy.collateral ? { collateral: policy.collateral } : {}),
    ...(policy.pccsUrl ? { pccsUrl: policy.pccsUrl } : {}),
    ...(policy.fetch ? { fetch: policy.fetch } : {}),
    ...(policy.simulatorRootCa !== undefined ? { simulatorRootCa: policy.simulatorRootCa } : {}),
  });
  checks.push(...dcap.checks);
  facts.platform = dcap.facts;

  const qvl = dcap.checks.find((c) => c.id === 'dcap.qvl');
  const qvlFailure = qvl?.status === 'fail' && qvl.facts ? { message: String(qvl.facts.error ?? qvl.summary), stage: String(qvl.facts.stage ?? '') } : undefined;
  checks.push(checkTcb(dcap.tcb, { allowed: policy.allowedTcbStatuses, tolerated: policy.toleratedTcbStatuses }, qvlFailure));
  checks.push(...checkTdPolicy(q.report));

  const bindOpts: { expected?: Uint8Array; preimage?: Preimage } = {};
  if (evidence.expectedReportData) bindOpts.expected = evidence.expectedReportData;
  if (evidence.preimage) bindOpts.preimage = evidence.preimage;
  checks.push(checkReportData(q.report.reportData, bindOpts));
  checks.push(checkNonce(policy.nonce, evidence.preimage, evidence.expectedReportData !== undefined));

  const log = checkEventLog(evidence.eventLog, q.report.rtmr);
  checks.push(...log.checks);
  if (Object.keys(log.facts).length) facts.event_log = log.facts;

  let measuredComposeHash: string | null = null;
  if (log.events) {
    const boot = checkBootIdentity(log.events, log.matched[3], q.report);
    checks.push(boot.check);
    if (boot.identity) {
      facts.identity = boot.facts;
      measuredComposeHash = boot.identity.composeHash;
    }
  } else {
    checks.push(skip('boot.identity', 'Boot identity (app-id, compose-hash, instance-id, key provider)', 'No usable event log, so there are no boot events.'));
  }

  const compose = checkCompose(evidence.appCompose, measuredComposeHash, {
    requirePinnedImages: policy.requirePinnedImages,
    ...(policy.daemonImage ? { daemonImage: policy.daemonImage } : {}),
  });
  checks.push(...compose.checks);
  if (Object.keys(compose.facts).length) facts.compose = compose.facts;

  return buildReport(checks, facts, dcap.simulated);
}
