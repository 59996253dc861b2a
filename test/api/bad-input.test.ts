// Every kind of bad input gets a 4xx JSON error naming what is wrong, never a 500, and changes
// nothing on disk: the state folder is byte-for-byte what it was.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { testDaemon, type TestDaemon, TEST_TOKEN } from '../helpers/daemon.ts';
import { makeTar, type Member } from '../helpers/archives.ts';
import { TestRepo } from '../helpers/git-repo.ts';

/** A fingerprint of everything under the state folder that a deploy could touch. */
function snapshot(dir: string): string {
  const h = createHash('sha256');
  const walk = (p: string) => {
    for (const e of readdirSync(p).sort()) {
      const full = path.join(p, e);
      // Logs and the audit/simulator folders are not project state; access logs grow with every request.
      if (['logs', 'simulator', 'nginx', 'daemon.sock'].includes(path.relative(dir, full))) continue;
      const st = lstatSync(full);
      h.update(`${path.relative(dir, full)}:${st.mode}:`);
      if (st.isDirectory()) walk(full);
      else if (st.isSymbolicLink()) h.update(readlinkSync(full));
      else if (st.isFile()) h.update(readFileSync(full));
    }
  };
  walk(dir);
  return h.digest('hex');
}

describe('bad input', () => {
  let d: TestDaemon;
  before(async () => {
    d = await testDaemon({ uploadLimitBytes: 1024 * 1024 });
    const ok = await d.deployTar({ name: 'existing' }, [{ name: 'index.html', content: '<p>hi</p>' }]);
    assert.equal(ok.status, 201);
  });
  after(() => d.stop());

  async function refused(res: Response, status: number | number[], field?: string | RegExp): Promise<Record<string, unknown>> {
    const text = await res.text();
    const statuses = Array.isArray(status) ? status : [status];
    assert.ok(statuses.includes(res.status), `expected ${statuses.join('/')} got ${res.status}: ${text}`);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = JSON.parse(text);
    assert.equal(typeof body.error, 'string');
    assert.equal(typeof body.code, 'string');
    if (field instanceof RegExp) assert.match(String(body.field), field);
    else if (field) assert.equal(body.field, field);
    return body;
  }

  const page: Member[] = [{ name: 'index.html', content: 'x' }];
  const cases: Array<[string, () => Promise<Response>, number | number[], string | RegExp | undefined]> = [
    ['a name with upper case', () => d.deployGit({ name: 'Bad', source: '/x' }), 400, 'name'],
    ['a name longer than 63', () => d.deployGit({ name: 'a'.repeat(64), source: '/x' }), 400, 'name'],
    ['a reserved name', () => d.deployGit({ name: 'api', source: '/x' }), 400, 'name'],
    ['a name that is a path', () => d.deployGit({ name: '../etc', source: '/x' }), 400, 'name'],
    ['no name', () => d.deployGit({ source: '/x' }), 400, 'name'],
    ['an unknown runtime', () => d.deployGit({ name: 'r1', source: '/x', runtime: 'php' }), 400, 'runtime'],
    ['an unknown field', () => d.deployGit({ name: 'r2', source: '/x', enviroment: {} }), 400, 'enviroment'],
    ['a missing source', () => d.deployGit({ name: 'r3' }), 400, 'source'],
    ['bad JSON', () => d.api('POST', '/_api/projects', '{"name": "x",'), 400, 'body'],
    ['a JSON array', () => d.api('POST', '/_api/projects', '[]'), 400, undefined],
    ['an option-like ref', () => d.deployGit({ name: 'r4', source: '/x', ref: '--upload-pack=touch /tmp/pwned' }), 400, 'ref'],
    ['a remote-helper source', () => d.deployGit({ name: 'r5', source: 'ext::sh -c touch% /tmp/pwned' }), 400, 'source'],
    ['a repository that does not exist', () => d.deployGit({ name: 'r6', source: '/nonexistent/repo.git' }), 422, 'source'],
    ['a missing entry file', () => d.deployTar({ name: 'r7', runtime: 'deno' }, page), 400, 'entry'],
    ['an undetectable runtime', () => d.deployTar({ name: 'r8' }, [{ name: 'README.md', content: 'x' }]), 400, 'runtime'],
    ['a project.json that is not JSON', () => d.deployTar({ name: 'r9' }, [...page, { name: 'project.json', content: '{nope' }]), 400, 'project.json'],
    ['a project.json with a bad runtime', () => d.deployTar({ name: 'r10' }, [...page, { name: 'project.json', content: '{"runtime":"cobol"}' }]), 400, 'project.json:runtime'],
    ['multipart without files', () => { const f = new FormData(); f.set('manifest', '{"name":"r11"}'); return d.api('POST', '/_api/projects', f); }, 400, 'files'],
    ['multipart without manifest', () => { const f = new FormData(); f.set('files', new Blob(['x'])); return d.api('POST', '/_api/projects', f); }, 400, 'manifest'],
    ['a multipart manifest that is not JSON', () => { const f = new FormData(); f.set('manifest', 'not json{{'); f.set('files', new Blob(['x'])); return d.api('POST', '/_api/projects', f); }, 400, 'manifest'],
    ['files that are not an archive', () => d.deployTar({ name: 'r12' }, Buffer.from('plain text, no tar here')), 400, 'files'],
    ['a tarball with a .. member', async () => d.deployTar({ name: 'r13' }, await makeTar([...page, { name: '../../escape', content: 'x' }])), 400, 'files'],
    ['a tarball with an absolute member', async () => d.deployTar({ name: 'r14' }, await makeTar([{ name: '/etc/evil', content: 'x' }])), 400, 'files'],
    ['a tarball with a link out', async () => d.deployTar({ name: 'r15' }, await makeTar([...page, { name: 'token', type: 'symlink', linkname: '/proc/self/environ' }])), 400, 'files'],
    ['a tarball with a device', async () => d.deployTar({ name: 'r16' }, await makeTar([...page, { name: 'mem', type: 'character-device' }])), 400, 'files'],
    ['an oversized upload', async () => d.deployTar({ name: 'r17' }, await makeTar([{ name: 'big.bin', content: Buffer.alloc(3 * 1024 * 1024, 1) }], false)), 413, 'body'],
    ['an unsupported content type', () => d.api('POST', '/_api/projects', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'content-type'],
    ['a bad rollback target', () => d.api('POST', '/_api/projects/existing/rollback', { deployment: 'nope' }), 400, 'deployment'],
    ['a rollback with nothing earlier', () => d.api('POST', '/_api/projects/existing/rollback', {}), 409, 'deployment'],
    ['a missing project', () => d.api('DELETE', '/_api/projects/ghost'), 404, undefined],
    ['a redeploy of a missing project', () => d.api('POST', '/_api/projects/ghost/redeploy'), 404, undefined],
    ['a bad nonce', () => fetch(`${d.url}/_api/attest/existing?nonce=zz`), [400, 404], undefined],
  ];

  for (const [what, send, status, field] of cases) {
    test(`${what} → ${status}, nothing changed on disk`, async () => {
      const before = snapshot(d.stateDir);
      await refused(await send(), status, field);
      assert.equal(snapshot(d.stateDir), before, 'the state folder changed');
    });
  }

  test('every admin route refuses a caller without the token (401) or with a wrong one (403)', async () => {
    const routes: Array<[string, string]> = [
      ['GET', '/_api/projects'],
      ['POST', '/_api/projects'],
      ['DELETE', '/_api/projects/existing'],
      ['POST', '/_api/projects/existing/redeploy'],
      ['POST', '/_api/projects/existing/rollback'],
      ['POST', '/_api/projects/existing/promote'],
      ['GET', '/_api/projects/existing/logs'],
      ['GET', '/_api/projects/existing/deployments'],
    ];
    for (const [method, p] of routes) {
      const none = await fetch(`${d.url}${p}`, { method });
      assert.equal(none.status, 401, `${method} ${p} without a token`);
      const wrong = await fetch(`${d.url}${p}`, { method, headers: { authorization: `Bearer ${TEST_TOKEN}x` } });
      assert.equal(wrong.status, 403, `${method} ${p} with a wrong token`);
    }
    // The project is still there.
    assert.equal((await d.api('GET', '/_api/projects/existing')).status, 200);
  });

  test('a dev project looks exactly like a missing one to the public', async () => {
    for (const p of ['/_api/projects/existing', '/_api/projects/existing/audit', '/_api/attest/existing', '/_api/verification/existing']) {
      const dev = await fetch(`${d.url}${p}`);
      const missing = await fetch(`${d.url}${p.replace('existing', 'ghost')}`);
      assert.equal(dev.status, 404, p);
      assert.equal(missing.status, 404, p);
      assert.deepEqual(await dev.json(), await missing.json(), p);
    }
  });

  test('a failed git deploy of a new project leaves no trace', async () => {
    const repo = new TestRepo({ 'README.md': 'no runtime here' });
    const before = snapshot(d.stateDir);
    await refused(await d.deployGit({ name: 'ghost-git', source: repo.dir }), 400, 'runtime');
    assert.equal(snapshot(d.stateDir), before);
    repo.remove();
  });
});
