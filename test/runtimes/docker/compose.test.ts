// `compose` tenants: two services where the entry reaches the data service by name; a
// health-gated replacement (the new set is healthy before the old one stops, and a client that
// keeps calling sees no failure); stop-first updates; a forbidden file refused before anything
// runs; and the files we accept are valid for docker-compose too.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HttpError } from '../../../src/lib/http-error.ts';
import { DEFAULT_LIMITS } from '../../../src/runtimes/driver.ts';
import { createDockerDriver, type DockerStartSpec, type DockerUpstream } from '../../../src/runtimes/docker/index.ts';
import { LABELS } from '../../../src/runtimes/docker/names.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { dockerTestEnv } from './docker-env.ts';

const env = dockerTestEnv('wht-compose');
const d = createDockerDriver({ namespace: env.ns, pull: false });
test.after(() => d.close());

// `${BASE}` and `${VERSION}` come from the project's env; `$$` is a literal `$` for the shell.
const COMPOSE = `
services:
  web:
    image: \${BASE}
    init: true
    command: ["sh", "-c", "echo $$VERSION > /www/version && exec httpd -f -p 8080 -h /www"]
    environment:
      VERSION: \${VERSION}
      DATA_HOST: data
    depends_on:
      data: { condition: service_healthy }
    ports: ["8080:8080"]
  data:
    image: \${BASE}
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes: ["store:/data"]
    mem_limit: 64m
    healthcheck:
      test: ["CMD-SHELL", "printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc -w 1 127.0.0.1 8080 | grep -q '200 OK'"]
      interval: 200ms
      retries: 25
volumes:
  store: {}
x-webhost: { service: web, port: 8080, health_path: /version }
`;

function source(text: string): string {
  const dir = path.join(tempDir('wht-compose-src-'), 'src');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'compose.yaml'), text);
  return dir;
}

function spec(project: string, version: string, sourceDir: string, extra: Partial<DockerStartSpec> = {}): DockerStartSpec {
  return {
    project,
    runtime: 'compose',
    sourceDir,
    fields: {},
    env: { BASE: env.images.busybox, VERSION: version },
    limits: DEFAULT_LIMITS,
    attested: false,
    dataDir: tempDir('wht-data-'),
    deploymentId: randomBytes(32).toString('hex'),
    ...extra,
  };
}

async function text(up: { host: string; port?: number }, p: string, init?: RequestInit): Promise<string> {
  const res = await fetch(`http://${up.host}:${up.port ?? 8080}${p}`, init);
  assert.equal(res.status, 200, `${p} answered ${res.status}`);
  return (await res.text()).trim();
}

test('two services: the entry reaches the data service by name', async (t) => {
  const src = source(COMPOSE);
  const s = spec('cmp-two', 'v1', src);
  const t0 = performance.now();
  const prepared = await d.prepare(s);
  assert.ok(prepared.warnings.some((w) => w.startsWith('services.web.ports')), 'ports are never published, and the deploy says so');
  const inst = await d.start({ ...s, images: prepared.images });
  await inst.ready(30_000);
  t.diagnostic(`compose (2 services, healthcheck-gated depends_on): prepare+start to ready in ${Math.round(performance.now() - t0)} ms`);

  assert.equal(await text(inst.upstream, '/version'), 'v1');
  const data = inst.services.data!;
  assert.match(data.host, /^\d+\.\d+\.\d+\.\d+$/);
  assert.equal(await text(data, '/cgi-bin/kv', { method: 'POST', body: 'value-from-data' }), 'stored');
  assert.equal(await text(inst.upstream, '/cgi-bin/fetch'), 'value-from-data', 'web reached data by its service name');
  assert.equal(await text(inst.upstream, '/cgi-bin/probe?data:8080'), 'REACHED');

  // Per-instance networks and names, our labels, per-service limits, health state.
  assert.deepEqual(inst.networks, [`${env.ns}_cmp-two_${inst.instanceId}_default`]);
  const dataInfo = (await env.engine.inspectContainer(inst.containers.find((c) => c.service === 'data')!.id))!;
  assert.equal(dataInfo.Name, `/${env.ns}_cmp-two_${inst.instanceId}_data`);
  assert.equal(dataInfo.HostConfig.Memory, 64 * 1024 * 1024);
  assert.equal(dataInfo.State.Health?.Status, 'healthy');
  assert.equal(dataInfo.Config.Labels?.[LABELS.service], 'data');
  assert.deepEqual(dataInfo.HostConfig.PortBindings ?? {}, {});
  const webInfo = (await env.engine.inspectContainer(inst.containers.find((c) => c.service === 'web')!.id))!;
  assert.equal(webInfo.Config.Labels?.[LABELS.role], 'entry');
  assert.deepEqual(webInfo.HostConfig.PortBindings ?? {}, {}, "the file's ports: were not published");

  await inst.stop(2_000);
  assert.equal(await env.engine.inspectNetwork(inst.networks[0]!), null, 'the instance network goes with it');
  await d.remove('cmp-two');
});

