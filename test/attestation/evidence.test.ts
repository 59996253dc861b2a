// The daemon's evidence: a bundle and an attestation assembled from the real simulator (through
// the real guest-agent client), a real audit log and a real deployment record; what they bind is
// recomputed here with the verifier's functions, and nothing secret is in them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { buildAttestation, buildEvidenceBundle, buildPreimage, daemonIdentity, normalizeNonce, type EvidenceInput } from '../../src/attestation/evidence.ts';
import { GuestAgentClient } from '../../src/attestation/guest-agent-client.ts';
import { AuditLog } from '../../src/auditlog/index.ts';
import { HttpError } from '../../src/lib/http-error.ts';
import { BUNDLE_SCHEMA, PREIMAGE_VERSION } from '../../src/verify/bundle.ts';
import { reportDataForPreimage } from '../../src/verify/binding.ts';
import { bytesToHex, hexToBytes } from '../../src/verify/bytes.ts';
import { deploymentRef, type DeploymentRecord } from '../../src/verify/deployment.ts';
import { base64Encode } from '../../src/verify/note.ts';
import { parseQuote } from '../../src/verify/quote.ts';
import { verifyBundle } from '../../src/verify/verify-bundle.ts';
import { testSimulator } from './helpers.ts';
import { tempDir } from '../helpers/tmp.ts';

const PROJECT = 'demo';
const ENV_SECRET = 'sk-live-do-not-publish-0123456789';

const record = (tree: string): DeploymentRecord => ({
  v: 1,
  project: PROJECT,
  source: { kind: 'tarball', url: null, ref: null, commit_sha: null, tree_hash: tree },
  manifest: { runtime: 'node', entry: 'index.js', env_names: ['API_KEY'], env_digest: 'hmac-sha256:' + 'ab'.repeat(32), listen: null },
  image_digests: [],
});

async function setup() {
  const sim = await testSimulator();
  const agent = new GuestAgentClient(sim.endpoint);
  after(() => agent.close());
  const seed = randomBytes(32);
  const log = await AuditLog.open(path.join(tempDir('wh-ev-log-'), 'log'), { origin: `localhost/dstack-webhost/${PROJECT}/1-0badcafe`, seed, project: PROJECT });
  after(() => log.release());
  const dep = record('1'.repeat(40));
  await log.append({ v: 1, time: new Date().toISOString(), action: 'promote', project: PROJECT, deployment: deploymentRef(dep), detail: { tree_hash: dep.source.tree_hash } });
  const input: EvidenceInput = {
    agent,
    daemon: { version: '0.1.0', commit: 'c'.repeat(40), tee: 'simulated', simulatorRootCa: sim.rootCaDer },
    project: { name: PROJECT, mode: 'attested', env_names: ['API_KEY'], tree_hash: dep.source.tree_hash },
    deployment: dep,
    log,
    previous: [],
    appKey: 'ee'.repeat(32),
    nonce: 'C0FFEE',
    collateral: async () => sim.collateral(),
  };
  return { sim, agent, log, dep, input, seed };
}

test('the bundle binds the preimage of the current state into the quote, with the daemon identity from Info', async () => {
  const { sim, agent, log, dep, input, seed } = await setup();
  const b = await buildEvidenceBundle(input);
  assert.equal(b.schema, BUNDLE_SCHEMA);
  const p = b.attestation.preimage;
  assert.deepEqual(p, {
    v: PREIMAGE_VERSION,
    project: PROJECT,
    deployment: deploymentRef(dep),
    log: { origin: log.origin, size: 1, root_hash: base64Encode(log.rootHash()), public_key: log.publicKey() },
    app_key: 'ee'.repeat(32),
    nonce: 'c0ffee',
  });
  // report_data is the verifier's function of the preimage, and it is what the quote signs.
  const rd = reportDataForPreimage(p);
  assert.equal(b.attestation.report_data, bytesToHex(rd));
  assert.equal(bytesToHex(parseQuote(hexToBytes(b.attestation.quote)).report.reportData), bytesToHex(rd));

  const info = await agent.info();
  assert.equal(b.daemon.app_id, info.app_id);
  assert.equal(b.daemon.compose_hash, info.compose_hash);
  assert.equal(b.daemon.app_compose, info.tcb_info!.app_compose);
  assert.deepEqual(b.daemon.event_log, info.tcb_info!.event_log);
  assert.equal(b.daemon.simulator_root_ca, bytesToHex(sim.rootCaDer));
  assert.equal(b.daemon.tee, 'simulated');
  assert.deepEqual(b.log.entries, log.entries());
  assert.equal(b.log.checkpoint, log.checkpoint());
  assert.equal(b.project.app_key, 'ee'.repeat(32));
  assert.deepEqual(b.attestation.collateral, sim.collateral());

  const text = JSON.stringify(b);
  assert.ok(!text.includes('PRIVATE+KEY'), 'no note signer key');
  assert.ok(!text.includes(bytesToHex(seed)), 'no log seed');
  assert.ok(!text.includes(ENV_SECRET));

  const r = await verifyBundle(b, { allowSimulator: true, nonce: 'c0ffee', project: PROJECT });
  assert.equal(r.ok, true, r.summary);
});

