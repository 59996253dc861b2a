// The folder of one audit log:
//
//   log.json        {"v":1,"origin","key_name","public_key","created_at","closed_at"} (atomic rewrite)
//   entries.jsonl   one canonical JSON entry per line, append-only
//   checkpoint      the latest signed checkpoint (C2SP signed note), replaced atomically
//
// A log folder comes into existence whole: it is built under a temporary name and renamed into
// place, so "no folder" and "an empty log with its size-0 checkpoint" are the only fresh states.
// A folder with a file missing is therefore damage, never a half-finished creation.
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fsyncDir, writeFileAtomic } from '../lib/atomic-file.ts';
import type { ClosedLog } from '../verify/bundle.ts';
import { AuditLogIntegrityError } from './errors.ts';

export const META_FILE = 'log.json';
export const ENTRIES_FILE = 'entries.jsonl';
export const CHECKPOINT_FILE = 'checkpoint';

export interface LogMeta {
  v: 1;
  origin: string;
  key_name: string;
  /** The log's vkey: `<name>+<hex8>+<base64(0x01 ‖ pubkey)>`. */
  public_key: string;
  created_at: string;
  /** Set once, when the log is closed; a closed log is read-only for good. */
  closed_at: string | null;
}

const isNoEnt = (err: unknown) => (err as NodeJS.ErrnoException)?.code === 'ENOENT';

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (isNoEnt(err)) return undefined;
    throw err;
  }
}

/** The folder's state: absent/empty (a log may be created there), or the three files' presence. */
export async function inspectDir(dir: string): Promise<'absent' | 'empty' | 'present'> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isNoEnt(err)) return 'absent';
    throw err;
  }
  return names.length === 0 ? 'empty' : 'present';
}

export async function readMeta(dir: string): Promise<LogMeta> {
  const text = await readText(path.join(dir, META_FILE));
  if (text === undefined) throw new AuditLogIntegrityError('missing_file', dir, `${META_FILE} is missing`);
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new AuditLogIntegrityError('bad_meta', dir, `${META_FILE} is not JSON`);
  }
  const o = m as Partial<LogMeta>;
  const ok =
    typeof o === 'object' && o !== null && o.v === 1 &&
    typeof o.origin === 'string' && typeof o.key_name === 'string' && typeof o.public_key === 'string' &&
    typeof o.created_at === 'string' && (o.closed_at === null || typeof o.closed_at === 'string');
  if (!ok) throw new AuditLogIntegrityError('bad_meta', dir, `${META_FILE} does not describe an audit log`);
  return o as LogMeta;
}

export async function writeMeta(dir: string, meta: LogMeta): Promise<void> {
  await writeFileAtomic(path.join(dir, META_FILE), JSON.stringify(meta, null, 2) + '\n');
}

export async function readCheckpoint(dir: string): Promise<string> {
  const text = await readText(path.join(dir, CHECKPOINT_FILE));
  if (text === undefined) throw new AuditLogIntegrityError('missing_file', dir, `${CHECKPOINT_FILE} is missing`);
  return text;
}

export async function writeCheckpoint(dir: string, note: string): Promise<void> {
  await writeFileAtomic(path.join(dir, CHECKPOINT_FILE), note, 0o644);
}

async function writeNew(file: string, data: string, mode: number): Promise<void> {
  const fh = await open(file, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Creates a log folder at `dir` (absent or empty) holding `meta`, no entries and `checkpoint`. */
export async function createLogDir(dir: string, meta: LogMeta, checkpoint: string): Promise<void> {
  const parent = path.dirname(dir);
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.creating-${randomBytes(6).toString('hex')}`);
  await mkdir(tmp, { mode: 0o700 });
  try {
    await writeNew(path.join(tmp, ENTRIES_FILE), '', 0o600);
    await writeNew(path.join(tmp, CHECKPOINT_FILE), checkpoint, 0o644);
    await writeNew(path.join(tmp, META_FILE), JSON.stringify(meta, null, 2) + '\n', 0o600);
    await fsyncDir(tmp);
    // rename(2) replaces an empty directory, and fails on a non-empty one: never clobbers a log.
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await fsyncDir(parent);
}

/** Removes temp files an interrupted atomic write left behind (they were never renamed into place). */
export async function removeStaleTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (/^\.(?:log\.json|checkpoint)\.[0-9a-f]+\.tmp$/.test(name)) await rm(path.join(dir, name), { force: true });
  }
}

/**
 * A log as it is on disk, unverified: for serving closed logs of earlier incarnations verbatim.
 * Whatever happened to them, a verifier sees it; nothing here trusts or repairs anything.
 */
export async function readLogVerbatim(dir: string): Promise<ClosedLog & { closed_at: string | null }> {
  const meta = await readMeta(dir);
  const checkpoint = await readCheckpoint(dir);
  // Lossy decoding on purpose: damage is shown (and fails verification), not an error that hides the log.
  const text = (await readText(path.join(dir, ENTRIES_FILE))) ?? '';
  const end = text.lastIndexOf('\n');
  const entries = end < 0 ? [] : text.slice(0, end).split('\n');
  return { origin: meta.origin, public_key: meta.public_key, checkpoint, entries, closed_at: meta.closed_at };
}
