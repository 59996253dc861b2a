// AuditLog: appends, signed checkpoints, proofs that an outside verifier accepts, re-opening with
// the same key and root, serialized concurrent appends, entry validation, closing.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { utf8ToBytes } from '@noble/hashes/utils';
import { tempDir } from '../helpers/tmp.ts';
import { ORIGIN, entry, seedFor, verifyServedLog } from './helpers.ts';
import { AuditLog, AuditLogClosedError, AuditLogIntegrityError, InvalidEntryError, MAX_ENTRY_BYTES } from '../../src/auditlog/index.ts';
import { openCheckpoint, parseVerifierKey } from '../../src/verify/note.ts';
import { ProofError, emptyRoot, leafHash, verifyConsistency, verifyInclusion } from '../../src/verify/tlog.ts';
import { canonicalJson } from '../../src/verify/deployment.ts';

const opts = { origin: ORIGIN, seed: seedFor(ORIGIN), project: 'app' };

test('a new log is empty, with a signed size-0 checkpoint', async () => {
  const dir = path.join(tempDir(), 'log');
  const log = await AuditLog.open(dir, opts);
  assert.equal(log.size, 0);
  assert.deepEqual(log.rootHash(), emptyRoot());
  const cp = openCheckpoint(log.checkpoint(), [log.publicKey()], { origin: ORIGIN });
  assert.equal(cp.size, 0);
  assert.equal(parseVerifierKey(log.publicKey()).name, ORIGIN, 'key name defaults to the origin');
  assert.deepEqual(log.recovery, { truncatedBytes: 0, droppedEntries: 0 });
  assert.equal(statSync(path.join(dir, 'entries.jsonl')).size, 0);
  verifyServedLog(log.evidence());
  await log.release();
});

test('appends assign seq, store canonical text, and every proof verifies against the signed checkpoints', async () => {
  const log = await AuditLog.open(path.join(tempDir(), 'log'), opts);
  const checkpoints: { size: number; root: Uint8Array }[] = [{ size: 0, root: log.rootHash() }];
  for (let i = 0; i < 12; i++) {
    const r = await log.append(entry(i));
    assert.equal(r.seq, i);
    assert.equal(r.size, i + 1);
    assert.equal(r.entry, canonicalJson({ ...entry(i), seq: i }));
    assert.equal(r.checkpoint, log.checkpoint());
    const cp = openCheckpoint(r.checkpoint, [log.publicKey()], { origin: ORIGIN });
    assert.equal(cp.size, i + 1);
    assert.deepEqual(cp.rootHash, r.rootHash);
    checkpoints.push({ size: cp.size, root: cp.rootHash });
  }
  verifyServedLog(log.evidence());
  const texts = log.entries();
  assert.equal(texts.length, 12);
  assert.deepEqual(log.entries(3, 5), texts.slice(3, 5));
  assert.throws(() => log.entries(5, 13), RangeError);
  // Inclusion of every entry in every signed tree that contains it.
  for (const { size, root } of checkpoints) {
    for (let i = 0; i < size; i++) assert.ok(verifyInclusion(i, size, leafHash(utf8ToBytes(texts[i]!)), log.inclusionProof(i, size), root), `inclusion ${i} in ${size}`);
  }
  // Consistency between every pair of signed checkpoints, old to new.
  for (const a of checkpoints) {
    for (const b of checkpoints) {
      if (a.size > b.size) {
        assert.throws(() => log.consistencyProof(a.size, b.size), ProofError, 'no proof from a larger tree to a smaller one');
        continue;
      }
      assert.ok(verifyConsistency(a.size, b.size, a.root, b.root, log.consistencyProof(a.size, b.size)), `consistency ${a.size} → ${b.size}`);
    }
  }
  assert.throws(() => log.inclusionProof(0, 13), RangeError);
  assert.throws(() => log.consistencyProof(1, 13), RangeError);
  await log.release();
});

test('re-opening keeps the key, the root, the checkpoint and the entries, and appends continue', async () => {
  const dir = path.join(tempDir(), 'log');
  const a = await AuditLog.open(dir, opts);
  for (let i = 0; i < 5; i++) await a.append(entry(i));
  const before = { key: a.publicKey(), root: a.rootHash(), cp: a.checkpoint(), entries: a.entries() };
  await a.release();
  await assert.rejects(a.append(entry(5)), AuditLogClosedError, 'a released handle takes no appends');

  const b = await AuditLog.open(dir, opts);
  assert.deepEqual({ key: b.publicKey(), root: b.rootHash(), cp: b.checkpoint(), entries: b.entries() }, before);
  assert.deepEqual(b.recovery, { truncatedBytes: 0, droppedEntries: 0 });
  const r = await b.append(entry(5));
  assert.equal(r.seq, 5);
  assert.ok(verifyConsistency(5, 6, before.root, r.rootHash, b.consistencyProof(5)));
  await b.release();
});

