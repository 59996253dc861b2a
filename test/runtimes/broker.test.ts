// The app-key broker through each process runtime, as the runner serves it: the daemon's broker in
// the instance's runDir, a handler that calls ctx.sign / ctx.receipt / ctx.quote. The signature
// verifies under the app key the bundle publishes (same derivation); an attested deno app's quote
// verifies against the simulator root; a dev app's quote is refused; and a tenant cannot reach
// another tenant's broker, with or without bubblewrap.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519';
import { bytesToHex } from '@noble/hashes/utils';
import { openInstanceBroker, type AppBroker } from '../../src/attestation/app-broker.ts';
import { connectTee, KEY_PATHS, type Tee } from '../../src/daemon/tee.ts';
import type { Instance, ProcessRuntime, RuntimeDriver } from '../../src/runtimes/driver.ts';
import { createProcessDrivers, ensureOwnedDir } from '../../src/runtimes/index.ts';
import { appReportData } from '../../src/verify/binding.ts';
import type { EvidenceBundle } from '../../src/verify/bundle.ts';
import { hexToBytes } from '../../src/verify/bytes.ts';
import { deploymentRef, type DeploymentRecord } from '../../src/verify/deployment.ts';
import { verifyReceipt, type AppQuote } from '../../src/verify/receipt.ts';
import { verifyQuote } from '../../src/verify/verify-quote.ts';
import { makeTenant, makeWorld, request, ROOT_ONLY, type Tenant, type World } from './helpers.ts';

const TREE = 'c0ffee'.padEnd(40, '0');

// One web-standard handler for deno, node and bun. /reach?path= tries another socket with the
// runtime's own API (what a hostile tenant would do).
const WEB_APP = `
const reach = async (p) => {
  if (typeof Deno !== 'undefined') {
    try { (await Deno.connect({ transport: 'unix', path: p })).close(); return 'connected'; } catch (e) { return e.name; }
  }
  const net = await import('node:net');
  return await new Promise((resolve) => {
    const s = net.createConnection(p);
    s.on('connect', () => { s.destroy(); resolve('connected'); });
    s.on('error', (e) => resolve(e.code));
  });
};
export default async (req, ctx) => {
  const url = new URL(req.url);
  const m = url.searchParams.get('m') ?? '';
  try {
    if (url.pathname === '/sign') return Response.json(await ctx.sign(m));
    if (url.pathname === '/sign-bytes') return Response.json(await ctx.sign(new TextEncoder().encode(m)));
    if (url.pathname === '/receipt') {
      const body = JSON.stringify({ message: m });
      return new Response(body, { headers: { 'webhost-receipt': JSON.stringify(await ctx.receipt(body)) } });
    }
    if (url.pathname === '/quote') return Response.json(await ctx.quote(m));
    if (url.pathname === '/reach') return new Response(await reach(url.searchParams.get('path')));
  } catch (e) {
    return Response.json({ error: e.message, code: e.code ?? null }, { status: 403 });
  }
  return new Response('not found', { status: 404 });
};
`;

const PY_APP = `
import json, socket
from urllib.parse import parse_qs

def reach(p):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(p)
        return 'connected'
    except OSError as e:
        import errno
        return errno.errorcode.get(e.errno, str(e))
    finally:
        s.close()

def app(environ, start_response):
    ctx = environ['webhost.ctx']
    q = parse_qs(environ['QUERY_STRING'])
    m = q.get('m', [''])[0]
    path = environ['PATH_INFO']
    status, headers, body = '200 OK', [('content-type', 'application/json')], b''
    try:
        if path == '/sign':
            r = ctx.sign(m)
            body = json.dumps({'signature': r['signature'], 'publicKey': r['public_key']}).encode()
        elif path == '/sign-bytes':
            r = ctx.sign(m.encode())
            body = json.dumps({'signature': r['signature'], 'publicKey': r['public_key']}).encode()
        elif path == '/receipt':
            body = json.dumps({'message': m}).encode()
            headers.append(('webhost-receipt', json.dumps(ctx.receipt(body), separators=(',', ':'))))
        elif path == '/quote':
            body = json.dumps(ctx.quote(m)).encode()
        elif path == '/reach':
            body = reach(q['path'][0]).encode()
        else:
            status, body = '404 Not Found', b'not found'
    except Exception as e:
        status, body = '403 Forbidden', json.dumps({'error': str(e), 'code': getattr(e, 'code', None)}).encode()
    start_response(status, headers)
    return [body]
`;

