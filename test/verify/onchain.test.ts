// The on-chain checks against a local EVM: the test doubles of DstackKms/DstackApp (compiled from
// fixtures/onchain/DstackAuth.sol) are deployed, an app registered and a compose-hash allowed by
// real transactions, and onchainHook reads them over JSON-RPC, as the CLI does with --rpc.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BootIdentity } from '../../src/verify/boot-identity.ts';
import { bytesToHex, utf8ToBytes } from '../../src/verify/bytes.ts';
import type { Check, Facts } from '../../src/verify/check.ts';
import { BASE_MAINNET_KMS, ONCHAIN_CHECK_IDS, onchainHook, type OnchainOptions } from '../../src/verify/onchain.ts';
import { calldata, startLocalChain, type LocalChain } from './fixtures/onchain/local-chain.ts';
import { check } from './helpers.ts';

const h = (tag: string) => bytesToHex(new Uint8Array(32).map((_, i) => (i * 7 + tag.charCodeAt(i % tag.length)) & 255));
const COMPOSE = h('compose');
const OTHER_COMPOSE = h('other compose');
const OS_IMAGE = h('os image');
const DEVICE = h('device: sha256(ppid)');
const DEVICE_LEGACY = h('device: sha256(user_data)');
// A P-256 SPKI DER (26-byte prefix + 65-byte point), as dstack's key-provider id carries it.
const CA_POINT = '04' + h('ca x') + h('ca y');
const CA_SPKI = '3059301306072a8648ce3d020106082a8648ce3d030107034200' + CA_POINT;

const chain = await startLocalChain();
after(() => chain.close());

interface Deployment {
  kms: string;
  app: string;
  composeTx: { hash: string; block: number };
}

/** A KMS with one registered app that allows COMPOSE and DEVICE_LEGACY, and OS_IMAGE allowed. */
async function deploy(c: LocalChain = chain, o: { kms?: 'DstackKms' | 'OldDstackKms'; app?: 'DstackApp' | 'OldDstackApp'; anyDevice?: boolean; register?: boolean; ca?: string } = {}): Promise<Deployment> {
  const kms = await c.deploy(o.kms ?? 'DstackKms');
  const appKind = o.app ?? 'DstackApp';
  const app = await c.deploy(appKind, appKind === 'DstackApp' ? (o.anyDevice ? '1' : '0').padStart(64, '0') : '');
  const composeTx = await c.send(app, calldata.bytes32('addComposeHash(bytes32)', COMPOSE));
  await c.send(app, calldata.bytes32('addDevice(bytes32)', DEVICE_LEGACY));
  if (o.register !== false) await c.send(kms, calldata.address('registerApp(address)', app));
  await c.send(kms, calldata.bytes32('addOsImageHash(bytes32)', OS_IMAGE));
  await c.send(kms, calldata.bytesPair('setKmsInfo(bytes,bytes)', utf8ToBytes('k256'), Buffer.from(o.ca ?? CA_SPKI, 'hex')));
  return { kms, app, composeTx };
}

function identity(appId: string, over: Partial<BootIdentity> = {}, keyProvider: { name: string; id: string } = { name: 'kms', id: CA_SPKI }): BootIdentity {
  const kp = JSON.stringify(keyProvider);
  return {
    appId: appId.replace(/^0x/, ''),
    composeHash: COMPOSE,
    instanceId: 'ab'.repeat(20),
    keyProvider: kp,
    keyProviderHex: bytesToHex(utf8ToBytes(kp)),
    keyProviderInfo: keyProvider,
    osImageHash: OS_IMAGE,
    bootEvents: ['system-preparing', 'app-id', 'compose-hash', 'instance-id', 'boot-mr-done', 'os-image-hash', 'key-provider', 'system-ready'],
    ...over,
  };
}

/** What verifyQuote establishes before the hook runs (platform and identity facts). */
const FACTS: Facts = {
  platform: { device_id: DEVICE, device_id_legacy: DEVICE_LEGACY, tcb_status: 'UpToDate', advisory_ids: ['INTEL-SA-00837'] },
  identity: { mr_aggregated: h('mr aggregated'), mr_system: h('mr system') },
};

async function run(d: { kms: string }, id: BootIdentity, o: Partial<OnchainOptions> = {}, facts: Facts = FACTS): Promise<Check[]> {
  const hook = onchainHook({ rpcUrl: chain.url, kmsAddress: d.kms, ...o });
  return hook(id, { facts, checks: [] });
}

const statusOf = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.id, c.status]));

