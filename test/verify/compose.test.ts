import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractBootIdentity } from '../../src/verify/boot-identity.ts';
import { checkCompose, composeHash, findDaemonService, isDigestPinned, parseAppCompose } from '../../src/verify/compose.ts';
import { parseEventLog } from '../../src/verify/eventlog.ts';
import { fixtureBytes, fixtureText, getQuote, OLD } from './helpers.ts';

const measured = (() => {
  const r = extractBootIdentity(parseEventLog(getQuote(OLD).eventLog));
  assert.ok(r.ok);
  return r.identity.composeHash;
})();
const raw = fixtureText('dstack-old-app-compose.json');
const D = 'a'.repeat(64);

function appCompose(compose: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ manifest_version: 2, name: 'x', runner: 'docker-compose', docker_compose_file: compose, ...extra });
}

test('sha256 of the exact app-compose bytes equals the measured compose-hash', () => {
  assert.equal(composeHash(raw), measured);
  assert.equal(composeHash(fixtureBytes('dstack-old-app-compose.json')), measured, 'bytes and their UTF-8 text hash alike');
  const r = checkCompose(raw, measured, { requirePinnedImages: true });
  const c = r.checks.find((x) => x.id === 'compose.hash')!;
  assert.equal(c.status, 'pass');
  assert.equal(c.expected, measured);
});

test('a re-serialised app-compose does not match', () => {
  const reserialised = JSON.stringify(JSON.parse(raw), null, 2);
  assert.deepEqual(JSON.parse(reserialised), JSON.parse(raw));
  const r = checkCompose(reserialised, measured, { requirePinnedImages: true });
  const c = r.checks.find((x) => x.id === 'compose.hash')!;
  assert.equal(c.status, 'fail');
  assert.equal(c.expected, measured);
  assert.equal(c.actual, composeHash(reserialised));
  // Its contents are then unbound: image checks skip rather than judge a document the CVM never ran.
  assert.equal(r.checks.find((x) => x.id === 'compose.images')!.status, 'skip');
});

test('the fixture runs an image by tag: compose.images fails (or warns by policy)', () => {
  const strict = checkCompose(raw, measured, { requirePinnedImages: true }).checks.find((x) => x.id === 'compose.images')!;
  assert.equal(strict.status, 'fail');
  assert.match(strict.summary, /jupyter \(quay.io\/jupyter\/base-notebook\)/);
  const lax = checkCompose(raw, measured, { requirePinnedImages: false }).checks.find((x) => x.id === 'compose.images')!;
  assert.equal(lax.status, 'warn');
});

test('digest pinning is recognised exactly', () => {
  assert.ok(isDigestPinned(`ghcr.io/a/b@sha256:${D}`));
  assert.ok(isDigestPinned(`ghcr.io/a/b:1.0@sha256:${D}`));
  assert.ok(!isDigestPinned('ghcr.io/a/b:latest'));
  assert.ok(!isDigestPinned(`ghcr.io/a/b@sha256:${D.slice(1)}`));
  assert.ok(!isDigestPinned(`ghcr.io/a/b@sha256:${D.toUpperCase()}`));
});

test('services built at boot or without an image are not pinned; a pre-launch script is flagged', () => {
  const text = appCompose(`services:\n  web:\n    image: nginx@sha256:${D}\n  api:\n    build: .\n`);
  const c = checkCompose(text, composeHash(text), { requirePinnedImages: true }).checks.find((x) => x.id === 'compose.images')!;
  assert.equal(c.status, 'fail');
  assert.match(c.summary, /api \(built at boot\)/);
  const pre = appCompose(`services:\n  web:\n    image: nginx@sha256:${D}\n`, { pre_launch_script: 'curl x | sh' });
  const p = checkCompose(pre, composeHash(pre), { requirePinnedImages: true }).checks.find((x) => x.id === 'compose.images')!;
  assert.equal(p.status, 'warn');
  assert.match(p.summary, /pre_launch_script/);
});

test('YAML anchors and merge keys are followed', () => {
  const text = appCompose(`x-base: &base\n  image: nginx:latest\nservices:\n  web:\n    <<: *base\n`);
  const info = parseAppCompose(text);
  assert.deepEqual(info.services, [{ name: 'web', image: 'nginx:latest', build: false }]);
});

test('the daemon image is found, reported, and compared with the expected one', () => {
  const img = `ghcr.io/dstack-webhost/daemon@sha256:${D}`;
  const text = appCompose(`services:\n  webhost:\n    image: ${img}\n  db:\n    image: postgres@sha256:${'b'.repeat(64)}\n`);
  assert.equal(findDaemonService(parseAppCompose(text))?.name, 'webhost');
  const h = composeHash(text);
  const found = checkCompose(text, h, { requirePinnedImages: true });
  const d = found.checks.find((x) => x.id === 'compose.daemon-image')!;
  assert.equal(d.status, 'pass');
  assert.equal(d.actual, img);
  assert.equal(found.facts.daemon_image, img);
  assert.equal(checkCompose(text, h, { requirePinnedImages: true, daemonImage: `sha256:${D}` }).checks.find((x) => x.id === 'compose.daemon-image')!.status, 'pass');
  assert.equal(checkCompose(text, h, { requirePinnedImages: true, daemonImage: img }).checks.find((x) => x.id === 'compose.daemon-image')!.status, 'pass');
  const other = checkCompose(text, h, { requirePinnedImages: true, daemonImage: `sha256:${'c'.repeat(64)}` }).checks.find((x) => x.id === 'compose.daemon-image')!;
  assert.equal(other.status, 'fail');
  // Not a dstack-webhost CVM: skipped, unless the policy demands a daemon image.
  assert.equal(checkCompose(raw, measured, { requirePinnedImages: true }).checks.find((x) => x.id === 'compose.daemon-image')!.status, 'skip');
  assert.equal(checkCompose(raw, measured, { requirePinnedImages: true, daemonImage: `sha256:${D}` }).checks.find((x) => x.id === 'compose.daemon-image')!.status, 'fail');
});

test('malformed app-compose and a missing measurement fail by name', () => {
  const bad = checkCompose('{not json', measured, { requirePinnedImages: true });
  assert.equal(bad.checks.find((x) => x.id === 'compose.images')!.status, 'fail');
  const noMeasure = checkCompose(raw, null, { requirePinnedImages: true });
  assert.equal(noMeasure.checks.find((x) => x.id === 'compose.hash')!.status, 'fail');
  const none = checkCompose(undefined, measured, { requirePinnedImages: true });
  assert.deepEqual(none.checks.map((c) => c.status), ['skip', 'skip', 'skip']);
});
