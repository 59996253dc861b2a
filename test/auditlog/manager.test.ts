// AuditLogs: one open incarnation per project, teardown closes it for good, a re-created project
// starts a new log (new origin, new key) and the old history stays listed, verbatim.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.ts';
import { entry, seedFor, verifyServedLog } from './helpers.ts';
import { AuditLogIntegrityError, AuditLogs } from '../../src/auditlog/index.ts';
import { parseVerifierKey } from '../../src/verify/note.ts';

const HOST = 'webhost.test';

function manager(root: string, origins?: string[]) {
  return new AuditLogs(root, {
    host: HOST,
    seedFor: (origin) => {
      origins?.push(origin);
      return seedFor(origin);
    },
  });
}

test('open creates the first incarnation, keyed by its origin, and returns the same log after', async () => {
  const root = tempDir();
  const origins: string[] = [];
  const logs = manager(root, origins);
  assert.equal(await logs.current('app'), undefined);
  const log = await logs.open('app');
  assert.match(log.origin, /^webhost\.test\/dstack-webhost\/app\/1-[0-9a-f]{8}$/);
  assert.deepEqual(origins, [log.origin], 'the seed is asked for by origin');
  assert.equal(parseVerifierKey(log.publicKey()).name, log.origin);
  assert.equal(await logs.open('app'), log);
  assert.equal(await logs.current('app'), log);
  // Concurrent opens of a new project make one incarnation, not two.
  const [a, b] = await Promise.all([logs.open('other'), logs.open('other')]);
  assert.equal(a, b);
  assert.equal((await logs.incarnations('other')).length, 1);
  await log.append(entry(0));
  await assert.rejects(log.append(entry(1, 'other')), /this log belongs to app/);
  await logs.release();
});

test('teardown closes the log; a re-created project gets a new incarnation that neither inherits nor hides the old one', async () => {
  const root = tempDir();
  const logs = manager(root);
  const first = await logs.open('app');
  await first.append(entry(0, 'app', 'promote'));
  await first.append(entry(1));
  const closed = await logs.close('app', entry(2, 'app', 'teardown'));
  assert.ok(closed);
  assert.equal(closed.entries.length, 3);
  assert.equal(JSON.parse(closed.entries[2]!).action, 'teardown');
  verifyServedLog(closed);
  assert.equal(await logs.current('app'), undefined);
  assert.equal(await logs.close('app'), undefined, 'nothing left to close');

  const second = await logs.open('app');
  assert.match(second.origin, /\/app\/2-[0-9a-f]{8}$/);
  assert.notEqual(second.origin, first.origin);
  assert.notEqual(second.publicKey(), first.publicKey());
  assert.equal(second.size, 0, 'nothing inherited');
  await second.append(entry(0, 'app', 'promote'));

  const previous = await logs.previous('app');
  assert.deepEqual(previous, [closed], 'the old history is listed exactly as closed');
  const incs = await logs.incarnations('app');
  assert.deepEqual(incs.map((i) => i.closedAt === null), [false, true]);
  await logs.release();
});

test('a restarted daemon finds the open incarnation with the same key and root', async () => {
  const root = tempDir();
  const before = manager(root);
  const log = await before.open('app');
  for (let i = 0; i < 4; i++) await log.append(entry(i));
  const state = { origin: log.origin, key: log.publicKey(), root: log.rootHash(), cp: log.checkpoint() };
  await before.release();

  const after = manager(root);
  const again = await after.current('app');
  assert.ok(again);
  assert.deepEqual({ origin: again.origin, key: again.publicKey(), root: again.rootHash(), cp: again.checkpoint() }, state);
  assert.equal((await again.append(entry(4))).seq, 4);
  await after.release();
});

test('a tampered current log is surfaced, and no fresh incarnation papers over it', async () => {
  const root = tempDir();
  const logs = manager(root);
  const log = await logs.open('app');
  await log.append(entry(0));
  await log.append(entry(1));
  await logs.release();
  const file = path.join(log.dir, 'entries.jsonl');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"n":1', '"n":2'));

  const restarted = manager(root);
  await assert.rejects(restarted.open('app'), (e: unknown) => e instanceof AuditLogIntegrityError && e.problem === 'root_mismatch');
  await assert.rejects(restarted.current('app'), AuditLogIntegrityError);
  assert.equal((await restarted.incarnations('app')).length, 1);
  assert.deepEqual(await restarted.previous('app'), []);
});

test('a tampered closed log is still listed as stored, for verifiers to reject', async () => {
  const root = tempDir();
  const logs = manager(root);
  const log = await logs.open('app');
  await log.append(entry(0));
  await logs.close('app');
  const file = path.join(log.dir, 'entries.jsonl');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"n":0', '"n":5'));
  const [listed] = await logs.previous('app');
  assert.ok(listed);
  assert.match(listed.entries[0]!, /"n":5/);
  assert.throws(() => verifyServedLog(listed), /entries hash to the signed root/);
});

test('names are checked before they become paths or key names', async () => {
  const root = tempDir();
  assert.throws(() => new AuditLogs(root, { host: 'bad host', seedFor }), TypeError);
  assert.throws(() => new AuditLogs(root, { host: 'a+b', seedFor }), TypeError);
  assert.throws(() => new AuditLogs(root, { host: 'a/b', seedFor }), TypeError);
  const logs = manager(root);
  for (const name of ['../x', 'UPPER', '', 'a/b', '.hidden', '-x']) await assert.rejects(logs.open(name), TypeError, name);
});

test('a log creation interrupted by a crash leaves nothing that counts', async () => {
  const root = tempDir();
  const half = path.join(root, 'app', '.1-0000abcd.creating-0123456789ab');
  mkdirSync(half, { recursive: true });
  writeFileSync(path.join(half, 'entries.jsonl'), '');
  const logs = manager(root);
  assert.equal(await logs.current('app'), undefined);
  const log = await logs.open('app');
  assert.match(log.origin, /\/app\/1-[0-9a-f]{8}$/);
  assert.deepEqual(readdirSync(path.join(root, 'app')), [path.basename(log.dir)]);
  await logs.release();
});
