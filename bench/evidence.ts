// Attested-mode costs on the built-in simulator: building an evidence bundle (the daemon's
// /_api/verification with a fresh nonce: measure the files, quote, Info, log snapshot), fetching
// the cached un-nonced bundle, and verifying a bundle with the library (network excluded: the
// bundle carries its collateral). Baseline in the same run: GET /_api/health, a daemon round
// trip that does no attestation work.
// Usage: node --import tsx bench/evidence.ts [--n 30]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { testDaemon } from '../test/helpers/daemon.ts';
import { verifyBundle } from '../src/verify/index.ts';
import type { EvidenceBundle } from '../src/verify/bundle.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '30' } } });
const n = Number(values.n);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

const d = await testDaemon();
await d.deployTar({ name: 'bench', env: { K: 'v' } }, [{ name: 'server.ts', content: 'export default () => new Response("hi");\n' }]);
await d.api('POST', '/_api/projects/bench/promote');
// The nonce rate limit is per client; spread requests over addresses is not possible here, so keep n small or wait.
const health = await time(() => fetch(`${d.url}/_api/health`).then((r) => r.json()));
const cached = await time(() => fetch(`${d.url}/_api/verification/bench`).then((r) => r.json()));
const fresh: number[] = [];
const bundles: EvidenceBundle[] = [];
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  const r = await fetch(`${d.url}/_api/verification/bench?nonce=${randomBytes(16).toString('hex')}`);
  if (r.status === 429) {
    await new Promise((res) => setTimeout(res, 2100));
    i--;
    continue;
  }
  bundles.push((await r.json()) as EvidenceBundle);
  fresh.push(performance.now() - t0);
}
const verify: number[] = [];
for (const b of bundles) {
  const t0 = performance.now();
  const report = await verifyBundle(b, { allowSimulator: true, nonce: b.attestation.preimage.nonce! });
  verify.push(performance.now() - t0);
  if (!report.ok) throw new Error(`a bundle did not verify: ${report.summary}`);
}
await d.stop();

const f = (x: number) => x.toFixed(1).padStart(7);
console.log(`\nevidence bench — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, simulator, n=${n}, ${new Date().toISOString()}\n`);
console.log('                                             p50 ms    p99 ms   p50 ÷ baseline');
const base = pct(health, 50);
for (const [label, xs] of [
  ['GET /_api/health (baseline)', health],
  ['GET /_api/verification (cached, no nonce)', cached],
  ['GET /_api/verification?nonce (fresh quote)', fresh],
  ['verifyBundle (library, no network)', verify],
] as const) {
  console.log(`${label.padEnd(44)} ${f(pct(xs, 50))}   ${f(pct(xs, 99))}   ${(pct(xs, 50) / base).toFixed(1).padStart(8)}`);
}
process.exit(0);
