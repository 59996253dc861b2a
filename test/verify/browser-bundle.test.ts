// Browser safety of the verifier: src/verify/index.ts must bundle for `platform: 'browser'` with no
// Node builtin, and the bundle must verify the real dstack vector where no Node global exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { tempDir } from '../helpers/tmp.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/dstack/', import.meta.url));

// Node builtins that dependencies name but that the bundle replaces with an empty module, by
// the dependencies' own package.json "browser" fields (see src/verify/README.md):
//  - crypto: dcap-qvl (and brorand) fall back to pure JS (elliptic, hash.js, asn1.js);
//  - node-fetch: dcap-qvl's fetcher, unused (collateral.ts fetches with the given fetch);
//  - buffer inside bn.js: an optional require in a try/catch.
const ALLOWED_DISABLED = new Set(['(disabled):crypto', '(disabled):node_modules/node-fetch/browser.js', '(disabled):node_modules/buffer/index.js']);

const BUILTINS = new Set(builtinModules);
// The only builtin names dependencies may ask for; each resolves to a browser implementation or an empty module.
const ALLOWED_BUILTIN_REQUESTS = new Set(['buffer', 'crypto']);

async function bundle() {
  const nodeImports: string[] = [];
  const builtinRequests: { name: string; importer: string }[] = [];
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['src/verify/index.ts'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'no-node-builtins',
        setup(b) {
          b.onResolve({ filter: /^node:/ }, (args) => {
            nodeImports.push(`${args.path} from ${args.importer}`);
            return { errors: [{ text: `node builtin ${args.path} imported by ${args.importer}` }] };
          });
          // Bare builtin names could silently resolve to some npm polyfill: record every request.
          b.onResolve({ filter: /^[a-z_]+$/ }, (args) => {
            if (BUILTINS.has(args.path)) builtinRequests.push({ name: args.path, importer: path.relative(root, args.importer) });
            return undefined;
          });
        },
      },
    ],
  });
  return { result, nodeImports, builtinRequests };
}

test('src/verify bundles for the browser without any Node builtin', async () => {
  const { result, nodeImports, builtinRequests } = await bundle();
  assert.deepEqual(nodeImports, []);
  for (const r of builtinRequests) {
    assert.ok(!r.importer.startsWith('src/'), `${r.importer} imports the Node builtin ${r.name}`);
    assert.ok(ALLOWED_BUILTIN_REQUESTS.has(r.name), `${r.importer} asks for the Node builtin ${r.name}`);
  }
  assert.ok(builtinRequests.some((r) => r.name === 'crypto' && r.importer.includes('dcap-qvl')), 'the probe sees dcap-qvl asking for crypto');
  assert.deepEqual(result.errors, []);
  const inputs = Object.keys(result.metafile.inputs);
  const disabled = inputs.filter((k) => k.startsWith('(disabled):'));
  for (const d of disabled) assert.ok(ALLOWED_DISABLED.has(d), `unexpected disabled module ${d}`);
  assert.ok(!inputs.some((k) => k.startsWith('node:')));
  // dcap-qvl's `require('buffer')` is served by the npm `buffer` package, a real browser implementation.
  assert.ok(inputs.includes('node_modules/buffer/index.js'));
  // None of our own modules reaches for Node.
  const ours = inputs.filter((k) => k.startsWith('src/verify/'));
  assert.ok(ours.includes('src/verify/verify-quote.ts') && ours.includes('src/verify/dcap.ts'));
});

// Runs in a child process: reads the fixtures, then deletes every Node-only global before it
// loads the bundle, so any use of process, Buffer, global or setImmediate throws.
const RUNNER = `
import { readFileSync } from 'node:fs';
const [bundleUrl, dir] = process.argv.slice(2);
const out = process.stdout.write.bind(process.stdout);
const gq = readFileSync(dir + 'dstack-getquote-v0.5.11.json', 'utf8');
const col = readFileSync(dir + 'collateral-fmspc-90c06f.json', 'utf8');
for (const g of ['process', 'Buffer', 'global', 'setImmediate', 'clearImmediate']) delete globalThis[g];
const missing = ['process', 'Buffer', 'global', 'require'].filter((g) => typeof globalThis[g] !== 'undefined');
const V = await import(bundleUrl);
const input = V.parseQuoteInput(gq);
const opts = { collateral: JSON.parse(col), now: '2026-03-01T00:00:00Z' };
const good = await V.verifyQuote({ quote: input.quote, eventLog: input.eventLog }, opts);
const bad = input.quote.slice();
bad[V.reportOffset(4, 'rtmr3')] ^= 1;
const flipped = await V.verifyQuote({ quote: bad, eventLog: input.eventLog }, opts);
const st = (r) => Object.fromEntries(r.checks.map((c) => [c.id, c.status]));
out(JSON.stringify({ missing, good: { ok: good.ok, statuses: st(good), qvl: good.checks.find((c) => c.id === 'dcap.qvl').facts, identity: good.facts.identity }, flipped: { ok: flipped.ok, statuses: st(flipped) } }));
`;

test('the browser bundle verifies the real dstack vector with no Node globals (dcap-qvl in its pure-JS mode)', async () => {
  const { result } = await bundle();
  const dir = tempDir('wh-verify-bundle-');
  const bundlePath = path.join(dir, 'verify.mjs');
  writeFileSync(bundlePath, result.outputFiles![0]!.text);
  writeFileSync(path.join(dir, 'runner.mjs'), RUNNER);
  const run = spawnSync(process.execPath, [path.join(dir, 'runner.mjs'), pathToFileURL(bundlePath).href, fixtures], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const r = JSON.parse(run.stdout) as {
    missing: string[];
    good: { ok: boolean; statuses: Record<string, string>; qvl: { tcb_status: string; browser_mode: boolean }; identity: { app_id: string } };
    flipped: { ok: boolean; statuses: Record<string, string> };
  };
  assert.deepEqual(r.missing, [], 'Node globals were removed before loading the bundle');
  assert.equal(r.good.ok, true, JSON.stringify(r.good.statuses));
  assert.equal(r.good.qvl.tcb_status, 'UpToDate');
  assert.equal(r.good.qvl.browser_mode, true, 'dcap-qvl ran its browser (pure JS) code path');
  assert.equal(r.good.identity.app_id, '3763bc34552cf3a27ff71ad5f7a90471562a1a2d');
  for (const id of ['rtmr.0', 'rtmr.3', 'crl.signature', 'pck.chain']) assert.equal(r.good.statuses[id], 'pass', id);
  assert.equal(r.flipped.ok, false);
  assert.equal(r.flipped.statuses['quote.signature'], 'fail');
  assert.equal(r.flipped.statuses['dcap.qvl'], 'fail');
});