test('health-gated replacement: new set healthy before the old stops, no failed request across the swap', async (t) => {
  const src = source(COMPOSE);
  const a = await d.start(spec('cmp-swap', 'v1', src));
  await a.ready(30_000);
  await text(a.services.data!, '/cgi-bin/kv', { method: 'POST', body: 'shared-state' });

  // A client hammering the entry through whatever upstream the "ingress" currently points at.
  let current: DockerUpstream = a.upstream;
  let switched = false;
  let running = true;
  const inflight = new Map<DockerUpstream, number>();
  const failures: string[] = [];
  const results: Array<{ version: string; afterSwitch: boolean }> = [];
  const worker = async () => {
    while (running) {
      const up = current;
      const afterSwitch = switched;
      inflight.set(up, (inflight.get(up) ?? 0) + 1);
      try {
        results.push({ version: await text(up, '/version'), afterSwitch });
      } catch (err) {
        failures.push(`${up.host}: ${(err as Error).message}`);
      } finally {
        inflight.set(up, inflight.get(up)! - 1);
      }
    }
  };
  const workers = Array.from({ length: 4 }, worker);

  const t0 = performance.now();
  const b = await d.start(spec('cmp-swap', 'v2', src));
  await b.ready(30_000);
  const tReady = performance.now();
  // At the moment the new set is healthy, the old one is still serving.
  for (const c of a.containers) assert.equal((await env.engine.inspectContainer(c.id))?.State.Running, true, `old ${c.service} still running`);
  assert.equal(await text(b.upstream, '/version'), 'v2');
  assert.equal(await text(b.upstream, '/cgi-bin/fetch'), 'shared-state', 'the new set sees the project volume');

  // The caller's switch, then drain the old upstream, then stop the old set.
  current = b.upstream;
  switched = true;
  while ((inflight.get(a.upstream) ?? 0) > 0) await new Promise((r) => setTimeout(r, 5));
  await a.stop(2_000);
  const tStopped = performance.now();
  await new Promise((r) => setTimeout(r, 300));
  running = false;
  await Promise.all(workers);
  t.diagnostic(`swap: new set ready after ${Math.round(tReady - t0)} ms, old set stopped ${Math.round(tStopped - tReady)} ms later; ${results.length} requests, ${failures.length} failed`);

  assert.deepEqual(failures, []);
  assert.ok(results.some((r) => r.version === 'v1'));
  assert.ok(results.some((r) => r.version === 'v2'));
  assert.ok(results.filter((r) => r.afterSwitch).every((r) => r.version === 'v2'));
  assert.deepEqual((await d.instances('cmp-swap')).map((i) => i.instanceId), [b.instanceId]);
  await d.remove('cmp-swap');
});

