// Tampering: whatever is changed on disk, opening says what and refuses to sign over it, leaves the
// files as they were, and an outside verifier holding an earlier checkpoint catches what the daemon
// alone cannot (a whole history rolled back, or rewritten and re-signed by another key).
import test from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { utf8ToBytes } from '@noble/hashes/utils';
import { tempDir } from '../helpers/tmp.ts';
import { ORIGIN, entry, seedFor, verifyServedLog } from './helpers.ts';
import { AuditLog, AuditLogIntegrityError, entryText, type IntegrityProblem } from '../../src/auditlog/index.ts';
import { NoteError, ed25519NoteKey, openCheckpoint, signCheckpoint } from '../../src/verify/note.ts';
import { MerkleTree, ProofError, leafHash, verifyConsistency } from '../../src/verify/tlog.ts';

const opts = { origin: ORIGIN, seed: seedFor(ORIGIN), project: 'app' };

async function logWith(n: number) {
  const dir = path.join(tempDir(), 'log');
  const log = await AuditLog.open(dir, opts);
  for (let i = 0; i < n; i++) await log.append(entry(i));
  await log.release();
  const file = path.join(dir, 'entries.jsonl');
  return { dir, file, lines: readFileSync(file, 'utf8').split('\n').slice(0, -1), log };
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((n) => [n, readFileSync(path.join(dir, n), 'latin1')]));
}

/** Opening must fail with `problem`, and leave every file exactly as it was. */
async function refuses(dir: string, problem: IntegrityProblem, o: Parameters<typeof AuditLog.open>[1] = opts) {
  const before = snapshot(dir);
  await assert.rejects(
    AuditLog.open(dir, o),
    (err: unknown) => err instanceof AuditLogIntegrityError && err.problem === problem && err.code === 'audit_log_integrity' && /refusing to sign/.test(err.message),
    `expected ${problem}`,
  );
  assert.deepEqual(snapshot(dir), before, 'a refused log is left untouched');
}

test('an edited entry, kept canonical, no longer hashes to the signed root', async () => {
  const { dir, file, lines } = await logWith(6);
  lines[2] = lines[2]!.replace('"n":2', '"n":9');
  writeFileSync(file, lines.join('\n') + '\n');
  await refuses(dir, 'root_mismatch');
});

test('a hand-edited line (not canonical), a removed, a reordered or a duplicated entry is named', async () => {
  for (const edit of [
    (l: string[]) => { l[1] = l[1]!.replace('{', '{ '); },
    (l: string[]) => { l.splice(3, 1); },
    (l: string[]) => { [l[1], l[2]] = [l[2]!, l[1]!]; },
    (l: string[]) => { l[4] = l[3]!; },
  ]) {
    const { dir, file, lines } = await logWith(6);
    edit(lines);
    writeFileSync(file, lines.join('\n') + '\n');
    await refuses(dir, 'bad_entry');
  }
});

test('entries cut off the end of the file', async () => {
  const { dir, file, lines } = await logWith(6);
  writeFileSync(file, lines.slice(0, 4).join('\n') + '\n');
  await refuses(dir, 'entries_missing');
  // Cutting mid-line is no crash either: the signed size is not there.
  writeFileSync(file, lines.slice(0, 5).join('\n') + '\n' + lines[5]!.slice(0, 10));
  await refuses(dir, 'entries_missing');
});

test('unsigned lines no crash can explain', async () => {
  {
    const { dir, file } = await logWith(3);
    appendFileSync(file, entryText(entry(3), 3, 'app') + '\n' + entryText(entry(4), 4, 'app') + '\n');
    await refuses(dir, 'unsigned_entries');
  }
  {
    const { dir, file } = await logWith(3);
    appendFileSync(file, entryText(entry(3), 7, 'app') + '\n'); // wrong seq
    await refuses(dir, 'unsigned_entries');
  }
  {
    const { dir, file } = await logWith(3);
    appendFileSync(file, entryText(entry(3), 3, 'app') + '\n{"torn');
    await refuses(dir, 'unsigned_entries');
  }
  {
    const { dir, file } = await logWith(3);
    appendFileSync(file, Buffer.from([0xff, 0x0a]));
    await refuses(dir, 'bad_entry');
  }
});

