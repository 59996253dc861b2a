// Time from a deploy request to the first 200, for a Deno hello uploaded as a tarball, on a real
// daemon (sandboxed tenant, health-gated start). Baseline, in the same run: the same handler
// started with `deno run` directly (no daemon, no sandbox) until it answers.
// Usage: node --import tsx bench/deploy.ts [--n 15]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { testDaemon } from '../test/helpers/daemon.ts';
import { freePort } from '../test/helpers/net.ts';
import { tempDir } from '../test/helpers/tmp.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '15' }, plane: { type: 'string', default: 'node' } } });
const n = Number(values.n);
const HELLO = 'export default () => new Response("hello");\n';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function untilOk(url: string): Promise<void> {
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

// Baseline: deno run of the same handler, first 200.
const deno = path.resolve(import.meta.dirname, '../node_modules/.bin/deno');
const direct: number[] = [];
for (let i = 0; i < n; i++) {
  const dir = tempDir('bench-deno-');
  const port = await freePort();
  writeFileSync(path.join(dir, 'main.ts'), `Deno.serve({ port: ${port}, hostname: '127.0.0.1', onListen() {} }, (${HELLO.replace('export default ', '').trim().replace(/;$/, '')}));\n`);
  const t0 = performance.now();
  const child = spawn(deno, ['run', '--no-prompt', `--allow-net=127.0.0.1:${port}`, path.join(dir, 'main.ts')], { stdio: 'ignore', env: { ...process.env, RUST_BACKTRACE: '0' } });
  await untilOk(`http://127.0.0.1:${port}/`);
  direct.push(performance.now() - t0);
  child.kill();
}

const d = await testDaemon({ dataPlane: values.plane as 'node' | 'nginx' });
const deploy: number[] = [];
const firstOk: number[] = [];
for (let i = 0; i < n; i++) {
  const name = `bench-${i}`;
  const t0 = performance.now();
  const res = await d.deployTar({ name, runtime: 'deno' }, [{ name: 'server.ts', content: HELLO }]);
  if (res.status !== 201) throw new Error(`deploy ${name}: ${res.status} ${await res.text()}`);
  deploy.push(performance.now() - t0);
  await untilOk(`${d.url}/${name}/`);
  firstOk.push(performance.now() - t0);
}
await d.stop();

const f = (x: number) => x.toFixed(0).padStart(6);
console.log(`\ndeploy bench — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${values.plane} data plane, n=${n}, ${new Date().toISOString()}\n`);
console.log('                                   p50 ms   p90 ms   max ms');
console.log(`deno run directly → first 200      ${f(pct(direct, 50))}   ${f(pct(direct, 90))}   ${f(Math.max(...direct))}`);
console.log(`deploy request → 201 (tarball)     ${f(pct(deploy, 50))}   ${f(pct(deploy, 90))}   ${f(Math.max(...deploy))}`);
console.log(`deploy request → first 200         ${f(pct(firstOk, 50))}   ${f(pct(firstOk, 90))}   ${f(Math.max(...firstOk))}`);
console.log(`\nratio (deploy → first 200) ÷ (deno run → first 200), p50: ${(pct(firstOk, 50) / pct(direct, 50)).toFixed(2)}; target p50 ≤ 500 ms: ${pct(firstOk, 50) <= 500 ? 'met' : 'NOT met'}`);
process.exit(0);
