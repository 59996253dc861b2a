import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { runtimeContract, type Fixture } from './contract.ts';
import { hostileSuite } from './hostile.ts';
import { makeTenant, request, ROOT_ONLY, worldWithDriver } from './helpers.ts';

const fx: Fixture = {
  runtime: 'node',
  files: { 'app.mjs': 'web/app.mjs' },
  entry: 'app.mjs',
  failures: [
    { what: 'syntax error', fixture: 'web/syntax-error.mjs', entry: 'main.mjs', expect: /SyntaxError/ },
    { what: 'throw at import', fixture: 'web/throws.mjs', entry: 'main.mjs', expect: /about to fail[\s\S]*boom at import time/ },
    { what: 'no handler exported', fixture: 'web/no-handler.mjs', entry: 'main.mjs', expect: /must default-export a handler/ },
  ],
  runtimeEnv: ['NODE_EXTRA_CA_CERTS'],
};

runtimeContract(fx);
hostileSuite(fx, 'auto');
hostileSuite(fx, 'off');

describe('node: more of the contract', { skip: ROOT_ONLY }, () => {
  const my = worldWithDriver('node');

  it('serves the reference (req, res, env) form: node req/res, env third, headers kept, body streamed', async () => {
    const t = await makeTenant(my.world, 'node-style', { 'index.cjs': 'web/node-style.cjs' });
    const i = await my.driver.start(t.spec('node', 'index.cjs'));
    try {
      await i.ready(15_000);
      const r = await request(i.socketPath, { path: '/x?q=1' });
      assert.equal(r.text, 'node-style GET /x?q=1 hi', t.output);
      assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
      const up = await request(i.socketPath, { method: 'POST', path: '/upload', body: Buffer.alloc(3 * 1024 * 1024, 1) });
      assert.deepEqual(JSON.parse(up.text), { bytes: 3 * 1024 * 1024 });
    } finally {
      await i.stop(500);
    }
  });

  it('hands Upgrade requests to a named `upgrade` export', async () => {
    const t = await makeTenant(my.world, 'node-ws', { 'app.mjs': 'web/ws-upgrade.mjs' });
    const i = await my.driver.start(t.spec('node', 'app.mjs'));
    try {
      await i.ready(15_000);
      const got = await new Promise<Buffer>((resolve, reject) => {
        const s = net.connect(i.socketPath, () => {
          s.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
        });
        let buf = Buffer.alloc(0);
        s.on('data', (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          if (buf.includes('hello')) {
            s.destroy();
            resolve(buf);
          }
        });
        s.on('error', reject);
      });
      const text = got.toString('latin1');
      assert.match(text, /^HTTP\/1.1 101 /);
      assert.match(text, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
      assert.ok(text.endsWith('hello'));
    } finally {
      await i.stop(500);
    }
  });

  it('prepare() installs package.json dependencies with npm, as the tenant, inside the sandbox', async () => {
    const t = await makeTenant(my.world, 'node-deps', {
      'app.mjs': 'web/uses-ms.mjs',
      'package.json': {
        text: JSON.stringify({
          name: 'deps',
          version: '1.0.0',
          dependencies: { ms: '2.1.3' },
          scripts: {
            // runs during the install: records who it ran as and whether it could see the daemon's token
            postinstall: `node -e "const fs=require('fs');let t='refused';try{fs.readFileSync(process.argv[1]);t='READ'}catch{};fs.writeFileSync('install-report.json',JSON.stringify({uid:process.getuid(),token:t}))" ${path.join(my.world.stateDir, 'token')}`,
          },
        }),
      },
    });
    const spec = t.spec('node', 'app.mjs');
    await my.driver.prepare(spec);
    const report = JSON.parse(await readFile(path.join(t.sourceDir, 'install-report.json'), 'utf8')) as { uid: number; token: string };
    assert.deepEqual(report, { uid: t.uid, token: 'refused' });
    const i = await my.driver.start(spec);
    try {
      await i.ready(15_000);
      assert.equal((await request(i.socketPath, { path: '/' })).text, 'ms says 1m', t.output);
    } finally {
      await i.stop(500);
    }
  });

  it('prepare() is a no-op without dependencies, and a failing npm install says why', async () => {
    const none = await makeTenant(my.world, 'node-nodeps', { 'app.mjs': 'web/app.mjs', 'package.json': { text: '{"name":"x","type":"module"}' } });
    await my.driver.prepare(none.spec('node', 'app.mjs'));
    const bad = await makeTenant(my.world, 'node-baddeps', {
      'app.mjs': 'web/app.mjs',
      'package.json': { text: JSON.stringify({ name: 'x', dependencies: { 'webhost-no-such-package-7f3a9c': '1.0.0' } }) },
    });
    await assert.rejects(my.driver.prepare(bad.spec('node', 'app.mjs')), (err: Error) => {
      assert.match(err.message, /^npm install --omit=dev failed \(exit code \d+\)/);
      assert.match(err.message, /404|not found|E404/i);
      assert.match(err.message, /webhost-no-such-package-7f3a9c/);
      return true;
    });
  });
});
