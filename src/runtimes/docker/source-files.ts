// Reading a file the tenant names (compose file, env_file, Dockerfile) from its source folder.
// The daemon reads these as root, so a symlink in the source (git keeps them) must never lead it
// to a file of the machine: every path component is checked with lstat.
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { badRequest, unprocessable } from '../../lib/http-error.ts';

export async function readSourceFile(sourceDir: string, rel: string, field: string, maxBytes = 256 * 1024): Promise<string | null> {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.includes('..') || path.isAbsolute(rel)) throw badRequest('invalid_field', `'${field}' must be a path inside the source`, field);
  let cur = sourceDir;
  for (const [i, part] of parts.entries()) {
    cur = path.join(cur, part);
    const st = await lstat(cur).catch(() => null);
    if (!st) return null;
    if (st.isSymbolicLink()) throw unprocessable('symlink_refused', `'${field}': ${JSON.stringify(rel)} goes through a symbolic link, which the daemon does not follow`, field);
    const last = i === parts.length - 1;
    if (!last && !st.isDirectory()) return null;
    if (last) {
      if (!st.isFile()) throw badRequest('invalid_field', `'${field}': ${JSON.stringify(rel)} is not a file`, field);
      if (st.size > maxBytes) throw badRequest('invalid_field', `'${field}': ${JSON.stringify(rel)} is larger than ${maxBytes} bytes`, field);
    }
  }
  return readFile(cur, 'utf8');
}

/** An env file: KEY=VALUE lines, `#` comments, optional `export `, optional matching quotes. */
export function parseEnvFile(text: string, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw badRequest('invalid_env_file', `'${field}' line ${i + 1} is not KEY=VALUE`, field);
    let v = m[2]!;
    if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) v = v.slice(1, -1);
    out[m[1]!] = v;
  });
  return out;
}

/**
 * In attested mode a Dockerfile's base images must be pinned by digest too, or the built image
 * depends on whatever a tag points at when it is built. Returns the offending line, or null.
 */
export function unpinnedBaseImage(dockerfile: string): { line: number; text: string } | null {
  const stages = new Set<string>();
  const lines = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const m = /^\s*FROM\s+(.*)$/i.exec(raw);
    if (!m) continue;
    const words = m[1]!.trim().split(/\s+/).filter((w) => !w.startsWith('--'));
    const image = words[0] ?? '';
    const earlierStage = stages.has(image.toLowerCase());
    if (words[1]?.toLowerCase() === 'as' && words[2]) stages.add(words[2].toLowerCase());
    if (image === 'scratch' || earlierStage) continue;
    if (image.includes('$') || !/@sha256:[a-f0-9]{64}$/.test(image)) return { line: i + 1, text: raw.trim() };
  }
  return null;
}
