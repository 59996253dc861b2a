// `image` tenants on a real engine: start → ready → HTTP by container IP; limits and confinement
// visible in the inspect and from inside; volumes scoped to the project; env_passthrough; adoption
// after a daemon restart (same container ids); a hostile tenant cannot reach another project; the
// isolation report; attested mode refuses floating tags.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { HttpError } from '../../../src/lib/http-error.ts';
import { DEFAULT_LIMITS, type Limits } from '../../../src/runtimes/driver.ts';
import { createDockerDriver, DockerStartFailure, type DockerDriver, type DockerStartSpec } from '../../../src/runtimes/docker/index.ts';
import type { DockerFields } from '../../../src/runtimes/docker/manifest.ts';
import { packFiles } from '../../../src/runtimes/docker/engine/build-context.ts';
import { LABELS } from '../../../src/runtimes/docker/names.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { dockerTestEnv } from './docker-env.ts';

const env = dockerTestEnv('wht-image');
const drivers: DockerDriver[] = [];
test.after(() => drivers.forEach((d) => d.close()));

function driver(opts: Parameters<typeof createDockerDriver>[0] = {}): DockerDriver {
  const d = createDockerDriver({ namespace: env.ns, pull: false, passthroughSource: {}, ...opts });
  drivers.push(d);
  return d;
}

const depId = () => randomBytes(32).toString('hex');

function spec(project: string, fields: Partial<DockerFields> = {}, extra: Partial<DockerStartSpec> = {}): DockerStartSpec {
  return {
    project,
    runtime: 'image',
    sourceDir: null,
    fields: { image: env.images.busybox, imagePort: 8080, ...fields },
    env: {},
    limits: DEFAULT_LIMITS,
    attested: false,
    dataDir: tempDir('wht-data-'),
    deploymentId: depId(),
    ...extra,
  };
}

async function get(host: string, path: string, init?: RequestInit): Promise<string> {
  const res = await fetch(`http://${host}:8080${path}`, init);
  return (await res.text()).trim();
}

test('an image tenant starts, becomes ready and serves HTTP on its container IP', async (t) => {
  const d = driver();
  const s = spec('img-basic', {}, { env: { GREETING: 'hi' } });
  const prepared = await d.prepare(s);
  assert.equal(prepared.images.length, 1);
  // A local import has no registry digest: the record says so instead of pretending.
  assert.equal(prepared.digestKind, 'image-id');
  assert.equal(prepared.images[0]!.digest, (await env.engine.inspectImage(env.images.busybox))!.Id);

  const t0 = performance.now();
  const inst = await d.start({ ...s, images: prepared.images });
  await inst.ready(15_000);
  t.diagnostic(`image tenant: start() to ready() in ${Math.round(performance.now() - t0)} ms`);

  assert.match(inst.upstream.host, /^\d+\.\d+\.\d+\.\d+$/);
  assert.equal(inst.upstream.port, 8080);
  assert.equal(await get(inst.upstream.host, '/'), 'hello from busybox');
  assert.equal(await get(inst.upstream.host, '/cgi-bin/env?GREETING'), 'hi');
  assert.equal(inst.containers.length, 1);
  const info = await env.engine.inspectContainer(inst.containers[0]!.id);
  assert.equal(info?.Config.Labels?.[LABELS.project], 'img-basic');
  assert.equal(info?.Config.Labels?.[LABELS.deployment], s.deploymentId);
  assert.equal(info?.Config.Labels?.[LABELS.service], 'app');

  const exits: string[] = [];
  inst.onExit((e) => exits.push(e.reason));
  await inst.stop(1_000);
  assert.deepEqual(exits, ['stopped']);
  assert.equal(await env.engine.inspectContainer(inst.containers[0]!.id), null, 'the container is removed');
  assert.equal((await d.instances('img-basic')).length, 0);
  await d.remove('img-basic');
});

