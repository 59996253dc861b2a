// Assembles what the public verifier endpoints serve for an attested project: the evidence bundle
// (`GET /_api/verification/<name>`) and a fresh attestation (`GET /_api/attest/<name>`). Both bind
// the same preimage — project, current deployment, the audit log's checkpoint and key, app key,
// nonce — into a TDX quote through report_data, using the verifier's own functions, so the daemon
// and every verifier compute the same bytes.
//
// Nothing secret goes in: the log is read through its public evidence (checkpoint, vkey, entries),
// the deployment record holds env names and a keyed digest only, and the finished document is
// scanned for a note signer key before it leaves (a defect elsewhere must not publish one).
import type { ClosedLog, Collateral, DaemonIdentity, EvidenceBundle, Preimage } from '../verify/bundle.ts';
import { BUNDLE_SCHEMA, PREIMAGE_VERSION } from '../verify/bundle.ts';
import type { AttestationResponse } from '../verify/api-shapes.ts';
import { reportDataForPreimage } from '../verify/binding.ts';
import { bytesEqual, bytesToHex } from '../verify/bytes.ts';
import { deploymentRef, type DeploymentRecord } from '../verify/deployment.ts';
import { isNonce } from '../verify/endpoints.ts';
import { base64Encode, parseCheckpoint, parseNote } from '../verify/note.ts';
import { HttpError, badRequest } from '../lib/http-error.ts';
import type { GuestAgentClient, InfoResult, QuoteResult } from './guest-agent-client.ts';

/** What the daemon knows of itself; the rest of its identity comes from the guest agent's Info. */
export interface DaemonSelf {
  version: string;
  commit: string | null;
  tee: 'tdx' | 'simulated';
  /** The simulator's root CA (DER bytes or hex of the DER); published only when tee is 'simulated'. */
  simulatorRootCa?: Uint8Array | string;
}

/** The parts of the guest-agent client used here (a fake in tests, the real client in the daemon). */
export type QuoteAgent = Pick<GuestAgentClient, 'getQuote' | 'info'>;

/** The parts of an AuditLog used here: one consistent snapshot of its public evidence. */
export interface LogEvidenceSource {
  evidence(): ClosedLog;
}

export interface AttestationInput {
  agent: QuoteAgent;
  /** The public project view (never env values); its `name` is the project. */
  project: Record<string, unknown>;
  deployment: DeploymentRecord;
  log: LogEvidenceSource;
  /** Hex Ed25519 public key of the project's app key, or null. */
  appKey: string | null;
  /** The caller's nonce (hex, ≤ 64 bytes) as received, or null. */
  nonce: string | null;
  /**
   * The tree hash of the deployed files as the daemon measured them just now. The quote binds the
   * measurement, not the record: files swapped on disk behind the daemon's back make the quoted
   * deployment differ from the recorded one, and every verifier sees it.
   */
  measuredTreeHash?: string | null;
}

export interface EvidenceInput extends AttestationInput {
  daemon: DaemonSelf;
  /** Closed logs of earlier incarnations of the name (AuditLogs.previous). */
  previous: ClosedLog[];
  /** PCCS collateral for this platform, when the daemon has it (a failure leaves it null). */
  collateral?: () => Promise<Collateral | null>;
  /** The daemon's identity from Info, when the caller caches it (see daemonIdentity); fetched otherwise. */
  identity?: DaemonIdentity;
  now?: () => Date;
}

const KEY_RE = /^[0-9a-f]{64}$/;

/** 400 for a malformed nonce; the nonce lowercased otherwise (it is bound as written in the preimage). */
export function normalizeNonce(nonce: string | null | undefined): string | null {
  if (nonce === null || nonce === undefined || nonce === '') return null;
  if (!isNonce(nonce)) throw badRequest('invalid_nonce', 'nonce must be hex: 1 to 64 whole bytes', 'nonce');
  return nonce.toLowerCase();
}

const unavailable = (message: string, cause?: unknown): HttpError => {
  const e = new HttpError(503, 'attestation_unavailable', message);
  if (cause !== undefined) (e as Error & { cause?: unknown }).cause = cause;
  return e;
};

/** The preimage of the project's current state, from one snapshot of its log. */
export function buildPreimage(i: Pick<AttestationInput, 'project' | 'deployment' | 'appKey' | 'nonce' | 'measuredTreeHash'>, log: ClosedLog): Preimage {
  const name = i.project.name;
  if (typeof name !== 'string' || name !== i.deployment.project) {
    throw new Error(`evidence: project view ${JSON.stringify(name)} and deployment record ${JSON.stringify(i.deployment.project)} name different projects`);
  }
  if (i.appKey !== null && !KEY_RE.test(i.appKey)) throw new Error('evidence: appKey must be 32 bytes of lowercase hex or null');
  // Size and root come from the signed checkpoint itself, so the preimage can never describe a
  // different tree than the checkpoint and entries served next to it.
  const cp = parseCheckpoint(parseNote(log.checkpoint).text);
  if (cp.origin !== log.origin) throw new Error(`evidence: checkpoint origin ${cp.origin} is not the log's ${log.origin}`);
  return {
    v: PREIMAGE_VERSION,
    project: name,
    deployment: { ...deploymentRef(i.deployment), ...(i.measuredTreeHash !== undefined ? { tree_hash: i.measuredTreeHash } : {}) },
    log: { origin: log.origin, size: cp.size, root_hash: base64Encode(cp.rootHash), public_key: log.public_key },
    app_key: i.appKey,
    nonce: normalizeNonce(i.nonce),
  };
}

