import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runtimeContract, type Fixture } from './contract.ts';
import { hostileSuite } from './hostile.ts';
import { makeTenant, request, ROOT_ONLY, worldWithDriver, wsRoundTrip } from './helpers.ts';

const fx: Fixture = {
  runtime: 'bun',
  files: { 'app.mjs': 'web/app.mjs' },
  entry: 'app.mjs',
  failures: [
    { what: 'syntax error', fixture: 'web/syntax-error.mjs', entry: 'main.mjs', expect: /error|Unexpected/i },
    { what: 'throw at import', fixture: 'web/throws.mjs', entry: 'main.mjs', expect: /about to fail[\s\S]*boom at import time/ },
    { what: 'no handler exported', fixture: 'web/no-handler.mjs', entry: 'main.mjs', expect: /must default-export a handler/ },
  ],
  runtimeEnv: ['NO_COLOR'],
};

runtimeContract(fx);
hostileSuite(fx, 'auto');
hostileSuite(fx, 'off');

describe('bun: more of the contract', { skip: ROOT_ONLY }, () => {
  const my = worldWithDriver('bun');

  it('serves an object with fetch(req, ctx) and upgrades WebSockets with ctx.upgrade and its websocket handlers', async () => {
    const t = await makeTenant(my.world, 'bun-object', { 'app.mjs': 'web/fetch-object.mjs' });
    const i = await my.driver.start(t.spec('bun', 'app.mjs'));
    try {
      await i.ready(15_000);
      assert.equal((await request(i.socketPath, { path: '/p' })).text, 'object bun-object /p', t.output);
      assert.equal(await wsRoundTrip(i.socketPath, '/ws', 'ping'), 'echo:ping');
    } finally {
      await i.stop(500);
    }
  });

  it('prepare() installs package.json dependencies with bun install, as the tenant, inside the sandbox', async () => {
    const t = await makeTenant(my.world, 'bun-deps', {
      'app.mjs': 'web/uses-ms.mjs',
      'package.json': { text: JSON.stringify({ name: 'deps', version: '1.0.0', dependencies: { ms: '2.1.3' } }) },
    });
    const spec = t.spec('bun', 'app.mjs');
    await my.driver.prepare(spec);
    const i = await my.driver.start(spec);
    try {
      await i.ready(15_000);
      assert.equal((await request(i.socketPath, { path: '/' })).text, 'ms says 1m', t.output);
    } finally {
      await i.stop(500);
    }
  });
});