test('limits and confinement are applied: visible in the inspect and from inside', async () => {
  const d = driver();
  const limits: Limits = { memoryMb: 96, pids: 48, cpus: 0.5 };
  const inst = await d.start(spec('img-limits', { readOnly: true }, { limits }));
  await inst.ready(15_000);
  const info = (await env.engine.inspectContainer(inst.containers[0]!.id))!;
  const h = info.HostConfig;
  assert.equal(h.Memory, 96 * 1024 * 1024);
  assert.equal(h.MemorySwap, 96 * 1024 * 1024, 'no swap beyond the memory limit');
  assert.equal(h.NanoCpus, 500_000_000);
  assert.equal(h.PidsLimit, 48);
  assert.deepEqual(h.CapDrop, ['ALL']);
  assert.deepEqual(h.CapAdd, ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'NET_BIND_SERVICE', 'SETGID', 'SETUID']);
  assert.deepEqual(h.SecurityOpt, ['no-new-privileges:true']);
  assert.equal(h.ReadonlyRootfs, true);
  assert.equal(h.Privileged, false);
  assert.deepEqual(h.PortBindings ?? {}, {});
  assert.equal(h.RestartPolicy?.Name, 'unless-stopped');
  assert.equal(h.LogConfig?.Config['max-size'], '10m');
  // The kernel's view: the cgroup limit, and the process's own capabilities and flags.
  const cg = `/sys/fs/cgroup/memory/docker/${info.Id}/memory.limit_in_bytes`;
  if (existsSync(cg)) assert.equal(readFileSync(cg, 'utf8').trim(), String(96 * 1024 * 1024));
  const self = await get(inst.upstream.host, '/cgi-bin/self');
  assert.match(self, /CapEff:\s+00000000000004fb/);
  assert.match(self, /NoNewPrivs:\s+1/);
  assert.match(self, /Seccomp:\s+2/);
  assert.match(self, /rootfs=ro/);
  await d.remove('img-limits');
  assert.equal((await d.instances('img-limits')).length, 0);
});

test('env_passthrough forwards allowed daemon variables only, read at start', async () => {
  const source = { REGION: 'eu-1', PARTNER_API_KEY: 'allowed-key', TEE_DAEMON_TOKEN: 'daemon-secret' };
  const d = driver({ passthroughSource: source, passthroughAllow: new Set(['PARTNER_API_KEY']) });
  const s = spec('img-pass', { envPassthrough: ['REGION', 'PARTNER_API_KEY', 'UNSET_ONE'] });
  const prepared = await d.prepare(s);
  assert.doesNotMatch(JSON.stringify(prepared), /eu-1|allowed-key/, 'prepare() results hold no values');
  const inst = await d.start({ ...s, images: prepared.images });
  await inst.ready(15_000);
  assert.equal(await get(inst.upstream.host, '/cgi-bin/env?REGION'), 'eu-1');
  assert.equal(await get(inst.upstream.host, '/cgi-bin/env?PARTNER_API_KEY'), 'allowed-key');
  assert.equal(await get(inst.upstream.host, '/cgi-bin/env?TEE_DAEMON_TOKEN'), 'unset');
  assert.equal(await get(inst.upstream.host, '/cgi-bin/env?UNSET_ONE'), 'unset');
  await inst.stop(0);

  // Even if a record skipped validation, start() re-checks every name before creating anything.
  await assert.rejects(d.start(spec('img-pass', { envPassthrough: ['TEE_DAEMON_TOKEN'] })), (err: unknown) => err instanceof HttpError && err.status === 400 && err.field === 'env_passthrough');
  await assert.rejects(d.start(spec('img-pass', { envPassthrough: ['OTHER_SECRET'] })), (err: unknown) => err instanceof HttpError && err.status === 400);
  assert.equal((await d.instances('img-pass')).length, 0);
  await d.remove('img-pass');
});

test('volumes belong to the project: namespaced, kept across deployments, never adopted from elsewhere', async () => {
  const d = driver();
  const fields = { volumes: [{ name: 'store', mount: '/data' }] };
  const a = await d.start(spec('img-vol', fields));
  await a.ready(15_000);
  assert.equal(await get(a.upstream.host, '/cgi-bin/kv', { method: 'POST', body: 'kept-value' }), 'stored');
  await a.stop(0);
  const vol = await env.engine.inspectVolume(`${env.ns}_img-vol_store`);
  assert.equal(vol?.Labels?.[LABELS.project], 'img-vol');
  const b = await d.start(spec('img-vol', fields));
  await b.ready(15_000);
  assert.equal(await get(b.upstream.host, '/cgi-bin/kv'), 'kept-value', 'a new deployment sees the project volume');
  await b.stop(0);

  // A volume with our name that we did not create for this project (e.g. planted) is refused.
  await env.engine.createVolume({ Name: `${env.ns}_img-vol2_store`, Labels: { [LABELS.namespace]: env.ns, [LABELS.managed]: 'true', [LABELS.project]: 'someone-else' } });
  await assert.rejects(d.start(spec('img-vol2', fields)), (err: unknown) => err instanceof HttpError && err.status === 409 && err.code === 'volume_conflict');
  assert.equal((await d.instances('img-vol2')).length, 0);

  await d.remove('img-vol');
  assert.equal(await env.engine.inspectVolume(`${env.ns}_img-vol_store`), null, 'teardown removes the project volume');
});

