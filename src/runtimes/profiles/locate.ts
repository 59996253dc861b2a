// Finding a runtime binary: an explicit path, this repository's own npm install
// (node_modules/.bin, where the deno and bun packages put theirs), or PATH.
import { accessSync, constants, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { which } from '../which.ts';

const REPO_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../node_modules/.bin');

export function locateBinary(name: string, explicit?: string): string | null {
  for (const candidate of [explicit, path.join(REPO_BIN, name)]) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return realpathSync(candidate);
    } catch {
      // try the next
    }
  }
  return which(name);
}

/** The folder of the shims, as the daemon sees it. */
export const SHIMS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../shims');
