// The simulator speaks dstack's prpc JSON mode: POST JSON or GET with a query, hex with or without
// 0x, report_data right-padded to 64 bytes and refused beyond, {"error": …} bodies with 4xx,
// and a Content-Length that counts bytes.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { GuestAgentClient, GuestAgentError } from '../../src/attestation/guest-agent-client.ts';
import { readTdReport } from '../../src/attestation/tdx-quote.ts';
import { testSimulator } from './helpers.ts';

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function raw(socketPath: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, headers: body === undefined ? headers : { 'Content-Length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = (r: Raw) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;

test('report_data is right-padded with zeros to 64 bytes, in the field and in the quote', async () => {
  const sim = await testSimulator();
  const client = new GuestAgentClient(sim.endpoint);
  for (const len of [0, 1, 32, 63, 64]) {
    const data = Uint8Array.from({ length: len }, (_, i) => i + 1);
    const q = await client.getQuote(data);
    const expected = Buffer.concat([Buffer.from(data), Buffer.alloc(64 - len)]).toString('hex');
    assert.equal(q.report_data, expected, `len ${len}`);
    assert.equal(readTdReport(q.quoteBytes).fields.reportData, expected);
  }
  client.close();
});

test('more than 64 bytes of report_data is refused, by the client and by the agent', async () => {
  const sim = await testSimulator();
  const client = new GuestAgentClient(sim.endpoint);
  await assert.rejects(client.getQuote(new Uint8Array(65)), (e: unknown) => e instanceof GuestAgentError && e.kind === 'input' && /at most 64/.test(e.message));
  const r = await raw(sim.endpoint, 'POST', '/GetQuote', JSON.stringify({ report_data: '00'.repeat(65) }), { 'Content-Type': 'application/json' });
  assert.equal(r.status, 400);
  assert.deepEqual(json(r), { error: 'Report data is too long' });
  const a = await raw(sim.endpoint, 'POST', '/Attest', JSON.stringify({ report_data: '00'.repeat(65) }), { 'Content-Type': 'application/json' });
  assert.equal(a.status, 400);
  client.close();
});

test('GET with a query string, 0x hex, and POST without a Content-Type all work', async () => {
  const sim = await testSimulator();
  const get = await raw(sim.endpoint, 'GET', '/GetQuote?report_data=0xABCD');
  assert.equal(get.status, 200);
  assert.equal(json(get).report_data, `abcd${'00'.repeat(62)}`);
  const info = await raw(sim.endpoint, 'GET', '/Info');
  assert.equal(json(info).app_id, sim.agent.info().app_id);
  const post = await raw(sim.endpoint, 'POST', '/GetKey', JSON.stringify({ path: 'p' }));
  assert.equal(post.status, 200);
  assert.match(String(json(post).key), /^[0-9a-f]{64}$/);
  const empty = await raw(sim.endpoint, 'POST', '/Version', '');
  assert.deepEqual(json(empty), { version: '0.5.11', rev: 'dstack-webhost-simulator' });
});

test('errors are {"error": …} with a 4xx status and a byte-exact Content-Length', async () => {
  const sim = await testSimulator();
  const cases: [string, string, string | undefined, Record<string, string>, number, RegExp][] = [
    ['POST', '/NoSuchMethod', '{}', { 'Content-Type': 'application/json' }, 400, /Method not found/],
    ['POST', '/GetQuote', '{"report_data":"xyz"}', { 'Content-Type': 'application/json' }, 400, /not valid hex/],
    ['POST', '/GetQuote', '{"report_data":12}', { 'Content-Type': 'application/json' }, 400, /expected a string/],
    ['POST', '/GetQuote', '{not json', { 'Content-Type': 'application/json' }, 400, /invalid JSON/],
    ['POST', '/GetQuote', '\x0a\x02\xab\xcd', { 'Content-Type': 'application/octet-stream' }, 400, /JSON only/],
    ['POST', '/GetKey', '{"algorithm":"rsa"}', { 'Content-Type': 'application/json' }, 400, /Unsupported algorithm/],
    ['DELETE', '/Info', undefined, {}, 405, /not allowed/],
  ];
  for (const [method, path, body, headers, status, message] of cases) {
    const r = await raw(sim.endpoint, method, path, body, headers);
    assert.equal(r.status, status, `${method} ${path} ${body}`);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(Number(r.headers['content-length']), r.body.length);
    assert.match(String(json(r).error), message);
  }
});

test('Content-Length counts bytes when the answer holds non-ASCII text', async () => {
  const sim = await testSimulator({ appName: 'héllo-wörld-日本-🚀' });
  const r = await raw(sim.endpoint, 'GET', '/Info');
  assert.equal(Number(r.headers['content-length']), r.body.length);
  assert.ok(r.body.length > r.body.toString('utf8').length);
  assert.equal(json(r).app_name, 'héllo-wörld-日本-🚀');
  const client = new GuestAgentClient(sim.endpoint);
  const info = await client.info();
  assert.equal(info.app_name, 'héllo-wörld-日本-🚀');
  assert.equal(JSON.parse(info.tcb_info!.app_compose).name, 'héllo-wörld-日本-🚀');
  client.close();
});

test('Sign and Verify use the GetKey("vms", "signing") key', async () => {
  const sim = await testSimulator();
  for (const algorithm of ['ed25519', 'secp256k1']) {
    const data = Buffer.from('attested output').toString('hex');
    const s = json(await raw(sim.endpoint, 'POST', '/Sign', JSON.stringify({ algorithm, data }), { 'Content-Type': 'application/json' }));
    const chain = s.signature_chain as string[];
    assert.equal(chain.length, 3);
    assert.equal(chain[0], s.signature);
    const verifyBody = (d: string) => JSON.stringify({ algorithm, data: d, signature: s.signature, public_key: s.public_key });
    const ok = json(await raw(sim.endpoint, 'POST', '/Verify', verifyBody(data), { 'Content-Type': 'application/json' }));
    assert.deepEqual(ok, { valid: true }, algorithm);
    const bad = json(await raw(sim.endpoint, 'POST', '/Verify', verifyBody(`${data}00`), { 'Content-Type': 'application/json' }));
    assert.deepEqual(bad, { valid: false }, algorithm);
  }
  const pre = await raw(sim.endpoint, 'POST', '/Sign', JSON.stringify({ algorithm: 'secp256k1_prehashed', data: 'ab' }), { 'Content-Type': 'application/json' });
  assert.equal(pre.status, 400);
  assert.match(String(json(pre).error), /32-byte digest/);
});

test('Attest returns a SCALE VersionedAttestation V0 holding the quote', async () => {
  const sim = await testSimulator();
  const client = new GuestAgentClient(sim.endpoint);
  const a = await client.attest(new Uint8Array([9, 9]));
  assert.equal(a.attestationBytes[0], 0, 'V0');
  assert.equal(a.attestationBytes[1], 0, 'DstackTdx');
  // Vec<u8> quote: SCALE compact length (4-byte mode for ≥ 16384, 2-byte mode below).
  const mode = a.attestationBytes[2]! & 3;
  const len = mode === 1 ? Buffer.from(a.attestationBytes.subarray(2, 4)).readUInt16LE() >> 2 : Buffer.from(a.attestationBytes.subarray(2, 6)).readUInt32LE() >> 2;
  const start = mode === 1 ? 4 : 6;
  const quote = a.attestationBytes.subarray(start, start + len);
  assert.equal(readTdReport(quote).fields.reportData, `0909${'00'.repeat(62)}`);
  client.close();
});