test('the checkpoint: edited, deleted, or re-signed by another key over a rewritten history', async () => {
  {
    const { dir } = await logWith(3);
    const cpFile = path.join(dir, 'checkpoint');
    writeFileSync(cpFile, readFileSync(cpFile, 'utf8').replace(`${ORIGIN}\n3\n`, `${ORIGIN}\n2\n`));
    await refuses(dir, 'bad_checkpoint');
    rmSync(cpFile);
    await refuses(dir, 'missing_file');
  }
  {
    // An intruder rewrites entry 1, rebuilds the tree and signs a checkpoint with a key of their own.
    const { dir, file, lines, log } = await logWith(4);
    const published = log.checkpoint();
    lines[1] = lines[1]!.replace('"n":1', '"n":100');
    writeFileSync(file, lines.join('\n') + '\n');
    const intruder = ed25519NoteKey(ORIGIN, seedFor(ORIGIN, 'intruder'));
    const forged = signCheckpoint({ origin: ORIGIN, size: 4, rootHash: new MerkleTree(lines.map((l) => leafHash(utf8ToBytes(l)))).root(), extensions: [] }, [intruder]);
    writeFileSync(path.join(dir, 'checkpoint'), forged);
    await refuses(dir, 'bad_checkpoint');
    // Swapping the key in log.json as well only moves the failure: the daemon's key is derived, not read.
    const metaFile = path.join(dir, 'log.json');
    const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
    writeFileSync(metaFile, JSON.stringify({ ...meta, public_key: intruder.vkey }));
    await refuses(dir, 'key_mismatch');
    // And a verifier who knows the log's key rejects the forged checkpoint outright.
    assert.throws(() => openCheckpoint(forged, [log.publicKey()]), (e: unknown) => e instanceof NoteError && e.code === 'unverified_note');
    assert.equal(openCheckpoint(published, [log.publicKey()]).size, 4);
  }
  {
    const { dir } = await logWith(1);
    rmSync(path.join(dir, 'log.json'));
    await refuses(dir, 'missing_file');
    writeFileSync(path.join(dir, 'log.json'), '{"v":1}');
    await refuses(dir, 'bad_meta');
  }
  {
    // An emptied folder is a deleted history, not a new log.
    const { dir } = await logWith(2);
    for (const n of readdirSync(dir)) rmSync(path.join(dir, n));
    await refuses(dir, 'missing_file');
  }
});

test('a closed log is never repaired: a torn tail there is damage', async () => {
  const { dir, file } = await logWith(2);
  const log = await AuditLog.open(dir, opts);
  await log.close();
  appendFileSync(file, '{"half');
  await refuses(dir, 'closed_log_damaged');
});

test('rollback to an older, genuinely signed state: a verifier who saw a later checkpoint catches it', async () => {
  const dir = path.join(tempDir(), 'log');
  const log = await AuditLog.open(dir, opts);
  for (let i = 0; i < 3; i++) await log.append(entry(i));
  const oldFiles = snapshot(dir);
  for (let i = 3; i < 6; i++) await log.append(entry(i));
  const seen = openCheckpoint(log.checkpoint(), [log.publicKey()]); // a relying party saw size 6
  await log.release();

  // Restore the size-3 files: every file is authentic, so the daemon alone cannot tell.
  for (const [n, content] of Object.entries(oldFiles)) writeFileSync(path.join(dir, n), content, 'latin1');
  const rolled = await AuditLog.open(dir, opts);
  assert.equal(rolled.size, 3);
  const served = verifyServedLog(rolled.evidence());
  // The verifier asks for consistency from what it saw (6) to what is served (3): there is none.
  assert.throws(() => rolled.consistencyProof(seen.size, served.size), ProofError);
  assert.equal(verifyConsistency(seen.size, served.size, seen.rootHash, served.rootHash, []), false);
  // If the log then grows past 6 over a different history, the fork shows too.
  for (let i = 3; i < 8; i++) await rolled.append(entry(100 + i));
  const now = verifyServedLog(rolled.evidence());
  assert.equal(verifyConsistency(seen.size, now.size, seen.rootHash, now.rootHash, rolled.consistencyProof(seen.size)), false);
  await rolled.release();
});
