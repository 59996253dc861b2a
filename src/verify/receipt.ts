// Receipts and app quotes: what an attested handler can hand a third party so that it can check
// "this response came from this code" against the project's evidence bundle. Pure and
// browser-safe (noble + Uint8Array only), like the rest of the verifier.
//
// App key. The daemon derives one Ed25519 key per (project, tree hash) inside the TEE (GetKey at
// `dstack-webhost/v1/app/<project>/<tree hash>`, purpose `app-key`); the private half never leaves
// the daemon. The public half is `project.app_key` in the bundle and `app_key` in the preimage the
// bundle's quote binds, so it is tied to the measured daemon and the recorded deployment.
//
// Receipt (ctx.receipt, one JSON object, e.g. in a `Webhost-Receipt` response header):
//
//   { "v": 1, "project": "<name>", "deployment_id": "<64 hex>", "app_key": "<64 hex>",
//     "payload_sha256": "<64 hex>", "signature": "<128 hex>" }
//
//   signature = Ed25519(app key, utf8("dstack-webhost/receipt/v1:") ‖ RFC 8785 JSON of the
//               receipt without `signature`)
//
// The daemon builds and signs receipts itself (the broker's `receipt` operation), filling in the
// project and deployment it runs; an app only chooses the payload hash. The broker refuses to
// `sign` anything that starts with "dstack-webhost/", so an app that signs bytes a client chose
// cannot be tricked into signing a receipt.
//
// App quote (ctx.quote): a TDX quote whose report_data = SHA-512("dstack-webhost/app/v1:" ‖ RFC
// 8785 JSON of the AppPreimage below). It binds the app's data to the deployment and app key, and
// comes from the same CVM as the bundle's quote.
import { ed25519 } from '@noble/curves/ed25519';
import { sha256 } from '@noble/hashes/sha256';
import { APP_REPORT_DATA_TAG, type DeploymentRef, type EvidenceBundle } from './bundle.ts';
import { appReportData } from './binding.ts';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from './bytes.ts';
import { buildReport, errorMessage, fail, pass, skip, type Check, type Facts, type Report } from './check.ts';
import { canonicalJson } from './deployment.ts';
import { isProjectName } from './endpoints.ts';
import { deploymentRefProblem, parseLogEntry, sameDeploymentRef } from './log-entry.ts';
import type { VerifyOptions } from './policy.ts';
import { parseQuote } from './quote.ts';
import { quoteFacts, verifyQuote } from './verify-quote.ts';

/** Domain tag of the signed receipt message. */
export const RECEIPT_TAG = 'dstack-webhost/receipt/v1:';
/** The response header the receipts example (and `webhost verify --receipt-url`) carries a receipt in. */
export const RECEIPT_HEADER = 'webhost-receipt';
/** `v` of an AppPreimage. */
export const APP_PREIMAGE_VERSION = 'dstack-webhost/app/v1';
/** Data an app may not `sign`: the daemon's own domain tags start with it. */
export const RESERVED_SIGN_PREFIX = 'dstack-webhost/';

export interface Receipt {
  v: 1;
  project: string;
  /** The deployment the daemon ran the handler from (DeploymentRef.id). */
  deployment_id: string;
  /** Hex Ed25519 public key of the project's app key. */
  app_key: string;
  /** Hex SHA-256 of the exact payload bytes (e.g. the response body). */
  payload_sha256: string;
  /** Hex Ed25519 signature over receiptMessage(). */
  signature: string;
}

export type UnsignedReceipt = Omit<Receipt, 'signature'>;

/** What an app quote's report_data commits to. */
export interface AppPreimage {
  v: typeof APP_PREIMAGE_VERSION;
  project: string;
  /** The deployment the app runs (as the audit log records it). */
  deployment: DeploymentRef;
  app_key: string;
  /** Hex SHA-256 of the data the app asked to have quoted. */
  data_sha256: string;
}

