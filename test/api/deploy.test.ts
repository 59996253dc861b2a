// Deploying each runtime through the API, by git and by tarball, and calling it through the
// ingress, the way a developer would.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { testDaemon, type TestDaemon } from '../helpers/daemon.ts';
import { TestRepo } from '../helpers/git-repo.ts';
import type { Member } from '../helpers/archives.ts';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples');

/** The files of an example folder as archive members. */
function exampleMembers(name: string): Member[] {
  const root = path.join(EXAMPLES, name);
  const out: Member[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const full = path.join(dir, e);
      const rel = path.relative(root, full);
      if (statSync(full).isDirectory()) walk(full);
      else out.push({ name: rel, content: readFileSync(full) });
    }
  };
  walk(root);
  return out;
}

function exampleFiles(name: string): Record<string, string> {
  return Object.fromEntries(exampleMembers(name).map((m) => [m.name, (m.content as Buffer).toString()]));
}

const RUNTIMES: Array<{ example: string; runtime: string; expect: (body: Record<string, unknown>) => void }> = [
  { example: 'hello-deno', runtime: 'deno', expect: (b) => assert.equal(b.runtime, 'deno') },
  { example: 'hello-node', runtime: 'node', expect: (b) => assert.equal(b.runtime, 'node') },
  { example: 'hello-node-http', runtime: 'node', expect: (b) => assert.equal(b.runtime, 'node-http') },
  { example: 'hello-bun', runtime: 'bun', expect: (b) => assert.equal(b.runtime, 'bun') },
  { example: 'hello-python', runtime: 'python', expect: (b) => assert.equal(b.runtime, 'python') },
  { example: 'hello-wsgi', runtime: 'python', expect: (b) => assert.equal(b.runtime, 'python-wsgi') },
];

describe('deploying every runtime', () => {
  let d: TestDaemon;
  before(async () => {
    d = await testDaemon();
  });
  after(() => d.stop());

  for (const r of RUNTIMES) {
    test(`${r.example}: by tarball (autodetected as ${r.runtime}) and by git, with env and query`, async () => {
      const name = `${r.example}-tar`;
      const res = await d.deployTar({ name, env: { GREETING: 'from-env' } }, exampleMembers(r.example));
      const body = await res.json();
      assert.equal(res.status, 201, JSON.stringify(body));
      assert.equal(body.runtime, r.runtime);
      assert.match(body.tree_hash, /^[0-9a-f]{40}$/);
      assert.equal(body.commit_sha, null, 'an upload has no checked commit');
      assert.deepEqual(body.env_names, ['GREETING']);
      assert.equal(JSON.stringify(body).includes('from-env'), false, 'env values never come back');
      const app = await fetch(`${d.url}/${name}/some/path?q=1`);
      assert.equal(app.status, 200);
      const got = await app.json();
      r.expect(got);
      assert.equal(got.hello, 'from-env');
      assert.match(String(got.path), /^\/some\/path/);

      const repo = new TestRepo(exampleFiles(r.example));
      const gname = `${r.example}-git`;
      const gres = await d.deployGit({ name: gname, source: repo.dir, ref: 'main' });
      const gbody = await gres.json();
      assert.equal(gres.status, 201, JSON.stringify(gbody));
      assert.equal(gbody.commit_sha, repo.head());
      assert.equal(gbody.tree_hash, repo.tree());
      assert.equal(gbody.tree_hash, body.tree_hash, 'the same files give the same tree hash by git and by upload');
      r.expect(await (await fetch(`${d.url}/${gname}/`)).json());
      repo.remove();
    });
  }

  test('a static site serves every file, folders serve their index.html', async () => {
    const res = await d.deployTar({ name: 'site' }, exampleMembers('static-site'));
    assert.equal(res.status, 201);
    assert.equal((await res.json()).runtime, 'static');
    const index = await fetch(`${d.url}/site/`);
    assert.match(await index.text(), /Hello from a static site/);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    const css = await fetch(`${d.url}/site/assets/css/site.css`);
    assert.equal(css.status, 200);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal((await fetch(`${d.url}/site/assets/img/logo.svg`)).status, 200);
    const docs = await fetch(`${d.url}/site/docs`, { redirect: 'manual' });
    assert.equal(docs.status, 301);
    assert.match(await (await fetch(`${d.url}/site/docs/`)).text(), /<h1>Docs<\/h1>/);
    assert.equal((await fetch(`${d.url}/site/missing.html`)).status, 404);
  });

  test('two projects of one runtime never conflict on a port', async () => {
    for (const name of ['twin-a', 'twin-b']) {
      const res = await d.deployTar({ name, runtime: 'deno' }, exampleMembers('hello-deno'));
      assert.equal(res.status, 201);
    }
    assert.equal((await fetch(`${d.url}/twin-a/`)).status, 200);
    assert.equal((await fetch(`${d.url}/twin-b/`)).status, 200);
  });

  test('a project is also reachable by host name, and on a port of its own', async () => {
    const { freePort, httpGet } = await import('../helpers/net.ts');
    const port = await freePort();
    const res = await d.deployTar({ name: 'own-origin', listen: { port } }, exampleMembers('hello-deno'));
    assert.equal(res.status, 201, await res.clone().text());
    const byHost = await httpGet(`${d.url}/x`, { host: 'own-origin.localhost' });
    assert.equal(JSON.parse(byHost.body).path, '/x');
    const byPort = await fetch(`http://127.0.0.1:${port}/y`);
    assert.equal((await byPort.json()).path, '/y');
    const clash = await d.deployTar({ name: 'port-thief', listen: { port } }, exampleMembers('hello-deno'));
    assert.equal(clash.status, 409);
    assert.equal((await clash.json()).field, 'listen.port');
  });

  test('the counter keeps its state in dataDir across redeploys and restarts', async () => {
    const res = await d.deployTar({ name: 'counter' }, exampleMembers('counter'));
    assert.equal(res.status, 201);
    for (let i = 1; i <= 3; i++) assert.equal((await (await fetch(`${d.url}/counter/`, { method: 'POST' })).json()).count, i);
    const redeploy = await d.deployTar({ name: 'counter', env: { CHANGED: '1' } }, exampleMembers('counter'));
    assert.equal(redeploy.status, 201);
    assert.equal((await (await fetch(`${d.url}/counter/`)).json()).count, 3);
    await d.restart();
    assert.equal((await (await fetch(`${d.url}/counter/`)).json()).count, 3);
  });

  test('a failing app is refused with its start-up output, and the previous version keeps serving', async () => {
    const ok = await d.deployTar({ name: 'fragile' }, exampleMembers('hello-deno'));
    assert.equal(ok.status, 201);
    const bad = await d.deployTar({ name: 'fragile' }, [{ name: 'server.ts', content: 'throw new Error("boom at import: DATABASE_URL missing");\nexport default () => new Response("x");\n' }]);
    const body = await bad.json();
    assert.equal(bad.status, 422);
    assert.equal(body.code, 'app_failed_to_start');
    assert.match(body.output, /boom at import/);
    assert.equal((await (await fetch(`${d.url}/fragile/`)).json()).runtime, 'deno');
  });
});
