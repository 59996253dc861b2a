// Attested mode end to end on the built-in simulator: deploy, promote, and `webhost verify` passes
// every check; then each tampering a relying party must catch makes it fail, naming the check.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { testDaemon, type TestDaemon } from '../helpers/daemon.ts';
import { TestRepo } from '../helpers/git-repo.ts';
import { tempDir } from '../helpers/tmp.ts';
import { verifyBundle } from '../../src/verify/index.ts';
import { ed25519NoteKey, signCheckpoint } from '../../src/verify/note.ts';
import { leafHash, merkleRoot } from '../../src/verify/tlog.ts';
import type { EvidenceBundle } from '../../src/verify/bundle.ts';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/webhost.mjs');

interface Line {
  mark: string;
  id: string;
}

async function verifyCli(args: string[], configHome: string): Promise<{ code: number; out: string; checks: Map<string, string> }> {
  const r = await run(process.execPath, [BIN, 'verify', ...args], { env: { ...process.env, XDG_CONFIG_HOME: configHome } }).then(
    (x) => ({ code: 0, out: x.stdout + x.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
  const checks = new Map<string, string>();
  for (const line of r.out.split('\n')) {
    const m = /^([✓✗!-]) (\S+)/.exec(line);
    if (m) checks.set((m as unknown as [string, string, string])[2], (m as unknown as [string, string, string])[1]);
  }
  return { ...r, checks };
}

function failed(checks: Map<string, string>): string[] {
  return [...checks].filter(([, mark]) => mark === '✗').map(([id]) => id);
}

describe('attested mode end to end', () => {
  let d: TestDaemon;
  let repo: TestRepo;
  let configHome: string;
  let appUrl: string;
  let logDir: string;

  before(async () => {
    d = await testDaemon();
    repo = new TestRepo({ 'server.ts': 'export default () => new Response("attested v1");\n' });
    configHome = tempDir('xdg-');
    const res = await d.deployGit({ name: 'notary', source: repo.dir, ref: 'main', env: { API_SECRET: 'env-value-never-shown' } });
    assert.equal(res.status, 201, await res.clone().text());
    const promoted = await d.api('POST', '/_api/projects/notary/promote');
    assert.equal(promoted.status, 200, await promoted.clone().text());
    assert.equal((await promoted.json()).mode, 'attested');
    appUrl = `${d.url}/notary/`;
    const auditRoot = path.join(d.stateDir, 'audit', 'notary');
    logDir = path.join(auditRoot, readdirSync(auditRoot).find((n) => !n.startsWith('.'))!);
  });
  after(async () => {
    await d.stop();
    repo.remove();
  });

  test('promote is deliberate and once: a second promote is refused', async () => {
    const again = await d.api('POST', '/_api/projects/notary/promote');
    assert.equal(again.status, 409);
  });

  test('webhost verify --allow-simulator passes every check, saying SIMULATED', async () => {
    const r = await verifyCli([appUrl, '--allow-simulator'], configHome);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SIMULATED/);
    assert.deepEqual(failed(r.checks), []);
    for (const id of ['quote.signature', 'rtmr.3', 'compose.hash', 'binding.report-data', 'binding.nonce', 'deployment.record', 'log.checkpoint', 'log.entries', 'log.current-deployment', 'source.tree']) {
      assert.equal(r.checks.get(id), '✓', `${id} should pass:\n${r.out}`);
    }
  });

  test('without --allow-simulator the same run fails, naming the simulated TEE', async () => {
    const r = await verifyCli([appUrl], configHome);
    assert.equal(r.code, 1);
    assert.equal(r.checks.get('dcap.trust-root'), '✗');
    assert.match(r.out, /simulat/i);
  });

  test('an old quote replayed against a new nonce fails the binding', async () => {
    const old = (await (await fetch(`${d.url}/_api/verification/notary?nonce=${'aa'.repeat(16)}`)).json()) as EvidenceBundle;
    const report = await verifyBundle(old, { allowSimulator: true, nonce: 'bb'.repeat(16) });
    assert.equal(report.ok, false);
    assert.equal(report.checks.find((c) => c.id === 'binding.nonce')?.status, 'fail');
  });

  test("the bundle's deployment edited fails the deployment check", async () => {
    const b = (await (await fetch(`${d.url}/_api/verification/notary`)).json()) as EvidenceBundle;
    const source = (b.deployment as { source: { tree_hash: string } }).source;
    source.tree_hash = 'f'.repeat(40);
    const report = await verifyBundle(b, { allowSimulator: true });
    assert.equal(report.checks.find((c) => c.id === 'deployment.record')?.status, 'fail');
  });

  test('no public response carries an env value or a private key', async () => {
    const texts = await Promise.all(
      ['/', '/_api/substrate', '/_api/projects/notary', '/_api/projects/notary/audit', '/_api/attest/notary', `/_api/verification/notary?nonce=${'cc'.repeat(8)}`].map((p) => fetch(`${d.url}${p}`).then((r) => r.text())),
    );
    for (const t of texts) {
      assert.doesNotMatch(t, /env-value-never-shown/);
      assert.doesNotMatch(t, /PRIVATE\+KEY/);
    }
  });

  test('the checkpoint a verifier saw is remembered: a rolled-back log fails consistency', async () => {
    const snapshot = tempDir('log-copy-');
    cpSync(logDir, snapshot, { recursive: true });
    repo.commit({ 'server.ts': 'export default () => new Response("attested v2");\n' });
    const re = await d.api('POST', '/_api/projects/notary/redeploy');
    assert.equal(re.status, 200);
    const seen = await verifyCli([appUrl, '--allow-simulator'], configHome);
    assert.equal(seen.code, 0, seen.out);
    assert.match(seen.out, /1 change|changes? since/i);
    // Put the older (genuinely signed) log back and restart: the daemon itself cannot tell.
    await d.stop();
    rmSync(logDir, { recursive: true });
    cpSync(snapshot, logDir, { recursive: true });
    await d.restart();
    const r = await verifyCli([appUrl, '--allow-simulator'], configHome);
    assert.equal(r.code, 1, r.out);
    assert.equal(r.checks.get('log.consistency'), '✗', r.out);
  });

  test('deployed files swapped behind the daemon fail the deployment check', async () => {
    const view = await (await d.api('GET', '/_api/projects/notary')).json();
    const file = path.join(d.stateDir, 'tenants', 'notary', 'deployments', view.deployment_id, 'src', 'server.ts');
    const original = readFileSync(file);
    writeFileSync(file, 'export default () => new Response("swapped in");\n');
    try {
      const b = (await (await fetch(`${d.url}/_api/verification/notary?nonce=${'dd'.repeat(8)}`)).json()) as EvidenceBundle;
      const report = await verifyBundle(b, { allowSimulator: true, nonce: 'dd'.repeat(8) });
      const check = report.checks.find((c) => c.id === 'deployment.record')!;
      assert.equal(check.status, 'fail', JSON.stringify(check));
    } finally {
      writeFileSync(file, original);
    }
  });

  test('an audit entry edited on disk fails the log check with expected and actual', async () => {
    const file = path.join(logDir, 'entries.jsonl');
    const original = readFileSync(file, 'utf8');
    await d.stop();
    writeFileSync(file, original.replace('"action":"promote"', '"action":"deploy"'));
    await d.restart();
    try {
      const r = await verifyCli([appUrl, '--allow-simulator', '--json'], tempDir('xdg-'));
      assert.equal(r.code, 1);
      const report = JSON.parse(r.out.slice(r.out.indexOf('{')));
      const entries = report.checks.find((c: { id: string }) => c.id === 'log.entries');
      assert.equal(entries.status, 'fail');
      assert.ok(entries.expected && entries.actual, JSON.stringify(entries));
    } finally {
      await d.stop();
      writeFileSync(file, original);
      await d.restart();
    }
  });

  test('an entry removed and the log re-signed by a different key fails the checkpoint check', async () => {
    const entriesFile = path.join(logDir, 'entries.jsonl');
    const checkpointFile = path.join(logDir, 'checkpoint');
    const metaFile = path.join(logDir, 'log.json');
    const saved = [entriesFile, checkpointFile, metaFile].map((f) => readFileSync(f));
    await d.stop();
    const lines = readFileSync(entriesFile, 'utf8').trimEnd().split('\n');
    const kept = lines.slice(0, -1);
    const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
    const forger = ed25519NoteKey(meta.origin, randomBytes(32));
    writeFileSync(entriesFile, kept.map((l) => l + '\n').join(''));
    writeFileSync(checkpointFile, signCheckpoint({ origin: meta.origin, size: kept.length, rootHash: merkleRoot(kept.map((l) => leafHash(new TextEncoder().encode(l)))), extensions: [] }, [forger]));
    writeFileSync(metaFile, JSON.stringify({ ...meta, public_key: forger.vkey }));
    await d.restart();
    try {
      const r = await verifyCli([appUrl, '--allow-simulator'], tempDir('xdg-'));
      assert.equal(r.code, 1, r.out);
      assert.equal(r.checks.get('log.checkpoint'), '✗', r.out);
    } finally {
      await d.stop();
      [entriesFile, checkpointFile, metaFile].forEach((f, i) => writeFileSync(f, saved[i]!));
      await d.restart();
    }
  });

  test('teardown closes the log; a new project of the same name does not inherit or hide it', async () => {
    const del = await d.api('DELETE', '/_api/projects/notary');
    assert.equal(del.status, 200);
    assert.equal((await fetch(`${d.url}/_api/verification/notary`)).status, 404);
    await d.deployGit({ name: 'notary', source: repo.dir, ref: 'main', mode: 'attested' });
    const b = (await (await fetch(`${d.url}/_api/verification/notary`)).json()) as EvidenceBundle;
    assert.equal(b.log.previous.length, 1);
    assert.notEqual(b.log.previous[0]!.origin, b.log.origin);
    assert.match(b.log.previous[0]!.entries.at(-1)!, /"action":"teardown"/);
    assert.match(b.log.entries[0]!, /"action":"promote"/);
    const report = await verifyBundle(b, { allowSimulator: true });
    assert.equal(report.checks.find((c) => c.id === 'log.previous')?.status, 'pass');
  });
});
