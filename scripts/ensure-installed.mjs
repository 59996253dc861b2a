// Runs before `npm start` and `npm test`: on a fresh clone (or after package-lock.json changed)
// it installs the npm dependencies, so the README's two commands work with nothing done by hand.
// Plain JavaScript on purpose: it must run before any dependency exists.
import { existsSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const lock = path.join(root, 'package-lock.json');
const marker = path.join(root, 'node_modules', '.package-lock.json');
const fresh = existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
if (!fresh) {
  // `npm install`, not `npm ci`: a lock written against a registry that lacks some of deno's
  // other-platform binaries has no entries for them, which `npm ci` refuses (it broke a fresh clone
  // once), while `npm install` installs exactly the locked versions either way.
  console.error('[webhost] installing npm dependencies (npm install, from package-lock.json) ...');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('[webhost] npm install failed');
    process.exit(r.status ?? 1);
  }
}