test('concurrent appends are serialized: distinct seqs in call order, one line each', async () => {
  const dir = path.join(tempDir(), 'log');
  const log = await AuditLog.open(dir, opts);
  const results = await Promise.all(Array.from({ length: 25 }, (_, i) => log.append(entry(i))));
  assert.deepEqual(results.map((r) => r.seq), Array.from({ length: 25 }, (_, i) => i));
  assert.deepEqual(results.map((r) => JSON.parse(r.entry).detail.n), Array.from({ length: 25 }, (_, i) => i));
  // A rejected entry in the middle of a burst does not disturb the others.
  const mixed = await Promise.allSettled([log.append(entry(25)), log.append({ ...entry(26), action: 'explode' as never }), log.append(entry(27))]);
  assert.deepEqual(mixed.map((m) => m.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal(log.size, 27);
  const lines = readFileSync(path.join(dir, 'entries.jsonl'), 'utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(lines, log.entries());
  await log.release();
  const again = await AuditLog.open(dir, opts);
  assert.equal(again.size, 27);
  verifyServedLog(again.evidence());
  await again.release();
});

test('invalid entries are refused and change nothing', async () => {
  const dir = path.join(tempDir(), 'log');
  const log = await AuditLog.open(dir, opts);
  await log.append(entry(0));
  const cp = log.checkpoint();
  const bad: [unknown, string][] = [
    [{ ...entry(1), seq: 7 }, 'seq'],
    [{ ...entry(1), v: 2 }, 'v'],
    [{ ...entry(1), action: 'delete' }, 'action'],
    [{ ...entry(1), project: 'other' }, 'project'],
    [{ ...entry(1), time: 'yesterday' }, 'time'],
    [{ ...entry(1), time: '2025-01-01T00:00:00+02:00' }, 'time'],
    [{ ...entry(1), extra: 1 }, 'extra'],
    [{ ...entry(1), detail: { x: Number.NaN } }, 'detail.x'],
    [{ ...entry(1), detail: { x: undefined } }, 'detail.x'],
    [{ ...entry(1), detail: { when: new Date() } }, 'detail.when'],
    [{ ...entry(1), detail: [] }, 'detail'],
    [{ ...entry(1), deployment: { id: 'x' } }, 'deployment.tree_hash'],
    [{ ...entry(1), deployment: { ...entry(1).deployment, image_digests: [1] } }, 'deployment.image_digests'],
    [{ ...entry(1), detail: { s: '\uD800' } }, 'entry'],
    [{ ...entry(1), detail: { big: 'x'.repeat(MAX_ENTRY_BYTES) } }, 'entry'],
    [(() => { const e: Record<string, unknown> = { ...entry(1) }; delete e.detail; return e; })(), 'detail'],
  ];
  for (const [e, field] of bad) {
    await assert.rejects(log.append(e as never), (err: unknown) => err instanceof InvalidEntryError && err.field === field, `expected a refusal naming ${field}`);
  }
  assert.equal(log.size, 1);
  assert.equal(log.checkpoint(), cp);
  assert.equal(readFileSync(path.join(dir, 'entries.jsonl'), 'utf8').split('\n').length, 2);
  assert.equal((await log.append(entry(1))).seq, 1, 'the log still works');
  await log.release();
});

test('closing makes the log read-only for good, and it still verifies', async () => {
  const dir = path.join(tempDir(), 'log');
  const log = await AuditLog.open(dir, opts);
  await log.append(entry(0));
  await log.append(entry(1, 'app', 'teardown'));
  const closed = await log.close();
  assert.ok(log.closed);
  assert.equal(closed.entries.length, 2);
  verifyServedLog(closed);
  await assert.rejects(log.append(entry(2)), AuditLogClosedError);

  const again = await AuditLog.open(dir, opts);
  assert.ok(again.closed);
  assert.equal(again.writable, false);
  assert.deepEqual(again.evidence(), closed);
  await assert.rejects(again.append(entry(2)), AuditLogClosedError);
  // Opened read-only on request: readable, never written.
  const ro = await AuditLog.open(dir, { ...opts, readOnly: true });
  assert.equal(ro.size, 2);
  await assert.rejects(AuditLog.open(path.join(tempDir(), 'none'), { ...opts, readOnly: true }), AuditLogIntegrityError, 'read-only never creates');
});

test('a log opens only with the origin and key it was created with', async () => {
  const dir = path.join(tempDir(), 'log');
  const log = await AuditLog.open(dir, opts);
  await log.append(entry(0));
  await log.release();
  const problem = (p: string) => (err: unknown) => err instanceof AuditLogIntegrityError && err.problem === p;
  await assert.rejects(AuditLog.open(dir, { ...opts, seed: seedFor(ORIGIN, 'another TEE') }), problem('key_mismatch'));
  await assert.rejects(AuditLog.open(dir, { ...opts, origin: ORIGIN + 'x' }), problem('origin_mismatch'));
  await assert.rejects(AuditLog.open(dir, { ...opts, keyName: 'other-name' }), problem('origin_mismatch'));
  assert.equal((await AuditLog.open(dir, opts)).size, 1);
});