/** What ctx.quote returns (and the broker's `quote` operation answers). */
export interface AppQuote {
  quote: string;
  event_log: string;
  report_data: string;
  preimage: AppPreimage;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

/** The exact bytes a receipt's signature covers. */
export function receiptMessage(r: UnsignedReceipt): Uint8Array {
  const unsigned: UnsignedReceipt = { v: r.v, project: r.project, deployment_id: r.deployment_id, app_key: r.app_key, payload_sha256: r.payload_sha256 };
  return concatBytes(utf8ToBytes(RECEIPT_TAG), utf8ToBytes(canonicalJson(unsigned)));
}

export function sha256Bytes(data: Uint8Array): string {
  return bytesToHex(sha256(data));
}

// ---- receipts ----

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const RECEIPT_KEYS = ['app_key', 'deployment_id', 'payload_sha256', 'project', 'signature', 'v'];

/** Why `v` is not a Receipt, or null. Strict: exactly the documented fields, lowercase hex. */
export function receiptProblem(v: unknown): string | null {
  if (!isObject(v)) return 'not a JSON object';
  const keys = Object.keys(v).sort();
  if (keys.join() !== RECEIPT_KEYS.join()) return `has fields ${keys.join(', ')}, expected ${RECEIPT_KEYS.join(', ')}`;
  if (v.v !== 1) return `v is ${JSON.stringify(v.v)}, expected 1`;
  if (typeof v.project !== 'string' || !isProjectName(v.project)) return 'project is not a project name';
  for (const k of ['deployment_id', 'app_key', 'payload_sha256']) if (typeof v[k] !== 'string' || !HEX64.test(v[k] as string)) return `${k} is not 64 lowercase hex digits`;
  if (typeof v.signature !== 'string' || !HEX128.test(v.signature)) return 'signature is not 128 lowercase hex digits';
  return null;
}

/** Ed25519 verification, strict (RFC 8032: canonical encodings only). */
function ed25519Verifies(signatureHex: string, message: Uint8Array, publicKeyHex: string): boolean {
  try {
    return ed25519.verify(hexToBytes(signatureHex), message, hexToBytes(publicKeyHex), { zip215: false });
  } catch {
    return false;
  }
}

/** Where in the bundle's audit log a deployment id appears (for a receipt from an earlier deployment). */
function loggedAt(b: EvidenceBundle, deploymentId: string): string | null {
  for (let i = b.log.entries.length - 1; i >= 0; i--) {
    const e = parseLogEntry(b.log.entries[i]!, i, b.attestation.preimage.project);
    if (e.ok && e.entry.deployment?.id === deploymentId) return `entry ${i} (${e.entry.action}, ${e.entry.time})`;
  }
  return null;
}

/** Every check id verifyReceipt emits, in order. */
export const RECEIPT_CHECK_IDS = ['receipt.format', 'receipt.payload', 'receipt.signature', 'receipt.app-key', 'receipt.project', 'receipt.deployment'] as const;

/**
 * Checks a receipt for `payload` against an evidence bundle (run verifyBundle on the same bundle:
 * these checks lean on its quote binding the preimage). The bundle side used here is the quoted
 * preimage: its app key and deployment are what the TEE vouches for.
 */
export function verifyReceipt(receipt: unknown, payload: Uint8Array, bundle: EvidenceBundle): Check[] {
  const problem = receiptProblem(receipt);
  if (problem) {
    return [
      fail('receipt.format', 'Receipt format', `The receipt is malformed: ${problem}.`, { expected: `{${RECEIPT_KEYS.join(', ')}}` }),
      ...RECEIPT_CHECK_IDS.slice(1).map((id) => skip(id, id, 'The receipt is not readable (see receipt.format).')),
    ];
  }
  const r = receipt as Receipt;
  const p = bundle.attestation.preimage;
  const checks: Check[] = [pass('receipt.format', 'Receipt format', `A v1 receipt of project ${r.project}, deployment ${r.deployment_id}.`)];

  const actualHash = sha256Bytes(payload);
  checks.push(
    actualHash === r.payload_sha256
      ? pass('receipt.payload', 'The payload is the one the receipt covers', `SHA-256 of the ${payload.length}-byte payload equals the receipt's payload_sha256.`, { expected: r.payload_sha256, actual: actualHash })
      : fail('receipt.payload', 'The payload is the one the receipt covers', `The payload's SHA-256 differs from the receipt's payload_sha256: this is not the payload the app vouched for (altered, or another one).`, { expected: r.payload_sha256, actual: actualHash }),
  );

  checks.push(
    ed25519Verifies(r.signature, receiptMessage(r), r.app_key)
      ? pass('receipt.signature', 'Receipt signature', `The Ed25519 signature over "${RECEIPT_TAG}" ‖ canonical receipt verifies under app key ${r.app_key}.`, { actual: r.app_key })
      : fail('receipt.signature', 'Receipt signature', `The signature does not verify under the app key the receipt names: the receipt was altered or signed by another key.`, { expected: `a valid Ed25519 signature by ${r.app_key}`, actual: r.signature }),
  );

  const quoted = p.app_key;
  const shown = typeof bundle.project.app_key === 'string' ? bundle.project.app_key : null;
  if (quoted === null) {
    checks.push(fail('receipt.app-key', "The receipt's key is this project's app key", 'The quoted preimage carries no app key, so no receipt can be tied to this project.', { expected: r.app_key, actual: 'null' }));
  } else {
    const same = quoted === r.app_key && (shown === null || shown === quoted);
    checks.push(
      same
        ? pass('receipt.app-key', "The receipt's key is this project's app key", `The receipt's key is the app key the bundle's quote binds (preimage.app_key): derived in the TEE from project ${p.project} and tree ${p.deployment.tree_hash ?? 'none'}.`, { expected: quoted, actual: r.app_key })
        : fail('receipt.app-key', "The receipt's key is this project's app key", `The receipt was signed by a key that is not the app key the quote binds${shown !== null && shown !== quoted ? ' (and the bundle shows yet another)' : ''}: not this code's key, or another version of it.`, { expected: quoted, actual: r.app_key }),
    );
  }

  checks.push(
    r.project === p.project
      ? pass('receipt.project', 'The receipt names this project', `The receipt names project ${p.project}, the one the quote binds.`, { expected: p.project, actual: r.project })
      : fail('receipt.project', 'The receipt names this project', `The receipt names another project than the one the quote binds.`, { expected: p.project, actual: r.project }),
  );

  if (r.deployment_id === p.deployment.id) {
    checks.push(pass('receipt.deployment', 'The receipt comes from the current deployment', `The receipt names deployment ${p.deployment.id}, the one the quote binds as current.`, { expected: p.deployment.id, actual: r.deployment_id }));
  } else {
    // An earlier deployment's app key is not published (only the current one is quoted), so an
    // older receipt cannot be tied to a quote: it fails, and says where the log shows it.
    const where = loggedAt(bundle, r.deployment_id);
    const why = where
      ? `The receipt comes from an earlier deployment (audit log ${where}), not the current one the quote binds; only the current deployment's app key is attested, so it cannot be checked.`
      : 'The receipt names a deployment that is neither the current one the quote binds nor any in the audit log.';
    checks.push(fail('receipt.deployment', 'The receipt comes from the current deployment', why, { expected: p.deployment.id, actual: r.deployment_id }));
  }
  return checks;
}

// ---- app quotes ----

const PREIMAGE_KEYS = ['app_key', 'data_sha256', 'deployment', 'project', 'v'];

function appQuoteProblem(v: unknown): string | null {
  if (!isObject(v)) return 'not a JSON object';
  for (const k of ['quote', 'event_log', 'report_data']) if (typeof v[k] !== 'string') return `${k} is not a string`;
  const p = v.preimage;
  if (!isObject(p)) return 'preimage is not an object';
  const keys = Object.keys(p).sort();
  if (keys.join() !== PREIMAGE_KEYS.join()) return `preimage has fields ${keys.join(', ')}, expected ${PREIMAGE_KEYS.join(', ')}`;
  if (p.v !== APP_PREIMAGE_VERSION) return `preimage.v is ${JSON.stringify(p.v)}, expected ${APP_PREIMAGE_VERSION}`;
  if (typeof p.project !== 'string') return 'preimage.project is not a string';
  const ref = deploymentRefProblem(p.deployment);
  if (ref) return `preimage.deployment ${ref}`;
  if (typeof p.app_key !== 'string' || !HEX64.test(p.app_key)) return 'preimage.app_key is not 64 lowercase hex digits';
  if (typeof p.data_sha256 !== 'string' || !HEX64.test(p.data_sha256)) return 'preimage.data_sha256 is not 64 lowercase hex digits';
  return null;
}

/** The app quote checks after verifyQuote's, in order. */
export const APP_QUOTE_CHECK_IDS = ['app-quote.format', 'app-quote.preimage', 'app-quote.data', 'app-quote.same-cvm'] as const;

export interface AppQuoteVerifyOptions extends VerifyOptions {
  /** The data the app says it quoted; without it app-quote.data is skipped. */
  data?: Uint8Array;
}

const show = (v: unknown): string => (v === null ? 'null' : typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Verifies a quote an attested app asked for over its own data (ctx.quote), against the
 * project's evidence bundle (verify that with verifyBundle too): the quote itself (Intel root, TCB,
 * RTMRs, boot identity, app-compose), report_data = SHA-512(app tag ‖ preimage), the preimage names
 * the bundle's quoted deployment and app key, the data hashes to data_sha256, and both quotes come
 * from the same CVM.
 */
export async function verifyAppQuote(input: unknown, bundle: EvidenceBundle, options: AppQuoteVerifyOptions = {}): Promise<Report> {
  const { data, ...opts } = options;
  const problem = appQuoteProblem(input);
  if (problem) {
    const checks = [fail('app-quote.format', 'App quote format', `The app quote is malformed: ${problem}.`), ...APP_QUOTE_CHECK_IDS.slice(1).map((id) => skip(id, id, 'The app quote is not readable (see app-quote.format).'))];
    return buildReport(checks, {}, false);
  }
  const a = input as AppQuote;
  let quote: Uint8Array;
  let expected: Uint8Array;
  try {
    quote = hexToBytes(a.quote);
    expected = appReportData(a.preimage);
  } catch (e) {
    return buildReport([fail('app-quote.format', 'App quote format', `The app quote cannot be read: ${errorMessage(e)}.`)], {}, false);
  }
  if (opts.simulatorRootCa === undefined && bundle.daemon.simulator_root_ca) opts.simulatorRootCa = bundle.daemon.simulator_root_ca;
  if (!opts.collateral && !opts.pccsUrl && bundle.attestation.collateral) opts.collateral = bundle.attestation.collateral;
  delete opts.nonce; // an app quote carries no verifier nonce: its freshness is the app's own data
  // report_data is checked by verifyQuote's binding.report-data against the app tag's hash.
  const q = await verifyQuote({ quote, eventLog: a.event_log, appCompose: bundle.daemon.app_compose, expectedReportData: expected }, opts);
  const checks: Check[] = [pass('app-quote.format', 'App quote format', `An app quote (${APP_REPORT_DATA_TAG}) over data ${a.preimage.data_sha256} of project ${a.preimage.project}.`), ...q.checks];

  const p = a.preimage;
  const bp = bundle.attestation.preimage;
  const diffs: string[] = [];
  if (p.project !== bp.project) diffs.push(`project (${bp.project} vs ${p.project})`);
  if (!sameDeploymentRef(p.deployment, bp.deployment)) diffs.push(`deployment (${show(bp.deployment.id)} vs ${show(p.deployment.id)})`);
  if (p.app_key !== bp.app_key) diffs.push(`app_key (${show(bp.app_key)} vs ${p.app_key})`);
  checks.push(
    diffs.length
      ? fail('app-quote.preimage', "The app quote names the bundle's deployment and app key", `The app quote's preimage differs from what the bundle's quote binds (bundle vs app quote): ${diffs.join('; ')}.`, { expected: `deployment ${bp.deployment.id}, app key ${show(bp.app_key)}`, actual: `deployment ${p.deployment.id}, app key ${p.app_key}` })
      : pass('app-quote.preimage', "The app quote names the bundle's deployment and app key", `The preimage names project ${p.project}, deployment ${p.deployment.id} and app key ${p.app_key}, as the bundle's quote does.`, { expected: bp.deployment.id, actual: p.deployment.id }),
  );

  if (data === undefined) checks.push(skip('app-quote.data', 'The quoted data', 'No data given to compare with data_sha256.', { actual: p.data_sha256 }));
  else {
    const h = sha256Bytes(data);
    checks.push(
      h === p.data_sha256
        ? pass('app-quote.data', 'The quoted data', `SHA-256 of the ${data.length}-byte data equals the preimage's data_sha256.`, { expected: p.data_sha256, actual: h })
        : fail('app-quote.data', 'The quoted data', 'The data given is not the data the quote binds.', { expected: p.data_sha256, actual: h }),
    );
  }

  // Same CVM: the measured boot identity equals the bundle's daemon identity (whose own measurement
  // verifyBundle checks), and the TD measurements equal those of the bundle's quote.
  const id = q.facts.identity as Facts | undefined;
  if (!id) checks.push(skip('app-quote.same-cvm', 'Same CVM as the bundle', 'No measured boot identity in the app quote (see boot.identity).'));
  else {
    const d = bundle.daemon;
    const cmp: [string, unknown, unknown][] = [
      ['app_id', d.app_id.toLowerCase(), id.app_id],
      ['compose_hash', d.compose_hash.toLowerCase(), id.compose_hash],
      ['instance_id', d.instance_id.toLowerCase(), id.instance_id],
    ];
    const mine = q.facts.quote as Facts | undefined;
    let theirs: Facts | undefined;
    try {
      theirs = quoteFacts(parseQuote(hexToBytes(bundle.attestation.quote)));
    } catch {
      theirs = undefined; // verifyBundle reports the bundle's quote as malformed
    }
    for (const k of ['mrtd', 'rtmr0', 'rtmr1', 'rtmr2']) cmp.push([k, theirs?.[k], mine?.[k]]);
    const bad = cmp.filter(([, want, got]) => show(want) !== show(got));
    checks.push(
      bad.length
        ? fail('app-quote.same-cvm', 'Same CVM as the bundle', `The app quote comes from another CVM or boot than the bundle (bundle vs app quote): ${bad.map(([k, w, g]) => `${k} (${show(w)} vs ${show(g)})`).join('; ')}.`, { expected: `${bad[0]![0]} = ${show(bad[0]![1])}`, actual: `${bad[0]![0]} = ${show(bad[0]![2])}` })
        : pass('app-quote.same-cvm', 'Same CVM as the bundle', `app-id ${d.app_id}, compose-hash ${d.compose_hash}, instance ${d.instance_id}, MRTD and RTMR0–2 equal the bundle's: the same daemon on the same CVM made both quotes.`),
    );
  }
  return buildReport(checks, { ...q.facts, app_quote: { project: p.project, deployment: p.deployment.id, app_key: p.app_key, data_sha256: p.data_sha256 } }, q.simulated);
}
