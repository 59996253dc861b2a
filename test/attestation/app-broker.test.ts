// The app-key broker on its own, against the built-in simulator (the same Tee the daemon uses):
// the key it signs with is the bundle's app key derivation, receipts and quotes verify with the
// verifier library, quotes are refused outside attested mode and rate-limited, the protocol takes
// no key path (nothing but this app's key is reachable), and the socket is the tenant's alone.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chown, lstat, mkdir, rename, stat, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519';
import { bytesToHex } from '@noble/hashes/utils';
import { AppBroker, openInstanceBroker, type AppBrokerOptions } from '../../src/attestation/app-broker.ts';
import { appKeyPath } from '../../src/attestation/app-broker-keys.ts';
import { MAX_LINE_BYTES } from '../../src/attestation/app-broker-protocol.ts';
import { connectTee, KEY_PATHS, type Tee } from '../../src/daemon/tee.ts';
import { appReportData } from '../../src/verify/binding.ts';
import type { EvidenceBundle } from '../../src/verify/bundle.ts';
import { hexToBytes } from '../../src/verify/bytes.ts';
import { deploymentRef, type DeploymentRecord } from '../../src/verify/deployment.ts';
import { receiptMessage, sha256Bytes, verifyReceipt, type AppQuote, type Receipt } from '../../src/verify/receipt.ts';
import { verifyQuote } from '../../src/verify/verify-quote.ts';
import { tempDir } from '../helpers/tmp.ts';

const isRoot = process.getuid?.() === 0;
const UID = 430_000 + (process.pid % 1000);

const record: DeploymentRecord = {
  v: 1,
  project: 'notary',
  source: { kind: 'tarball', url: null, ref: null, commit_sha: null, tree_hash: 'a'.repeat(40) },
  manifest: { runtime: 'deno', entry: 'server.ts', env_names: [], listen: null },
  image_digests: [],
};
const ref = deploymentRef(record);
const deployment = { id: ref.id, record };

/** One connection: send lines, read answers in order. */
class Client {
  private readonly sock: net.Socket;
  private buf = '';
  private readonly waiting: ((line: string | null) => void)[] = [];
  private readonly lines: (string | null)[] = [];
  readonly ready: Promise<void>;
  constructor(socketPath: string) {
    this.sock = net.createConnection(socketPath);
    this.ready = new Promise((resolve, reject) => {
      this.sock.once('connect', () => resolve());
      this.sock.once('error', reject);
    });
    this.sock.setEncoding('utf8');
    this.sock.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        this.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
    });
    this.sock.on('close', () => this.push(null));
    this.sock.on('error', () => undefined);
  }
  private push(l: string | null) {
    const w = this.waiting.shift();
    if (w) w(l);
    else this.lines.push(l);
  }
  send(line: string): void {
    this.sock.write(line + '\n');
  }
  next(): Promise<Record<string, unknown> | null> {
    const l = this.lines.length ? Promise.resolve(this.lines.shift()!) : new Promise<string | null>((r) => this.waiting.push(r));
    return l.then((x) => (x === null ? null : (JSON.parse(x) as Record<string, unknown>)));
  }
  close(): void {
    this.sock.destroy();
  }
}

async function ask(socketPath: string, req: unknown): Promise<Record<string, unknown>> {
  const c = new Client(socketPath);
  await c.ready;
  c.send(typeof req === 'string' ? req : JSON.stringify(req));
  const r = await c.next();
  c.close();
  assert.ok(r, 'the broker closed without answering');
  return r;
}

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');

