// End to end: an evidence bundle from the simulator, verified by verifyBundle and by
// `webhost verify --rpc … --kms …` against the test KMS contracts on a local EVM.
//
// The simulator boots without a KMS (key provider local-sgx, app-id = compose-hash[0..20]), as
// dstack does without one. For the KMS case this test gives its guest agent the boot story dstack
// tells with a KMS — app-id = the DstackApp contract's address, an app-compose with kms_enabled,
// the KMS-measured os-image-hash, key provider {"name":"kms","id":<KMS CA SPKI>} — by swapping
// its boot identity and measured log before any quote is made. Quotes are then signed as usual
// over the RTMR3 that log replays to, so every check of the chain runs on real evidence.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { buildEvidenceBundle } from '../../src/attestation/evidence.ts';
import { GuestAgentClient } from '../../src/attestation/guest-agent-client.ts';
import { deterministicJson, runtimeEvent, type BootIdentity as SimBoot } from '../../src/attestation/simulator/boot.ts';
import { startSimulator, type Simulator } from '../../src/attestation/simulator/index.ts';
import { MeasuredLog } from '../../src/attestation/simulator/measured-log.ts';
import { AuditLog } from '../../src/auditlog/index.ts';
import { verifyCommand } from '../../src/cli/commands/verify.ts';
import { hexToBytes, utf8ToBytes } from '../../src/verify/bytes.ts';
import type { EvidenceBundle } from '../../src/verify/bundle.ts';
import type { Facts, Report } from '../../src/verify/check.ts';
import { deploymentRef, type DeploymentRecord } from '../../src/verify/deployment.ts';
import { ONCHAIN_CHECK_IDS, onchainHook } from '../../src/verify/onchain.ts';
import { verifyBundle } from '../../src/verify/verify-bundle.ts';
import { tempDir } from '../helpers/tmp.ts';
import { calldata, startLocalChain } from './fixtures/onchain/local-chain.ts';
import { check } from './helpers.ts';

const NAME = 'demo';
const NONCE = 'c0ffee';
const CA_SPKI = '3059301306072a8648ce3d020106082a8648ce3d030107034200' + '04' + 'a1'.repeat(32) + 'b2'.repeat(32);
const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

const chain = await startLocalChain();
const kms = await chain.deploy('DstackKms');
const app = await chain.deploy('DstackApp', '0'.repeat(64));
after(() => chain.close());

/** The simulator's boot story retold with a KMS whose app contract is `appAddress`. */
function kmsBoot(sim: Simulator, appAddress: string): SimBoot {
  const old = sim.agent.boot;
  const compose = JSON.parse(old.appCompose) as Record<string, unknown>;
  Object.assign(compose, { kms_enabled: true, key_provider: 'kms', key_provider_id: CA_SPKI, local_key_provider_enabled: false });
  const appCompose = deterministicJson(compose);
  const composeHash = sha256(utf8ToBytes(appCompose));
  const appId = hexToBytes(appAddress);
  const instanceId = sha256(utf8ToBytes(`instance of ${appAddress}`)).slice(0, 20);
  const keyProviderInfo = JSON.stringify({ name: 'kms', id: CA_SPKI });
  const bootEvents = [
    ...old.bootEvents.filter((e) => e.imr !== 3),
    runtimeEvent('system-preparing'),
    runtimeEvent('app-id', appId),
    runtimeEvent('compose-hash', composeHash),
    runtimeEvent('instance-id', instanceId),
    runtimeEvent('boot-mr-done'),
    runtimeEvent('os-image-hash', old.osImageHash),
    runtimeEvent('key-provider', utf8ToBytes(keyProviderInfo)),
    runtimeEvent('system-ready'),
  ];
  return { ...old, appCompose, composeHash, appId, instanceId, keyProviderInfo, bootEvents };
}

async function simulatorBundle(o: { kmsApp?: string }): Promise<{ bundle: EvidenceBundle; sim: Simulator }> {
  const sim = await startSimulator({ dir: tempDir('wh-onchain-sim-') });
  const agent = new GuestAgentClient(sim.endpoint);
  after(async () => {
    agent.close();
    await sim.close();
  });
  if (o.kmsApp) {
    // Before the first quote: the agent quotes over its log's RTMR3 (RTMR0–2 are unchanged).
    const boot = kmsBoot(sim, o.kmsApp);
    Object.assign(sim.agent as object, { boot, log: new MeasuredLog(boot.bootEvents) });
  }
  const record: DeploymentRecord = { v: 1, project: NAME, source: { kind: 'inline', url: null, ref: null, commit_sha: null, tree_hash: null }, manifest: { runtime: 'deno', entry: 'main.ts' }, image_digests: [] };
  const log = await AuditLog.open(path.join(tempDir('wh-onchain-log-'), 'log'), { origin: `apps.example/dstack-webhost/${NAME}/1-0badcafe`, seed: new Uint8Array(32).fill(7), project: NAME });
  after(() => log.release());
  await log.append({ v: 1, time: '2026-01-01T00:00:00.000Z', action: 'promote', project: NAME, deployment: deploymentRef(record), detail: {} });
  const bundle = await buildEvidenceBundle({
    agent,
    daemon: { version: '0.1.0', commit: null, tee: 'simulated', simulatorRootCa: sim.rootCaDer },
    project: { name: NAME, mode: 'attested', tree_hash: null, commit_sha: null, deployment_id: deploymentRef(record).id },
    deployment: record,
    log,
    previous: [],
    appKey: null,
    nonce: NONCE,
    collateral: async () => sim.collateral(),
  });
  return { bundle, sim };
}

