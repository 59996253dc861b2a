// The Engine API client against a real engine: errors that say what happened, builds that see
// only their folder (and report their output when they fail), multiplexed logs, networks, volumes.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DockerEngine } from '../../../src/runtimes/docker/engine/client.ts';
import { packContext } from '../../../src/runtimes/docker/engine/build-context.ts';
import { BuildFailedError, EngineUnreachableError } from '../../../src/runtimes/docker/engine/errors.ts';
import { LABELS } from '../../../src/runtimes/docker/names.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { dockerTestEnv } from './docker-env.ts';

const env = dockerTestEnv('wht-engine');
const labels = () => ({ [LABELS.managed]: 'true', [LABELS.namespace]: env.ns });

test('an engine that is not there is a 503 that names the socket', async () => {
  const gone = new DockerEngine(path.join(tempDir(), 'no-engine.sock'));
  await assert.rejects(gone.ping(), (err: unknown) => err instanceof EngineUnreachableError && err.status === 503 && /no-engine\.sock/.test(err.message));
  await assert.rejects(gone.inspectImage('x'), EngineUnreachableError);
  gone.close();
});

test('version is negotiated; a missing image inspects as null', async () => {
  const v = await env.engine.version();
  assert.match(v.ApiVersion, /^1\.\d+$/);
  assert.match(await env.engine.apiVersion(), /^1\.(4[1-7])$/);
  assert.equal(await env.engine.inspectImage('webhost-test/does-not-exist:1'), null);
  assert.ok(await env.engine.inspectImage(env.images.busybox));
});

function context(files: Record<string, string>): string {
  const root = tempDir('wht-ctx-');
  const dir = path.join(root, 'ctx');
  mkdirSync(dir);
  // Next to the context, never inside it: what a build must not see.
  writeFileSync(path.join(root, 'secret.txt'), 'TOP-SECRET-OUTSIDE\n');
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), body);
  }
  return dir;
}

async function build(dir: string, dockerfile = 'Dockerfile'): Promise<{ id: string; output: string }> {
  return env.engine.buildImage(await packContext(dir), { dockerfile, labels: labels() });
}

test('a build sees its folder and reports its output', async () => {
  const dir = context({ Dockerfile: `FROM ${env.images.busybox}\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\n`, 'hello.txt': 'hello-from-context\n' });
  const { id, output } = await build(dir);
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.match(output, /hello-from-context/);
});

test('a build cannot read outside its folder', async () => {
  // COPY of a parent path: the builder refuses it.
  const up = context({ Dockerfile: `FROM ${env.images.busybox}\nCOPY ../secret.txt /s\nRUN cat /s\n` });
  await assert.rejects(build(up), (err: unknown) => err instanceof BuildFailedError && err.status === 422 && !/TOP-SECRET/.test(err.output));

  // Symlinks travel as links and resolve inside the context, never on the host.
  const linked = context({});
  symlinkSync('../secret.txt', path.join(linked, 'rel-link'));
  symlinkSync(path.join(path.dirname(linked), 'secret.txt'), path.join(linked, 'abs-link'));
  for (const link of ['rel-link', 'abs-link']) {
    writeFileSync(path.join(linked, 'Dockerfile'), `FROM ${env.images.busybox}\nCOPY ${link} /s\nRUN cat /s\n`);
    // The link resolves inside the context, where its target does not exist: the COPY fails.
    let output = '';
    await assert.rejects(build(linked), (err: unknown) => {
      assert.ok(err instanceof BuildFailedError, String(err));
      output = err.output;
      return true;
    });
    assert.doesNotMatch(output, /TOP-SECRET-OUTSIDE/, `${link} leaked the file outside the context`);
  }
});

test('a failing build is a 422 carrying what the build printed', async () => {
  const dir = context({ 'Dockerfile.broken': `FROM ${env.images.busybox}\nRUN echo about-to-fail && exit 3\n` });
  await assert.rejects(build(dir, 'Dockerfile.broken'), (err: unknown) => {
    assert.ok(err instanceof BuildFailedError);
    assert.equal(err.code, 'build_failed');
    assert.match(err.output, /about-to-fail/);
    assert.match(err.message, /returned a non-zero code: 3|exit code: 3/);
    return true;
  });
  const noFrom = context({ Dockerfile: `FROM webhost-test/absent:1\n` });
  await assert.rejects(build(noFrom), BuildFailedError);
});

test('logs are demultiplexed into stdout and stderr', async () => {
  const id = await env.engine.createContainer(`${env.ns}_logs`, {
    Image: env.images.busybox,
    Cmd: ['sh', '-c', 'echo to-stdout; echo to-stderr >&2; echo more-stdout'],
    Labels: labels(),
    HostConfig: { NetworkMode: 'none' },
  });
  await env.engine.startContainer(id);
  assert.equal(await env.engine.waitContainer(id, 'not-running'), 0);
  const got: Array<[string, string]> = [];
  await env.engine.logs(id, { follow: false }, (stream, chunk) => got.push([stream, chunk.toString()]));
  assert.deepEqual(got.filter(([s]) => s === 'stdout').map(([, t]) => t).join(''), 'to-stdout\nmore-stdout\n');
  assert.deepEqual(got.filter(([s]) => s === 'stderr').map(([, t]) => t).join(''), 'to-stderr\n');
  await env.engine.removeContainer(id, { force: true });
  assert.equal(await env.engine.inspectContainer(id), null);
});

test('networks and volumes: create, inspect, connect, remove', async () => {
  const net = `${env.ns}_net`;
  const netId = await env.engine.createNetwork({ Name: net, Driver: 'bridge', Labels: labels() });
  const ni = await env.engine.inspectNetwork(net);
  assert.equal(ni?.Id, netId);
  assert.equal(ni?.Labels?.[LABELS.namespace], env.ns);
  const id = await env.engine.createContainer(`${env.ns}_netc`, { Image: env.images.busybox, Cmd: ['sleep', '30'], Labels: labels(), HostConfig: { NetworkMode: 'none' } });
  await env.engine.disconnectNetwork('none', id);
  await env.engine.connectNetwork(net, id, { Aliases: ['svc'] });
  await env.engine.startContainer(id);
  const ci = await env.engine.inspectContainer(id);
  assert.match(ci?.NetworkSettings.Networks[net]?.IPAddress ?? '', /^\d+\.\d+\.\d+\.\d+$/);
  await env.engine.removeContainer(id, { force: true });
  await env.engine.removeNetwork(net);
  assert.equal(await env.engine.inspectNetwork(net), null);

  const vol = `${env.ns}_vol`;
  await env.engine.createVolume({ Name: vol, Labels: labels() });
  assert.equal((await env.engine.inspectVolume(vol))?.Labels?.[LABELS.namespace], env.ns);
  assert.ok((await env.engine.listVolumes({ label: [`${LABELS.namespace}=${env.ns}`] })).some((v) => v.Name === vol));
  await env.engine.removeVolume(vol);
  assert.equal(await env.engine.inspectVolume(vol), null);
});
