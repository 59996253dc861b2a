// A build context is a tar of ONE folder, streamed to the engine: the builder sees nothing else of
// the machine. Symlinks travel as links (the builder resolves them inside the context, never on
// the host); devices, sockets and fifos are left out; ownership is reset to root like the docker
// CLI does, so host uids do not leak into images.
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';

export interface ContextLimits {
  /** Total bytes of file content; a bigger context is refused before the engine sees it. */
  maxBytes: number;
  maxEntries: number;
}

export const DEFAULT_CONTEXT_LIMITS: ContextLimits = { maxBytes: 512 * 1024 * 1024, maxEntries: 100_000 };

export class ContextTooLargeError extends Error {}

/** Lists the folder (depth-first, sorted, so the tar is deterministic) and checks the limits. */
async function listFolder(root: string, limits: ContextLimits): Promise<Array<{ rel: string; full: string }>> {
  const out: Array<{ rel: string; full: string }> = [];
  let bytes = 0;
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(full);
      if (st.isFile()) bytes += st.size;
      else if (!st.isDirectory() && !st.isSymbolicLink()) continue;
      out.push({ rel: r, full });
      if (out.length > limits.maxEntries) throw new ContextTooLargeError(`the build context has more than ${limits.maxEntries} entries`);
      if (bytes > limits.maxBytes) throw new ContextTooLargeError(`the build context is larger than ${limits.maxBytes} bytes`);
      if (st.isDirectory()) await walk(full, r);
    }
  };
  await walk(root, '');
  return out;
}

/** Streams `root` as an uncompressed tar. Limits are checked before the first byte is sent. */
export async function packContext(root: string, limits: ContextLimits = DEFAULT_CONTEXT_LIMITS): Promise<Readable> {
  const entries = await listFolder(root, limits);
  const pack = tar.pack();
  void (async () => {
    try {
      for (const { rel, full } of entries) {
        const st = await lstat(full);
        const common = { name: rel, uid: 0, gid: 0, uname: '', gname: '', mtime: st.mtime };
        if (st.isSymbolicLink()) {
          pack.entry({ ...common, type: 'symlink', linkname: await readlink(full) });
        } else if (st.isDirectory()) {
          pack.entry({ ...common, type: 'directory', mode: st.mode & 0o7777 });
        } else if (st.isFile()) {
          await new Promise<void>((resolve, reject) => {
            const entry = pack.entry({ ...common, type: 'file', size: st.size, mode: st.mode & 0o7777 }, (err) => (err ? reject(err) : resolve()));
            const src = createReadStream(full);
            src.on('error', reject);
            src.pipe(entry);
          });
        }
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  return pack as unknown as Readable;
}

/** A tar stream built from in-memory files (image imports in tests, tiny contexts). */
export function packFiles(files: Array<{ name: string; body?: string | Buffer; mode?: number; type?: 'file' | 'directory' | 'symlink'; linkname?: string }>): Readable {
  const pack = tar.pack();
  for (const f of files) {
    const type = f.type ?? 'file';
    if (type === 'file') pack.entry({ name: f.name, mode: f.mode ?? 0o644, uid: 0, gid: 0 }, f.body ?? '');
    else if (type === 'directory') pack.entry({ name: f.name, type, mode: f.mode ?? 0o755, uid: 0, gid: 0 });
    else pack.entry({ name: f.name, type, linkname: f.linkname ?? '', uid: 0, gid: 0 });
  }
  pack.finalize();
  return pack as unknown as Readable;
}