test('adoption after a daemon restart reuses the running containers', async () => {
  const first = driver();
  const s = spec('img-adopt', {}, { env: { A: '1' } });
  const prepared = await first.prepare(s);
  const started = await first.start({ ...s, images: prepared.images });
  await started.ready(15_000);
  const ids = started.containers.map((c) => c.id);
  first.close(); // the "daemon" goes away; its containers keep running

  const second = driver();
  const listed = await second.instances('img-adopt');
  assert.deepEqual(listed.map((i) => i.instanceId), [started.instanceId]);
  // A changed deployment (here: env) is not adopted.
  assert.equal(await second.adopt({ ...s, env: { A: '2' }, images: prepared.images }), null);
  assert.equal(await second.adopt({ ...s, images: undefined }), null, 'without the recorded images nothing is adopted');
  const adopted = await second.adopt({ ...s, images: prepared.images });
  assert.ok(adopted, 'the unchanged deployment is adopted');
  assert.deepEqual(adopted.containers.map((c) => c.id), ids, 'same containers, not recreated');
  assert.equal(adopted.instanceId, started.instanceId);
  await adopted.ready(5_000);
  assert.equal(adopted.upstream.host, started.upstream.host);
  assert.equal(await get(adopted.upstream.host, '/cgi-bin/env?A'), '1');

  // Leftovers of another start of the same project are cleaned up around the adopted one.
  const extra = await second.start({ ...s, images: prepared.images });
  await second.cleanup('img-adopt', [adopted.instanceId]);
  assert.equal(await env.engine.inspectContainer(extra.containers[0]!.id), null);
  assert.ok(await env.engine.inspectContainer(ids[0]!));
  await second.remove('img-adopt');
});

test('a tenant that crashes fails ready() with its exit code and output', async () => {
  const crashing = `${env.ns}/crash:1`;
  const ctx = packFiles([{ name: 'Dockerfile', body: `FROM ${env.images.busybox}\nCMD ["sh", "-c", "echo boom-before-exit; exit 7"]\n` }]);
  const { id } = await env.engine.buildImage(ctx, { dockerfile: 'Dockerfile', tag: crashing, labels: { [LABELS.managed]: 'true', [LABELS.namespace]: env.ns } });
  assert.ok(id);
  const d = driver();
  const inst = await d.start(spec('img-crash', { image: crashing }));
  await assert.rejects(inst.ready(15_000), (err: unknown) => {
    assert.ok(err instanceof DockerStartFailure, String(err));
    assert.equal(err.exitCode, 7, err.message);
    assert.equal(err.service, 'app');
    assert.match(err.output, /boom-before-exit/);
    return true;
  });
  await inst.stop(0);
  await d.remove('img-crash');
});

test("a tenant cannot reach another project's containers by IP", async () => {
  const d = driver();
  const a = await d.start(spec('img-victim'));
  const b = await d.start(spec('img-hostile'));
  await Promise.all([a.ready(15_000), b.ready(15_000)]);
  // Control: the probe works (the hostile tenant reaches its own server).
  assert.equal(await get(b.upstream.host, `/cgi-bin/probe?127.0.0.1:8080`), 'REACHED');
  assert.equal(await get(b.upstream.host, `/cgi-bin/probe?${a.upstream.host}:8080`), 'BLOCKED');
  assert.equal(await get(a.upstream.host, `/cgi-bin/probe?${b.upstream.host}:8080`), 'BLOCKED');
  // The daemon (host side) reaches both.
  assert.equal(await get(a.upstream.host, '/'), 'hello from busybox');
  await Promise.all([d.remove('img-victim'), d.remove('img-hostile')]);
});

test('isolation() says what the engine enforces; a missing OCI runtime is reported and refused', async () => {
  const iso = await driver().isolation();
  assert.equal(iso.available, true);
  assert.equal(iso.configuredRuntime, null);
  assert.equal(iso.effectiveRuntime, iso.engine?.defaultRuntime);
  assert.deepEqual(iso.reports.map((r) => r.runtime), ['image', 'dockerfile', 'compose']);
  const mech = Object.fromEntries(iso.reports[0]!.mechanisms.map((m) => [m.name, m.enforced]));
  assert.equal(mech['no-new-privileges'], true);
  assert.equal(mech['capabilities'], true);
  assert.equal(mech['egress-filter'], false, 'what is not enforced is said');

  const gvisor = driver({ containerRuntime: 'runsc' });
  const giso = await gvisor.isolation();
  if (!giso.engine?.runtimes.includes('runsc')) {
    assert.equal(giso.available, false);
    assert.equal(giso.effectiveRuntime, 'runsc');
    assert.match(giso.error ?? '', /runsc/);
    assert.equal(giso.reports[0]!.mechanisms.find((m) => m.name === 'oci-runtime:runsc')?.enforced, false);
    await assert.rejects(gvisor.start(spec('img-runsc')), (err: unknown) => err instanceof HttpError && err.status === 503 && err.code === 'runtime_unavailable');
    assert.equal((await gvisor.instances('img-runsc')).length, 0);
  }
  assert.throws(() => createDockerDriver({ containerRuntime: 'kata' }), /DAEMON_CONTAINER_RUNTIME/);
});

