// The developer's CLI against a real daemon: deploy a folder (packed, uploaded with a progress
// bar) and a git repository, list, logs, redeploy, rollback, remove; and every error is one clear
// line with a non-zero exit.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { testDaemon, type TestDaemon, TEST_TOKEN } from '../helpers/daemon.ts';
import { TestRepo } from '../helpers/git-repo.ts';
import { tempDir } from '../helpers/tmp.ts';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/webhost.mjs');
const EXAMPLES = path.resolve(import.meta.dirname, '../../examples');

describe('webhost CLI', () => {
  let d: TestDaemon;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    d = await testDaemon();
    // A config home of its own, so no developer config leaks in.
    env = { ...process.env, WEBHOST_URL: d.url, WEBHOST_TOKEN: TEST_TOKEN, XDG_CONFIG_HOME: tempDir('xdg-') };
    delete env.TEE_DAEMON_TOKEN;
  });
  after(() => d.stop());

  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return run(process.execPath, [BIN, ...args], { env, cwd: tempDir('cwd-') }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  }

  test('deploy a folder: packed, uploaded with progress, served', async () => {
    const r = await cli('deploy', path.join(EXAMPLES, 'hello-deno'), '--name', 'cli-hello', '--env', 'GREETING=cli');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /packed 1 files/);
    assert.match(r.stderr, /uploading \[#+\] 100%/);
    assert.match(r.stdout, /^cli-hello: deno, dev, running/);
    assert.match(r.stdout, new RegExp(`${d.url}/cli-hello/`));
    assert.equal((await (await fetch(`${d.url}/cli-hello/`)).json()).hello, 'cli');
  });

  test('deploy a git URL at a ref; redeploy says whether anything changed; rollback; ls', async () => {
    const repo = new TestRepo({ 'server.ts': 'export default () => new Response("one");\n' });
    const first = await cli('deploy', `file://${repo.dir}`, '--name', 'cli-git', '--ref', 'main');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`@${repo.head().slice(0, 12)}`));
    repo.commit({ 'server.ts': 'export default () => new Response("two");\n' });
    const re = await cli('redeploy', 'cli-git');
    assert.equal(re.code, 0, re.stderr);
    assert.doesNotMatch(re.stdout, /unchanged/);
    assert.equal(await (await fetch(`${d.url}/cli-git/`)).text(), 'two');
    assert.match((await cli('redeploy', 'cli-git')).stdout, /\(unchanged\)/);
    const rb = await cli('rollback', 'cli-git');
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(await (await fetch(`${d.url}/cli-git/`)).text(), 'one');
    const ls = await cli('ls');
    assert.match(ls.stdout, /^NAME\s+MODE\s+RUNTIME\s+STATUS/m);
    assert.match(ls.stdout, /^cli-git\s+dev\s+deno\s+running/m);
    const json = JSON.parse((await cli('ls', '--json')).stdout);
    assert.ok(json.some((p: { name: string }) => p.name === 'cli-hello'));
    repo.remove();
  });

  test('logs shows what the app printed; logs -f follows it', async () => {
    const res = await d.deployTar({ name: 'chatty' }, [
      { name: 'server.ts', content: 'export default (req: Request) => { console.log("hit " + new URL(req.url).pathname); return new Response("ok"); };\n' },
    ]);
    assert.equal(res.status, 201);
    await fetch(`${d.url}/chatty/first`);
    await new Promise((r) => setTimeout(r, 200));
    const logs = await cli('logs', 'chatty');
    assert.equal(logs.code, 0);
    assert.match(logs.stdout, /\[stdout\] hit \/first/);
    const follow = spawn(process.execPath, [BIN, 'logs', 'chatty', '-f', '-n', '1'], { env });
    let out = '';
    follow.stdout.on('data', (c) => (out += c));
    await new Promise((r) => setTimeout(r, 1500));
    await fetch(`${d.url}/chatty/second`);
    const deadline = Date.now() + 5000;
    while (!out.includes('hit /second') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    follow.kill();
    assert.match(out, /hit \/second/);
  });

  test('rm removes a project', async () => {
    const r = await cli('rm', 'cli-hello');
    assert.equal(r.code, 0);
    assert.equal((await d.api('GET', '/_api/projects/cli-hello')).status, 404);
  });

  test('errors are one line and a non-zero exit', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['deploy', path.join(EXAMPLES, 'hello-deno')], 2, /--name is required/],
      [['deploy', path.join(EXAMPLES, 'hello-deno'), '--name', 'Bad_Name'], 2, /--name' must be a DNS label/],
      [['deploy', '/no/such/folder', '--name', 'x'], 2, /neither a folder nor a git URL/],
      [['deploy', '--nope'], 2, /Unknown option/],
      [['logs'], 2, /exactly one project name/],
      [['redeploy', 'ghost'], 1, /not found \(HTTP 404/],
      [['frobnicate'], 2, /unknown command 'frobnicate'/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    }
    const unreachable = await run(process.execPath, [BIN, 'ls'], { env: { ...env, WEBHOST_URL: 'http://127.0.0.1:1' } }).catch((e) => e);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the daemon at http:\/\/127\.0\.0\.1:1/);
    const noToken = await run(process.execPath, [BIN, 'ls'], { env: { ...env, WEBHOST_TOKEN: 'x'.repeat(40) } }).catch((e) => e);
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /invalid token/);
  });

  test('an app that fails to start: one line, then its output', async () => {
    const dir = tempDir('broken-');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'server.ts'), 'throw new Error("missing config: PORT_FILE");\n');
    const r = await cli('deploy', dir, '--name', 'broken');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^webhost deploy: the app did not start/m);
    assert.match(r.stderr, /missing config: PORT_FILE/);
  });
});
