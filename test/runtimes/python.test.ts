import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { PrepareFailureError, processProfiles, ProcessDriver } from '../../src/runtimes/index.ts';
import { MECHANISM } from '../../src/runtimes/isolation.ts';
import { readdir, readFile } from 'node:fs/promises';
import { runtimeContract, type Fixture } from './contract.ts';
import { hostileSuite } from './hostile.ts';
import { makeTenant, request, ROOT_ONLY, uidOf, worldWithDriver } from './helpers.ts';

const fx: Fixture = {
  runtime: 'python',
  files: { 'app.py': 'python/app.py' },
  entry: 'app.py',
  failures: [
    { what: 'syntax error', fixture: 'python/syntax_error.py', entry: 'app.py', expect: /SyntaxError/ },
    { what: 'throw at import', fixture: 'python/throws.py', entry: 'app.py', expect: /about to fail[\s\S]*RuntimeError: boom at import time/ },
    { what: 'neither app nor handle', fixture: 'python/no_handler.py', entry: 'app.py', expect: /must define a WSGI callable `app`/ },
  ],
  runtimeEnv: [],
};

runtimeContract(fx);
hostileSuite(fx, 'auto');
hostileSuite(fx, 'off');

describe('python: more of the contract', { skip: ROOT_ONLY }, () => {
  const my = worldWithDriver('python');

  it("serves the reference's async handle(): path with its query string, chunked body, headers, several Set-Cookie", async () => {
    const t = await makeTenant(my.world, 'py-handle', { 'app.py': 'python/handle_app.py' });
    const i = await my.driver.start(t.spec('python', 'app.py'));
    try {
      await i.ready(15_000);
      const reply = await new Promise<{ status: number; cookies: string[] | undefined; body: string }>((resolve, reject) => {
        const req = http.request({ socketPath: i.socketPath, method: 'POST', path: '/a/b?x=1&y=two', headers: { 'Content-Type': 'text/plain', 'X-Custom': 'v' } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, cookies: res.headers['set-cookie'], body }));
        });
        req.on('error', reject);
        req.write('hello ');
        req.write('chunked ');
        req.end('world'); // no content-length: Transfer-Encoding: chunked
      });
      assert.equal(reply.status, 200, t.output);
      assert.deepEqual(JSON.parse(reply.body), {
        method: 'POST',
        path: '/a/b?x=1&y=two',
        contentType: 'text/plain',
        hasUpper: true,
        bytes: 'hello chunked world'.length,
        greeting: 'hi',
      });
      assert.deepEqual(reply.cookies, ['a=1', 'b=2']);
    } finally {
      await i.stop(500);
    }
  });

  it('keeps a connection alive across requests and refuses a request smuggling both framings', async () => {
    const t = await makeTenant(my.world, 'py-wire', { 'app.py': 'python/app.py' });
    const i = await my.driver.start(t.spec('python', 'app.py'));
    try {
      await i.ready(15_000);
      const raw = await new Promise<string>((resolve, reject) => {
        const s = net.connect(i.socketPath, () => {
          s.write('GET /hello?a=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello?a=2 HTTP/1.1\r\nHost: x\r\n\r\n');
          s.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
        });
        let buf = '';
        s.on('data', (c: Buffer) => (buf += c.toString('latin1')));
        s.on('end', () => resolve(buf));
        s.on('error', reject);
      });
      assert.match(raw, /hello py-wire hi \?a=1[\s\S]*hello py-wire hi \?a=2[\s\S]*HTTP\/1.1 400 /);
    } finally {
      await i.stop(500);
    }
  });

  for (const sandbox of ['auto', 'off'] as const) {
    it(`stop() also ends a process that double-forked out of the instance (${sandbox === 'auto' ? 'sandbox' : 'no bubblewrap: cgroup'})`, async (t) => {
      const d = new ProcessDriver(processProfiles().find((p) => p.runtime === 'python')!, { stateDir: my.world.stateDir, sandbox });
      const report = await d.isolation();
      const contained = report.mechanisms.some((m) => (m.name === MECHANISM.namespaces || m.name === MECHANISM.pids) && m.enforced);
      if (!contained) {
        t.skip('neither a pid namespace nor a cgroup can hold the tree here');
        return;
      }
      const tn = await makeTenant(my.world, `py-escape-${sandbox}`, { 'app.py': 'python/app.py' });
      const sleepers = async () => {
        const out: number[] = [];
        for (const e of await readdir('/proc')) {
          if (!/^\d+$/.test(e)) continue;
          try {
            if ((await readFile(`/proc/${e}/cmdline`, 'utf8')) === 'sleep\x00300\x00' && (await uidOf(Number(e))) === tn.uid) out.push(Number(e));
          } catch {
            // gone
          }
        }
        return out;
      };
      const i = await d.start(tn.spec('python', 'app.py'));
      try {
        await i.ready(15_000);
        assert.equal((await request(i.socketPath, { path: '/spawn' })).text, 'spawned');
        // The grandchild execs `sleep` after the handler has answered: give it a moment to appear.
        let found: number[] = [];
        for (let n = 0; n < 60 && found.length === 0; n++) {
          found = await sleepers();
          if (!found.length) await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(found.length, 1, 'the escaping process did not start');
      } finally {
        await i.stop(1_000);
      }
      assert.deepEqual(await sleepers(), [], 'a process of the tenant outlived its instance');
    });
  }

  it('prepare() without requirements.txt does nothing; a failing pip install says why', async () => {
    const none = await makeTenant(my.world, 'py-noreq', { 'app.py': 'python/app.py' });
    await my.driver.prepare(none.spec('python', 'app.py'));
    assert.ok(!existsSync(path.join(none.sourceDir, '.python-packages')));

    const bad = await makeTenant(my.world, 'py-badreq', { 'app.py': 'python/app.py', 'requirements.txt': { text: 'this is not a requirement !!!\n' } });
    await assert.rejects(my.driver.prepare(bad.spec('python', 'app.py')), (err: unknown) => {
      assert.ok(err instanceof PrepareFailureError);
      assert.match(err.message, /^pip install -r requirements.txt failed \(exit code \d+\)/);
      assert.match(err.output, /requirement|Invalid/i);
      return true;
    });
  });
});
