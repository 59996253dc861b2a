// The links between the quote and the rest of the bundle: the preimage the quote commits to must
// name the same project, log and app key the bundle shows (binding.preimage); the deployment record
// must hash to the deployment the preimage names (deployment.record); and the daemon identity the
// bundle shows must be the one measured at boot (daemon.identity). Pure.
import { PREIMAGE_VERSION, type DaemonIdentity, type EvidenceBundle, type Preimage } from './bundle.ts';
import { fail, pass, skip, type Check, type Fact, type Facts } from './check.ts';
import { deploymentRef, type DeploymentRecord } from './deployment.ts';
import { base64Encode, parseCheckpoint, parseNote, type Checkpoint } from './note.ts';

interface Diff {
  field: string;
  expected: string;
  actual: string;
}

const show = (v: unknown): string => (v === undefined ? '(absent)' : v === null ? 'null' : typeof v === 'string' ? v : JSON.stringify(v));

function diffCheck(id: string, title: string, diffs: Diff[], okSummary: string, badLead: string, facts?: Facts): Check {
  const extra = facts ? { facts } : {};
  if (!diffs.length) return pass(id, title, okSummary, extra);
  const listing = diffs.map((d) => `${d.field} (${d.expected} vs ${d.actual})`).join('; ');
  // expected/actual carry the first difference; the summary names all of them.
  return fail(id, title, `${badLead}: ${listing}.`, { expected: `${diffs[0]!.field} = ${diffs[0]!.expected}`, actual: `${diffs[0]!.field} = ${diffs[0]!.actual}`, ...extra });
}

/** The checkpoint's body, read without checking its signature (log.checkpoint does that). */
export function readCheckpointBody(signedNote: string): Checkpoint | null {
  try {
    return parseCheckpoint(parseNote(signedNote).text);
  } catch {
    return null;
  }
}

/**
 * binding.preimage: the preimage (bound by report_data, see binding.report-data) names this
 * project, this log (origin, key, size, root as in the checkpoint) and the app key the bundle
 * shows. `expectedProject` is the name the verifier asked for, when it asked for one.
 */
export function checkPreimageBinding(b: EvidenceBundle, expectedProject: string | undefined): Check {
  const id = 'binding.preimage';
  const title = 'The quoted preimage names this project, log and app key';
  const p = b.attestation.preimage;
  const diffs: Diff[] = [];
  const cmp = (field: string, expected: unknown, actual: unknown) => {
    if (show(expected) !== show(actual)) diffs.push({ field, expected: show(expected), actual: show(actual) });
  };
  cmp('v', PREIMAGE_VERSION, p.v);
  if (expectedProject !== undefined) cmp('project (asked for)', expectedProject, p.project);
  cmp('project (bundle.project.name)', b.project.name, p.project);
  cmp('log.origin', b.log.origin, p.log.origin);
  cmp('log.public_key', b.log.public_key, p.log.public_key);
  const cp = readCheckpointBody(b.log.checkpoint);
  if (!cp) diffs.push({ field: 'log.checkpoint', expected: 'a C2SP checkpoint', actual: 'unreadable' });
  else {
    cmp('log.origin (checkpoint)', cp.origin, p.log.origin);
    cmp('log.size (checkpoint)', cp.size, p.log.size);
    cmp('log.root_hash (checkpoint)', base64Encode(cp.rootHash), p.log.root_hash);
  }
  cmp('app_key (bundle.project.app_key)', b.project.app_key, p.app_key);
  const facts: Facts = { project: p.project, log_origin: p.log.origin, log_size: p.log.size, log_root: p.log.root_hash, log_key: p.log.public_key, app_key: p.app_key, nonce: p.nonce };
  return diffCheck(
    id,
    title,
    diffs,
    `The preimage names project ${p.project}, audit log ${p.log.origin} at size ${p.log.size} (its key and root as in the checkpoint) and app key ${p.app_key ?? 'none'}: the bundle shows the state the quote binds.`,
    'The preimage the quote binds differs from what the bundle shows (bundle vs preimage)',
    facts,
  );
}

const HASH_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const IMAGE_DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const KINDS = ['git', 'tarball', 'image', 'inline'];

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const strOrNull = (v: unknown) => v === null || typeof v === 'string';

