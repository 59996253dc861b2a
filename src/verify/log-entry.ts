// Reading audit-log entries and origins as a verifier: an entry counts only if it is exactly the
// canonical JSON text of a well-formed LogEntry, because the leaf hash covers those bytes and a
// second spelling of the same entry would let two different logs "contain" it. Pure.
import type { DeploymentRef, LogEntry } from './bundle.ts';
import { canonicalJson } from './deployment.ts';

export const LOG_ACTIONS: readonly LogEntry['action'][] = ['promote', 'deploy', 'redeploy', 'rollback', 'env', 'teardown'];

const ENTRY_KEYS = ['deployment', 'detail', 'action', 'project', 'seq', 'time', 'v'].sort();
const REF_KEYS = ['commit_sha', 'id', 'image_digests', 'manifest_digest', 'tree_hash'].sort();
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const sameKeys = (o: Record<string, unknown>, keys: string[]) => {
  const k = Object.keys(o).sort();
  return k.length === keys.length && k.every((x, i) => x === keys[i]);
};
const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Why `v` is not a DeploymentRef, or null when it is one. */
export function deploymentRefProblem(v: unknown): string | null {
  if (!isObject(v)) return 'not an object';
  if (!sameKeys(v, REF_KEYS)) return `has fields ${Object.keys(v).sort().join(', ')}, expected ${REF_KEYS.join(', ')}`;
  if (!str(v.id)) return 'id is not a string';
  if (v.tree_hash !== null && !str(v.tree_hash)) return 'tree_hash is not a string or null';
  if (v.commit_sha !== null && !str(v.commit_sha)) return 'commit_sha is not a string or null';
  if (!str(v.manifest_digest)) return 'manifest_digest is not a string';
  if (!Array.isArray(v.image_digests) || !v.image_digests.every(str)) return 'image_digests is not an array of strings';
  return null;
}

export type ParsedEntry = { ok: true; entry: LogEntry } | { ok: false; reason: string };

/** Entry `seq` of `project`'s log, from its stored text. */
export function parseLogEntry(text: string, seq: number, project: string): ParsedEntry {
  const bad = (reason: string): ParsedEntry => ({ ok: false, reason: `entry ${seq}: ${reason}` });
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return bad('not JSON');
  }
  if (!isObject(o)) return bad('not a JSON object');
  let canonical: string;
  try {
    canonical = canonicalJson(o);
  } catch {
    return bad('cannot be canonicalised');
  }
  if (canonical !== text) return bad('not in canonical JSON form (RFC 8785), so its leaf hash has no single reading');
  if (!sameKeys(o, ENTRY_KEYS)) return bad(`has fields ${Object.keys(o).sort().join(', ')}, expected ${ENTRY_KEYS.join(', ')}`);
  if (o.v !== 1) return bad('v is not 1');
  if (o.seq !== seq) return bad(`seq is ${JSON.stringify(o.seq)}, expected ${seq}`);
  if (typeof o.time !== 'string' || !ISO_UTC.test(o.time) || Number.isNaN(Date.parse(o.time))) return bad('time is not an ISO 8601 UTC timestamp');
  if (!LOG_ACTIONS.includes(o.action as LogEntry['action'])) return bad(`action ${JSON.stringify(o.action)} is not one of ${LOG_ACTIONS.join(', ')}`);
  if (o.project !== project) return bad(`names project ${JSON.stringify(o.project)}, not ${JSON.stringify(project)}`);
  if (o.deployment !== null) {
    const p = deploymentRefProblem(o.deployment);
    if (p) return bad(`deployment ${p}`);
  }
  if (!isObject(o.detail)) return bad('detail is not an object');
  return { ok: true, entry: o as unknown as LogEntry };
}

/** The parts of an origin the daemon makes: `<host>/dstack-webhost/<project>/<n>-<8 hex>`. */
export interface LogOrigin {
  host: string;
  project: string;
  /** `<n>-<8 hex>` */
  incarnation: string;
  /** n: counts up from 1 each time the name is created again. */
  n: number;
}

const ORIGIN_RE = /^(.+)\/dstack-webhost\/([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\/(([1-9][0-9]{0,8})-[0-9a-f]{8})$/;

/** null when the origin is not in the daemon's form (then nothing is inferred from it). */
export function parseLogOrigin(origin: string): LogOrigin | null {
  const m = ORIGIN_RE.exec(origin);
  if (!m) return null;
  return { host: m[1]!, project: m[2]!, incarnation: m[3]!, n: Number(m[4]) };
}

/** Two deployment refs are the same deployment when their canonical JSON is equal. */
export function sameDeploymentRef(a: DeploymentRef, b: DeploymentRef): boolean {
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch {
    return false;
  }
}
