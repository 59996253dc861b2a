// The compose file `phala deploy` runs: the daemon image pinned by digest (the compose-hash commits
// to this text), the sockets and state volume it needs, the token from the encrypted env; and the
// verifier's compose checks accept an app-compose made from it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { sha256 } from '@noble/hashes/sha256';
import { bytesToHex } from '@noble/hashes/utils';
import { checkCompose } from '../../src/verify/compose.ts';
import { tempDir } from '../helpers/tmp.ts';

const root = path.resolve(import.meta.dirname, '../..');
const text = readFileSync(path.join(root, 'docker-compose.yaml'), 'utf8');

test('docker-compose.yaml runs the daemon pinned by digest, with the dstack socket and a state volume', () => {
  const doc = parse(text) as { services: Record<string, { image: string; volumes: string[]; environment: Record<string, string> }> };
  const svc = doc.services.webhost!;
  assert.match(svc.image, /^[a-z0-9./_-]+@sha256:[0-9a-f]{64}$/, 'an image by digest, never a tag');
  assert.ok(svc.volumes.includes('/var/run/dstack.sock:/var/run/dstack.sock'));
  assert.ok(svc.volumes.some((v) => v.endsWith(':/var/lib/webhost')));
  assert.equal(svc.environment.TEE_DAEMON_TOKEN, '${TEE_DAEMON_TOKEN}', 'the token comes from the encrypted env, not the file');
});

test('an app-compose made from it passes the verifier\'s compose checks', () => {
  // dstack writes app-compose.json as deterministic JSON (sorted keys, compact); this is its shape.
  const appCompose = JSON.stringify({ docker_compose_file: text, manifest_version: 2, name: 'dstack-webhost', runner: 'docker-compose' });
  const hash = bytesToHex(sha256(new TextEncoder().encode(appCompose)));
  const { checks } = checkCompose(appCompose, hash, { requirePinnedImages: true });
  for (const id of ['compose.hash', 'compose.images']) assert.equal(checks.find((c) => c.id === id)?.status, 'pass', id);
  assert.match(JSON.stringify(checks.find((c) => c.id === 'compose.daemon-image')), /sha256:/);
});

test('scripts/pin-image.sh writes a released digest in, and refuses a tag', () => {
  const dir = tempDir('pin-');
  mkdirSync(path.join(dir, 'scripts'));
  copyFileSync(path.join(root, 'scripts/pin-image.sh'), path.join(dir, 'scripts/pin-image.sh'));
  copyFileSync(path.join(root, 'docker-compose.yaml'), path.join(dir, 'docker-compose.yaml'));
  const ref = `ghcr.io/example/dstack-webhost@sha256:${'ab'.repeat(32)}`;
  execFileSync('bash', [path.join(dir, 'scripts/pin-image.sh'), ref]);
  assert.match(readFileSync(path.join(dir, 'docker-compose.yaml'), 'utf8'), new RegExp(`image: ${ref.replace(/[.]/g, '\\.')}\\n`));
  assert.throws(() => execFileSync('bash', [path.join(dir, 'scripts/pin-image.sh'), 'ghcr.io/example/dstack-webhost:latest'], { stdio: 'pipe' }));
});
