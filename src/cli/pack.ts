// Packs a project folder into a tar.gz for upload. Leaves out what is never source: .git,
// node_modules and the local daemon's state folder.
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

const SKIP = new Set(['.git', 'node_modules', '.webhost']);

export async function packFolder(root: string): Promise<{ archive: Buffer; files: number }> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  let files = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      if (SKIP.has(name)) continue;
      const full = path.join(dir, name);
      const rel = path.relative(root, full).split(path.sep).join('/');
      const st = await lstat(full);
      if (st.isSymbolicLink()) {
        pack.entry({ name: rel, type: 'symlink', linkname: await readlink(full) });
      } else if (st.isDirectory()) {
        pack.entry({ name: rel, type: 'directory', mode: 0o755 });
        await walk(full);
      } else if (st.isFile()) {
        pack.entry({ name: rel, mode: st.mode & 0o100 ? 0o755 : 0o644 }, await readFile(full));
        files++;
      }
    }
  };
  await walk(root);
  pack.finalize();
  await ended;
  return { archive: gzipSync(Buffer.concat(chunks)), files };
}
