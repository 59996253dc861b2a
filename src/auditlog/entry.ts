// One audit-log entry: checking what a caller asks to append, and what a line on disk holds.
// The stored leaf is the exact canonical JSON text (RFC 8785) of the entry, so a verifier can
// re-hash the served text as is, and the daemon can tell an edited line from one it wrote.
import { canonicalJson } from '../verify/deployment.ts';
import type { LogEntry } from '../verify/bundle.ts';

/** What a caller appends: the log assigns `seq`. */
export type NewLogEntry = Omit<LogEntry, 'seq'>;

export const ACTIONS: readonly LogEntry['action'][] = ['promote', 'deploy', 'redeploy', 'rollback', 'env', 'teardown'];

/** Management actions are small; a bound keeps one bad caller from bloating every bundle. */
export const MAX_ENTRY_BYTES = 64 * 1024;

const ENTRY_KEYS = ['v', 'seq', 'time', 'action', 'project', 'deployment', 'detail'];
const DEPLOYMENT_KEYS = ['id', 'tree_hash', 'commit_sha', 'manifest_digest', 'image_digests'];
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

export class InvalidEntryError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`audit entry: ${field}: ${message}`);
    this.name = 'InvalidEntryError';
    this.field = field;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/** Plain JSON only, so the canonical text says everything the object says (no undefined, NaN, Dates, classes). */
function checkJson(v: unknown, field: string): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InvalidEntryError(field, 'numbers must be finite');
    return;
  }
  if (Array.isArray(v)) return v.forEach((x, i) => checkJson(x, `${field}[${i}]`));
  if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) checkJson(x, `${field}.${k}`);
    return;
  }
  throw new InvalidEntryError(field, `${typeof v} is not JSON`);
}

function checkKeys(o: Record<string, unknown>, allowed: string[], field: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new InvalidEntryError(field ? `${field}.${k}` : k, 'unknown field');
  for (const k of allowed) if (!(k in o)) throw new InvalidEntryError(field ? `${field}.${k}` : k, 'missing');
}

const str = (v: unknown) => typeof v === 'string' && v.length > 0;
const strOrNull = (v: unknown) => v === null || str(v);

function checkEntry(e: Record<string, unknown>, project: string | undefined): void {
  checkKeys(e, ENTRY_KEYS, '');
  if (e.v !== 1) throw new InvalidEntryError('v', 'must be 1');
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 0) throw new InvalidEntryError('seq', 'must be a non-negative integer');
  if (typeof e.time !== 'string' || !ISO_UTC.test(e.time) || Number.isNaN(Date.parse(e.time))) throw new InvalidEntryError('time', 'must be an ISO 8601 UTC timestamp');
  if (!ACTIONS.includes(e.action as LogEntry['action'])) throw new InvalidEntryError('action', `must be one of ${ACTIONS.join(', ')}`);
  if (!str(e.project)) throw new InvalidEntryError('project', 'must be a non-empty string');
  if (project !== undefined && e.project !== project) throw new InvalidEntryError('project', `this log belongs to ${project}`);
  if (e.deployment !== null) {
    const d = e.deployment;
    if (!isPlainObject(d)) throw new InvalidEntryError('deployment', 'must be an object or null');
    checkKeys(d, DEPLOYMENT_KEYS, 'deployment');
    if (!str(d.id)) throw new InvalidEntryError('deployment.id', 'must be a string');
    if (!strOrNull(d.tree_hash)) throw new InvalidEntryError('deployment.tree_hash', 'must be a string or null');
    if (!strOrNull(d.commit_sha)) throw new InvalidEntryError('deployment.commit_sha', 'must be a string or null');
    if (!str(d.manifest_digest)) throw new InvalidEntryError('deployment.manifest_digest', 'must be a string');
    if (!Array.isArray(d.image_digests) || !d.image_digests.every(str)) throw new InvalidEntryError('deployment.image_digests', 'must be an array of strings');
  }
  if (!isPlainObject(e.detail)) throw new InvalidEntryError('detail', 'must be an object');
  checkJson(e.detail, 'detail');
}

/**
 * The canonical text of `entry` with `seq` assigned, after checking it is a well-formed LogEntry
 * (of `project`, when given). Throws InvalidEntryError naming the field otherwise.
 */
export function entryText(entry: NewLogEntry, seq: number, project?: string): string {
  if (!isPlainObject(entry)) throw new InvalidEntryError('entry', 'must be an object');
  if ('seq' in entry) throw new InvalidEntryError('seq', 'is assigned by the log');
  const full: Record<string, unknown> = { ...entry, seq };
  checkEntry(full, project);
  let text: string;
  try {
    text = canonicalJson(full);
  } catch (err) {
    throw new InvalidEntryError('entry', (err as Error).message);
  }
  if (new TextEncoder().encode(text).length > MAX_ENTRY_BYTES) throw new InvalidEntryError('entry', `larger than ${MAX_ENTRY_BYTES} bytes`);
  return text;
}

/**
 * Checks a stored line: it must be exactly what entryText would have written for entry `seq`.
 * Returns a reason when it is not (an edit, a reordering, a hand-written line), or null.
 */
export function storedEntryProblem(line: string, seq: number): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (!isPlainObject(parsed)) return 'not a JSON object';
  try {
    if (canonicalJson(parsed) !== line) return 'not in canonical form';
    checkEntry(parsed, undefined);
  } catch (err) {
    return (err as Error).message;
  }
  if (parsed.seq !== seq) return `seq is ${String(parsed.seq)}, expected ${seq}`;
  return null;
}
