// Git's tree object id of a folder, computed from the files themselves, so an uploaded tarball
// gets the same `tree_hash` that `git rev-parse <commit>^{tree}` prints for a checkout of the
// same files. (blob = sha1("blob <size>\0" ‖ bytes); tree = sha1("tree <len>\0" ‖ entries), entries
// `<mode> <name>\0<20-byte id>` in git's order, where a folder sorts as if its name ended in '/'.)
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

interface TreeEntry {
  mode: string;
  name: string;
  id: Buffer;
}

function gitObjectId(type: 'blob' | 'tree', body: Uint8Array): Buffer {
  return createHash('sha1').update(`${type} ${body.length}\0`).update(body).digest();
}

export function blobId(content: Uint8Array): string {
  return gitObjectId('blob', content).toString('hex');
}

function sortKey(e: TreeEntry): string {
  return e.mode === '40000' ? `${e.name}/` : e.name;
}

/** Compares as git does: by raw bytes of the name (with '/' appended for folders). */
function compareEntries(a: TreeEntry, b: TreeEntry): number {
  return Buffer.compare(Buffer.from(sortKey(a)), Buffer.from(sortKey(b)));
}

/** Tree id of `dir`, or null when it holds no files at all (git does not record empty folders). */
async function treeOf(dir: string, exclude: ReadonlySet<string> = new Set()): Promise<Buffer | null> {
  const entries: TreeEntry[] = [];
  for (const dirent of await readdir(dir, { withFileTypes: true })) {
    const name = dirent.name;
    if (exclude.has(name)) continue;
    const full = path.join(dir, name);
    const st = await lstat(full);
    if (st.isSymbolicLink()) {
      entries.push({ mode: '120000', name, id: gitObjectId('blob', Buffer.from(await readlink(full))) });
    } else if (st.isDirectory()) {
      const id = await treeOf(full);
      if (id) entries.push({ mode: '40000', name, id });
    } else if (st.isFile()) {
      const mode = st.mode & 0o100 ? '100755' : '100644';
      entries.push({ mode, name, id: gitObjectId('blob', await readFile(full)) });
    } else {
      throw new Error(`${full}: not a regular file, folder or symlink`);
    }
  }
  if (entries.length === 0) return null;
  entries.sort(compareEntries);
  const body = Buffer.concat(entries.flatMap((e) => [Buffer.from(`${e.mode} ${e.name}\0`), e.id]));
  return gitObjectId('tree', body);
}

const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

/** `exclude`: top-level names left out (what the dependency install added, which no tree records). */
export async function treeHash(dir: string, exclude: ReadonlySet<string> = new Set()): Promise<string> {
  const id = await treeOf(dir, exclude);
  return id ? id.toString('hex') : EMPTY_TREE;
}
