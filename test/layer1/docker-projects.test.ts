// Layer 1 through the daemon, on a real Docker engine with registry-free images: image, Dockerfile
// and compose tenants served through the ingress, a Layer 2 Deno app storing data through a
// compose data service it declared, zero-failure redeploys, adoption after a daemon restart, the
// compose policy, and the hostile tenant: other projects' containers, volumes and the daemon token.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { testDaemon, eventually, type TestDaemon } from '../helpers/daemon.ts';
import { ensureDocker, removeNamespace } from '../runtimes/docker/docker-env.ts';
import { ensureBaseImages } from '../runtimes/docker/base-images.ts';
import { DockerEngine, socketFromEnv } from '../../src/runtimes/docker/engine/client.ts';
import { LABELS } from '../../src/runtimes/docker/names.ts';

describe('Layer 1 projects through the daemon', () => {
  let d: TestDaemon;
  let engine: DockerEngine;
  let busybox: string;

  before(async () => {
    engine = new DockerEngine(socketFromEnv());
    await ensureDocker(engine);
    busybox = (await ensureBaseImages(engine)).busybox;
    d = await testDaemon();
  });
  after(async () => {
    await d.stop();
    await removeNamespace(engine, d.config.dockerNamespace);
    engine.close();
  });

  const containersOf = async (project: string) =>
    (await engine.listContainers({ label: [`${LABELS.namespace}=${d.config.dockerNamespace}`, `${LABELS.project}=${project}`] })).map((c) => c.Id).sort();

  test('an image tenant is served through the ingress, its digest recorded', async () => {
    const res = await d.deployGit({ name: 'img', runtime: 'image', image: busybox, image_port: 8080 });
    const body = await res.json();
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.equal(body.runtime, 'image');
    const r = await fetch(`${d.url}/img/`);
    assert.equal(await r.text(), 'hello from busybox\n');
    const deployments = await (await d.api('GET', '/_api/projects/img/deployments')).json();
    assert.equal(deployments[0].kind, 'image');
    const sub = await (await fetch(`${d.url}/_api/substrate`)).json();
    const image = sub.runtimes.find((x: { runtime: string }) => x.runtime === 'image');
    assert.equal(image.available, true);
  });

  test('a Dockerfile tenant is built from its source and served', async () => {
    const res = await d.deployTar({ name: 'built' }, [
      { name: 'Dockerfile', content: `FROM ${busybox}\nRUN echo built from a Dockerfile > /www/index.html\n` },
    ]);
    const body = await res.json();
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.equal(body.runtime, 'dockerfile');
    assert.equal(await (await fetch(`${d.url}/built/`)).text(), 'built from a Dockerfile\n');
  });

  test('a compose project with two services, and a Layer 2 Deno app storing data through the data service', async () => {
    const compose = {
      services: {
        web: { image: busybox, environment: { DATA_HOST: 'data' } },
        data: { image: busybox, volumes: ['kv:/data'] },
      },
      volumes: { kv: {} },
      'x-webhost': { service: 'web', port: 8080 },
    };
    const res = await d.deployGit({ name: 'store', runtime: 'compose', compose });
    const body = await res.json();
    assert.equal(res.status, 201, JSON.stringify(body));
    const app = await d.deployTar({ name: 'notes', uses: { STORE: 'store:data:8080' } }, [
      {
        name: 'server.ts',
        content: `export default async (req: Request, ctx: { env: Record<string, string> }) => {
  const url = new URL(req.url);
  if (url.pathname === '/env') return new Response(ctx.env.STORE);
  const kv = ctx.env.STORE_URL + '/cgi-bin/kv';
  if (req.method === 'POST') return new Response(await (await fetch(kv, { method: 'POST', body: await req.text() })).text());
  return new Response(await (await fetch(kv)).text());
};\n`,
      },
    ]);
    assert.equal(app.status, 201, await app.clone().text());
    assert.equal(await (await fetch(`${d.url}/notes/`, { method: 'POST', body: 'remember me' })).text(), 'stored\n');
    assert.equal(await (await fetch(`${d.url}/notes/`)).text(), 'remember me');
    // The compose entry reaches the data service by name too.
    assert.equal(await (await fetch(`${d.url}/store/cgi-bin/fetch`)).text(), 'remember me');
  });

  test('a Layer 2 app cannot reach containers or service relays it did not declare', async () => {
    const relay = await (await fetch(`${d.url}/notes/env`)).text();
    const dataIp = (await engine.listContainers({ label: [`${LABELS.namespace}=${d.config.dockerNamespace}`, `${LABELS.project}=store`, `${LABELS.service}=data`] }))
      .map((c) => Object.values((c as unknown as { NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> } }).NetworkSettings?.Networks ?? {})[0]?.IPAddress)
      .find(Boolean);
    assert.ok(dataIp, 'the data container has an address');
    const probe = await d.deployTar({ name: 'snoop' }, [
      {
        name: 'server.ts',
        content: `export default async (req: Request) => {
  const target = new URL(req.url).searchParams.get('t')!;
  try { await fetch('http://' + target + '/cgi-bin/kv', { signal: AbortSignal.timeout(2000) }); return new Response('REACHED'); }
  catch { return new Response('BLOCKED'); }
};\n`,
      },
    ]);
    assert.equal(probe.status, 201);
    const sub = await (await fetch(`${d.url}/_api/substrate`)).json();
    if (sub.layer2_to_layer1.enforced) {
      assert.equal(await (await fetch(`${d.url}/snoop/?t=${dataIp}:8080`)).text(), 'BLOCKED', 'another project\'s container by IP');
      assert.equal(await (await fetch(`${d.url}/snoop/?t=${relay}`)).text(), 'BLOCKED', 'a relay it did not declare');
      // The declaring app still can.
      assert.equal(await (await fetch(`${d.url}/notes/`)).text(), 'remember me');
    } else {
      assert.match(sub.layer2_to_layer1.note, /not/);
    }
  });

  test("a project's volume is its own: the same name in another project is another volume", async () => {
    const a = await d.deployGit({ name: 'vol-a', runtime: 'image', image: busybox, image_port: 8080, volumes: [{ name: 'kv', mount: '/data' }] });
    const b = await d.deployGit({ name: 'vol-b', runtime: 'image', image: busybox, image_port: 8080, volumes: [{ name: 'kv', mount: '/data' }] });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.equal(await (await fetch(`${d.url}/vol-a/cgi-bin/kv`, { method: 'POST', body: 'secret of a' })).text(), 'stored\n');
    assert.equal(await (await fetch(`${d.url}/vol-b/cgi-bin/kv`)).text(), 'empty\n');
    // Names are namespaced by project, so none can reach another project's volume; paths and odd names are refused outright.
    for (const name of ['../kv', '/var/lib/docker', 'x/y', '']) {
      const bad = await d.deployGit({ name: 'vol-c', runtime: 'image', image: busybox, image_port: 8080, volumes: [{ name, mount: '/data' }] });
      assert.ok(bad.status >= 400 && bad.status < 500, `${name}: ${bad.status}`);
      assert.match((await bad.json()).field, /^volumes/);
    }
  });

  test('the daemon token and other daemon secrets cannot be passed through', async () => {
    for (const name of ['TEE_DAEMON_TOKEN', 'WEBHOST_STATE_DIR', 'DSTACK_SIMULATOR_ENDPOINT']) {
      const res = await d.deployGit({ name: 'leaky', runtime: 'image', image: busybox, image_port: 8080, env_passthrough: [name] });
      assert.ok(res.status >= 400 && res.status < 500, `${name}: ${res.status}`);
      assert.match((await res.json()).field, /^env_passthrough/);
    }
    assert.equal((await d.api('GET', '/_api/projects/leaky')).status, 404);
  });

  test('a compose file with a forbidden key is refused before anything runs, naming the key', async () => {
    const forbidden: Array<[Record<string, unknown>, RegExp]> = [
      [{ privileged: true }, /services\.web\.privileged/],
      [{ network_mode: 'host' }, /services\.web\.network_mode/],
      [{ pid: 'host' }, /services\.web\.pid/],
      [{ volumes: ['/var/run/docker.sock:/var/run/docker.sock'] }, /services\.web\.volumes/],
      [{ volumes: ['/etc:/host-etc'] }, /services\.web\.volumes/],
      [{ devices: ['/dev/mem:/dev/mem'] }, /services\.web\.devices/],
      [{ cap_add: ['SYS_ADMIN'] }, /services\.web\.cap_add/],
    ];
    const before = await containersOf('evil');
    for (const [extra, field] of forbidden) {
      const res = await d.deployGit({ name: 'evil', runtime: 'compose', compose: { services: { web: { image: busybox, ...extra } }, 'x-webhost': { service: 'web', port: 8080 } } });
      const body = await res.json();
      assert.ok(res.status >= 400 && res.status < 500, JSON.stringify(body));
      assert.match(body.field, field);
    }
    assert.deepEqual(await containersOf('evil'), before);
  });

  test('a redeploy under continuous load loses no request; a daemon restart adopts the containers', async () => {
    let running = true;
    let failures = 0;
    let total = 0;
    const seen = new Set<string>();
    const agent = new http.Agent({ keepAlive: true });
    const loop = (async () => {
      while (running) {
        const r = await new Promise<{ status: number; body: string }>((resolve) =>
          http
            .get(`${d.url}/img/cgi-bin/env?V`, { agent }, (res) => {
              let b = '';
              res.on('data', (c) => (b += c));
              res.on('end', () => resolve({ status: res.statusCode!, body: b }));
            })
            .on('error', () => resolve({ status: 0, body: '' })),
        );
        total++;
        if (r.status !== 200) failures++;
        else seen.add(r.body.trim());
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const re = await d.deployGit({ name: 'img', runtime: 'image', image: busybox, image_port: 8080, env: { V: 'two' } });
    assert.equal(re.status, 201, await re.clone().text());
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await loop;
    agent.destroy();
    assert.equal(failures, 0, `${failures} of ${total} failed`);
    assert.ok(seen.has('two'), [...seen].join());

    const before = await eventually(async () => {
      const ids = await containersOf('img');
      return ids.length === 1 ? ids : undefined;
    }, 20_000);
    await d.restart();
    assert.deepEqual(await containersOf('img'), before, 'the same container, adopted');
    assert.equal(await (await fetch(`${d.url}/img/cgi-bin/env?V`)).text(), 'two\n');
    assert.equal(await (await fetch(`${d.url}/notes/`)).text(), 'remember me', 'the Layer 2 app reaches its service after the restart');
  });

  test('teardown removes the containers', async () => {
    assert.equal((await d.api('DELETE', '/_api/projects/built')).status, 200);
    assert.deepEqual(await containersOf('built'), []);
  });
});