async function quoteFor(agent: QuoteAgent, preimage: Preimage): Promise<QuoteResult> {
  const reportData = reportDataForPreimage(preimage);
  let q: QuoteResult;
  try {
    q = await agent.getQuote(reportData);
  } catch (e) {
    throw unavailable('the dstack guest agent did not produce a quote', e);
  }
  // GetQuote pads and never hashes; anything else back means the agent is not doing what we asked.
  const padded = new Uint8Array(64);
  padded.set(reportData);
  if (!bytesEqual(q.reportDataBytes, padded)) throw unavailable('the guest agent returned a quote over different report_data');
  return q;
}

/** The daemon's identity from the guest agent's Info (cache it: only the event log grows, with emitted events). */
export async function daemonIdentity(agent: Pick<GuestAgentClient, 'info'>, self: DaemonSelf): Promise<DaemonIdentity> {
  let info: InfoResult;
  try {
    info = await agent.info();
  } catch (e) {
    throw unavailable('the dstack guest agent did not answer Info', e);
  }
  // Without tcb_info (dstack's public_tcbinfo off) a verifier has no app-compose to check: refuse
  // rather than serve a bundle that cannot verify.
  if (!info.tcb_info) throw unavailable('the guest agent withholds tcb_info (app-compose and event log); enable public_tcbinfo');
  const id: DaemonIdentity = {
    version: self.version,
    commit: self.commit,
    tee: self.tee,
    app_id: info.app_id,
    instance_id: info.instance_id,
    compose_hash: info.compose_hash,
    app_compose: info.tcb_info.app_compose,
    os_image_hash: info.os_image_hash,
    key_provider_info: info.key_provider_info,
    vm_config: info.vm_config,
    event_log: info.tcb_info.event_log,
  };
  if (self.tee === 'simulated' && self.simulatorRootCa !== undefined) {
    id.simulator_root_ca = typeof self.simulatorRootCa === 'string' ? self.simulatorRootCa.toLowerCase() : bytesToHex(self.simulatorRootCa);
  }
  return id;
}

/** A defect anywhere upstream must not publish a signer key: refuse the whole document instead. */
function assertNoSecrets(doc: unknown): void {
  if (JSON.stringify(doc).includes('PRIVATE+KEY+')) throw new Error('evidence: refusing to publish a document that contains a note signer key');
}

function publicProject(project: Record<string, unknown>, appKey: string | null): Record<string, unknown> {
  // The stored record's `env` holds values; a public view has `env_names` only.
  if ('env' in project) throw new Error('evidence: the project view carries `env`; pass the public view (env names only)');
  return { ...project, app_key: appKey };
}

/** GET /_api/attest/<name>: a fresh quote over the project's current state (and the nonce). */
export async function buildAttestation(i: AttestationInput): Promise<AttestationResponse> {
  const preimage = buildPreimage(i, i.log.evidence());
  const q = await quoteFor(i.agent, preimage);
  const out: AttestationResponse = { quote: q.quote, event_log: q.event_log, report_data: q.report_data, vm_config: q.vm_config, preimage };
  assertNoSecrets(out);
  return out;
}

/** GET /_api/verification/<name>: the whole evidence bundle. */
export async function buildEvidenceBundle(i: EvidenceInput): Promise<EvidenceBundle> {
  const now = i.now ?? (() => new Date());
  const log = i.log.evidence(); // one snapshot: checkpoint and entries describe the same tree
  const preimage = buildPreimage(i, log);
  const [q, daemon, collateral] = await Promise.all([
    quoteFor(i.agent, preimage),
    i.identity ? Promise.resolve(i.identity) : daemonIdentity(i.agent, i.daemon),
    i.collateral ? i.collateral().catch(() => null) : Promise.resolve(null),
  ]);
  const bundle: EvidenceBundle = {
    schema: BUNDLE_SCHEMA,
    generated_at: now().toISOString(),
    daemon,
    project: publicProject(i.project, i.appKey),
    deployment: i.deployment as unknown as Record<string, unknown>,
    log: { origin: log.origin, public_key: log.public_key, checkpoint: log.checkpoint, entries: log.entries, previous: i.previous },
    attestation: { quote: q.quote, event_log: q.event_log, report_data: q.report_data, vm_config: q.vm_config, preimage, collateral },
  };
  assertNoSecrets(bundle);
  return bundle;
}