test('attested mode refuses a floating tag before anything runs; a missing image is a clear 422', async () => {
  const d = driver();
  await assert.rejects(d.prepare(spec('img-att', {}, { attested: true })), (err: unknown) => err instanceof HttpError && err.status === 422 && err.field === 'image' && err.code === 'image_not_pinned');
  await assert.rejects(d.start(spec('img-att', {}, { attested: true })), (err: unknown) => err instanceof HttpError && err.field === 'image');
  const pinned = `webhost-test/busybox@sha256:${'0'.repeat(64)}`;
  await assert.rejects(d.prepare(spec('img-att', { image: pinned }, { attested: true })), (err: unknown) => err instanceof HttpError && err.status === 422 && err.code === 'image_not_found' && err.field === 'image');
  assert.equal((await d.instances('img-att')).length, 0);
});

test('a crashed tenant is restarted by the engine and keeps serving; one that will not restart reports its exit', async () => {
  const events: string[] = [];
  const d = driver();
  const inst = await d.start(spec('img-crashloop', {}, { onEvent: (e) => events.push(e) }));
  await inst.ready(15_000);
  const exits: unknown[] = [];
  inst.onExit((e) => exits.push(e));
  const pid = (await env.engine.inspectContainer(inst.containers[0]!.id))!.State.Pid;
  process.kill(pid, 'SIGKILL'); // a crash, as the engine sees it (an API kill would count as a manual stop)
  const deadline = Date.now() + 10_000;
  for (;;) {
    const info = await env.engine.inspectContainer(inst.containers[0]!.id);
    if (info?.RestartCount === 1 && info.State.Running) break;
    assert.ok(Date.now() < deadline, 'the engine did not restart the container');
    await new Promise((r) => setTimeout(r, 100));
  }
  let body = '';
  for (let i = 0; i < 50 && !body; i++) body = await get(inst.upstream.host, '/').catch(() => new Promise<string>((r) => setTimeout(() => r(''), 100)));
  assert.equal(body, 'hello from busybox', 'serving again at the (re-read) upstream');
  assert.ok(events.some((e) => /exited with code 137; the engine restarts it/.test(e)), events.join('\n'));
  assert.deepEqual(exits, []);
  await d.remove('img-crashloop');

  // restart: "no" in a compose file: the exit is final and reported once.
  const once = await d.start({
    ...spec('img-once'),
    runtime: 'compose',
    fields: { compose: { services: { web: { image: env.images.busybox, restart: 'no' } } }, service: 'web', servicePort: 8080 },
  });
  await once.ready(15_000);
  const final = new Promise<{ reason: string; service: string | null; exitCode: number | null }>((resolve) => once.onExit(resolve));
  process.kill((await env.engine.inspectContainer(once.containers[0]!.id))!.State.Pid, 'SIGKILL');
  assert.deepEqual(await final, { reason: 'exited', service: 'web', exitCode: 137, oomKilled: false });
  await d.remove('img-once');
});

test("in a CVM the daemon's own container joins each instance network to reach the entry", async () => {
  // A stand-in for the daemon's container: on the engine's default bridge, with the probe CGI.
  const daemonId = await env.engine.createContainer(`${env.ns}_daemon`, {
    Image: env.images.busybox,
    Labels: { [LABELS.managed]: 'true', [LABELS.namespace]: env.ns },
    HostConfig: { NetworkMode: 'bridge' },
  });
  await env.engine.startContainer(daemonId);
  const daemonIp = (await env.engine.inspectContainer(daemonId))!.NetworkSettings.Networks.bridge!.IPAddress;
  const d = driver({ joinContainer: daemonId });
  const inst = await d.start(spec('img-joined'));
  await inst.ready(15_000);
  const joined = Object.keys((await env.engine.inspectContainer(daemonId))!.NetworkSettings.Networks);
  assert.deepEqual(joined.sort(), ['bridge', ...inst.networks].sort());
  assert.equal(await get(daemonIp, `/cgi-bin/probe?${inst.upstream.host}:8080`), 'REACHED');
  await inst.stop(0);
  assert.deepEqual(Object.keys((await env.engine.inspectContainer(daemonId))!.NetworkSettings.Networks), ['bridge'], 'and leaves it when the instance stops');
  await env.engine.removeContainer(daemonId, { force: true });
  await d.remove('img-joined');
});
