// The admin token. In production it must come from TEE_DAEMON_TOKEN (≥ 32 characters). The local
// default generates one, stores it in the state folder (0600) and shows it once, when generated.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../lib/atomic-file.ts';

export const MIN_TOKEN_LENGTH = 32;

export class ConfigError extends Error {}

export interface TokenResult {
  token: string;
  source: 'env' | 'file' | 'generated';
  file?: string;
}

export async function resolveToken(fromEnv: string | undefined, stateDir: string, production: boolean): Promise<TokenResult> {
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < MIN_TOKEN_LENGTH) {
      throw new ConfigError(`TEE_DAEMON_TOKEN is too short: it must be at least ${MIN_TOKEN_LENGTH} characters`);
    }
    return { token: fromEnv, source: 'env' };
  }
  if (production) {
    throw new ConfigError(`TEE_DAEMON_TOKEN is required in production (at least ${MIN_TOKEN_LENGTH} characters)`);
  }
  const file = path.join(stateDir, 'token');
  const stored = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (stored.length >= MIN_TOKEN_LENGTH) return { token: stored, source: 'file', file };
  const token = randomBytes(32).toString('base64url');
  await writeFileAtomic(file, token + '\n', 0o600);
  return { token, source: 'generated', file };
}
