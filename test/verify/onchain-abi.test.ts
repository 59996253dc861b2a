// The on-chain checks' hand-written ABI and JSON-RPC client, on their own: selectors and topics
// recomputed from the signatures and compared with research/dstack.md §5 (which matched them to
// the interface IDs hard-coded in dstack's contracts), EIP-55, strict decoding, and how the
// client tells a revert from an RPC that did not answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbiError,
  EVENT_SIGNATURES,
  SELECTORS,
  checksumAddress,
  decodeBool,
  decodeBoolString,
  decodeBytesList,
  encodeIsAppAllowed,
  eventBytes32,
  eventTopic,
  revertReason,
  selector,
} from '../../src/verify/onchain-abi.ts';
import { JsonRpcClient, RpcFailure, RpcRevert, rpcLabel, type RpcFetch } from '../../src/verify/onchain-rpc.ts';

test('selectors and event topics, recomputed from the signatures, are the ones dstack.md §5 lists', () => {
  assert.deepEqual(SELECTORS, {
    registeredApps: 'a6c4cce9',
    allowedOsImages: '9a4e1d18',
    kmsInfo: '09177063',
    allowedComposeHashes: '2f6622e5',
    allowedDeviceIds: 'bf8b211b',
    allowAnyDevice: '3440a16a',
    isAppAllowed: '1e079198',
  });
  assert.equal(eventTopic(EVENT_SIGNATURES.composeHashAdded), 'fecb34306dd9d8b785b54d65489d06afc8822a0893ddacedff40c50a4942d0af');
  assert.equal(eventTopic(EVENT_SIGNATURES.composeHashRemoved), '755b79bd4b0eeab344d032284a99003b2ddc018b646752ac72d681593a6e8947');
  // The contracts' IAppAuth interface id is the isAppAllowed selector, and IAppAuthBasicManagement's
  // is the XOR of the four list setters: both depend on the exact tuple spelling used above.
  const xor = ['addComposeHash(bytes32)', 'removeComposeHash(bytes32)', 'addDevice(bytes32)', 'removeDevice(bytes32)'].map((s) => Number.parseInt(selector(s), 16)).reduce((a, b) => (a ^ b) >>> 0);
  assert.equal(xor.toString(16).padStart(8, '0'), '8fd37527');
});

test('EIP-55: the Base KMS address and the spec vectors', () => {
  assert.equal(checksumAddress('0x2f83172a49584c017f2b256f0fb2dca14126ba9c'), '0x2f83172A49584C017F2B256F0FB2Dca14126Ba9C');
  for (const a of ['0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359', '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB', '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb']) {
    assert.equal(checksumAddress(a.toLowerCase()), a);
  }
  assert.throws(() => checksumAddress('0x1234'), /not a 20-byte hex address/);
});

const word = (n: number | string) => (typeof n === 'number' ? n.toString(16) : n).padStart(64, '0');

test('decoding is strict: a bool is 0 or 1, an empty answer is no answer, offsets stay inside', () => {
  assert.equal(decodeBool('0x' + word(1)), true);
  assert.equal(decodeBool('0x' + word(0)), false);
  assert.throws(() => decodeBool('0x'), AbiError);
  assert.throws(() => decodeBool('0x' + word(2)), /not an ABI bool/);
  assert.throws(() => decodeBool('0x01'), AbiError);
  const reason = Buffer.from('Compose hash not allowed').toString('hex');
  const ok = '0x' + word(0) + word(64) + word(24) + reason.padEnd(64, '0');
  assert.deepEqual(decodeBoolString(ok), { allowed: false, reason: 'Compose hash not allowed' });
  assert.throws(() => decodeBoolString('0x' + word(1) + word(4096)), /too short|runs past/);
  assert.throws(() => decodeBoolString('0x' + word(1) + word(64) + word(10)), /runs past/);
  const list = decodeBytesList('0x' + word(64) + word(128) + word(2) + 'abcd'.padEnd(64, '0') + word(0), 2);
  assert.deepEqual(list.map((b) => Buffer.from(b).toString('hex')), ['abcd', '']);
});

