// The state folder makes a restart the same machine: same root CA, same keys, same app-id. The
// folder is private (0700, files 0600), and a given seed must match the stored one.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1';
import { keccak_256 } from '@noble/hashes/sha3';
import { GuestAgentClient } from '../../src/attestation/guest-agent-client.ts';
import { startSimulator } from '../../src/attestation/simulator/index.ts';
import { tempDir } from '../helpers/tmp.ts';

test('a restart keeps the root CA, GetKey output and app-id; state is private', async () => {
  const dir = tempDir('wh-att-');
  const first = await startSimulator({ dir });
  const c1 = new GuestAgentClient(first.endpoint);
  const key1 = await c1.getKey('project/alpha', 'audit-log', 'ed25519');
  const info1 = await c1.info();
  const root1 = first.rootCaDer;
  c1.close();
  await first.close();
  assert.equal(existsSync(first.endpoint), false, 'the socket is removed on close');

  const second = await startSimulator({ dir });
  const c2 = new GuestAgentClient(second.endpoint);
  const key2 = await c2.getKey('project/alpha', 'audit-log', 'ed25519');
  const info2 = await c2.info();
  assert.deepEqual(second.rootCaDer, root1);
  assert.deepEqual(key2.key, key1.key);
  assert.deepEqual(key2.signature_chain, key1.signature_chain);
  assert.equal(info2.app_id, info1.app_id);
  assert.equal(info2.instance_id, info1.instance_id);
  assert.notDeepEqual((await c2.getKey('project/beta', 'audit-log', 'ed25519')).key, key1.key);
  c2.close();
  await second.close();

  assert.equal(statSync(dir).mode & 0o777, 0o700);
  for (const f of readdirSync(dir)) assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600, f);
  assert.deepEqual(readdirSync(dir).sort(), ['pki.json', 'seed']);
  // Only the seed is secret; the PKI file holds certificates, no private keys.
  assert.doesNotMatch(readFileSync(path.join(dir, 'pki.json'), 'utf8'), /PRIVATE/);
});

test('a seed given for a new folder is used; a different one for an existing folder is refused', async () => {
  const seed = 'a1'.repeat(32);
  const a = await startSimulator({ dir: tempDir('wh-att-'), seed });
  const b = await startSimulator({ dir: tempDir('wh-att-'), seed });
  // Same seed, same keys (the certificates are issued anew, so the DER differs, not the key).
  const [ca, cb] = [new GuestAgentClient(a.endpoint), new GuestAgentClient(b.endpoint)];
  assert.deepEqual((await ca.getKey('x')).key, (await cb.getKey('x')).key);
  ca.close();
  cb.close();
  const dir = path.dirname(a.endpoint);
  await a.close();
  await b.close();
  await assert.rejects(startSimulator({ dir, seed: 'b2'.repeat(32) }), /different simulator seed/);
  await assert.rejects(startSimulator({ dir: tempDir('wh-att-'), seed: 'abcd' }), /32 bytes/);
});

test('GetKey signature chain: sig[0] by the app key over purpose:pubkey, sig[1] by the KMS root over the app key', async () => {
  const dir = tempDir('wh-att-');
  const sim = await startSimulator({ dir });
  const client = new GuestAgentClient(sim.endpoint);
  const k = await client.getKey('wallet', 'ethereum', 'secp256k1');
  assert.equal(k.key.length, 32);
  assert.doesNotMatch(JSON.stringify(k), new RegExp(Buffer.from(k.key).toString('hex')), 'key material is not serialised');
  const pub = secp256k1.getPublicKey(k.key, true);
  const recover = (sig: Uint8Array, msg: Uint8Array) =>
    secp256k1.Signature.fromCompact(sig.subarray(0, 64)).addRecoveryBit(sig[64]!).recoverPublicKey(keccak_256(msg)).toRawBytes(true);
  const msg0 = new TextEncoder().encode(`ethereum:${Buffer.from(pub).toString('hex')}`);
  assert.deepEqual(recover(k.signature_chain[0]!, msg0), sim.agent.keys.appPublicKey);
  const appId = Buffer.from((await client.info()).app_id, 'hex');
  const msg1 = Buffer.concat([Buffer.from('dstack-kms-issued:'), appId, sim.agent.keys.appPublicKey]);
  assert.deepEqual(recover(k.signature_chain[1]!, msg1), sim.agent.keys.kmsRootPublicKey);
  // Same path, other algorithm: same 32 bytes (as dstack), different public key in sig[0].
  const e = await client.getKey('wallet', 'ethereum', 'ed25519');
  assert.deepEqual(e.key, k.key);
  assert.notDeepEqual(e.signature_chain[0], k.signature_chain[0]);
  client.close();
  await sim.close();
});

test('a stale socket is replaced; a live one or a regular file is never touched', async () => {
  const dir = tempDir('wh-att-');
  const socketPath = path.join(dir, 'agent.sock');
  // A live socket belongs to someone else: refused.
  const other = net.createServer();
  await new Promise<void>((r) => other.listen(socketPath, r));
  await assert.rejects(startSimulator({ dir: path.join(dir, 'state'), socketPath }), /in use by another process/);
  await new Promise<void>((r) => other.close(() => r()));
  // A stale socket, left by a process killed while listening: replaced.
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`]);
  await new Promise<void>((r) => child.stdout.once('data', () => r()));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(statSync(socketPath).isSocket(), 'the killed process left its socket behind');
  const sim = await startSimulator({ dir: path.join(dir, 'state'), socketPath });
  assert.equal((await new GuestAgentClient({ endpoint: socketPath }).version()).version, '0.5.11');
  await sim.close();
  // A regular file at the socket path is not removed.
  const file = path.join(dir, 'state', 'seed');
  await assert.rejects(startSimulator({ dir: path.join(dir, 'state2'), socketPath: file }), /not a socket/);
  assert.ok(existsSync(file));
});

test('a non-empty folder without a seed is not taken as a state folder', async () => {
  const dir = tempDir('wh-att-');
  writeFileSync(path.join(dir, 'package.json'), '{}');
  const before = statSync(dir).mode & 0o777;
  await assert.rejects(startSimulator({ dir }), /not empty and holds no simulator seed/);
  assert.equal(statSync(dir).mode & 0o777, before, 'its permissions are left alone');
  assert.deepEqual(readdirSync(dir), ['package.json']);
});
