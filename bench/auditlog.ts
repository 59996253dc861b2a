// Audit-log cost, against baselines measured in the same run on the same disk:
//
//   appends   AuditLog.append (validate, canonical JSON, write + fdatasync, hash, sign, atomic
//             checkpoint replace with file and folder fsync) vs. raw fdatasync'd appends of the
//             same bytes (the least any durable log must pay), and vs. that plus the same atomic
//             file replace without any hashing or signing (the durability floor of our design).
//   proofs    inclusion and consistency proof generation and verification on a large tree.
//   open      re-opening (re-hash, re-check every line, verify the checkpoint) a log of n entries.
//
//   node --import tsx bench/auditlog.ts [--n 300] [--leaves 100000] [--dir <folder on the disk to test>]
//
// Appends are sequential (one in flight, as the daemon does per project); the first 10% are a warm-up.

import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { utf8ToBytes } from '@noble/hashes/utils';
import { AuditLog } from '../src/auditlog/log.ts';
import { entryText, type NewLogEntry } from '../src/auditlog/entry.ts';
import { writeFileAtomic } from '../src/lib/atomic-file.ts';
import { MerkleTree, leafHash, verifyConsistency, verifyInclusion } from '../src/verify/tlog.ts';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '300' }, leaves: { type: 'string', default: '100000' }, dir: { type: 'string' } },
});
const n = Number(values.n);
const leaves = Number(values.leaves);
if (!Number.isInteger(n) || n < 20 || !Number.isInteger(leaves) || leaves < 2) {
  console.error('bench/auditlog: --n must be an integer ≥ 20 and --leaves ≥ 2');
  process.exit(2);
}

const ORIGIN = 'bench.example/dstack-webhost/app/1-00000000';
const seed = new Uint8Array(32).fill(7);

function entry(i: number): NewLogEntry {
  return {
    v: 1,
    time: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(),
    action: 'deploy',
    project: 'app',
    deployment: { id: 'a'.repeat(64), tree_hash: 'b'.repeat(40), commit_sha: 'c'.repeat(40), manifest_digest: 'd'.repeat(64), image_digests: [] },
    detail: { ref: 'main', n: i },
  };
}

interface Stats {
  label: string;
  p50: number;
  p99: number;
  mean: number;
}

function stats(label: string, samples: number[]): Stats {
  const sorted = samples.slice().sort((a, b) => a - b);
  const pick = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  return { label, p50: pick(50), p99: pick(99), mean: samples.reduce((a, b) => a + b, 0) / samples.length };
}

