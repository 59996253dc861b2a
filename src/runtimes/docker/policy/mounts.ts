// What a tenant may mount. Named volumes are always the project's own (the engine name is built
// by us, see names.ts); host paths are limited to the project's data folder (read-write) and its
// own immutable source (read-only). The daemon's and the engine's sockets are named explicitly in
// refusals, because that is what an attacker reaches for first.
import path from 'node:path';
import { lstat, mkdir } from 'node:fs/promises';
import { badRequest, unprocessable } from '../../../lib/http-error.ts';
import { LOGICAL_NAME } from '../names.ts';

/** Sockets that hand out root on the machine or the TEE's keys. */
const CONTROL_SOCKETS = /(^|\/)(docker|containerd|dstack|tappd|podman|crio|buildkitd?)\.sock$|\/(docker|containerd|dstack)(\/|$)/;

/** A logical volume name from a manifest or compose file. */
export function checkVolumeName(name: unknown, field: string): string {
  if (typeof name !== 'string' || name === '') throw badRequest('invalid_volume', `'${field}' must be a volume name`, field);
  if (!LOGICAL_NAME.test(name)) {
    throw unprocessable(
      'volume_name_refused',
      `'${field}' ${JSON.stringify(name.slice(0, 80))} is not a plain volume name (letters, digits, '_', '.', '-', up to 63 characters); volumes are always the project's own and cannot name a path or another project's volume`,
      field,
    );
  }
  return name;
}

/** A mount point inside the container: absolute, normalised, and not a kernel interface. */
export function checkMountTarget(target: unknown, field: string): string {
  if (typeof target !== 'string' || !target.startsWith('/')) throw badRequest('invalid_mount', `'${field}' must be an absolute path inside the container`, field);
  const norm = path.posix.normalize(target);
  if (norm !== target.replace(/\/+$/, '') && norm !== target) throw badRequest('invalid_mount', `'${field}' must be a normalised path (no '..', '//' or '.')`, field);
  if (target.split('/').includes('..')) throw badRequest('invalid_mount', `'${field}' must not contain '..'`, field);
  if (norm === '/' || /^\/(proc|sys|dev)(\/|$)/.test(norm)) {
    throw unprocessable('mount_refused', `'${field}' may not mount over ${norm}`, field);
  }
  return norm;
}

export interface HostPathContext {
  /** The project's writable data folder (absolute). */
  dataDir: string;
  /** The deployment's source folder (absolute), or null for inline compose files. */
  sourceDir: string | null;
}

export interface ResolvedBind {
  /** Absolute host path. */
  source: string;
  /** Which of the project's folders it lies in: data may be written, source never. */
  root: 'data' | 'source';
  readOnly: boolean;
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Lexical check of a bind mount's host path (pure: no filesystem access). Relative paths are the
 * compose meaning (relative to the compose file, i.e. the source) and become read-only; absolute
 * paths must be inside the data folder (the compose file names it `${WEBHOST_DATA}`).
 */
export function resolveBindSource(source: string, wantReadOnly: boolean, ctx: HostPathContext, field: string): ResolvedBind {
  if (CONTROL_SOCKETS.test(source) || /(^|\/)run\/.*\.sock$/.test(source)) {
    throw unprocessable('mount_refused', `'${field}' mounts a control socket (${JSON.stringify(source)}); the Docker and dstack sockets are never available to tenants`, field);
  }
  if (source.includes('\0')) throw badRequest('invalid_mount', `'${field}' contains a NUL byte`, field);
  if (path.isAbsolute(source)) {
    const abs = path.resolve(source);
    if (!inside(ctx.dataDir, abs)) {
      throw unprocessable(
        'mount_refused',
        `'${field}' bind-mounts ${JSON.stringify(source)}, which is outside the project's data folder; use a named volume, a path under \${WEBHOST_DATA}, or a relative path inside the source (read-only)`,
        field,
      );
    }
    return { source: abs, root: 'data', readOnly: wantReadOnly };
  }
  if (source.startsWith('~')) throw unprocessable('mount_refused', `'${field}' refers to a home folder; only the project's own folders can be mounted`, field);
  if (!ctx.sourceDir) throw unprocessable('mount_refused', `'${field}' is a relative bind mount, but an inline compose file has no source folder`, field);
  const abs = path.resolve(ctx.sourceDir, source);
  if (!inside(ctx.sourceDir, abs)) {
    throw unprocessable('mount_refused', `'${field}' bind-mounts ${JSON.stringify(source)}, which leaves the project's source folder`, field);
  }
  return { source: abs, root: 'source', readOnly: true };
}

/**
 * Run-time half of the bind check: every component below the root must be a real directory or
 * file, never a symlink (a tenant can plant links in its data folder; the engine would follow
 * them on the host). Data-folder paths that do not exist yet are created as directories.
 */
export async function verifyBindOnDisk(bind: ResolvedBind, ctx: HostPathContext, field: string): Promise<void> {
  const root = bind.root === 'data' ? ctx.dataDir : ctx.sourceDir!;
  const rel = path.relative(root, bind.source);
  const parts = rel === '' ? [] : rel.split(path.sep);
  let cur = root;
  const rootSt = await lstat(root).catch(() => null);
  if (!rootSt?.isDirectory()) {
    if (bind.root === 'data') await mkdir(root, { recursive: true, mode: 0o700 });
    else throw unprocessable('mount_refused', `'${field}': the source folder is missing`, field);
  }
  for (const part of parts) {
    cur = path.join(cur, part);
    const st = await lstat(cur).catch(() => null);
    if (!st) {
      if (bind.root === 'source') throw unprocessable('mount_refused', `'${field}': ${JSON.stringify(rel)} does not exist in the source`, field);
      await mkdir(cur, { mode: 0o700 });
      continue;
    }
    if (st.isSymbolicLink()) throw unprocessable('mount_refused', `'${field}': ${JSON.stringify(rel)} goes through a symbolic link, which is never followed for a mount`, field);
    if (!st.isDirectory() && !st.isFile()) throw unprocessable('mount_refused', `'${field}': ${JSON.stringify(rel)} is neither a file nor a folder`, field);
  }
}
