// Ownership and modes of a tenant's folders, the part of the isolation that plain Unix
// permissions carry (and the only part left where bubblewrap is missing):
//
//   sourceDir   root:<gid>, folders 0750, files 0640 (0750 if executable): the tenant reads, never writes
//   dataDir     <uid>:<gid> 0700: the tenant's alone
//   runDir      <uid>:<gid> 0700: created by the driver at start (its socket lives there)
//   ancestors   traversable (x) by the tenant, e.g. root 0711 or root:<gid> 0750; never writable by it
//
// With bubblewrap (as root) the ancestors do not matter: bwrap binds the folders as root. Without
// it the tenant's runtime opens them by path, so the driver checks them and says which one blocks.
import { constants } from 'node:fs';
import { chmod, chown, lchown, lstat, mkdir, open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * Creates (if needed) a folder owned by uid:gid with `mode`, without ever following a symlink
 * planted in its place: the parent of a runDir belongs to the tenant, who could swap entries.
 */
export async function ensureOwnedDir(dir: string, uid: number, gid: number, mode = 0o700): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true, mode: 0o711 });
  await mkdir(dir, { mode }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  if (!isRoot()) return;
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    await fh.chown(uid, gid);
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
}

/** Hands a folder tree to the tenant (for a dependency install that writes into it). Links are never followed. */
export async function giveTree(dir: string, uid: number, gid: number): Promise<void> {
  if (!isRoot()) return;
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    await lchown(p, uid, gid);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      await chmod(p, (st.mode & 0o777) | 0o700);
      for (const e of await readdir(p)) await walk(path.join(p, e));
    }
  };
  await walk(dir);
}

/** Makes a source tree read-only and readable by the tenant's group alone. Links are never followed. */
export async function sealTree(dir: string, gid: number): Promise<void> {
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.isSymbolicLink()) {
      await lchown(p, 0, gid);
      return;
    }
    await chown(p, 0, gid);
    if (st.isDirectory()) {
      await chmod(p, 0o750);
      for (const e of await readdir(p)) await walk(path.join(p, e));
    } else {
      await chmod(p, st.mode & 0o100 ? 0o750 : 0o640);
    }
  };
  await walk(dir);
}

/**
 * Sets up a tenant's source and data folders (and its runDir, when given) with the ownership and
 * modes above. The deploy pipeline does the same; this helper is the reference (and the tests use it).
 */
export async function prepareTenantDirs(opts: { sourceDir: string; dataDir: string; runDir?: string; uid: number; gid: number }): Promise<void> {
  await sealTree(opts.sourceDir, opts.gid);
  await ensureOwnedDir(opts.dataDir, opts.uid, opts.gid);
  if (opts.runDir) await ensureOwnedDir(opts.runDir, opts.uid, opts.gid);
}

function allows(st: { uid: number; gid: number; mode: number }, uid: number, gid: number, bits: number): boolean {
  const shift = st.uid === uid ? 6 : st.gid === gid ? 3 : 0;
  return ((st.mode >> shift) & bits) === bits;
}

/**
 * Why uid:gid cannot reach `target` (search permission on every ancestor, read+search on the
 * folder itself), or null when it can.
 */
export async function whyUnreachable(target: string, uid: number, gid: number): Promise<string | null> {
  const abs = path.resolve(target);
  const parts = abs.split('/').filter(Boolean);
  let cur = '/';
  for (let i = 0; i <= parts.length; i++) {
    let st;
    try {
      st = await stat(cur);
    } catch (err) {
      return `${cur}: ${(err as Error).message}`;
    }
    const last = i === parts.length;
    if (!allows(st, uid, gid, last ? 0o5 : 0o1)) {
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      return `${cur} (owner ${st.uid}:${st.gid}, mode ${mode}) is not ${last ? 'readable' : 'traversable'} by uid ${uid} / gid ${gid}`;
    }
    if (!last) cur = path.join(cur, parts[i]!);
  }
  return null;
}
