// `webhost verify` as a user runs it: a child process (`node bin/webhost.mjs verify …`) against a
// small HTTP server in this test that serves real evidence (simulator quotes, a real audit log, a
// real git repository) the way the daemon's public endpoints do.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buildEvidenceBundle, normalizeNonce } from '../../src/attestation/evidence.ts';
import { GuestAgentClient } from '../../src/attestation/guest-agent-client.ts';
import { startSimulator } from '../../src/attestation/simulator/index.ts';
import { AuditLog } from '../../src/auditlog/index.ts';
import type { AuditResponse } from '../../src/verify/api-shapes.ts';
import type { EvidenceBundle, LogEntry } from '../../src/verify/bundle.ts';
import { bytesToHex } from '../../src/verify/bytes.ts';
import type { Report } from '../../src/verify/check.ts';
import { canonicalJson, deploymentRef, type DeploymentRecord } from '../../src/verify/deployment.ts';
import { base64Encode } from '../../src/verify/note.ts';
import { TestRepo } from '../helpers/git-repo.ts';
import { tempDir } from '../helpers/tmp.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NAME = 'demo';
const ORIGIN = `127.0.0.1/dstack-webhost/${NAME}/1-0badcafe`;

const sim = await startSimulator({ dir: tempDir('wh-cli-sim-') });
const agent = new GuestAgentClient(sim.endpoint);
const repo = new TestRepo({ 'main.ts': 'export default () => new Response("hi")\n' });
after(async () => {
  agent.close();
  await sim.close();
  repo.remove();
});

const record: DeploymentRecord = {
  v: 1,
  project: NAME,
  source: { kind: 'git', url: repo.dir, ref: 'main', commit_sha: repo.head(), tree_hash: repo.tree() },
  manifest: { runtime: 'deno', entry: 'main.ts', env_names: [], listen: null },
  image_digests: [],
};
const seed = randomBytes(32);
const logsDir = tempDir('wh-cli-log-');
const openLog = async (dir: string) => {
  const l = await AuditLog.open(path.join(logsDir, dir), { origin: ORIGIN, seed, project: NAME });
  after(() => l.release());
  return l;
};
const append = (l: AuditLog, action: LogEntry['action']) =>
  l.append({ v: 1, time: new Date().toISOString(), action, project: NAME, deployment: deploymentRef(record), detail: {} });

const live = await openLog('live');
await append(live, 'promote');
// What an operator could restore later: the state folder as it was at size 1.
cpSync(path.join(logsDir, 'live'), path.join(logsDir, 'size-1'), { recursive: true });

// ---- the daemon's public endpoints, as far as verify uses them ----

const state: { log: AuditLog; tamper?: (b: EvidenceBundle) => void; requests: string[] } = { log: live, requests: [] };

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  state.requests.push(url.pathname + url.search);
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (url.pathname === `/_api/verification/${NAME}`) {
    const nonce = normalizeNonce(url.searchParams.get('nonce'));
    const b = await buildEvidenceBundle({
      agent,
      daemon: { version: '0.1.0', commit: null, tee: 'simulated', simulatorRootCa: sim.rootCaDer },
      project: { name: NAME, mode: 'attested', tree_hash: record.source.tree_hash, commit_sha: record.source.commit_sha },
      deployment: record,
      log: state.log,
      previous: [],
      appKey: null,
      nonce,
      collateral: async () => sim.collateral(),
    });
    state.tamper?.(b);
    return send(200, b);
  }
  if (url.pathname === `/_api/projects/${NAME}/audit`) {
    const ev = state.log.evidence();
    const out: AuditResponse = { origin: ev.origin, public_key: ev.public_key, size: ev.entries.length, checkpoint: ev.checkpoint, entries: ev.entries };
    const m = url.searchParams.get('consistency');
    if (m !== null) out.consistency_proof = state.log.consistencyProof(Number(m)).map(base64Encode);
    return send(200, out);
  }
  send(404, { error: 'not found', code: 'not_found' });
}

const server = http.createServer((req, res) => void handle(req, res).catch((e: Error) => (res.writeHead(500), res.end(e.message))));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
after(() => new Promise<void>((r) => server.close(() => r())));
const BASE = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const APP = `${BASE}/${NAME}/`;

// ---- running the command ----

const config = tempDir('wh-cli-xdg-');
const seenPath = path.join(config, 'webhost', 'seen.json');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: string[];
}

