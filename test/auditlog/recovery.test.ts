// Crash recovery: a torn last line and an unsigned complete line are cut away (never acknowledged),
// leftovers of interrupted atomic writes are removed, a failed append stops the log until it is
// reopened, and a process killed with SIGKILL mid-stream never loses an acknowledged entry.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.ts';
import { ORIGIN, entry, seedFor, verifyServedLog } from './helpers.ts';
import { AuditLog, AuditLogFailedError, entryText } from '../../src/auditlog/index.ts';
import { canonicalJson } from '../../src/verify/deployment.ts';

const opts = { origin: ORIGIN, seed: seedFor(ORIGIN), project: 'app' };

async function logWith(n: number): Promise<{ dir: string; file: string; bytes: number; root: Uint8Array; checkpoint: string }> {
  const dir = path.join(tempDir(), 'log');
  const log = await AuditLog.open(dir, opts);
  for (let i = 0; i < n; i++) await log.append(entry(i));
  await log.release();
  const file = path.join(dir, 'entries.jsonl');
  return { dir, file, bytes: statSync(file).size, root: log.rootHash(), checkpoint: log.checkpoint() };
}

test('a torn last line (crash mid-write) is cut away and the log carries on', async () => {
  const { dir, file, bytes, root } = await logWith(3);
  const next = entryText(entry(3), 3, 'app');
  appendFileSync(file, next.slice(0, 37)); // the write of seq 3 stopped part-way: no newline
  const log = await AuditLog.open(dir, opts);
  assert.deepEqual(log.recovery, { truncatedBytes: 37, droppedEntries: 0 });
  assert.equal(log.size, 3);
  assert.deepEqual(log.rootHash(), root);
  assert.equal(statSync(file).size, bytes);
  assert.equal((await log.append(entry(3))).seq, 3);
  verifyServedLog(log.evidence());
  await log.release();
});

test('a torn write on an empty log, even a multi-byte character cut in half', async () => {
  const { dir, file } = await logWith(0);
  writeFileSync(file, Buffer.from('{"action":"deploy","detail":{"note":"ü', 'utf8').subarray(0, -1));
  const log = await AuditLog.open(dir, opts);
  assert.equal(log.size, 0);
  assert.ok(log.recovery.truncatedBytes > 0);
  assert.equal(statSync(file).size, 0);
  await log.release();
});

test('a complete line whose checkpoint never landed (crash between fsync and rename) is dropped', async () => {
  const { dir, file, bytes, root, checkpoint } = await logWith(4);
  const line = entryText(entry(4), 4, 'app') + '\n';
  appendFileSync(file, line);
  // A read-only opener sees the signed state and leaves the leftover for the writer to repair.
  const ro = await AuditLog.open(dir, { ...opts, readOnly: true });
  assert.equal(ro.size, 4);
  assert.equal(statSync(file).size, bytes + Buffer.byteLength(line));
  const log = await AuditLog.open(dir, opts);
  assert.deepEqual(log.recovery, { truncatedBytes: Buffer.byteLength(line), droppedEntries: 1 });
  assert.equal(statSync(file).size, bytes);
  assert.equal(log.size, 4);
  assert.deepEqual(log.rootHash(), root);
  assert.equal(log.checkpoint(), checkpoint);
  // The same seq is assigned again, to whatever is appended next.
  const r = await log.append(entry(40));
  assert.equal(r.seq, 4);
  assert.equal(JSON.parse(r.entry).detail.n, 40);
  await log.release();
});

test('leftover temp files of an interrupted checkpoint write are removed', async () => {
  const { dir } = await logWith(2);
  writeFileSync(path.join(dir, '.checkpoint.0123456789ab.tmp'), 'half a checkpoint');
  const log = await AuditLog.open(dir, opts);
  assert.deepEqual(readdirSync(dir).sort(), ['checkpoint', 'entries.jsonl', 'log.json']);
  await log.release();
});

test('a failed checkpoint write stops the log; reopening lets the disk decide', async () => {
  const { dir, checkpoint } = await logWith(2);
  const log = await AuditLog.open(dir, opts);
  // Make the rename of the new checkpoint fail (a non-empty folder where the file goes).
  const cpFile = path.join(dir, 'checkpoint');
  rmSync(cpFile);
  mkdirSync(path.join(cpFile, 'blocker'), { recursive: true });
  await assert.rejects(log.append(entry(2)), AuditLogFailedError);
  assert.equal(log.size, 2, 'the failed entry is not acknowledged');
  await assert.rejects(log.append(entry(3)), AuditLogFailedError, 'no appends until reopened');
  await log.release();
  // The old checkpoint is what survived: the synced but unsigned line is dropped on reopen.
  rmSync(cpFile, { recursive: true });
  writeFileSync(cpFile, checkpoint);
  const again = await AuditLog.open(dir, opts);
  assert.equal(again.recovery.droppedEntries, 1);
  assert.equal(again.size, 2);
  assert.equal((await again.append(entry(2))).seq, 2);
  await again.release();
});

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'append-forever.ts');

/** Runs the appending child until it has acknowledged `acks` entries, then SIGKILLs it. Returns the acknowledged seqs. */
function runAndKill(dir: string, acks: number): Promise<{ acked: number[]; opened: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let opened = '';
    const acked: number[] = [];
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('open ')) opened = line;
        else acked.push(Number(line));
      }
      if (acked.length >= acks) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', () => resolve({ acked, opened }));
  });
}

test('SIGKILL mid-stream never loses an acknowledged entry', { timeout: 60_000 }, async () => {
  const dir = path.join(tempDir(), 'log');
  let expected = 0;
  for (let round = 0; round < 3; round++) {
    const { acked, opened } = await runAndKill(dir, 15 + round * 7);
    assert.ok(opened.startsWith(`open ${expected} `), `round ${round} opened at the size left by the last round: ${opened}`);
    assert.ok(acked.length >= 15);
    const last = acked[acked.length - 1]!;
    const log = await AuditLog.open(dir, opts);
    // Every acknowledged entry is there, exactly as appended; at most one more (committed, not yet reported).
    assert.ok(log.size >= last + 1 && log.size <= last + 2, `size ${log.size} after acknowledging up to ${last}`);
    const texts = log.entries();
    for (const seq of acked) assert.equal(texts[seq], canonicalJson({ ...entry(seq), seq }));
    verifyServedLog(log.evidence());
    expected = log.size;
    await log.release();
  }
  assert.ok(readFileSync(path.join(dir, 'entries.jsonl'), 'utf8').endsWith('\n'));
});
