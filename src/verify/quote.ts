// Strict parser of Intel TDX DCAP quotes (v4 with a TD 1.0 body; v5 with a TD 1.0 or TD 1.5
// body). Our own, independent of dcap-qvl, so the report can show every field and so a malformed
// quote is rejected with a precise reason. Parsing follows the declared lengths, never the total
// size: dstack quotes carry trailing zero bytes after the signature data.
import { Reader, bytesToUtf8 } from './bytes.ts';

export const TEE_TYPE_TDX = 0x81;
export const ATT_KEY_TYPE_ECDSA_P256 = 2;
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
export const CERT_TYPE_PCK_CHAIN = 5;
export const CERT_TYPE_QE_REPORT = 6;
const HEADER_LEN = 48;
const TD10_LEN = 584;
const TD15_LEN = 648;
const QE_REPORT_LEN = 384;

export interface QuoteHeader {
  version: number;
  attKeyType: number;
  teeType: number;
  qeSvn: number;
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

export interface TdReport {
  /** 'td10' (584 B) or 'td15' (648 B, TD 1.5 module). */
  type: 'td10' | 'td15';
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
  /** TD15 only. */
  teeTcbSvn2?: Uint8Array;
  mrServiceTd?: Uint8Array;
}

/** The Quoting Enclave's SGX report (384 B), signed by the PCK key. */
export interface QeReport {
  raw: Uint8Array;
  cpuSvn: Uint8Array;
  miscSelect: number;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  reportData: Uint8Array;
}

export interface ParsedQuote {
  raw: Uint8Array;
  header: QuoteHeader;
  /** v5 only: the body descriptor (2 = TD10, 3 = TD15). */
  bodyType: number;
  report: TdReport;
  /** header ‖ [v5 body descriptor] ‖ body: the bytes the attestation key signs. */
  signedRegion: Uint8Array;
  /** r ‖ s, 64 B. */
  signature: Uint8Array;
  /** x ‖ y of the P-256 attestation key, 64 B. */
  attestationKey: Uint8Array;
  qeReport: QeReport;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** The PCK certificate chain (PEM text, leaf first) from certification data type 5. */
  pckChainPem: string;
  /** Bytes after the declared signature data (dstack pads with zeros). */
  trailingBytes: number;
}

function parseHeader(r: Reader): QuoteHeader {
  const version = r.u16('header.version');
  const attKeyType = r.u16('header.att_key_type');
  const teeType = r.u32('header.tee_type');
  const qeSvn = r.u16('header.qe_svn');
  const pceSvn = r.u16('header.pce_svn');
  const qeVendorId = r.take(16, 'header.qe_vendor_id');
  const userData = r.take(20, 'header.user_data');
  if (version !== 4 && version !== 5) throw new Error(`unsupported quote version ${version} (expected 4 or 5)`);
  if (teeType !== TEE_TYPE_TDX) throw new Error(`tee_type 0x${teeType.toString(16)} is not TDX (0x81)`);
  if (attKeyType !== ATT_KEY_TYPE_ECDSA_P256) throw new Error(`attestation key type ${attKeyType} is not ECDSA-P256 (2)`);
  return { version, attKeyType, teeType, qeSvn, pceSvn, qeVendorId, userData };
}

function parseTdReport(r: Reader, type: 'td10' | 'td15'): TdReport {
  const f = (n: number, name: string) => r.take(n, `td_report.${name}`);
  const rep: TdReport = {
    type,
    teeTcbSvn: f(16, 'tee_tcb_svn'),
    mrSeam: f(48, 'mr_seam'),
    mrSignerSeam: f(48, 'mr_signer_seam'),
    seamAttributes: f(8, 'seam_attributes'),
    tdAttributes: f(8, 'td_attributes'),
    xfam: f(8, 'xfam'),
    mrTd: f(48, 'mr_td'),
    mrConfigId: f(48, 'mr_config_id'),
    mrOwner: f(48, 'mr_owner'),
    mrOwnerConfig: f(48, 'mr_owner_config'),
    rtmr: [f(48, 'rtmr0'), f(48, 'rtmr1'), f(48, 'rtmr2'), f(48, 'rtmr3')],
    reportData: f(64, 'report_data'),
  };
  if (type === 'td15') {
    rep.teeTcbSvn2 = f(16, 'tee_tcb_svn2');
    rep.mrServiceTd = f(48, 'mr_servicetd');
  }
  return rep;
}

export function parseQeReport(raw: Uint8Array): QeReport {
  const r = new Reader(raw);
  const cpuSvn = r.take(16, 'qe_report.cpu_svn');
  const miscSelect = r.u32('qe_report.misc_select');
  r.take(28, 'qe_report.reserved1');
  const attributes = r.take(16, 'qe_report.attributes');
  const mrEnclave = r.take(32, 'qe_report.mr_enclave');
  r.take(32, 'qe_report.reserved2');
  const mrSigner = r.take(32, 'qe_report.mr_signer');
  r.take(96, 'qe_report.reserved3');
  const isvProdId = r.u16('qe_report.isv_prod_id');
  const isvSvn = r.u16('qe_report.isv_svn');
  r.take(60, 'qe_report.reserved4');
  const reportData = r.take(64, 'qe_report.report_data');
  if (r.remaining !== 0) throw new Error('QE report is not 384 bytes');
  return { raw, cpuSvn, miscSelect, attributes, mrEnclave, mrSigner, isvProdId, isvSvn, reportData };
}

/** Parses a TDX quote; throws an Error naming the first field that is wrong or truncated. */
export function parseQuote(raw: Uint8Array): ParsedQuote {
  const r = new Reader(raw);
  const header = parseHeader(r);
  let bodyType = 2;
  let report: TdReport;
  if (header.version === 4) {
    report = parseTdReport(r, 'td10');
  } else {
    bodyType = r.u16('body.type');
    const bodySize = r.u32('body.size');
    if (bodyType === 2 && bodySize === TD10_LEN) report = parseTdReport(r, 'td10');
    else if (bodyType === 3 && bodySize === TD15_LEN) report = parseTdReport(r, 'td15');
    else throw new Error(`unsupported v5 body type ${bodyType} with size ${bodySize} (expected 2/584 or 3/648)`);
  }
  const signedRegion = raw.subarray(0, r.offset);

  const sigDataLen = r.u32('signature_data_len');
  const sig = new Reader(r.take(sigDataLen, 'signature_data'));
  const signature = sig.take(64, 'quote_signature');
  const attestationKey = sig.take(64, 'attestation_key');
  const certType = sig.u16('certification_data.type');
  const certSize = sig.u32('certification_data.size');
  if (certType !== CERT_TYPE_QE_REPORT) throw new Error(`certification data type ${certType} is not 6 (QE report certification data)`);
  const cert = new Reader(sig.take(certSize, 'certification_data.body'));
  if (sig.remaining !== 0) throw new Error(`signature data has ${sig.remaining} unexplained bytes`);

  const qeReport = parseQeReport(cert.take(QE_REPORT_LEN, 'qe_report'));
  const qeReportSignature = cert.take(64, 'qe_report_signature');
  const qeAuthLen = cert.u16('qe_auth_data.size');
  const qeAuthData = cert.take(qeAuthLen, 'qe_auth_data');
  const innerType = cert.u16('qe_certification_data.type');
  const innerSize = cert.u32('qe_certification_data.size');
  if (innerType !== CERT_TYPE_PCK_CHAIN) throw new Error(`QE certification data type ${innerType} is not 5 (PCK certificate chain)`);
  const chainBytes = cert.take(innerSize, 'pck_certificate_chain');
  if (cert.remaining !== 0) throw new Error(`certification data has ${cert.remaining} unexplained bytes`);

  // The PEM chain may be NUL-terminated; anything else after it is malformed.
  let end = chainBytes.length;
  while (end > 0 && chainBytes[end - 1] === 0) end--;
  const pckChainPem = bytesToUtf8(chainBytes.subarray(0, end));
  if (!pckChainPem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('PCK certificate chain holds no PEM certificate');

  const trailing = raw.subarray(r.offset);
  if (trailing.some((b) => b !== 0)) throw new Error(`${trailing.length} bytes after the signature data are not all zero`);

  return {
    raw,
    header,
    bodyType,
    report,
    signedRegion,
    signature,
    attestationKey,
    qeReport,
    qeReportSignature,
    qeAuthData,
    pckChainPem,
    trailingBytes: trailing.length,
  };
}

/** Byte offsets of report fields inside the raw quote (for tests, mutations and the simulator). */
export function reportOffset(version: 4 | 5, field: 'rtmr3' | 'report_data' | 'td_attributes'): number {
  const base = version === 4 ? HEADER_LEN : HEADER_LEN + 6;
  const rel = { td_attributes: 120, rtmr3: 472, report_data: 520 }[field];
  return base + rel;
}