test('a registered app whose compose-hash, device and OS image are allowed passes every check, all read at one block', async () => {
  const d = await deploy();
  const from = chain.requests.length;
  const checks = await run(d, identity(d.app));
  assert.deepEqual(checks.map((c) => c.id), [...ONCHAIN_CHECK_IDS]);
  for (const c of checks) assert.equal(c.status, 'pass', `${c.id}: ${c.summary}`);

  const block = check({ checks }, 'onchain.chain').facts!.block as number;
  const pinned = chain.requests.slice(from).filter((r) => r.method === 'eth_call' || r.method === 'eth_getCode');
  assert.ok(pinned.length >= 8);
  for (const r of pinned) assert.equal(r.params[1], '0x' + block.toString(16), `${r.method} is pinned to the block onchain.chain saw`);

  const compose = check({ checks }, 'onchain.compose-hash-allowed');
  assert.deepEqual(compose.facts!.allowed_in, { block: d.composeTx.block, tx: d.composeTx.hash, log_index: 0, time: new Date((1_767_225_600 + 12 * d.composeTx.block) * 1000).toISOString(), events: 1 });
  assert.match(compose.summary, new RegExp(`allowed in block ${d.composeTx.block}, tx ${d.composeTx.hash}`));
  assert.match(String(compose.facts!.state), /current state .* not at boot/);
  assert.match(check({ checks }, 'onchain.device').summary, /sha256\(quote user_data\), KMS up to 0\.5\.5/, 'only the legacy device id is on the list');
  assert.match(check({ checks }, 'onchain.is-app-allowed').summary, /isAppAllowed accepts this boot .*: \(true, ""\)/);
  assert.equal(check({ checks }, 'onchain.kms-identity').expected, CA_SPKI);
});

test('an app-id that is not registered fails onchain.app-registered, and the KMS itself refuses it', async () => {
  const d = await deploy(chain, { register: false });
  const checks = await run(d, identity(d.app));
  const c = check({ checks }, 'onchain.app-registered');
  assert.equal(c.status, 'fail');
  assert.match(c.summary, /is not registered in the KMS .*would not release keys/);
  assert.deepEqual([c.expected, c.actual], ['true', 'false']);
  assert.equal(check({ checks }, 'onchain.compose-hash-allowed').status, 'pass', 'the app contract still allows it');
  const kms = check({ checks }, 'onchain.is-app-allowed');
  assert.equal(kms.status, 'fail');
  assert.equal(kms.actual, '(false, "App not registered")');
});

test('a compose-hash the app contract does not allow fails onchain.compose-hash-allowed', async () => {
  const d = await deploy();
  const checks = await run(d, identity(d.app, { composeHash: OTHER_COMPOSE }));
  const c = check({ checks }, 'onchain.compose-hash-allowed');
  assert.equal(c.status, 'fail');
  assert.match(c.summary, /does not allow the compose-hash measured at boot/);
  assert.deepEqual([c.expected, c.actual], ['true', 'false']);
  assert.equal(c.facts!.allowed_in, undefined, 'never allowed: no history');
  assert.equal(check({ checks }, 'onchain.app-registered').status, 'pass');
  assert.equal(check({ checks }, 'onchain.is-app-allowed').actual, '(false, "Compose hash not allowed")');
});

test('a compose-hash allowed and later removed fails now, and the facts show both transactions', async () => {
  const d = await deploy();
  const removed = await chain.send(d.app, calldata.bytes32('removeComposeHash(bytes32)', COMPOSE));
  const c = check({ checks: await run(d, identity(d.app)) }, 'onchain.compose-hash-allowed');
  assert.equal(c.status, 'fail');
  assert.equal((c.facts!.allowed_in as Facts).tx, d.composeTx.hash);
  assert.equal((c.facts!.removed_in as Facts).tx, removed.hash);
});

