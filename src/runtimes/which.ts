// Finds an executable the way a shell would, without asking a shell (whose environment is the
// daemon's, token included).
import { accessSync, constants, realpathSync } from 'node:fs';
import path from 'node:path';

const DEFAULT_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function which(name: string, extraDirs: readonly string[] = []): string | null {
  const dirs = [...extraDirs, ...(process.env.PATH ?? '').split(':').filter(Boolean), ...DEFAULT_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return realpathSync(candidate);
    } catch {
      // not here
    }
  }
  return null;
}
