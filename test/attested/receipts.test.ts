// The receipts example end to end on a real daemon with the simulator: deploy examples/receipts,
// promote, fetch an answer, and `webhost verify --receipt-url` / `--receipt --payload` pass every
// bundle check and every receipt check. Then a tampered payload, a receipt signed by another key,
// and a receipt from before a redeploy each fail, naming the check. ctx.quote from the attested
// app verifies against the bundle; before promotion it is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ed25519 } from '@noble/curves/ed25519';
import { bytesToHex } from '@noble/hashes/utils';
import { testDaemon, type TestDaemon } from '../helpers/daemon.ts';
import { TestRepo } from '../helpers/git-repo.ts';
import { tempDir } from '../helpers/tmp.ts';
import { verifyAppQuote, verifyBundle, receiptMessage, type AppQuote, type EvidenceBundle, type Receipt } from '../../src/verify/index.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/webhost.mjs');
const EXAMPLE = readFileSync(path.join(ROOT, 'examples/receipts/server.ts'), 'utf8');

async function verifyCli(args: string[], configHome: string): Promise<{ code: number; out: string; checks: Map<string, string> }> {
  const r = await run(process.execPath, [BIN, 'verify', ...args], { env: { ...process.env, XDG_CONFIG_HOME: configHome } }).then(
    (x) => ({ code: 0, out: x.stdout + x.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
  const checks = new Map<string, string>();
  for (const line of r.out.split('\n')) {
    const m = /^([✓✗!-]) (\S+)/.exec(line);
    if (m) checks.set(m[2]!, m[1]!);
  }
  return { ...r, checks };
}

const failed = (checks: Map<string, string>) => [...checks].filter(([, mark]) => mark === '✗').map(([id]) => id);
const RECEIPT_IDS = ['receipt.format', 'receipt.payload', 'receipt.signature', 'receipt.app-key', 'receipt.project', 'receipt.deployment'];

describe('receipts example, end to end on the simulator', () => {
  let d: TestDaemon;
  let repo: TestRepo;
  let configHome: string;
  let files: string;
  let appUrl: string;
  /** An answer and its receipt, kept from before the redeploy. */
  let kept: { receipt: string; payload: string };

  const save = (name: string, data: string | Uint8Array) => {
    const file = path.join(files, name);
    writeFileSync(file, data);
    return file;
  };
  const fetchAnswer = async (query = '?name=ada') => {
    const res = await fetch(`${appUrl}${query}`);
    assert.equal(res.status, 200, await res.clone().text());
    const header = res.headers.get('webhost-receipt');
    assert.ok(header, 'the answer carries a Webhost-Receipt header');
    return { payload: new Uint8Array(await res.arrayBuffer()), receipt: JSON.parse(header) as Receipt };
  };

  before(async () => {
    d = await testDaemon();
    repo = new TestRepo({ 'server.ts': EXAMPLE });
    configHome = tempDir('xdg-');
    files = tempDir('receipts-');
    const res = await d.deployGit({ name: 'receipts', source: repo.dir, ref: 'main' });
    assert.equal(res.status, 201, await res.clone().text());
    appUrl = `${d.url}/receipts/`;
  });
  after(async () => {
    await d.stop();
    repo.remove();
  });

  test('before promotion: answers carry a receipt (sign works in dev), ctx.quote is refused', async () => {
    const { receipt } = await fetchAnswer();
    assert.equal(receipt.project, 'receipts');
    const q = await fetch(`${appUrl}quote?data=x`);
    assert.equal(q.status, 403);
    assert.match(((await q.json()) as { error: string }).error, /only for attested projects: promote 'receipts' first/);
    const promoted = await d.api('POST', '/_api/projects/receipts/promote');
    assert.equal(promoted.status, 200, await promoted.clone().text());
  });

  test('webhost verify --receipt-url passes every bundle check and every receipt check', async () => {
    const r = await verifyCli(['--receipt-url', `${appUrl}?name=ada`, '--allow-simulator'], configHome);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(failed(r.checks), []);
    for (const id of ['quote.signature', 'binding.report-data', 'binding.nonce', 'deployment.record', 'log.current-deployment', 'source.tree', ...RECEIPT_IDS]) {
      assert.equal(r.checks.get(id), '✓', `${id} should pass:\n${r.out}`);
    }
    assert.match(r.out, /SIMULATED/);
    assert.match(r.out, /The receipt checks out/);
  });

  test('a kept answer verifies with --receipt and --payload; the bundle shows the same app key', async () => {
    const a = await fetchAnswer('?name=grace');
    kept = { receipt: save('receipt.json', JSON.stringify(a.receipt)), payload: save('payload.json', a.payload) };
    const r = await verifyCli([appUrl, '--receipt', kept.receipt, '--payload', kept.payload, '--allow-simulator'], configHome);
    assert.equal(r.code, 0, r.out);
    const bundle = (await (await fetch(`${d.url}/_api/verification/receipts`)).json()) as EvidenceBundle;
    assert.equal(a.receipt.app_key, bundle.project.app_key);
    assert.equal(a.receipt.app_key, bundle.attestation.preimage.app_key);
    assert.equal(a.receipt.deployment_id, bundle.attestation.preimage.deployment.id);
  });

  test('a tampered payload fails receipt.payload', async () => {
    const payload = save('tampered.json', readFileSync(kept.payload, 'utf8').replace('grace', 'mallory'));
    const r = await verifyCli([appUrl, '--receipt', kept.receipt, '--payload', payload, '--allow-simulator'], configHome);
    assert.equal(r.code, 1, r.out);
    assert.deepEqual(failed(r.checks), ['receipt.payload']);
    assert.match(r.out, /receipt\.payload/);
  });

  test('a receipt signed by another key fails: receipt.app-key (well signed by it) or receipt.signature (claiming the app key)', async () => {
    const genuine = JSON.parse(readFileSync(kept.receipt, 'utf8')) as Receipt;
    const other = randomBytes(32);
    const otherKey = bytesToHex(ed25519.getPublicKey(other));
    const signWith = (r: Omit<Receipt, 'signature'>) => ({ ...r, signature: bytesToHex(ed25519.sign(receiptMessage(r), other)) });

    const ownKey = signWith({ ...genuine, app_key: otherKey });
    const a = await verifyCli([appUrl, '--receipt', save('other-key.json', JSON.stringify(ownKey)), '--payload', kept.payload, '--allow-simulator'], configHome);
    assert.equal(a.code, 1, a.out);
    assert.deepEqual(failed(a.checks), ['receipt.app-key']);

    const claimed = { ...genuine, signature: signWith(genuine).signature }; // names the app key, signed by another
    const b = await verifyCli([appUrl, '--receipt', save('claimed-key.json', JSON.stringify(claimed)), '--payload', kept.payload, '--allow-simulator'], configHome);
    assert.equal(b.code, 1, b.out);
    assert.deepEqual(failed(b.checks), ['receipt.signature']);
  });

  test("ctx.quote of the attested app verifies against the bundle (CLI and library)", async () => {
    const data = 'order 42: paid';
    const res = await fetch(`${appUrl}quote?data=${encodeURIComponent(data)}`);
    assert.equal(res.status, 200, await res.clone().text());
    const q = (await res.json()) as AppQuote;
    const bundle = (await (await fetch(`${d.url}/_api/verification/receipts`)).json()) as EvidenceBundle;
    const report = await verifyAppQuote(q, bundle, { allowSimulator: true, data: new TextEncoder().encode(data) });
    assert.equal(report.ok, true, report.summary);
    for (const id of ['binding.report-data', 'app-quote.preimage', 'app-quote.data', 'app-quote.same-cvm', 'quote.signature', 'boot.identity']) {
      assert.equal(report.checks.find((c) => c.id === id)?.status, 'pass', id);
    }
    assert.equal((await verifyBundle(bundle, { allowSimulator: true })).ok, true);

    const r = await verifyCli([appUrl, '--app-quote', save('app-quote.json', JSON.stringify(q)), '--data', save('data.txt', data), '--allow-simulator'], configHome);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.checks.get('app-quote.binding.report-data'), '✓', r.out);
    const wrong = await verifyCli([appUrl, '--app-quote', path.join(files, 'app-quote.json'), '--data', save('other.txt', 'order 42: unpaid'), '--allow-simulator'], configHome);
    assert.equal(wrong.code, 1);
    assert.deepEqual(failed(wrong.checks), ['app-quote.data']);
  });

  test('after a redeploy, a receipt from the previous deployment fails receipt.deployment', async () => {
    repo.commit({ 'server.ts': EXAMPLE.replace('hello ${name}', 'hi ${name}') });
    const re = await d.api('POST', '/_api/projects/receipts/redeploy');
    assert.equal(re.status, 200, await re.clone().text());
    const r = await verifyCli([appUrl, '--receipt', kept.receipt, '--payload', kept.payload, '--allow-simulator'], configHome);
    assert.equal(r.code, 1, r.out);
    assert.equal(r.checks.get('receipt.deployment'), '✗', r.out);
    assert.equal(r.checks.get('receipt.signature'), '✓', r.out);
    assert.match(r.out, /earlier deployment \(audit log entry \d+ \((promote|redeploy)/);
    // new code, new app key: the old key is not the one the quote binds either
    assert.equal(r.checks.get('receipt.app-key'), '✗', r.out);
    // while a fresh answer of the new deployment verifies
    const fresh = await verifyCli(['--receipt-url', `${appUrl}?name=ada`, '--allow-simulator'], configHome);
    assert.equal(fresh.code, 0, fresh.out);
  });
});
