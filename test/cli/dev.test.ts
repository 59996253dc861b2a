// `webhost dev`: the app runs locally with its deployed contract, and a changed file is served
// once the new version answers; a broken change leaves the previous version serving.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.ts';
import { freePort, eventually } from '../helpers/net.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/webhost.mjs');

test('webhost dev serves the folder and reloads on change', async () => {
  const dir = tempDir('dev-app-');
  chmodSync(dir, 0o755); // the app runs as its own (dev) user, which must be able to read it
  const file = path.join(dir, 'server.ts');
  writeFileSync(file, 'export default (req: Request, ctx: { env: Record<string, string> }) => new Response("v1 " + ctx.env.GREETING + " " + new URL(req.url).pathname);\n');
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'dev', dir, '--port', String(port), '--env', 'GREETING=hi'], { cwd: tempDir('dev-cwd-'), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  try {
    assert.equal(await eventually(() => fetch(`http://127.0.0.1:${port}/x`).then((r) => r.text()), 20_000), 'v1 hi /x');
    writeFileSync(file, 'export default () => new Response("v2");\n');
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())) === 'v2', 20_000);
    writeFileSync(file, 'throw new Error("broken on purpose");\n');
    await eventually(async () => err.includes('broken on purpose'), 20_000);
    assert.equal(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()), 'v2', 'the previous version keeps serving');
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- webhost dev said:\n${err}`);
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  }
  assert.match(err, /serving .* \(deno, server\.ts\)/);
});
