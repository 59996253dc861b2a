// GetQuote latency of the built-in dstack guest-agent simulator, over its unix socket with our
// client, against a baseline measured in the same run: a bare /Version round trip on the same
// socket (transport + JSON cost only). The difference is what building and signing a quote costs.
//
//   node --import tsx bench/quote.ts [--n 2000] [--http]
//
// Calls are sequential (one in flight), each timed on its own; the first 10% are a warm-up.

import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GuestAgentClient } from '../src/attestation/guest-agent-client.ts';
import { startSimulator } from '../src/attestation/simulator/index.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '2000' }, http: { type: 'boolean', default: false } } });
const n = Number(values.n);
if (!Number.isInteger(n) || n < 10) {
  console.error('bench/quote: --n must be an integer ≥ 10');
  process.exit(2);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(label: string, call: () => Promise<unknown>): Promise<{ label: string; p50: number; p99: number; mean: number }> {
  const warm = Math.max(5, Math.floor(n / 10));
  for (let i = 0; i < warm; i++) await call();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const sorted = samples.slice().sort((a, b) => a - b);
  return { label, p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: samples.reduce((a, b) => a + b, 0) / n };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'wh-bench-'));
const sim = await startSimulator({ dir, httpPort: values.http ? 0 : undefined });
const client = new GuestAgentClient(values.http ? sim.httpUrl! : sim.endpoint);
try {
  const reportData = () => new Uint8Array(randomBytes(64));
  const baseline = await measure('Version (baseline)', () => client.version());
  const quote = await measure('GetQuote', () => client.getQuote(reportData()));
  const inProcess = await measure('GetQuote in-process (no transport)', async () => sim.agent.getQuote(reportData()));
  const ms = (x: number) => `${x.toFixed(3)} ms`;
  console.log(`simulator GetQuote latency, ${n} sequential calls over ${values.http ? 'HTTP (loopback)' : 'the unix socket'} (node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'})`);
  for (const r of [baseline, quote, inProcess]) console.log(`  ${r.label.padEnd(36)} p50 ${ms(r.p50).padStart(10)}  p99 ${ms(r.p99).padStart(10)}  mean ${ms(r.mean).padStart(10)}`);
  console.log(`  GetQuote / Version: p50 ×${(quote.p50 / baseline.p50).toFixed(2)}, p99 ×${(quote.p99 / baseline.p99).toFixed(2)}`);
} finally {
  client.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
}
