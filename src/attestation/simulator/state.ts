// The simulator's state folder: the seed (the only secret) and the issued certificates, so that a
// restart keeps the same root CA, keys and app-id. Folder 0700, files 0600, every write atomic
// (temp file, fsync, rename, fsync folder): a crash leaves the old file or the new one, never half.

import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { bytesEqual, bytesToHex, hexToBytes } from '../hex.ts';

export const SEED_FILE = 'seed';
export const PKI_FILE = 'pki.json';

/**
 * Creates the state folder, or accepts an existing one that is empty or already holds a seed.
 * Any other folder (a project folder, a home folder) is refused rather than filled and chmod-ed.
 */
export function ensureStateDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
    if (readdirSync(dir).length > 0 && !existsSync(path.join(dir, SEED_FILE))) {
      throw new Error(`${dir} is not empty and holds no simulator seed; give an empty or new folder`);
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask and ignored for an existing folder: set it explicitly.
  chmodSync(dir, 0o700);
}

export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  chmodSync(tmp, mode);
  renameSync(tmp, file);
  const dirFd = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * Returns the folder's seed, creating it (from `given` or fresh randomness) on first use. A given
 * seed that differs from the stored one is refused rather than silently replacing the identity.
 */
export function loadOrCreateSeed(dir: string, given?: Uint8Array): Uint8Array {
  const file = path.join(dir, SEED_FILE);
  if (given && given.length !== 32) throw new Error(`simulator seed must be 32 bytes, got ${given.length}`);
  if (existsSync(file)) {
    const stored = hexToBytes(readFileSync(file, 'utf8').trim(), `seed in ${file}`);
    if (stored.length !== 32) throw new Error(`seed in ${file} is ${stored.length} bytes, expected 32`);
    if (given && !bytesEqual(given, stored)) throw new Error(`${dir} already holds a different simulator seed`);
    return stored;
  }
  const seed = given ?? new Uint8Array(randomBytes(32));
  writeFileAtomic(file, `${bytesToHex(seed)}\n`);
  return seed;
}

export function readJsonFile(file: string): unknown {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}
