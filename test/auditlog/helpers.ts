// Shared fixtures of the audit-log tests: entries, seeds, and an outside verifier that uses only
// the public verify library (what a relying party runs on a served log).
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2';
import { utf8ToBytes } from '@noble/hashes/utils';
import { openCheckpoint } from '../../src/verify/note.ts';
import { leafHash, merkleRoot } from '../../src/verify/tlog.ts';
import type { ClosedLog } from '../../src/verify/bundle.ts';
import type { NewLogEntry } from '../../src/auditlog/entry.ts';

export const ORIGIN = 'webhost.test/dstack-webhost/app/1-0badc0de';

export function entry(i: number, project = 'app', action: NewLogEntry['action'] = 'deploy'): NewLogEntry {
  return {
    v: 1,
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
    action,
    project,
    deployment: action === 'teardown' ? null : { id: 'a'.repeat(64), tree_hash: 'b'.repeat(40), commit_sha: null, manifest_digest: 'c'.repeat(64), image_digests: [] },
    detail: { n: i, note: `entry ${i} — ünïcode` },
  };
}

/** A stand-in for dstack GetKey: a fixed secret and the key path give a stable 32-byte seed. */
export function seedFor(origin: string, secret = 'tee-secret'): Uint8Array {
  return sha256(utf8ToBytes(`${secret}\n${origin}`));
}

/** What a relying party checks on a served log: the signature, then that the entries hash to the signed root. */
export function verifyServedLog(log: ClosedLog): { size: number; rootHash: Uint8Array } {
  const cp = openCheckpoint(log.checkpoint, [log.public_key], { origin: log.origin });
  assert.equal(cp.size, log.entries.length, 'checkpoint size = number of entries');
  assert.deepEqual(merkleRoot(log.entries.map((e) => leafHash(utf8ToBytes(e)))), cp.rootHash, 'entries hash to the signed root');
  return { size: cp.size, rootHash: cp.rootHash };
}