test('stop-first updates stop the old set before the new one starts', async () => {
  const src = source(`${COMPOSE.replace('x-webhost: { service: web, port: 8080, health_path: /version }', 'x-webhost: { service: web, port: 8080, health_path: /version, update: stop-first }')}`);
  const a = await d.start(spec('cmp-stopfirst', 'v1', src));
  await a.ready(30_000);
  const b = await d.start(spec('cmp-stopfirst', 'v2', src));
  assert.equal(await env.engine.inspectContainer(a.containers[0]!.id), null, 'the old set is gone before the new one runs');
  await b.ready(30_000);
  assert.equal(await text(b.upstream, '/version'), 'v2');
  await d.remove('cmp-stopfirst');
});

test('a forbidden compose file is refused with a 4xx naming the key, before anything runs', async () => {
  const cases: Array<[string, string]> = [
    ['    privileged: true', 'services.web.privileged'],
    ['    network_mode: host', 'services.web.network_mode'],
    ['    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]', 'services.web.volumes[0]'],
    ['    cap_add: [SYS_ADMIN]', 'services.web.cap_add[0]'],
  ];
  for (const [line, field] of cases) {
    const src = source(`services:\n  web:\n    image: \${BASE}\n${line}\nx-webhost: { service: web, port: 8080 }\n`);
    await assert.rejects(d.start(spec('cmp-bad', 'v1', src)), (err: unknown) => err instanceof HttpError && err.status === 422 && err.field === field);
  }
  // Inline files go through the same policy.
  await assert.rejects(
    d.prepare(spec('cmp-bad', 'v1', source(''), { fields: { compose: { services: { web: { image: env.images.busybox, pid: 'host' } } }, service: 'web', servicePort: 8080 } })),
    (err: unknown) => err instanceof HttpError && err.field === 'services.web.pid',
  );
  assert.equal((await d.instances('cmp-bad')).length, 0);
  assert.equal((await env.engine.listNetworks({ label: [`${LABELS.namespace}=${env.ns}`, `${LABELS.project}=cmp-bad`] })).length, 0);
});

test('the compose files we accept are valid for docker-compose as well', () => {
  const dir = path.dirname(source(COMPOSE));
  const r = spawnSync('docker-compose', ['-f', path.join(dir, 'src', 'compose.yaml'), 'config', '-q'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, BASE: env.images.busybox, VERSION: 'v1' },
  });
  assert.ok(!r.error, `docker-compose is not installed (scripts/install-system-deps.sh installs it): ${r.error?.message}`);
  assert.equal(r.status, 0, r.stderr);
});


test('host paths: the data folder read-write, the source read-only, never through a symlink', async () => {
  const src = source(`
services:
  web:
    image: \${BASE}
    init: true
    command: ["sh", "-c", "echo written-by-container > /uploads/out.txt; cat /conf/app.conf > /www/conf; touch /conf/x 2>/dev/null && echo src=rw > /www/mode || echo src=ro > /www/mode; exec httpd -f -p 8080 -h /www"]
    volumes: ["\${WEBHOST_DATA}/uploads:/uploads", "./conf:/conf"]
x-webhost: { service: web, port: 8080 }
`);
  mkdirSync(path.join(src, 'conf'));
  writeFileSync(path.join(src, 'conf', 'app.conf'), 'from-the-source\n');
  const s = spec('cmp-binds', 'v1', src);
  const inst = await d.start(s);
  await inst.ready(15_000);
  assert.equal(await text(inst.upstream, '/conf'), 'from-the-source');
  assert.equal(await text(inst.upstream, '/mode'), 'src=ro');
  assert.equal(readFileSync(path.join(s.dataDir, 'uploads', 'out.txt'), 'utf8').trim(), 'written-by-container');
  await inst.stop(1_000);

  // A tenant can plant a symlink in its data folder; the next start must not follow it to the host.
  rmSync(path.join(s.dataDir, 'uploads'), { recursive: true });
  symlinkSync('/etc', path.join(s.dataDir, 'uploads'));
  await assert.rejects(d.start({ ...s, deploymentId: randomBytes(32).toString('hex') }), (err: unknown) => err instanceof HttpError && err.status === 422 && err.code === 'mount_refused' && err.field === 'services.web.volumes[0]');
  assert.equal((await d.instances('cmp-binds')).length, 0);
  await d.remove('cmp-binds');
});