function recordShapeProblem(r: Obj): string | null {
  if (r.v !== 1) return 'v is not 1';
  if (typeof r.project !== 'string') return 'project is not a string';
  const s = r.source;
  if (!isObject(s)) return 'source is not an object';
  if (!KINDS.includes(s.kind as string)) return `source.kind ${show(s.kind)} is not one of ${KINDS.join(', ')}`;
  for (const k of ['url', 'ref', 'commit_sha', 'tree_hash']) if (!strOrNull(s[k])) return `source.${k} is not a string or null`;
  if (!isObject(r.manifest)) return 'manifest is not an object';
  if (!Array.isArray(r.image_digests) || !r.image_digests.every((x) => typeof x === 'string')) return 'image_digests is not an array of strings';
  return null;
}

/** What the record says about itself that cannot be true of any real deployment. */
function recordConsistency(r: DeploymentRecord): Diff[] {
  const d: Diff[] = [];
  const s = r.source;
  if (s.tree_hash !== null && !HASH_RE.test(s.tree_hash)) d.push({ field: 'source.tree_hash', expected: 'a git object id (40 or 64 lowercase hex)', actual: s.tree_hash });
  if (s.commit_sha !== null && !HASH_RE.test(s.commit_sha)) d.push({ field: 'source.commit_sha', expected: 'a git object id (40 or 64 lowercase hex)', actual: s.commit_sha });
  for (const img of r.image_digests) if (!IMAGE_DIGEST_RE.test(img)) d.push({ field: 'image_digests', expected: 'sha256:<64 hex>', actual: img });
  if (s.kind === 'git') {
    if (s.url === null) d.push({ field: 'source.url', expected: 'the git URL (kind git)', actual: 'null' });
    if (s.commit_sha === null) d.push({ field: 'source.commit_sha', expected: 'the checked commit (kind git)', actual: 'null' });
    if (s.tree_hash === null) d.push({ field: 'source.tree_hash', expected: 'the commit\'s tree (kind git)', actual: 'null' });
  } else if (s.kind === 'tarball') {
    if (s.tree_hash === null) d.push({ field: 'source.tree_hash', expected: 'the upload\'s git tree hash (kind tarball)', actual: 'null' });
    // A commit is recorded only when the daemon checked it, which it cannot do for an upload.
    if (s.commit_sha !== null) d.push({ field: 'source.commit_sha', expected: 'null (an upload\'s commit is never checked)', actual: s.commit_sha });
  } else if (s.kind === 'image' && r.image_digests.length === 0) {
    d.push({ field: 'image_digests', expected: 'at least one registry digest (kind image)', actual: '[]' });
  }
  return d;
}

/**
 * deployment.record: the record in the bundle hashes (canonical JSON, SHA-256) to the deployment
 * id the preimage binds, its manifest to the bound manifest digest, and it is internally
 * consistent; the project view shows the same commit and tree. So a swapped tree hash, commit or
 * manifest cannot go unnoticed.
 */