test('a local-sgx (or no) key provider skips every on-chain check, saying the KMS does not govern the app, and asks the RPC nothing', async () => {
  const d = await deploy();
  const from = chain.requests.length;
  const checks = await run(d, identity(d.app, {}, { name: 'local-sgx', id: 'cd'.repeat(32) }));
  assert.deepEqual(checks.map((c) => c.id), [...ONCHAIN_CHECK_IDS]);
  assert.deepEqual(new Set(checks.map((c) => c.status)), new Set(['skip']));
  const kp = check({ checks }, 'onchain.key-provider');
  assert.match(kp.summary, /is "local-sgx", not "kms": this app does not get its keys from dstack's KMS, so the KMS contracts do not govern it/);
  assert.deepEqual([kp.expected, kp.actual], ['kms', 'local-sgx']);
  assert.match(check({ checks }, 'onchain.app-registered').summary, /Not governed by dstack's KMS/);
  const none = await run(d, identity(d.app, { keyProviderInfo: null, keyProvider: null, keyProviderHex: null }));
  assert.match(check({ checks: none }, 'onchain.key-provider').summary, /no key-provider boot event/);
  assert.equal(chain.requests.length, from, 'no request was sent');
});

test('an RPC that is down fails onchain.chain with the reason; nothing else is claimed', async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const checks = await onchainHook({ rpcUrl: `http://127.0.0.1:${port}/v2/secret-key`, kmsAddress: BASE_MAINNET_KMS })(identity('11'.repeat(20)), { facts: FACTS, checks: [] });
  const c = check({ checks }, 'onchain.chain');
  assert.equal(c.status, 'fail');
  assert.match(c.summary, new RegExp(`^The chain RPC could not be read: eth_chainId: http://127\\.0\\.0\\.1:${port}/… did not answer \\(.*ECONNREFUSED`));
  assert.doesNotMatch(JSON.stringify(checks), /secret-key/, 'the RPC URL path (an API key) is not printed');
  assert.deepEqual(statusOf(checks.slice(2)), Object.fromEntries(ONCHAIN_CHECK_IDS.slice(2).map((id) => [id, 'skip'])));
});

test('an RPC that answers garbage fails onchain.chain; one that fails mid-way fails the check that needed it', async () => {
  const garbage = await onchainHook({ rpcUrl: 'http://rpc.invalid', kmsAddress: BASE_MAINNET_KMS, fetch: async () => ({ ok: false, status: 503, text: async () => 'upstream down' }) })(identity('11'.repeat(20)), { facts: FACTS, checks: [] });
  assert.match(check({ checks: garbage }, 'onchain.chain').summary, /HTTP 503 with no JSON-RPC body/);

  // A proxy to the local chain that breaks eth_call for the app contract's compose-hash getter.
  const d = await deploy();
  const flaky: OnchainOptions['fetch'] = async (url, init) => {
    if (init.body.includes('"eth_call"') && init.body.includes('0x2f6622e5')) return { ok: false, status: 500, text: async () => JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'internal error: state unavailable' } }) };
    return fetch(url, init);
  };
  const checks = await run(d, identity(d.app), { fetch: flaky });
  const c = check({ checks }, 'onchain.compose-hash-allowed');
  assert.equal(c.status, 'fail');
  assert.match(c.summary, /could not be read: eth_call: .* answered error -32603: internal error: state unavailable/);
  assert.equal(check({ checks }, 'onchain.app-registered').status, 'pass');
});

