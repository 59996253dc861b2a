// The hostile tenant through the real daemon and its real state folder: an app deployed like any
// other tries to read the daemon's token and state, another project's source, data, env and
// socket. Every attempt is refused, in every process runtime. (The driver-level suites in
// test/runtimes play the same game per mechanism, with and without bubblewrap.)
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { testDaemon, type TestDaemon, TEST_TOKEN } from '../helpers/daemon.ts';

const PROBES: Record<string, { file: string; code: (paths: string) => string }> = {
  deno: {
    file: 'server.ts',
    code: (paths) => `const targets: string[] = ${paths};
export default async () => {
  const out: Record<string, string> = {};
  for (const t of targets) {
    try {
      if (t.endsWith('.sock')) { const c = await Deno.connect({ transport: 'unix', path: t }); c.close(); out[t] = 'OPENED'; }
      else if (t.endsWith('/')) { for await (const _ of Deno.readDir(t)) { /* listed */ } out[t] = 'OPENED'; }
      else { await Deno.readTextFile(t); out[t] = 'OPENED'; }
    } catch (e) { out[t] = 'refused: ' + (e as Error).name; }
  }
  return Response.json(out);
};\n`,
  },
  node: {
    file: 'index.mjs',
    code: (paths) => `import fs from 'node:fs'; import net from 'node:net';
const targets = ${paths};
const tryOne = (t) => new Promise((resolve) => {
  try {
    if (t.endsWith('.sock')) { const s = net.connect(t); s.on('connect', () => { s.destroy(); resolve('OPENED'); }); s.on('error', (e) => resolve('refused: ' + e.code)); return; }
    if (t.endsWith('/')) fs.readdirSync(t); else fs.readFileSync(t);
    resolve('OPENED');
  } catch (e) { resolve('refused: ' + (e.code || e.name)); }
});
export default async () => { const out = {}; for (const t of targets) out[t] = await tryOne(t); return Response.json(out); };\n`,
  },
  bun: {
    file: 'index.ts',
    code: (paths) => `import fs from 'node:fs'; import net from 'node:net';
const targets: string[] = ${paths};
const tryOne = (t: string) => new Promise<string>((resolve) => {
  try {
    if (t.endsWith('.sock')) { const s = net.connect(t); s.on('connect', () => { s.destroy(); resolve('OPENED'); }); s.on('error', (e: NodeJS.ErrnoException) => resolve('refused: ' + e.code)); return; }
    if (t.endsWith('/')) fs.readdirSync(t); else fs.readFileSync(t);
    resolve('OPENED');
  } catch (e) { resolve('refused: ' + ((e as NodeJS.ErrnoException).code ?? (e as Error).name)); }
});
export default { async fetch() { const out: Record<string, string> = {}; for (const t of targets) out[t] = await tryOne(t); return Response.json(out); } };\n`,
  },
  python: {
    file: 'app.py',
    code: (paths) => `import json, os, socket
TARGETS = ${paths}
def probe(t):
    try:
        if t.endswith('.sock'):
            s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(t); s.close()
        elif t.endswith('/'):
            os.listdir(t)
        else:
            open(t, 'rb').read()
        return 'OPENED'
    except Exception as e:
        return 'refused: ' + type(e).__name__
async def handle(method, path, headers, body, env):
    return 200, {'content-type': 'application/json'}, json.dumps({t: probe(t) for t in TARGETS}).encode()
`,
  },
};

describe('hostile tenants through the daemon', () => {
  let d: TestDaemon;
  let targets: string[];
  before(async () => {
    d = await testDaemon();
    const victim = await d.deployTar({ name: 'victim', env: { VICTIM_SECRET: 'victim-secret-value' } }, [
      { name: 'server.ts', content: 'export default () => new Response("victim");\n' },
    ]);
    assert.equal(victim.status, 201);
    await fetch(`${d.url}/victim/`);
    const dep = (await (await d.api('GET', '/_api/projects/victim')).json()).deployment_id as string;
    const runDir = path.join(d.stateDir, 'tenants', 'victim', 'run');
    const instance = readdirSync(runDir).find((n) => n.startsWith('i'))!;
    targets = [
      path.join(d.stateDir, 'token'),
      path.join(d.stateDir, 'projects', 'victim.json'),
      path.join(d.stateDir, 'projects') + '/',
      path.join(d.stateDir, 'secrets') + '/',
      path.join(d.stateDir, 'simulator', 'seed'),
      path.join(d.stateDir, 'tenants', 'victim', 'deployments', dep, 'src', 'server.ts'),
      path.join(d.stateDir, 'tenants', 'victim', 'data') + '/',
      path.join(d.stateDir, 'tenants', 'victim', 'run', instance, 'app.sock'),
      path.join(d.stateDir, 'simulator', 'dstack.sock'),
      '/var/run/docker.sock',
      '/proc/1/environ',
    ];
  });
  after(() => d.stop());

  for (const [runtime, probe] of Object.entries(PROBES)) {
    test(`${runtime}: the daemon's token and state, another project's files, data and socket, the dstack and Docker sockets — all refused`, async () => {
      const name = `hostile-${runtime}`;
      const res = await d.deployTar({ name, runtime }, [{ name: probe.file, content: probe.code(JSON.stringify(targets)) }]);
      assert.equal(res.status, 201, await res.clone().text());
      const r = await fetch(`${d.url}/${name}/`);
      const text = await r.text();
      assert.doesNotMatch(text, new RegExp(TEST_TOKEN));
      assert.doesNotMatch(text, /victim-secret-value/);
      const results = JSON.parse(text) as Record<string, string>;
      for (const t of targets) assert.match(results[t] ?? 'missing', /^refused/, `${runtime} opened ${t}`);
    });
  }
});