test('revert data reads as Error(string), Panic or a custom error selector', () => {
  const msg = Buffer.from('not the owner').toString('hex');
  assert.equal(revertReason('0x08c379a0' + word(32) + word(13) + msg.padEnd(64, '0')), 'not the owner');
  assert.equal(revertReason('0x4e487b71' + word(0x11)), 'panic 0x11');
  assert.equal(revertReason('0xdeadbeef'), 'custom error 0xdeadbeef');
  assert.equal(revertReason('0x'), null);
  assert.equal(eventBytes32(['0xaa', '0x' + 'ab'.repeat(32)], '0x'), 'ab'.repeat(32));
  assert.equal(eventBytes32(['0xaa'], '0x' + 'cd'.repeat(32)), 'cd'.repeat(32));
});

test('isAppAllowed calldata: one tuple offset, then heads and tails laid out as solc expects', () => {
  const hex = encodeIsAppAllowed({
    appId: '11'.repeat(20),
    composeHash: '22'.repeat(32),
    instanceId: '',
    deviceId: '33'.repeat(32),
    mrAggregated: '44'.repeat(32),
    mrSystem: '55'.repeat(32),
    osImageHash: '66'.repeat(32),
    tcbStatus: 'UpToDate',
    advisoryIds: ['INTEL-SA-00837', 'INTEL-SA-00615'],
  });
  const w = hex.slice(10).match(/.{64}/g)!;
  assert.equal(hex.slice(0, 10), '0x1e079198');
  assert.equal(w[0], word(32)); // the tuple starts after this word
  assert.equal(w[1], word('11'.repeat(20)));
  assert.equal(w[3], word(0), 'no instance id: the zero address');
  assert.equal(w[8], word(9 * 32), 'tcbStatus right after the nine head words');
  assert.equal(w[9], word(9 * 32 + 64), 'advisoryIds after the one-word string');
  assert.equal(w[10], word(8));
  assert.equal(w[11], Buffer.from('UpToDate').toString('hex').padEnd(64, '0'));
  assert.equal(w[12], word(2));
  assert.deepEqual([w[13], w[14]], [word(64), word(128)], 'element offsets count from after the length');
  assert.equal(w[15], word(14));
});

function fakeFetch(status: number, body: string): RpcFetch {
  return async () => ({ ok: status >= 200 && status < 300, status, text: async () => body });
}

test('the RPC client: reverts are answers, everything else that is not a result is a failure', async () => {
  const revert = new JsonRpcClient('http://x', { fetch: fakeFetch(200, JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: 3, message: 'execution reverted', data: '0xdeadbeef' } })) });
  await assert.rejects(revert.call('0x' + '00'.repeat(20), '0x', 1), (e: unknown) => e instanceof RpcRevert && e.data === '0xdeadbeef' && e.reason === 'custom error 0xdeadbeef');
  const bare = new JsonRpcClient('http://x', { fetch: fakeFetch(200, JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'execution reverted' } })) });
  await assert.rejects(bare.call('0x' + '00'.repeat(20), '0x', 1), RpcRevert);
  const limited = new JsonRpcClient('http://x', { fetch: fakeFetch(429, JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32005, message: 'rate limited' } })) });
  await assert.rejects(limited.chainId(), (e: unknown) => e instanceof RpcFailure && /error -32005: rate limited/.test(e.message));
  const html = new JsonRpcClient('http://x', { fetch: fakeFetch(502, '<html>bad gateway</html>') });
  await assert.rejects(html.chainId(), /HTTP 502 with no JSON-RPC body/);
  const wrong = new JsonRpcClient('http://x', { fetch: fakeFetch(200, JSON.stringify({ jsonrpc: '2.0', id: 1, result: 'base' })) });
  await assert.rejects(wrong.chainId(), /not a hex quantity/);
  const thrown = new JsonRpcClient('http://x', { fetch: async () => Promise.reject(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') })) });
  await assert.rejects(thrown.chainId(), /did not answer \(connect ECONNREFUSED/);
});

test('RPC URLs are shown without their path, query or credentials (they often hold an API key)', () => {
  assert.equal(rpcLabel('https://base-mainnet.example/v2/SECRETKEY'), 'https://base-mainnet.example/…');
  assert.equal(rpcLabel('https://user:pw@rpc.example/?key=1'), 'https://rpc.example/…');
  assert.equal(rpcLabel('https://mainnet.base.org'), 'https://mainnet.base.org');
});