function verify(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/webhost.mjs'), 'verify', ...args], {
      cwd: ROOT,
      env: { ...process.env, XDG_CONFIG_HOME: config },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, lines: stdout.split('\n').filter(Boolean) }));
  });
}

const line = (r: Run, id: string) => r.lines.find((l) => l.split(/\s+/)[1] === id) ?? '';
const seen = () => JSON.parse(readFileSync(seenPath, 'utf8')) as { logs: Record<string, { size: number; root_hash: string }> };

// The remembered-checkpoint runs build on each other, so they run in this order.
test('first look: every check passes, SIMULATED, a fresh nonce was sent, the checkpoint is remembered', async () => {
  state.requests = [];
  const r = await verify(APP, '--allow-simulator');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.lines[0], `SIMULATED TEE, not hardware evidence: the code running here is ${repo.dir}@${repo.head()}, tree ${repo.tree()}; first look at this audit log (1 entry).`);
  assert.match(line(r, 'log.entries'), /^✓ log\.entries /);
  assert.match(line(r, 'source.tree'), /^✓ /);
  assert.match(line(r, 'dcap.trust-root'), /^! dcap\.trust-root .*SIMULATED/);
  assert.match(line(r, 'log.consistency'), /^- log\.consistency .*First look/);
  assert.ok(!r.lines.some((l) => l.startsWith('✗')));
  const asked = state.requests.find((q) => q.startsWith('/_api/verification/'))!;
  assert.match(asked, /\?nonce=[0-9a-f]{64}$/);
  assert.ok(!state.requests.some((q) => q.includes('/audit')), 'nothing to prove consistency against yet');
  assert.equal(seen().logs[ORIGIN]!.size, 1);
});

test('second look: the changes since then are counted and proven append-only with the audit endpoint\'s proof', async () => {
  await append(live, 'redeploy');
  state.requests = [];
  const r = await verify(APP, '--allow-simulator', '--no-source');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.lines[0]!, /\(source not fetched\); 1 change since you last looked on \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\.$/);
  assert.match(line(r, 'log.consistency'), /^✓ log\.consistency/);
  assert.match(line(r, 'source.tree'), /^- source\.tree/);
  assert.ok(state.requests.includes(`/_api/projects/${NAME}/audit?consistency=1`), state.requests.join(' '));
  assert.equal(seen().logs[ORIGIN]!.size, 2);

  const j = await verify(APP, '--allow-simulator', '--no-source', '--json', '--nonce', 'ABCD');
  assert.equal(j.code, 0);
  const report = JSON.parse(j.stdout) as Report;
  assert.equal(report.ok, true);
  assert.equal(report.simulated, true);
  const c = report.checks.find((x) => x.id === 'log.consistency')!;
  assert.equal(c.status, 'pass');
  assert.equal(c.facts?.method, 'RFC 9162 consistency proof');
  assert.equal(c.facts?.new_entries, 0);
  assert.equal(report.checks.find((x) => x.id === 'binding.nonce')!.actual, 'abcd');
  assert.equal((report.facts.cli as Record<string, unknown>).nonce, 'abcd');
});

test('an older checkpoint than the one seen (the state folder restored) fails log.consistency and is not remembered', async () => {
  const before = readFileSync(seenPath, 'utf8');
  state.log = await openLog('size-1');
  try {
    const r = await verify(APP, '--allow-simulator', '--no-source');
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.lines[0]!, /^NOT VERIFIED: 1 check failed: log\.consistency\. Not append-only: the log went backwards: you saw size 2 on .*, it now shows size 1\./);
    assert.match(line(r, 'log.consistency'), /^✗ log\.consistency .*\[expected: an extension of size 2, .*; actual: size 1, root /);
    assert.equal(readFileSync(seenPath, 'utf8'), before);
  } finally {
    state.log = live;
  }
});

