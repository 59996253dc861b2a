// The daemon's version and the commit it was built from: WEBHOST_COMMIT when set at image build,
// else the checkout's HEAD, else unknown.
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function daemonVersion(): Promise<{ version: string; commit: string | null }> {
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  let commit: string | null = process.env.WEBHOST_COMMIT ?? null;
  if (!commit) {
    commit = await promisify(execFile)('git', ['-C', root, 'rev-parse', 'HEAD'], { timeout: 5000 })
      .then((r) => r.stdout.trim())
      .catch(() => null);
  }
  return { version: pkg.version, commit };
}
