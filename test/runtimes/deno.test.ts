import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deploymentCacheDir } from '../../src/runtimes/index.ts';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { runtimeContract, type Fixture } from './contract.ts';
import { hostileSuite } from './hostile.ts';
import { hostReaches, makeTenant, request, ROOT_ONLY, worldWithDriver, wsRoundTrip } from './helpers.ts';

const fx: Fixture = {
  runtime: 'deno',
  files: { 'app.mjs': 'web/app.mjs' },
  entry: 'app.mjs',
  failures: [
    { what: 'syntax error', fixture: 'web/syntax-error.mjs', entry: 'main.mjs', expect: /SyntaxError|Expression expected|Unexpected token/ },
    { what: 'throw at import', fixture: 'web/throws.mjs', entry: 'main.mjs', expect: /about to fail[\s\S]*boom at import time/ },
    { what: 'no handler exported', fixture: 'web/no-handler.mjs', entry: 'main.mjs', expect: /must default-export a handler/ },
  ],
  runtimeEnv: ['DENO_DIR', 'DENO_NO_UPDATE_CHECK', 'DENO_TLS_CA_STORE', 'RUST_BACKTRACE', 'NO_COLOR'],
};

runtimeContract(fx);
hostileSuite(fx, 'auto');
hostileSuite(fx, 'off');

describe('deno: more of the contract', { skip: ROOT_ONLY }, () => {
  const my = worldWithDriver('deno');

  it('upgrades to a WebSocket with Deno.upgradeWebSocket', async () => {
    const t = await makeTenant(my.world, 'deno-ws', { 'app.mjs': 'web/app.mjs' });
    const i = await my.driver.start(t.spec('deno', 'app.mjs'));
    try {
      await i.ready(15_000);
      assert.equal(await wsRoundTrip(i.socketPath, '/ws', 'ping'), 'echo:ping');
    } finally {
      await i.stop(500);
    }
  });

  it("resolves npm: specifiers at start, into the deployment's own cache", async (t) => {
    if (!(await hostReaches('https://registry.npmjs.org/ms'))) {
      t.skip('this machine cannot reach the npm registry');
      return;
    }
    const tn = await makeTenant(my.world, 'deno-npm', { 'server.ts': { text: "import ms from 'npm:ms@2.1.3';\nexport default () => new Response('ms ' + ms(120000));\n" } });
    for (let round = 0; round < 2; round++) {
      const i = await my.driver.start(tn.spec('deno', 'server.ts'));
      try {
        await i.ready(60_000);
        assert.equal((await request(i.socketPath, { path: '/' })).text, 'ms 2m', tn.output);
      } finally {
        await i.stop(500);
      }
    }
    const cache = deploymentCacheDir(my.world.stateDir, 'deno-npm', 'd1');
    assert.ok(existsSync(path.join(cache, 'npm')), `no npm cache in ${cache}`);
    assert.equal(statSync(cache).uid, tn.uid);
  });

  it('runs a TypeScript entry with an object default export, even under a commonjs package.json', async () => {
    const t = await makeTenant(my.world, 'deno-ts', {
      'package.json': { text: '{"name":"x","type":"commonjs"}' },
      'server.ts': { text: 'export default { fetch(req: Request, ctx: { project: { name: string } }): Response { return new Response(`ts ${ctx.project.name} ${new URL(req.url).pathname}`); } };\n' },
    });
    const i = await my.driver.start(t.spec('deno', 'server.ts'));
    try {
      await i.ready(15_000);
      const r = await request(i.socketPath, { path: '/p' });
      assert.equal(r.text, 'ts deno-ts /p', t.output);
    } finally {
      await i.stop(500);
    }
  });
});