describe('app-key broker', () => {
  let tee: Tee;
  let root: string;
  let attested = false;
  const derived: string[] = [];
  const brokers: AppBroker[] = [];
  let n = 0;

  before(async () => {
    root = tempDir('wh-broker-');
    tee = await connectTee({ endpoint: undefined, simulated: true, stateDir: root });
  });
  after(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await tee.close();
  });

  /** A runDir laid out like the runner's: the tenant's run folder, a fresh instance folder in it. */
  async function runDir(): Promise<string> {
    const dir = path.join(root, 'run', `i${++n}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (isRoot) {
      await chown(path.dirname(dir), UID, UID);
      await chown(dir, UID, UID);
    }
    return dir;
  }

  async function open(extra: Partial<AppBrokerOptions> = {}): Promise<AppBroker> {
    // The daemon's tee, but every derivation recorded: only the app key's path may ever be asked for.
    const recording = { deriveKey: (p: string, purpose: string) => (derived.push(`${p} ${purpose}`), tee.deriveKey(p, purpose)), client: tee.client };
    const b = extra.limits || extra.attested
      ? await AppBroker.open({
          runDir: await runDir(),
          uid: UID,
          gid: UID,
          project: 'notary',
          deploymentId: ref.id,
          deployment: ref,
          seed: () => recording.deriveKey(appKeyPath('notary', deployment), 'app-key'),
          getQuote: (rd) => tee.client.getQuote(rd),
          attested: () => attested,
          ...extra,
        })
      : await openInstanceBroker({ tee: recording, project: { name: 'notary', uid: UID, gid: UID }, deployment, runDir: await runDir(), attested: () => attested });
    brokers.push(b);
    return b;
  }

  /** The app key exactly as the public evidence derives it (src/api/attested-routes.ts appKey()). */
  async function publishedAppKey(): Promise<string> {
    const seed = await tee.deriveKey(KEY_PATHS.appKey('notary', record.source.tree_hash ?? ref.id), 'app-key');
    return bytesToHex(ed25519.getPublicKey(seed));
  }

  it('signs with the app key the bundle publishes; the signature verifies under it', async () => {
    const b = await open();
    const r = await ask(b.socketPath, { op: 'sign', data: b64('hello from the app'), id: 7 });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.id, 7);
    assert.equal(r.public_key, await publishedAppKey());
    assert.ok(ed25519.verify(hexToBytes(r.signature as string), Buffer.from('hello from the app'), hexToBytes(r.public_key as string)));
  });

  it('takes no key path, purpose or other operation: only this app key is reachable', async () => {
    const b = await open();
    const c = new Client(b.socketPath);
    await c.ready;
    c.send(JSON.stringify({ op: 'sign', data: b64('x'), path: KEY_PATHS.envDigest }));
    c.send(JSON.stringify({ op: 'sign', data: b64('x'), purpose: 'audit-log-checkpoint' }));
    c.send(JSON.stringify({ op: 'getKey', path: KEY_PATHS.auditLog('localhost/x') }));
    c.send('not json');
    c.send(JSON.stringify({ op: 'sign', data: 'not base64!' }));
    c.send(JSON.stringify({ op: 'sign', data: b64('still serving'), id: 'last' }));
    const answers = [await c.next(), await c.next(), await c.next(), await c.next(), await c.next(), await c.next()];
    c.close();
    assert.deepEqual(answers.map((a) => a?.code ?? 'ok'), ['bad_request', 'bad_request', 'unknown_op', 'bad_json', 'bad_request', 'ok']);
    assert.match(String(answers[0]!.error), /unknown field path/);
    assert.equal(answers[5]!.id, 'last');
    assert.equal(answers[5]!.public_key, await publishedAppKey());
  });

  it("refuses to sign the daemon's own domain tags (no forged receipt through sign)", async () => {
    const b = await open();
    const unsigned = { v: 1 as const, project: 'notary', deployment_id: ref.id, app_key: await publishedAppKey(), payload_sha256: 'b'.repeat(64) };
    const r = await ask(b.socketPath, { op: 'sign', data: b64(receiptMessage(unsigned)) });
    assert.equal(r.ok, false);
    assert.equal(r.code, 'reserved_prefix');
  });

  it('makes receipts the verifier accepts, naming the deployment the instance runs', async () => {
    const b = await open();
    const payload = Buffer.from('{"message":"hi"}');
    const r = await ask(b.socketPath, { op: 'receipt', payload_sha256: sha256Bytes(payload) });
    assert.equal(r.ok, true, JSON.stringify(r));
    const receipt = r.receipt as Receipt;
    assert.equal(receipt.deployment_id, ref.id);
    const bundle = { project: { name: 'notary', app_key: await publishedAppKey() }, log: { entries: [] }, attestation: { preimage: { project: 'notary', deployment: ref, app_key: await publishedAppKey() } } } as unknown as EvidenceBundle;
    const checks = verifyReceipt(receipt, payload, bundle);
    assert.deepEqual(checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.summary}`), []);
  });

  it('refuses quotes while the project is not attested, in plain words', async () => {
    attested = false;
    const b = await open();
    const r = await ask(b.socketPath, { op: 'quote', data_sha256: 'c'.repeat(64) });
    assert.equal(r.ok, false);
    assert.equal(r.code, 'not_attested');
    assert.match(String(r.error), /attested projects: promote 'notary' first/);
  });

  it('quotes over the app preimage once attested (read at request time); the quote verifies', async () => {
    attested = false;
    const b = await open();
    attested = true; // a promotion does not restart the instance
    const data = Buffer.from('app data to attest');
    const r = await ask(b.socketPath, { op: 'quote', data_sha256: sha256Bytes(data) });
    assert.equal(r.ok, true, JSON.stringify(r));
    const q = r as unknown as AppQuote;
    assert.deepEqual(q.preimage, { v: 'dstack-webhost/app/v1', project: 'notary', deployment: ref, app_key: await publishedAppKey(), data_sha256: sha256Bytes(data) });
    assert.equal(q.report_data, bytesToHex(appReportData(q.preimage)));
    const report = await verifyQuote(
      { quote: hexToBytes(q.quote), eventLog: q.event_log, expectedReportData: appReportData(q.preimage) },
      { allowSimulator: true, simulatorRootCa: tee.simulatorRootCa!, collateral: tee.simulator!.collateral() },
    );
    assert.equal(report.simulated, true);
    for (const id of ['quote.signature', 'binding.report-data', 'rtmr.3', 'boot.identity']) assert.equal(report.checks.find((c) => c.id === id)?.status, 'pass', id);
  });

  it('rate-limits quotes per instance, and says when to retry', async () => {
    attested = true;
    const b = await open({ limits: { quoteBurst: 2, quotesPerSecond: 0.01 } });
    const c = new Client(b.socketPath);
    await c.ready;
    for (let i = 0; i < 3; i++) c.send(JSON.stringify({ op: 'quote', data_sha256: 'd'.repeat(64) }));
    const got = [await c.next(), await c.next(), await c.next()];
    c.close();
    assert.deepEqual(got.map((g) => g?.code ?? 'ok'), ['ok', 'ok', 'rate_limited']);
    assert.match(String(got[2]!.error), /retry in \d+ ms/);
    // Another instance has its own bucket.
    const other = await open({ limits: { quoteBurst: 1, quotesPerSecond: 0.01 } });
    assert.equal((await ask(other.socketPath, { op: 'quote', data_sha256: 'd'.repeat(64) })).ok, true);
  });

  it('cuts a connection whose request line is too long', async () => {
    const b = await open();
    const c = new Client(b.socketPath);
    await c.ready;
    c.send('{"op":"sign","data":"' + 'A'.repeat(MAX_LINE_BYTES + 16));
    const r = await c.next();
    assert.equal(r?.code, 'too_large');
    assert.equal(await c.next(), null);
  });

  it('belongs to the tenant: owner-only write, in its 0700 run folder', { skip: !isRoot && 'needs root (chown)' }, async () => {
    const b = await open();
    const st = await lstat(b.socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.uid, UID);
    assert.equal(st.mode & 0o022, 0, `mode ${(st.mode & 0o777).toString(8)}: nobody but the owner may connect`);
    const dir = await stat(path.dirname(b.socketPath));
    assert.equal(dir.mode & 0o077, 0);
  });

  it('refuses a runDir the tenant replaced with a link, and never creates the socket through it', async () => {
    const dir = await runDir();
    const elsewhere = tempDir('wh-broker-elsewhere-');
    await rename(dir, `${dir}.moved`);
    await symlink(elsewhere, dir);
    await assert.rejects(openInstanceBroker({ tee, project: { name: 'notary', uid: UID, gid: UID }, deployment, runDir: dir, attested: () => false }), /ELOOP|ENOTDIR|symbolic/);
    assert.equal(existsSync(path.join(elsewhere, 'broker.sock')), false);
  });

  it('removes its socket when closed', async () => {
    const b = await open();
    assert.ok(existsSync(b.socketPath));
    await b.close();
    assert.equal(existsSync(b.socketPath), false);
  });

  it('over all of the above, derived nothing but the app key of (project, tree hash)', async () => {
    assert.ok(derived.length > 0);
    const want = `${KEY_PATHS.appKey('notary', record.source.tree_hash!)} app-key`;
    assert.deepEqual([...new Set(derived)], [want]);
  });
});