const RUNTIMES: ProcessRuntime[] = ['deno', 'node', 'bun', 'python'];
const entryOf = (rt: ProcessRuntime) => (rt === 'python' ? 'app.py' : 'app.mjs');
const filesOf = (rt: ProcessRuntime) => ({ [entryOf(rt)]: { text: rt === 'python' ? PY_APP : WEB_APP } });

describe('app-key broker through each runtime', { skip: ROOT_ONLY }, () => {
  let world: World;
  let tee: Tee;
  let drivers: Map<ProcessRuntime, RuntimeDriver>;
  const attested = new Map<string, boolean>();
  const running: { inst: Instance; broker: AppBroker }[] = [];

  before(async () => {
    world = await makeWorld();
    tee = await connectTee({ endpoint: undefined, simulated: true, stateDir: path.join(world.root, 'daemon-tee') });
    drivers = await createProcessDrivers({ stateDir: world.stateDir });
  });
  after(async () => {
    for (const r of running) await r.inst.stop(500);
    for (const r of running) await r.broker.close();
    await tee?.close();
    await world?.close();
  });

  function recordOf(t: Tenant): DeploymentRecord {
    return { v: 1, project: t.name, source: { kind: 'tarball', url: null, ref: null, commit_sha: null, tree_hash: TREE }, manifest: { runtime: 'x' }, image_digests: [] };
  }

  /** Starts a tenant's instance the way the runner does: runDir, broker, then the app. */
  async function startApp(rt: ProcessRuntime, name: string, sandbox: 'auto' | 'off' = 'auto'): Promise<{ t: Tenant; inst: Instance; broker: AppBroker }> {
    const t = await makeTenant(world, name, filesOf(rt));
    const record = recordOf(t);
    const spec = t.spec(rt, entryOf(rt), { deploymentId: deploymentRef(record).id });
    await ensureOwnedDir(spec.runDir, t.uid, t.gid);
    const broker = await openInstanceBroker({ tee, project: { name: t.name, uid: t.uid, gid: t.gid }, deployment: { id: spec.deploymentId, record }, runDir: spec.runDir, attested: () => attested.get(t.name) ?? false });
    const driver = sandbox === 'auto' ? drivers.get(rt)! : (await createProcessDrivers({ stateDir: world.stateDir, sandbox: 'off' })).get(rt)!;
    const inst = await driver.start(spec);
    running.push({ inst, broker });
    await inst.ready(20_000);
    return { t, inst, broker };
  }

  /** The app key as the bundle publishes it (src/api/attested-routes.ts appKey()). */
  async function publishedKey(name: string): Promise<string> {
    return bytesToHex(ed25519.getPublicKey(await tee.deriveKey(KEY_PATHS.appKey(name, TREE), 'app-key')));
  }

  for (const rt of RUNTIMES) {
    it(`${rt}: ctx.sign returns a signature that verifies under the published app key; ctx.receipt verifies`, async () => {
      const { t, inst } = await startApp(rt, `${rt}-signer`);
      const key = await publishedKey(t.name);
      for (const p of ['/sign', '/sign-bytes']) {
        const r = await request(inst.socketPath, { path: `${p}?m=${encodeURIComponent('héllo receipts')}` });
        assert.equal(r.status, 200, `${r.text}\n${t.output}`);
        const { signature, publicKey } = JSON.parse(r.text) as { signature: string; publicKey: string };
        assert.equal(publicKey, key);
        assert.ok(ed25519.verify(hexToBytes(signature), Buffer.from('héllo receipts'), hexToBytes(key)), `${rt} ${p}`);
      }
      const r = await request(inst.socketPath, { path: '/receipt?m=paid' });
      assert.equal(r.status, 200, r.text);
      const receipt = JSON.parse(String(r.headers['webhost-receipt'])) as unknown;
      const ref = deploymentRef(recordOf(t));
      const bundle = { project: { name: t.name, app_key: key }, log: { entries: [] }, attestation: { preimage: { project: t.name, deployment: ref, app_key: key } } } as unknown as EvidenceBundle;
      const checks = verifyReceipt(receipt, r.body, bundle);
      assert.deepEqual(checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.summary}`), []);
      // The same receipt over another body fails, naming the payload.
      assert.equal(verifyReceipt(receipt, Buffer.from('{"message":"free"}'), bundle).find((c) => c.id === 'receipt.payload')?.status, 'fail');
    });

    it(`${rt}: ctx.quote of a dev project is refused with a clear error`, async () => {
      const { inst } = await startApp(rt, `${rt}-dev`);
      const r = await request(inst.socketPath, { path: '/quote?m=x' });
      assert.equal(r.status, 403, r.text);
      const e = JSON.parse(r.text) as { error: string; code: string };
      assert.equal(e.code, 'not_attested');
      assert.match(e.error, /ctx\.quote: ctx\.quote is only for attested projects/);
    });
  }

  it('deno: ctx.quote of an attested app verifies (app report_data, simulator root)', async () => {
    const { t, inst } = await startApp('deno', 'deno-attested');
    attested.set(t.name, true);
    const r = await request(inst.socketPath, { path: '/quote?m=order-42' });
    assert.equal(r.status, 200, `${r.text}\n${t.output}`);
    const q = JSON.parse(r.text) as AppQuote;
    assert.deepEqual(Object.keys(q).sort(), ['event_log', 'preimage', 'quote', 'report_data']);
    assert.equal(q.preimage.app_key, await publishedKey(t.name));
    assert.deepEqual(q.preimage.deployment, deploymentRef(recordOf(t)));
    const report = await verifyQuote(
      { quote: hexToBytes(q.quote), eventLog: q.event_log, expectedReportData: appReportData(q.preimage) },
      { allowSimulator: true, simulatorRootCa: tee.simulatorRootCa!, collateral: tee.simulator!.collateral() },
    );
    assert.equal(report.ok, true, report.summary);
    assert.equal(report.simulated, true);
    assert.equal(report.checks.find((c) => c.id === 'binding.report-data')?.status, 'pass');
  });

  for (const sandbox of ['auto', 'off'] as const) {
    it(`a tenant cannot reach another tenant's broker (sandbox ${sandbox})`, async () => {
      const victim = await startApp('deno', `victim-${sandbox}`, sandbox);
      for (const rt of RUNTIMES) {
        const { inst } = await startApp(rt, `intruder-${rt}-${sandbox}`, sandbox);
        const r = await request(inst.socketPath, { path: `/reach?path=${encodeURIComponent(victim.broker.socketPath)}` });
        assert.equal(r.status, 200, r.text);
        // inside bubblewrap the path does not exist; without it the uid (and deno's flags) refuse
        const expected = sandbox === 'auto' ? /^(ENOENT|NotFound|NotCapable)$/ : rt === 'deno' ? /^(NotCapable|PermissionDenied)$/ : /^(EACCES|EPERM)$/;
        assert.match(r.text, expected, `${rt}, sandbox ${sandbox}`);
      }
      // ... while its own broker answers it.
      const own = await request(victim.inst.socketPath, { path: `/reach?path=${encodeURIComponent(sandbox === 'auto' ? '/run/webhost/broker.sock' : victim.broker.socketPath)}` });
      assert.equal(own.text, 'connected');
    });
  }
});