test('the KMS address: Base mainnet\'s only on chain 8453, otherwise it must be given; a chain id mismatch fails', async () => {
  const id = identity('11'.repeat(20));
  const noKms = await onchainHook({ rpcUrl: chain.url })(id, { facts: FACTS, checks: [] });
  const c = check({ checks: noKms }, 'onchain.chain');
  assert.equal(c.status, 'fail');
  assert.deepEqual([c.expected, c.actual], ['8453', '31337']);
  assert.match(c.summary, /give the KMS address for this chain \(--kms\)/);

  const wrong = await onchainHook({ rpcUrl: chain.url, kmsAddress: BASE_MAINNET_KMS, chainId: 8453 })(id, { facts: FACTS, checks: [] });
  assert.equal(check({ checks: wrong }, 'onchain.chain').status, 'fail');
  // The chain the user expects, but no KMS address for it: Base mainnet's is not borrowed.
  const other = await onchainHook({ rpcUrl: chain.url, chainId: 31337 })(id, { facts: FACTS, checks: [] });
  assert.match(check({ checks: other }, 'onchain.chain').summary, /No KMS address was given, and only Base mainnet's is known \(the RPC serves chain 31337\)/);

  const base = await startLocalChain({ chainId: 8453 });
  try {
    const r = await onchainHook({ rpcUrl: base.url })(id, { facts: FACTS, checks: [] });
    const b = check({ checks: r }, 'onchain.chain');
    assert.equal(b.status, 'fail');
    assert.match(b.summary, /no contract at the KMS address 0x2f83172A49584C017F2B256F0FB2Dca14126Ba9C on chain 8453/);
    assert.equal(b.facts!.kms_source, "default: Phala Cloud's DstackKms on Base mainnet");
  } finally {
    await base.close();
  }
});

test('an app-id with no contract behind it fails onchain.compose-hash-allowed (with the KMS, the app-id is the DstackApp address)', async () => {
  const d = await deploy();
  const checks = await run(d, identity('77'.repeat(20)));
  assert.match(check({ checks }, 'onchain.compose-hash-allowed').summary, /There is no contract at the app-id 0x7777/);
  assert.equal(check({ checks }, 'onchain.app-registered').status, 'fail');
});

test('devices: any device allowed passes; neither id on the list fails; both definitions are tried', async () => {
  const any = await deploy(chain, { anyDevice: true });
  const a = check({ checks: await run(any, identity(any.app)) }, 'onchain.device');
  assert.equal(a.status, 'pass');
  assert.match(a.summary, /any device/);

  const d = await deploy();
  const facts: Facts = { ...FACTS, platform: { ...(FACTS.platform as Facts), device_id_legacy: h('another machine') } };
  const checks = await run(d, identity(d.app), {}, facts);
  const c = check({ checks }, 'onchain.device');
  assert.equal(c.status, 'fail');
  assert.deepEqual(c.facts!.allowed, { 'sha256(PPID), KMS 0.5.6+': false, 'sha256(quote user_data), KMS up to 0.5.5': false });
  assert.equal(check({ checks }, 'onchain.is-app-allowed').actual, '(false, "Device not allowed")');
});

test('the OS image: not allowed fails; no os-image-hash event skips it (and the KMS\'s isAppAllowed, which needs it)', async () => {
  const d = await deploy();
  const bad = await run(d, identity(d.app, { osImageHash: h('another image') }));
  assert.equal(check({ checks: bad }, 'onchain.os-image').status, 'fail');
  assert.equal(check({ checks: bad }, 'onchain.is-app-allowed').actual, '(false, "OS image is not allowed")');
  const none = await run(d, identity(d.app, { osImageHash: null }));
  assert.match(check({ checks: none }, 'onchain.os-image').summary, /no os-image-hash boot event/);
  assert.match(check({ checks: none }, 'onchain.is-app-allowed').summary, /cannot be rebuilt without the os-image-hash boot event/);
  assert.equal(check({ checks: none }, 'onchain.compose-hash-allowed').status, 'pass');
});

test('older contracts: a missing allowAnyDevice() or isAppAllowed() reads as absent, explained, not as a failure', async () => {
  const d = await deploy(chain, { kms: 'OldDstackKms', app: 'OldDstackApp' });
  const checks = await run(d, identity(d.app));
  const s = statusOf(checks);
  assert.deepEqual(s, {
    'onchain.key-provider': 'pass',
    'onchain.chain': 'pass',
    'onchain.kms-identity': 'pass',
    'onchain.app-registered': 'pass',
    'onchain.compose-hash-allowed': 'pass',
    'onchain.device': 'pass',
    'onchain.os-image': 'pass',
    'onchain.is-app-allowed': 'skip',
  });
  assert.match(String(check({ checks }, 'onchain.device').facts!.allow_any_device), /^absent: the call reverted/);
  assert.match(check({ checks }, 'onchain.is-app-allowed').summary, /could not be read from the KMS \(the call reverted\); older deployments lack it/);
});

test('the KMS identity: another CA key than the measured one fails; the bare point form matches', async () => {
  const other = await deploy(chain, { ca: '3059301306072a8648ce3d020106082a8648ce3d030107034200' + '04' + h('other x') + h('other y') });
  const c = check({ checks: await run(other, identity(other.app)) }, 'onchain.kms-identity');
  assert.equal(c.status, 'fail');
  assert.match(c.summary, /got its keys from another KMS/);
  const point = await deploy(chain, { ca: CA_POINT });
  const p = check({ checks: await run(point, identity(point.app)) }, 'onchain.kms-identity');
  assert.equal(p.status, 'pass');
  assert.match(p.summary, /bare public key point/);
});

test('isAppAllowed is asked with the quote\'s own facts (TCB status, advisories), shown so anyone can repeat the call', async () => {
  // Judging the TCB status is the contracts' business here (requireTcbUpToDate on newer DstackApps):
  // the tuple carries what the quote showed, and the facts say exactly what was asked.
  const d = await deploy();
  const checks = await run(d, identity(d.app));
  const info = check({ checks }, 'onchain.is-app-allowed').facts!.boot_info as Facts;
  assert.equal(info.tcbStatus, 'UpToDate');
  assert.deepEqual(info.advisoryIds, ['INTEL-SA-00837']);
  assert.equal(info.appId, d.app.toLowerCase());
});