const OPTS = { allowSimulator: true, project: NAME, nonce: NONCE };
const { bundle } = await simulatorBundle({ kmsApp: app });

/** Runs the CLI in process; returns its exit code and what it printed. */
async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  console.error = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    const code = await verifyCommand(argv, { env: { XDG_CONFIG_HOME: tempDir('wh-onchain-xdg-') } });
    return { code, out: lines.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test('a KMS-governed simulator bundle: every other check passes, and the on-chain checks follow what the contracts allow', async () => {
  const facts = (await verifyBundle(bundle, OPTS)).facts;
  const identity = facts.identity as Facts;
  assert.equal(identity.app_id, app.slice(2).toLowerCase(), 'the measured app-id is the DstackApp address');
  assert.equal(identity.key_provider_name, 'kms');
  const hook = onchainHook({ rpcUrl: chain.url, kmsAddress: kms });

  // Nothing registered or allowed yet.
  const before = await verifyBundle(bundle, { ...OPTS, onchain: hook });
  assert.equal(before.ok, false);
  const failed = before.checks.filter((c) => c.status === 'fail').map((c) => c.id);
  assert.deepEqual(failed, ['onchain.app-registered', 'onchain.compose-hash-allowed', 'onchain.device', 'onchain.os-image', 'onchain.is-app-allowed']);
  assert.match(check(before, 'onchain.kms-identity').summary, /publishes no CA public key/);
  assert.equal(check(before, 'onchain.kms-identity').status, 'warn');

  // What the app's owner and the KMS's owner do on chain.
  await chain.send(kms, calldata.bytesPair('setKmsInfo(bytes,bytes)', utf8ToBytes('k256'), hexToBytes(CA_SPKI)));
  await chain.send(kms, calldata.address('registerApp(address)', app));
  await chain.send(kms, calldata.bytes32('addOsImageHash(bytes32)', String(identity.os_image_hash)));
  const allowed = await chain.send(app, calldata.bytes32('addComposeHash(bytes32)', String(identity.compose_hash)));
  await chain.send(app, calldata.bytes32('addDevice(bytes32)', String((facts.platform as Facts).device_id)));

  const r = await verifyBundle(bundle, { ...OPTS, onchain: hook });
  assert.equal(r.ok, true, r.summary);
  for (const id of ONCHAIN_CHECK_IDS) assert.equal(check(r, id).status, 'pass', `${id}: ${check(r, id).summary}`);
  assert.equal((check(r, 'onchain.compose-hash-allowed').facts!.allowed_in as Facts).tx, allowed.hash);
  assert.match(check(r, 'onchain.device').summary, /sha256\(PPID\), KMS 0\.5\.6\+/);
  assert.equal(check(r, 'dcap.trust-root').status, 'warn', 'still SIMULATED');
});

test('webhost verify --rpc --kms runs the on-chain checks; a compose-hash removed on chain makes it fail', async () => {
  const file = path.join(tempDir('wh-onchain-cli-'), 'bundle.json');
  writeFileSync(file, JSON.stringify(bundle));
  const common = [file, '--allow-simulator', '--no-source', '--nonce', NONCE, '--rpc', chain.url, '--kms', kms];
  const ok = await cli(...common, '--json');
  assert.equal(ok.code, 0, ok.out);
  const report = JSON.parse(ok.out) as Report;
  for (const id of ONCHAIN_CHECK_IDS) assert.equal(check(report, id).status, 'pass', id);

  const composeHash = String((report.facts.identity as Facts).compose_hash);
  await chain.send(app, calldata.bytes32('removeComposeHash(bytes32)', composeHash));
  try {
    const bad = await cli(...common);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /^NOT VERIFIED.*onchain\.compose-hash-allowed/m);
    assert.match(bad.out, /^✗ onchain\.compose-hash-allowed .*does not allow the compose-hash measured at boot.*\[expected: true; actual: false\]$/m);
  } finally {
    await chain.send(app, calldata.bytes32('addComposeHash(bytes32)', composeHash));
  }

  assert.equal((await cli(...common.slice(0, 5), '--kms', kms)).code, 2, '--kms without --rpc is a usage error');
  assert.match((await cli(...common.slice(0, 7), '--kms', '0x1234')).out, /--kms must be a 20-byte hex address/);
});

test('the simulator as it boots (local-sgx): --rpc reports the on-chain checks skipped, not governed by a KMS, and verification stands', async () => {
  const { bundle: local } = await simulatorBundle({});
  const before = chain.requests.length;
  const r = await verifyBundle(local, { ...OPTS, onchain: onchainHook({ rpcUrl: chain.url, kmsAddress: kms }) });
  assert.equal(r.ok, true, r.summary);
  const kp = check(r, 'onchain.key-provider');
  assert.equal(kp.status, 'skip');
  assert.match(kp.summary, /"local-sgx", not "kms"/);
  assert.equal(chain.requests.length, before);
  const id = r.facts.identity as Facts;
  assert.equal(id.app_id, String(id.compose_hash).slice(0, 40), 'without a KMS, dstack\'s app-id is compose-hash[0..20]');
});