async function timeEach(count: number, call: (i: number) => Promise<unknown> | unknown): Promise<number[]> {
  const warm = Math.max(2, Math.floor(count / 10));
  for (let i = 0; i < warm; i++) await call(i);
  const samples: number[] = [];
  for (let i = warm; i < warm + count; i++) {
    const t = process.hrtime.bigint();
    await call(i);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return samples;
}

const base = mkdtempSync(path.join(values.dir ?? os.tmpdir(), 'wh-bench-auditlog-'));
try {
  // ---- appends: the three variants interleaved, so disk noise and drift hit them alike ----
  const warm = Math.max(2, Math.floor(n / 10));
  const lines = Array.from({ length: n + warm }, (_, i) => entryText(entry(i), i, 'app'));
  const raw = await open(path.join(base, 'raw.jsonl'), 'w');
  const floorLog = await open(path.join(base, 'floor.jsonl'), 'w');
  const floorDir = path.join(base, 'floor');
  await mkdir(floorDir);
  const offsets = { raw: 0, floor: 0 };
  const durableAppend = async (fh: typeof raw, which: 'raw' | 'floor', i: number) => {
    const buf = Buffer.from(lines[i]! + '\n');
    await fh.write(buf, 0, buf.length, offsets[which]);
    offsets[which] += buf.length;
    await fh.datasync();
  };
  const cpSized = 'x'.repeat(180); // about a checkpoint's size
  const logDir = path.join(base, 'log');
  const log = await AuditLog.open(logDir, { origin: ORIGIN, seed, project: 'app' });
  const variants: [string, (i: number) => Promise<unknown>][] = [
    ['raw append + fdatasync (baseline)', (i) => durableAppend(raw, 'raw', i)],
    ['+ atomic replace, no crypto (floor)', async (i) => {
      await durableAppend(floorLog, 'floor', i);
      await writeFileAtomic(path.join(floorDir, 'checkpoint'), cpSized + i);
    }],
    ['AuditLog.append', (i) => log.append(entry(i))],
  ];
  const samples: number[][] = variants.map(() => []);
  for (let i = 0; i < warm + n; i++) {
    for (let v = 0; v < variants.length; v++) {
      const t = process.hrtime.bigint();
      await variants[v]![1](i);
      if (i >= warm) samples[v]!.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  const [baseline, floor, appendStats] = variants.map(([label], v) => stats(label, samples[v]!)) as [Stats, Stats, Stats];
  await raw.close();
  await floorLog.close();
  const size = log.size;
  await log.release();

  // ---- re-open (recovery check) of the log just written ----
  const t0 = process.hrtime.bigint();
  const reopened = await AuditLog.open(logDir, { origin: ORIGIN, seed, project: 'app' });
  const openMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await reopened.release();

  // ---- proofs on a large in-memory tree ----
  let t = process.hrtime.bigint();
  const tree = new MerkleTree();
  for (let i = 0; i < leaves; i++) tree.append(leafHash(utf8ToBytes(`entry ${i}`)));
  const buildMs = Number(process.hrtime.bigint() - t) / 1e6;
  const root = tree.root();
  const rnd = (k: number) => Math.floor(Math.random() * k);
  const PROOFS = 2000;
  const incl: { i: number; proof: Uint8Array[] }[] = [];
  const inclGen = await timeEach(PROOFS, () => {
    const i = rnd(leaves);
    incl.push({ i, proof: tree.inclusionProof(i) });
  });
  const inclVer = await timeEach(PROOFS, (k) => {
    const { i, proof } = incl[k % incl.length]!;
    if (!verifyInclusion(i, leaves, tree.leaf(i), proof, root)) throw new Error('inclusion proof failed');
  });
  const cons: { m: number; proof: Uint8Array[]; rm: Uint8Array }[] = [];
  const consGen = await timeEach(PROOFS, () => {
    const m = 1 + rnd(leaves - 1);
    cons.push({ m, proof: tree.consistencyProof(m), rm: tree.root(m) });
  });
  const consVer = await timeEach(PROOFS, (k) => {
    const { m, proof, rm } = cons[k % cons.length]!;
    if (!verifyConsistency(m, leaves, rm, root, proof)) throw new Error('consistency proof failed');
  });
  t = process.hrtime.bigint();
  for (let k = 0; k < PROOFS; k++) tree.root(1 + rnd(leaves));
  const histRootUs = (Number(process.hrtime.bigint() - t) / 1e3) / PROOFS;

  // ---- report ----
  const ms = (x: number) => `${x.toFixed(3)} ms`;
  const us = (x: number) => `${(x * 1000).toFixed(1)} µs`;
  console.log(`audit log, ${n} sequential appends on ${base} (node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'})`);
  for (const r of [baseline, floor, appendStats]) {
    console.log(`  ${r.label.padEnd(36)} p50 ${ms(r.p50).padStart(10)}  p99 ${ms(r.p99).padStart(10)}  mean ${ms(r.mean).padStart(10)}  ${(1000 / r.mean).toFixed(0).padStart(6)}/s`);
  }
  console.log(`  append / raw baseline: mean ×${(appendStats.mean / baseline.mean).toFixed(2)}, p50 ×${(appendStats.p50 / baseline.p50).toFixed(2)}`);
  console.log(`  append / floor (same fsyncs, no crypto): mean ×${(appendStats.mean / floor.mean).toFixed(2)}`);
  console.log(`  re-open of ${size} entries (re-hash, re-check, verify checkpoint): ${ms(openMs)}`);
  console.log(`proofs on a ${leaves}-leaf tree (built in ${ms(buildMs)}), ${PROOFS} random each`);
  for (const [label, s] of [['inclusion proof: generate', inclGen], ['inclusion proof: verify', inclVer], ['consistency proof: generate', consGen], ['consistency proof: verify', consVer]] as const) {
    const r = stats(label, s);
    console.log(`  ${label.padEnd(30)} p50 ${us(r.p50).padStart(10)}  p99 ${us(r.p99).padStart(10)}  mean ${us(r.mean).padStart(10)}`);
  }
  console.log(`  historical root (random size)  mean ${histRootUs.toFixed(1).padStart(7)} µs`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