test('the preimage follows the log: an append changes size and root, a snapshot keeps them consistent', async () => {
  const { log, dep, input } = await setup();
  const before = buildPreimage(input, log.evidence());
  await log.append({ v: 1, time: new Date().toISOString(), action: 'redeploy', project: PROJECT, deployment: deploymentRef(dep), detail: {} });
  const b = await buildEvidenceBundle({ ...input, nonce: null });
  assert.equal(b.attestation.preimage.log.size, 2);
  assert.notEqual(b.attestation.preimage.log.root_hash, before.log.root_hash);
  assert.equal(b.attestation.preimage.nonce, null);
  assert.equal(b.log.entries.length, 2);
});

test('the attestation is a fresh quote over the same preimage, without collateral or daemon identity', async () => {
  const { input } = await setup();
  const a = await buildAttestation(input);
  assert.deepEqual(Object.keys(a).sort(), ['event_log', 'preimage', 'quote', 'report_data', 'vm_config']);
  assert.equal(a.report_data, bytesToHex(reportDataForPreimage(a.preimage)));
  assert.equal(a.preimage.nonce, 'c0ffee');
  assert.ok(JSON.parse(a.event_log).length > 0);
});

test('bad input is refused: nonce (400), env values, mismatched names, a withheld tcb_info (503)', async () => {
  const { input, agent } = await setup();
  for (const nonce of ['xyz', 'abc', 'ab'.repeat(65)]) {
    await assert.rejects(buildEvidenceBundle({ ...input, nonce }), (e: unknown) => e instanceof HttpError && e.status === 400 && e.field === 'nonce');
  }
  assert.equal(normalizeNonce(''), null);
  assert.equal(normalizeNonce('AB'.repeat(64)), 'ab'.repeat(64));
  await assert.rejects(buildEvidenceBundle({ ...input, project: { ...input.project, env: { API_KEY: ENV_SECRET } } }), /env names only/);
  await assert.rejects(buildEvidenceBundle({ ...input, project: { ...input.project, name: 'other' } }), /different projects/);
  await assert.rejects(buildEvidenceBundle({ ...input, appKey: 'nothex' }), /appKey/);
  const withheld = { info: async () => ({ ...(await agent.info()), tcb_info: null }) };
  await assert.rejects(daemonIdentity(withheld, input.daemon), (e: unknown) => e instanceof HttpError && e.status === 503 && /tcb_info/.test(e.message));
  // A real-TDX daemon never publishes a simulator root, even if one is passed by mistake.
  const real = await daemonIdentity(agent, { ...input.daemon, tee: 'tdx' });
  assert.equal(real.simulator_root_ca, undefined);
});

test('an agent that quotes other report_data than asked is refused', async () => {
  const { input, agent } = await setup();
  const lying = { info: () => agent.info(), getQuote: async (_rd: Uint8Array) => agent.getQuote(new Uint8Array(64).fill(7)) };
  await assert.rejects(buildEvidenceBundle({ ...input, agent: lying }), (e: unknown) => e instanceof HttpError && e.status === 503);
});
