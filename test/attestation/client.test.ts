// Our guest-agent client against a stand-in agent on a unix socket: it returns a real dstack
// GetQuote answer byte for byte, decodes UTF-8 split across TCP chunks (where the SDK stalls),
// and fails with clear messages when the socket is absent, the agent answers {"error": …}, or
// nothing answers in time.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, test } from 'node:test';
import {
  DEFAULT_SOCKET_PATHS,
  GuestAgentClient,
  GuestAgentError,
  resolveGuestAgentEndpoint,
} from '../../src/attestation/guest-agent-client.ts';
import { readTdReport } from '../../src/attestation/tdx-quote.ts';
import { tempDir } from '../helpers/tmp.ts';
import { testSimulator } from './helpers.ts';

const FIXTURE = new URL('./fixtures/dstack-getquote-v0.5.11.json', import.meta.url).pathname;

type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void;

/** A stand-in guest agent on a fresh unix socket; records what it was asked. */
async function fakeAgent(handler: Handler): Promise<{ socketPath: string; requests: { method: string; url: string; type: string; body: string }[] }> {
  const socketPath = path.join(tempDir('wh-fake-'), 'dstack.sock');
  const requests: { method: string; url: string; type: string; body: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', type: req.headers['content-type'] ?? '', body: body.toString('utf8') });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { socketPath, requests };
}

test('GetQuote: the fields of a real dstack answer come back byte-exact', async () => {
  const raw = readFileSync(FIXTURE);
  const fixture = JSON.parse(raw.toString('utf8')) as { quote: string; event_log: string; report_data: string; vm_config: string };
  const agent = await fakeAgent((_req, _body, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': raw.length });
    res.end(raw);
  });
  const client = new GuestAgentClient(agent.socketPath);
  const reportData = Buffer.from(fixture.report_data, 'hex').subarray(0, 2);
  const q = await client.getQuote(reportData);
  assert.deepEqual(agent.requests, [{ method: 'POST', url: '/GetQuote', type: 'application/json', body: JSON.stringify({ report_data: '1234' }) }]);
  assert.equal(q.quote, fixture.quote);
  assert.equal(q.event_log, fixture.event_log);
  assert.equal(q.report_data, fixture.report_data);
  assert.equal(q.vm_config, fixture.vm_config);
  assert.deepEqual(q.quoteBytes, new Uint8Array(Buffer.from(fixture.quote, 'hex')));
  assert.deepEqual(q.events, JSON.parse(fixture.event_log));
  assert.equal(readTdReport(q.quoteBytes).fields.reportData, fixture.report_data);
  client.close();
});

test('Info: non-ASCII UTF-8 split across chunks is decoded exactly', async () => {
  const appCompose = JSON.stringify({ name: 'café-日本語-🚀', docker_compose_file: 'services: {}\n' });
  const tcbInfo = JSON.stringify({ mrtd: '00', rtmr0: '', rtmr1: '', rtmr2: '', rtmr3: '', event_log: [], app_compose: appCompose }, null, 2);
  const info = { app_id: 'aa'.repeat(20), instance_id: 'bb'.repeat(20), app_cert: '', tcb_info: tcbInfo, app_name: 'café-日本語-🚀', device_id: '', mr_aggregated: '', os_image_hash: '', key_provider_info: '', compose_hash: 'cc'.repeat(32), vm_config: '{}' };
  const body = Buffer.from(JSON.stringify(info), 'utf8');
  const agent = await fakeAgent(async (_req, _body, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    // A pause after every byte of a multi-byte character: each one arrives split across chunks.
    let start = 0;
    for (let i = 0; i < body.length; i += 1) {
      if (body[i]! < 0x80) continue;
      res.write(body.subarray(start, i + 1));
      start = i + 1;
      await new Promise((r) => setTimeout(r, 1));
    }
    res.write(body.subarray(start));
    res.end();
  });
  const client = new GuestAgentClient({ endpoint: agent.socketPath, timeoutMs: 5_000 });
  const got = await client.info();
  assert.equal(got.app_name, 'café-日本語-🚀');
  assert.equal(got.tcb_info?.app_compose, appCompose);
  assert.equal(got.tcb_info_raw, tcbInfo);
  client.close();
});

test('an absent socket is named in the error', async () => {
  const missing = path.join(tempDir('wh-none-'), 'dstack.sock');
  const client = new GuestAgentClient(missing);
  await assert.rejects(client.getQuote(new Uint8Array()), (e: unknown) => {
    assert.ok(e instanceof GuestAgentError);
    assert.equal(e.message, `dstack guest agent not reachable at ${missing} (ENOENT)`);
    assert.equal(e.kind, 'unreachable');
    return true;
  });
  client.close();
});

test("the agent's error body is surfaced with the status", async () => {
  const agent = await fakeAgent((_req, _body, res) => {
    const b = Buffer.from(JSON.stringify({ error: 'Report data is too long' }, null, 2));
    res.writeHead(400, { 'Content-Type': 'application/json', 'Content-Length': b.length });
    res.end(b);
  });
  const client = new GuestAgentClient(agent.socketPath);
  await assert.rejects(client.getQuote(new Uint8Array(3)), (e: unknown) => {
    assert.ok(e instanceof GuestAgentError);
    assert.equal(e.message, 'dstack guest agent: /GetQuote failed (HTTP 400): Report data is too long');
    assert.equal(e.kind, 'agent');
    assert.equal(e.details.status, 400);
    return true;
  });
  client.close();
});

test('a 200 answer that is not JSON, or misses fields, is a protocol error', async () => {
  const agent = await fakeAgent((req, _body, res) => {
    const b = Buffer.from(req.url === '/Info' ? 'not json' : JSON.stringify({ quote: 'zz', event_log: '[]', report_data: '' }));
    res.writeHead(200, { 'Content-Length': b.length });
    res.end(b);
  });
  const client = new GuestAgentClient(agent.socketPath);
  await assert.rejects(client.info(), /non-JSON answer to \/Info \(HTTP 200\)/);
  await assert.rejects(client.getQuote(new Uint8Array()), (e: unknown) => e instanceof GuestAgentError && e.kind === 'protocol' && /not valid hex/.test(e.message));
  client.close();
});

test('a silent agent times out with a clear message', async () => {
  const agent = await fakeAgent(() => {
    /* never answers */
  });
  const client = new GuestAgentClient({ endpoint: agent.socketPath, timeoutMs: 150 });
  const started = Date.now();
  await assert.rejects(client.version(), (e: unknown) => e instanceof GuestAgentError && e.kind === 'timeout' && /did not answer \/Version within 150 ms/.test(e.message));
  assert.ok(Date.now() - started < 2_000);
  client.close();
});

test('endpoint resolution follows the SDK: env (socket or URL), then the default sockets', () => {
  assert.equal(resolveGuestAgentEndpoint({ env: { DSTACK_SIMULATOR_ENDPOINT: 'http://127.0.0.1:8090' }, exists: () => true }), 'http://127.0.0.1:8090');
  assert.equal(resolveGuestAgentEndpoint({ env: { DSTACK_SIMULATOR_ENDPOINT: '/tmp/sim/dstack.sock' }, exists: () => false }), '/tmp/sim/dstack.sock');
  assert.equal(resolveGuestAgentEndpoint({ env: {}, exists: (p) => p === '/var/run/dstack/dstack.sock' }), '/var/run/dstack/dstack.sock');
  assert.equal(resolveGuestAgentEndpoint({ env: {}, exists: () => false }), DEFAULT_SOCKET_PATHS[0]);
});

test('the client reaches the simulator through DSTACK_SIMULATOR_ENDPOINT, as a socket and as a URL', async () => {
  const sim = await testSimulator({ httpPort: 0 });
  const saved = process.env.DSTACK_SIMULATOR_ENDPOINT;
  after(() => {
    if (saved === undefined) delete process.env.DSTACK_SIMULATOR_ENDPOINT;
    else process.env.DSTACK_SIMULATOR_ENDPOINT = saved;
  });
  for (const endpoint of [sim.endpoint, `unix:${sim.endpoint}`, sim.httpUrl!]) {
    process.env.DSTACK_SIMULATOR_ENDPOINT = endpoint;
    const client = new GuestAgentClient();
    assert.equal(client.endpoint, endpoint);
    const [v, q] = await Promise.all([client.version(), client.getQuote(new Uint8Array([1]))]);
    assert.equal(v.rev, 'dstack-webhost-simulator');
    assert.equal(q.reportDataBytes[0], 1);
    client.close();
  }
});