test('without --allow-simulator a simulated daemon fails, saying so and how to allow it', async () => {
  const r = await verify(APP, '--no-source');
  assert.equal(r.code, 1);
  assert.match(r.lines[0]!, /^NOT VERIFIED: simulated TEE .*\(pass --allow-simulator to check the rest against the simulator's root\): dcap\.trust-root/);
  assert.match(line(r, 'dcap.trust-root'), /^✗ .*simulator's development root CA/);
});

test('a tampered bundle (an audit entry edited) fails naming log.entries; a saved bundle file verifies offline', async () => {
  state.tamper = (b) => {
    const e = JSON.parse(b.log.entries[0]!) as LogEntry;
    e.detail = { note: 'rewritten' };
    b.log.entries[0] = canonicalJson(e);
  };
  try {
    const r = await verify(`${BASE}/_api/verification/${NAME}`, '--allow-simulator', '--no-source');
    assert.equal(r.code, 1);
    assert.match(r.lines[0]!, /^NOT VERIFIED: 1 check failed: log\.entries\./);
    assert.match(line(r, 'log.entries'), /^✗ log\.entries .*\[expected: size 2, root .*; actual: size 2, root /);
  } finally {
    delete state.tamper;
  }
  const file = path.join(tempDir('wh-cli-file-'), 'bundle.json');
  const fetched = await (await fetch(`${BASE}/_api/verification/${NAME}?nonce=feed`)).text();
  writeFileSync(file, fetched);
  const r = await verify(file, '--allow-simulator', '--no-source', '--nonce', 'feed');
  assert.equal(r.code, 0, r.stdout);
  assert.match(line(r, 'binding.nonce'), /^✓ /);
  const stale = await verify(file, '--allow-simulator', '--no-source', '--nonce', 'f00d');
  assert.equal(stale.code, 1);
  assert.match(line(stale, 'binding.nonce'), /^✗ binding\.nonce .*\[expected: f00d; actual: feed\]/);
});

test('--rpc runs the on-chain checks; the simulator boots without a KMS, so they are skipped, saying why', async () => {
  const r = await verify(APP, '--allow-simulator', '--no-source', '--rpc', 'https://rpc.example');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(line(r, 'onchain.key-provider'), /^- onchain\.key-provider .*"local-sgx", not "kms"/);
});

test('--quote checks a quote from elsewhere: GetQuote JSON, hex or binary; a bit flipped fails', async () => {
  const dir = tempDir('wh-cli-quote-');
  const q = sim.agent.getQuote(new Uint8Array([1, 2, 3]));
  const files = { json: path.join(dir, 'q.json'), hex: path.join(dir, 'q.hex'), bin: path.join(dir, 'q.bin'), root: path.join(dir, 'root.hex'), col: path.join(dir, 'collateral.json') };
  writeFileSync(files.json, JSON.stringify(q));
  writeFileSync(files.hex, q.quote + '\n');
  writeFileSync(files.bin, Buffer.from(q.quote, 'hex'));
  writeFileSync(files.root, bytesToHex(sim.rootCaDer));
  writeFileSync(files.col, JSON.stringify(sim.collateral()));
  const common = ['--allow-simulator', '--simulator-root', files.root, '--collateral', files.col];

  const r = await verify('--quote', files.json, ...common);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.lines[0]!, /^SIMULATED TEE, not hardware evidence: the quote is genuine: app-id [0-9a-f]{40}, compose-hash [0-9a-f]{64}, TCB UpToDate\.$/);
  assert.match(line(r, 'rtmr.3'), /^✓ /);
  assert.match(line(r, 'binding.report-data'), /^- /);

  for (const f of [files.hex, files.bin]) {
    const raw = await verify('--quote', f, ...common, '--json');
    assert.equal(raw.code, 0, raw.stdout + raw.stderr);
    const rep = JSON.parse(raw.stdout) as Report;
    assert.equal(rep.checks.find((c) => c.id === 'quote.signature')!.status, 'pass');
    assert.equal(rep.checks.find((c) => c.id === 'eventlog.parse')!.status, 'skip', 'a bare quote has no event log');
  }

  const bad = Buffer.from(q.quote, 'hex');
  bad[200]! ^= 1;
  writeFileSync(files.bin, bad);
  const r2 = await verify('--quote', files.bin, ...common);
  assert.equal(r2.code, 1);
  assert.match(r2.lines[0]!, /^NOT VERIFIED: .*quote\.signature/);
});

test('bad usage is one line and exit 2; an unreachable project is one line and exit 1', async () => {
  const cases = [[], ['--bogus', APP], [APP, '--nonce', 'xyz'], [APP, '--now', 'yesterday'], [APP, APP], ['--quote', '/no/such/file'], ['ftp://host/x/'], [`${BASE}/`], [APP, '--pccs', 'not a url']];
  const runs = await Promise.all(cases.map((args) => verify(...args)));
  for (const [i, r] of runs.entries()) {
    const args = cases[i]!;
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^webhost verify: /);
  }
  const r = await verify(`${BASE}/nothere/`);
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim(), /^webhost verify: .*\/_api\/verification\/nothere\?nonce=[0-9a-f]+: HTTP 404: not found$/);
  const h = await verify('--help');
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^usage: webhost verify/);
  assert.ok(existsSync(seenPath));
});
