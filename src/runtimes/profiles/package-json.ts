// Whether a source folder's package.json asks for dependencies (the trigger for npm/bun install).
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export async function wantsDependencies(sourceDir: string): Promise<boolean> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path.join(sourceDir, 'package.json'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new Error(`package.json cannot be read: ${(err as Error).message}`);
  }
  const deps = (json as { dependencies?: unknown; optionalDependencies?: unknown }) ?? {};
  const nonEmpty = (v: unknown) => typeof v === 'object' && v !== null && Object.keys(v).length > 0;
  return nonEmpty(deps.dependencies) || nonEmpty(deps.optionalDependencies);
}