export function checkDeploymentRecord(raw: Obj, p: Preimage, view: Obj): { check: Check; record: DeploymentRecord | null } {
  const id = 'deployment.record';
  const title = 'Deployment record matches the quoted deployment';
  const problem = recordShapeProblem(raw);
  if (problem) return { check: fail(id, title, `The bundle's deployment is not a deployment record: ${problem}.`), record: null };
  const record = raw as unknown as DeploymentRecord;
  let ref;
  try {
    ref = deploymentRef(record);
  } catch (e) {
    return { check: fail(id, title, `The deployment record cannot be canonicalised: ${e instanceof Error ? e.message : String(e)}.`), record: null };
  }
  const want = p.deployment;
  const diffs: Diff[] = [];
  const cmp = (field: string, bound: unknown, recomputed: unknown) => {
    if (show(bound) !== show(recomputed)) diffs.push({ field, expected: show(bound), actual: show(recomputed) });
  };
  // expected: what the quote binds (preimage); actual: recomputed from the bundle's record.
  cmp('id', want.id, ref.id);
  cmp('tree_hash', want.tree_hash, ref.tree_hash);
  cmp('commit_sha', want.commit_sha, ref.commit_sha);
  cmp('manifest_digest', want.manifest_digest, ref.manifest_digest);
  cmp('image_digests', [...want.image_digests].sort(), ref.image_digests);
  cmp('project', p.project, record.project);
  diffs.push(...recordConsistency(record));
  // The project view is what pages show; it must not say something else than the bound record.
  const s = record.source;
  const viewed: [string, unknown][] = [
    ['deployment_id', ref.id],
    ['tree_hash', s.tree_hash],
    ['commit_sha', s.commit_sha],
    ['ref', s.ref],
    ['source_kind', s.kind],
  ];
  for (const [k, v] of viewed) if (k in view) cmp(`project.${k}`, v, view[k]);

  const src = s.kind === 'git' ? `${s.url}@${s.commit_sha}` : s.kind === 'tarball' ? `an upload${s.url ? ` (${s.url})` : ''}` : s.kind;
  const facts: Facts = {
    id: ref.id,
    kind: s.kind,
    url: s.url,
    ref: s.ref,
    commit_sha: s.commit_sha,
    tree_hash: s.tree_hash,
    manifest_digest: ref.manifest_digest,
    image_digests: ref.image_digests,
    manifest: record.manifest as Fact,
  };
  const check = diffCheck(
    id,
    title,
    diffs,
    `The record hashes to deployment ${ref.id}, the one the quote binds: ${src}${s.tree_hash ? `, tree ${s.tree_hash}` : ''}, manifest digest ${ref.manifest_digest}.`,
    'The deployment record does not match the deployment the quote binds (bound vs recomputed)',
    facts,
  );
  return { check, record: check.status === 'pass' ? record : null };
}

function sameKeyProvider(shown: string, measured: string): boolean {
  if (shown === measured) return true;
  try {
    const a = JSON.parse(shown) as { name?: unknown; id?: unknown };
    const b = JSON.parse(measured) as { name?: unknown; id?: unknown };
    return typeof a.name === 'string' && a.name === b.name && typeof a.id === 'string' && a.id === b.id;
  } catch {
    return false;
  }
}

/**
 * daemon.identity: the identity the bundle shows for the daemon (what a page displays) is the one
 * measured at boot. The app-compose bytes themselves are judged by compose.hash, not here.
 * `measured` is verifyQuote's facts.identity (present only when boot.identity passed).
 */
export function checkDaemonIdentity(d: DaemonIdentity, measured: Facts | undefined, trustRoot: Fact | undefined): Check {
  const id = 'daemon.identity';
  const title = 'Daemon identity shown matches the measured one';
  if (!measured) return skip(id, title, 'No measured boot identity to compare with (see boot.identity).');
  const diffs: Diff[] = [];
  const cmp = (field: string, boot: unknown, shown: unknown) => {
    if (show(boot) !== show(shown)) diffs.push({ field, expected: show(boot), actual: show(shown) });
  };
  cmp('app_id', measured.app_id, d.app_id.toLowerCase());
  cmp('compose_hash', measured.compose_hash, d.compose_hash.toLowerCase());
  cmp('instance_id', measured.instance_id, d.instance_id.toLowerCase());
  if (typeof measured.key_provider === 'string' && !sameKeyProvider(d.key_provider_info, measured.key_provider)) {
    diffs.push({ field: 'key_provider_info', expected: measured.key_provider, actual: d.key_provider_info });
  }
  if (typeof measured.os_image_hash === 'string') cmp('os_image_hash', measured.os_image_hash, d.os_image_hash.toLowerCase());
  // The bundle must not call a simulator-rooted quote real hardware, nor the other way round.
  if (trustRoot === 'simulator' && d.tee !== 'simulated') diffs.push({ field: 'tee', expected: 'simulated (the quote chains to the simulator root)', actual: d.tee });
  if (trustRoot === 'intel' && d.tee !== 'tdx') diffs.push({ field: 'tee', expected: 'tdx (the quote chains to Intel)', actual: d.tee });
  return diffCheck(
    id,
    title,
    diffs,
    `The bundle's daemon identity (app-id ${d.app_id}, compose-hash ${d.compose_hash}, instance ${d.instance_id || 'none'}, ${d.tee}) is the one measured at boot; compose.hash ties its app-compose.json to it.`,
    'The daemon identity the bundle shows is not the one measured at boot (measured vs shown)',
    { version: d.version, commit: d.commit, tee: d.tee },
  );
}
