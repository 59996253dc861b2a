// `dockerfile` tenants: built from the deployed source folder (and nothing else), the built image
// id recorded, run like an image tenant.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HttpError } from '../../../src/lib/http-error.ts';
import { DEFAULT_LIMITS } from '../../../src/runtimes/driver.ts';
import { BuildFailedError, createDockerDriver, type DockerStartSpec } from '../../../src/runtimes/docker/index.ts';
import type { DockerFields } from '../../../src/runtimes/docker/manifest.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { dockerTestEnv } from './docker-env.ts';

const env = dockerTestEnv('wht-dockerfile');
const d = createDockerDriver({ namespace: env.ns, pull: false });
test.after(() => d.close());

/** A deployed source folder, with a secret next to it that no build may read. */
function source(files: Record<string, string>): string {
  const root = tempDir('wht-src-');
  writeFileSync(path.join(root, 'daemon-secret.txt'), 'DAEMON-SECRET\n');
  const dir = path.join(root, 'src');
  mkdirSync(dir);
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), body.replaceAll('$BASE', env.images.busybox));
  }
  return dir;
}

function spec(project: string, sourceDir: string, fields: Partial<DockerFields> = {}, extra: Partial<DockerStartSpec> = {}): DockerStartSpec {
  return {
    project,
    runtime: 'dockerfile',
    sourceDir,
    fields: { dockerfile: 'Dockerfile', imagePort: 8080, ...fields },
    env: {},
    limits: DEFAULT_LIMITS,
    attested: false,
    dataDir: tempDir('wht-data-'),
    deploymentId: randomBytes(32).toString('hex'),
    ...extra,
  };
}

test('a Dockerfile tenant is built from its folder, recorded by image id, and served', async (t) => {
  const dir = source({
    'docker/Dockerfile.web': 'FROM $BASE\nCOPY site/ /www/\nRUN echo built-step-ran\nCMD ["httpd", "-f", "-p", "9000", "-h", "/www"]\n',
    'site/index.html': 'built from the source folder\n',
  });
  const output: string[] = [];
  const s = spec('df-web', dir, { dockerfile: 'docker/Dockerfile.web', imagePort: 9000 }, { onOutput: (_s, c) => output.push(c.toString()) });
  const t0 = performance.now();
  const prepared = await d.prepare(s);
  t.diagnostic(`dockerfile build: ${Math.round(performance.now() - t0)} ms`);
  assert.equal(prepared.digestKind, 'image-id', 'a local build has no registry digest, and says so');
  const img = prepared.images[0]!;
  assert.equal(img.built, true);
  assert.match(img.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(img.digest, img.id);
  assert.match(output.join(''), /built-step-ran/, 'the build output reaches onOutput');
  const inspected = await env.engine.inspectImage(img.id);
  assert.ok(inspected?.RepoTags?.some((tag) => tag.startsWith(`${env.ns}-build/df-web:app-`)), 'tagged so image prune keeps it');

  const inst = await d.start({ ...s, images: prepared.images });
  await inst.ready(15_000);
  const res = await fetch(`http://${inst.upstream.host}:9000/`);
  assert.equal((await res.text()).trim(), 'built from the source folder');
  assert.equal((await env.engine.inspectContainer(inst.containers[0]!.id))?.Image, img.id, 'the container runs exactly the recorded image');
  await inst.stop(0);

  await d.remove('df-web');
  assert.equal(await env.engine.inspectImage(img.id), null, 'teardown removes the built image');
});

test('a build cannot read outside its folder', async () => {
  const up = source({ Dockerfile: 'FROM $BASE\nCOPY ../daemon-secret.txt /s\nRUN cat /s\n' });
  await assert.rejects(d.prepare(spec('df-escape', up)), (err: unknown) => {
    assert.ok(err instanceof BuildFailedError, String(err));
    assert.equal(err.status, 422);
    assert.equal(err.field, 'dockerfile');
    assert.doesNotMatch(err.output, /DAEMON-SECRET/);
    return true;
  });
  // A symlink in the source pointing out of it: the builder resolves it inside the context.
  const linked = source({ Dockerfile: 'FROM $BASE\nCOPY leak /s\nRUN cat /s\n' });
  symlinkSync('../daemon-secret.txt', path.join(linked, 'leak'));
  await assert.rejects(d.prepare(spec('df-escape', linked)), (err: unknown) => err instanceof BuildFailedError && !/DAEMON-SECRET/.test(err.output));
  // The Dockerfile itself may not be a link to a file of the machine (the daemon reads it).
  const dflink = source({});
  symlinkSync('/etc/passwd', path.join(dflink, 'Dockerfile'));
  await assert.rejects(d.prepare(spec('df-escape', dflink)), (err: unknown) => err instanceof HttpError && err.status === 422 && err.code === 'symlink_refused');
  assert.equal((await d.instances('df-escape')).length, 0);
});

test('a failing build reports its output; attested builds need pinned base images', async () => {
  const broken = source({ Dockerfile: 'FROM $BASE\nRUN echo compiling && echo "error: missing semicolon" >&2 && exit 2\n' });
  await assert.rejects(d.prepare(spec('df-broken', broken)), (err: unknown) => err instanceof BuildFailedError && /missing semicolon/.test(err.output) && err.code === 'build_failed');
  const floating = source({ Dockerfile: 'FROM $BASE\n' });
  await assert.rejects(d.prepare(spec('df-att', floating, {}, { attested: true })), (err: unknown) => err instanceof HttpError && err.status === 422 && err.code === 'image_not_pinned' && err.field === 'dockerfile');
  const missing = source({});
  await assert.rejects(d.prepare(spec('df-missing', missing)), (err: unknown) => err instanceof HttpError && err.code === 'missing_dockerfile');
});
