// Changing a project's env: a new deployment of the same files; the app sees the new values; the
// API, the deployment record and the audit log show names and a keyed digest, never a value.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { testDaemon, type TestDaemon } from '../helpers/daemon.ts';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

describe('env changes', () => {
  let d: TestDaemon;
  before(async () => {
    d = await testDaemon();
    const res = await d.deployTar({ name: 'cfg', env: { TOKEN_A: 'first-secret-value' } }, [
      { name: 'server.ts', content: 'export default (_r: Request, ctx: { env: Record<string, string> }) => Response.json(ctx.env);\n' },
    ]);
    assert.equal(res.status, 201);
    assert.equal((await d.api('POST', '/_api/projects/cfg/promote')).status, 200);
  });
  after(() => d.stop());

  test('the app sees the new env; the record and the log change digest; no value is shown anywhere', async () => {
    const before = await (await d.api('GET', '/_api/projects/cfg')).json();
    const res = await d.api('PUT', '/_api/projects/cfg/env', { env: { TOKEN_A: 'second-secret-value', NEW_ONE: 'third-secret-value' } });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.changed, true);
    assert.deepEqual(body.env_names, ['NEW_ONE', 'TOKEN_A']);
    assert.notEqual(body.deployment_id, before.deployment_id);
    assert.equal(body.tree_hash, before.tree_hash, 'the same files');
    assert.deepEqual(await (await fetch(`${d.url}/cfg/`)).json(), { TOKEN_A: 'second-secret-value', NEW_ONE: 'third-secret-value' });

    const audit = await (await fetch(`${d.url}/_api/projects/cfg/audit`)).json();
    const last = JSON.parse(audit.entries.at(-1));
    assert.equal(last.action, 'env');
    assert.deepEqual(last.detail.env_names, ['NEW_ONE', 'TOKEN_A']);
    assert.match(last.detail.env_digest, /^hmac-sha256:[0-9a-f]{64}$/);

    const again = await d.api('PUT', '/_api/projects/cfg/env', { env: { TOKEN_A: 'second-secret-value', NEW_ONE: 'third-secret-value' } });
    assert.equal((await again.json()).changed, false);

    // Nothing public, and nothing on disk but the root-only project record, holds a value.
    const publicText = (await Promise.all(['/_api/projects/cfg', '/_api/projects/cfg/audit', '/_api/verification/cfg', '/'].map((p) => fetch(`${d.url}${p}`).then((r) => r.text())))).join('\n');
    for (const v of ['first-secret-value', 'second-secret-value', 'third-secret-value']) {
      assert.ok(!publicText.includes(v), `${v} in a public response`);
      for (const file of filesUnder(d.stateDir)) {
        if (file.endsWith(path.join('projects', 'cfg.json'))) continue;
        if (file.includes(`${path.sep}simulator${path.sep}`) || file.includes(`${path.sep}nginx${path.sep}`)) continue;
        const text = readFileSync(file).toString('latin1');
        assert.ok(!text.includes(v), `${v} found in ${path.relative(d.stateDir, file)}`);
      }
    }
    for (const line of [...d.logLines, ...d.accessLines]) for (const v of ['first-secret-value', 'second-secret-value']) assert.ok(!line.includes(v), line);
  });

  test('bad env input is a 400 naming the variable', async () => {
    const res = await d.api('PUT', '/_api/projects/cfg/env', { env: { 'not valid': 'x' } });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).field, 'env.not valid');
    const missing = await d.api('PUT', '/_api/projects/cfg/env', {});
    assert.equal((await missing.json()).field, 'env');
  });
});
