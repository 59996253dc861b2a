// verifyBundle on real evidence: quotes from the simulator (through the real guest-agent client),
// a real audit log on disk, deployment records of real git repositories. A good bundle passes
// every check; each tampering fails the check that names it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { buildEvidenceBundle } from '../../src/attestation/evidence.ts';
import { GuestAgentClient } from '../../src/attestation/guest-agent-client.ts';
import { startSimulator, type Simulator } from '../../src/attestation/simulator/index.ts';
import { AuditLog } from '../../src/auditlog/index.ts';
import { gitTreeFetcher } from '../../src/cli/commands/verify.ts';
import type { ClosedLog, EvidenceBundle, LogEntry } from '../../src/verify/bundle.ts';
import { utf8ToBytes } from '../../src/verify/bytes.ts';
import { SIMULATED_NOTICE, pass, type Report } from '../../src/verify/check.ts';
import { canonicalJson, deploymentRef, type DeploymentRecord } from '../../src/verify/deployment.ts';
import { headline } from '../../src/verify/headline.ts';
import { base64Encode, ed25519NoteKey, signCheckpoint } from '../../src/verify/note.ts';
import type { SeenCheckpoint } from '../../src/verify/log-checks.ts';
import { leafHash, merkleRoot } from '../../src/verify/tlog.ts';
import { verifyBundle, type BundleVerifyOptions } from '../../src/verify/verify-bundle.ts';
import { TestRepo } from '../helpers/git-repo.ts';
import { tempDir } from '../helpers/tmp.ts';
import { check, statuses } from './helpers.ts';

const NAME = 'demo';
const HOST = 'apps.example';
const origin = (inc: string) => `${HOST}/dstack-webhost/${NAME}/${inc}`;

// One simulator for the file (starting one is the slow part), closed after the last test.
const simulator = await startSimulator({ dir: tempDir('wh-vb-sim-') });
const agent = new GuestAgentClient(simulator.endpoint);
after(async () => {
  agent.close();
  await simulator.close();
});
async function tee(): Promise<{ sim: Simulator; agent: GuestAgentClient }> {
  return { sim: simulator, agent };
}

function repo(files: Record<string, string> = { 'main.ts': 'export default () => new Response("hello")\n' }): TestRepo {
  const r = new TestRepo(files);
  after(() => r.remove());
  return r;
}

function gitRecord(r: TestRepo, over: Partial<DeploymentRecord['source']> = {}): DeploymentRecord {
  return {
    v: 1,
    project: NAME,
    source: { kind: 'git', url: r.dir, ref: 'main', commit_sha: r.head(), tree_hash: r.tree(), ...over },
    manifest: { runtime: 'deno', entry: 'main.ts', env_names: ['API_KEY'], env_digest: 'hmac-sha256:' + 'ab'.repeat(32), listen: null, limits: { memory_mb: 256, pids: 64, cpus: 1 } },
    image_digests: [],
  };
}

const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString();

async function openLog(inc = '1-0badcafe', seed: Uint8Array = randomBytes(32), dir = path.join(tempDir('wh-vb-log-'), 'log')): Promise<AuditLog> {
  const log = await AuditLog.open(dir, { origin: origin(inc), seed, project: NAME });
  after(() => log.release());
  return log;
}

async function entry(log: AuditLog, action: LogEntry['action'], d: DeploymentRecord | null, detail: Record<string, unknown> = {}): Promise<void> {
  await log.append({ v: 1, time: at(log.size), action, project: NAME, deployment: d ? deploymentRef(d) : null, detail });
}

interface World {
  bundle: EvidenceBundle;
  log: AuditLog;
  record: DeploymentRecord;
  repo: TestRepo;
  sim: Simulator;
  make: (o?: { nonce?: string | null; record?: DeploymentRecord; previous?: ClosedLog[] }) => Promise<EvidenceBundle>;
}

/** promote(v1) → deploy(v2): the bundle of an attested project running v2, quoted over `nonce`. */
async function world(nonce: string | null = 'c0ffee'): Promise<World> {
  const { sim, agent } = await tee();
  const r = repo();
  const v1 = gitRecord(r);
  r.commit({ 'main.ts': 'export default () => new Response("hello, v2")\n' });
  const v2 = gitRecord(r);
  const log = await openLog();
  await entry(log, 'promote', v1, { source: r.dir });
  await entry(log, 'deploy', v2);
  const make: World['make'] = (o = {}) => {
    const record = o.record ?? v2;
    return buildEvidenceBundle({
      agent,
      daemon: { version: '0.1.0', commit: null, tee: 'simulated', simulatorRootCa: sim.rootCaDer },
      project: { name: NAME, mode: 'attested', tree_hash: record.source.tree_hash, commit_sha: record.source.commit_sha, deployment_id: deploymentRef(record).id },
      deployment: record,
      log,
      previous: o.previous ?? [],
      appKey: null,
      nonce: o.nonce === undefined ? nonce : o.nonce,
      collateral: async () => sim.collateral(),
    });
  };
  return { bundle: await make(), log, record: v2, repo: r, sim, make };
}

const OPTS: BundleVerifyOptions = { allowSimulator: true, project: NAME, nonce: 'c0ffee' };
const copy = (b: EvidenceBundle): EvidenceBundle => structuredClone(b);
const seenOf = (b: EvidenceBundle, seenAt = '2026-01-02T03:04:05.000Z'): SeenCheckpoint => {
  const p = b.attestation.preimage.log;
  return { origin: p.origin, public_key: p.public_key, size: p.size, root_hash: p.root_hash, seen_at: seenAt };
};

/** Only the named checks failed; everything else still stands. */
function failsOnly(r: Report, ...ids: string[]): void {
  assert.equal(r.ok, false);
  const failed = r.checks.filter((c) => c.status === 'fail').map((c) => c.id).sort();
  assert.deepEqual(failed, [...ids].sort(), JSON.stringify(statuses(r)));
}

test('a good bundle passes every check, reported SIMULATED, and says what code runs', async () => {
  const w = await world();
  const r = await verifyBundle(w.bundle, { ...OPTS, sourceFetcher: gitTreeFetcher });
  assert.equal(r.ok, true, r.summary);
  assert.equal(r.simulated, true);
  assert.ok(r.summary.startsWith(SIMULATED_NOTICE));
  assert.deepEqual(r.checks.filter((c) => c.status === 'fail'), []);
  for (const id of ['bundle.schema', 'binding.report-data', 'binding.nonce', 'compose.hash', 'daemon.identity', 'binding.preimage', 'deployment.record', 'log.checkpoint', 'log.entries', 'log.promote', 'log.current-deployment', 'log.previous', 'source.tree']) {
    assert.equal(check(r, id).status, 'pass', `${id}: ${check(r, id).summary}`);
  }
  assert.equal(check(r, 'dcap.trust-root').status, 'warn');
  assert.equal(check(r, 'log.consistency').status, 'skip', 'first look');
  assert.equal(check(r, 'onchain').status, 'skip');
  assert.equal(check(r, 'source.tree').actual, w.repo.tree());
  const h = headline(r);
  assert.match(h, /^SIMULATED TEE/);
  assert.ok(h.includes(`${w.repo.dir}@${w.repo.head()}, tree ${w.repo.tree()}`), h);
  assert.match(h, /first look at this audit log \(2 entries\)/);
});

test('without allowSimulator a simulated bundle fails, naming the simulator root', async () => {
  const w = await world();
  const r = await verifyBundle(w.bundle, { project: NAME, nonce: 'c0ffee' });
  assert.equal(r.simulated, false);
  assert.equal(r.ok, false);
  assert.match(check(r, 'dcap.trust-root').summary, /simulator's development root CA, which this policy does not trust/);
  // What fails is the hardware chain (and what hangs off it); the bundle's own links still hold.
  const failed = r.checks.filter((c) => c.status === 'fail').map((c) => c.id);
  assert.ok(failed.includes('dcap.trust-root'));
  assert.deepEqual(failed.filter((id) => !/^(dcap|pck|collateral|crl|qe|quote)\./.test(id)), []);
  assert.match(headline(r, { simulatorHint: 'allow it' }), /^NOT VERIFIED: simulated TEE .* \(allow it\): dcap\.trust-root/);
});

test('an audit entry edited: log.entries fails on the root', async () => {
  const w = await world();
  const b = copy(w.bundle);
  const e = JSON.parse(b.log.entries[0]!) as LogEntry;
  e.detail = { source: 'https://example.com/innocent.git' };
  b.log.entries[0] = canonicalJson(e);
  const r = await verifyBundle(b, OPTS);
  failsOnly(r, 'log.entries');
  assert.match(check(r, 'log.entries').summary, /edited, removed, added or reordered/);
  assert.equal(check(r, 'log.promote').status, 'skip');
});

test('an entry re-spelled in non-canonical JSON fails even though it says the same', async () => {
  const w = await world();
  const b = copy(w.bundle);
  b.log.entries[1] = JSON.stringify(JSON.parse(b.log.entries[1]!), null, 1);
  const r = await verifyBundle(b, OPTS);
  failsOnly(r, 'log.entries');
});

test('a deployed tree hash swapped in the bundle\'s deployment: deployment.record fails', async () => {
  const w = await world();
  const b = copy(w.bundle);
  const other = repo({ 'main.ts': 'export default () => new Response("something else")\n' });
  (b.deployment.source as { tree_hash: string }).tree_hash = other.tree();
  b.project.tree_hash = other.tree();
  const r = await verifyBundle(b, OPTS);
  failsOnly(r, 'deployment.record');
  const c = check(r, 'deployment.record');
  assert.match(c.summary, /id .*tree_hash/);
  assert.equal(c.expected, `id = ${w.bundle.attestation.preimage.deployment.id}`);
});

test('the bundle\'s deployment edited (manifest): deployment.record fails; the project view lying alone fails too', async () => {
  const w = await world();
  const b = copy(w.bundle);
  (b.deployment.manifest as Record<string, unknown>).env_names = [];
  failsOnly(await verifyBundle(b, OPTS), 'deployment.record');

  const v = copy(w.bundle);
  v.project.commit_sha = 'f'.repeat(40);
  const r = await verifyBundle(v, OPTS);
  failsOnly(r, 'deployment.record');
  assert.match(check(r, 'deployment.record').summary, /project\.commit_sha/);
});

test('an entry removed and the log re-signed by another key: log.checkpoint fails', async () => {
  const w = await world();
  const b = copy(w.bundle);
  b.log.entries = b.log.entries.slice(0, 1);
  const forger = ed25519NoteKey(b.log.origin, randomBytes(32));
  b.log.checkpoint = signCheckpoint({ origin: b.log.origin, size: 1, rootHash: merkleRoot(b.log.entries.map((t) => leafHash(utf8ToBytes(t)))), extensions: [] }, [forger]);
  b.log.public_key = forger.vkey;
  const r = await verifyBundle(b, OPTS);
  assert.equal(check(r, 'log.checkpoint').status, 'fail');
  assert.match(check(r, 'log.checkpoint').summary, /does not verify with the log key the quote binds/);
  assert.equal(check(r, 'log.checkpoint').expected, w.log.publicKey());
  // The quoted preimage still names the real key, size and root.
  assert.equal(check(r, 'binding.preimage').status, 'fail');
  assert.match(check(r, 'binding.preimage').summary, /log\.public_key.*log\.size/);
  assert.equal(check(r, 'binding.report-data').status, 'pass');
});

test('an old quote replayed against a new nonce: binding.nonce fails, and rewriting the preimage breaks binding.report-data', async () => {
  const w = await world('0001');
  const replay = await verifyBundle(w.bundle, { ...OPTS, nonce: 'beef' });
  failsOnly(replay, 'binding.nonce');
  assert.equal(check(replay, 'binding.nonce').expected, 'beef');
  assert.equal(check(replay, 'binding.nonce').actual, '0001');

  const b = copy(w.bundle);
  b.attestation.preimage.nonce = 'beef';
  const forged = await verifyBundle(b, { ...OPTS, nonce: 'beef' });
  failsOnly(forged, 'binding.report-data');
  assert.equal(check(forged, 'binding.nonce').status, 'pass');
});

test('the log says another deployment than the quote binds: log.current-deployment fails', async () => {
  const w = await world();
  const r1 = repo({ 'main.ts': 'unlogged\n' });
  const b = await w.make({ record: gitRecord(r1) });
  const r = await verifyBundle(b, OPTS);
  failsOnly(r, 'log.current-deployment');
  assert.equal(check(r, 'log.current-deployment').expected, deploymentRef(gitRecord(r1)).id);
  assert.equal(check(r, 'log.current-deployment').actual, deploymentRef(w.record).id);
});

test('a history that does not start with promote, or ends in teardown, fails', async () => {
  const { agent, sim } = await tee();
  const r = repo();
  const d = gitRecord(r);
  const log = await openLog();
  await entry(log, 'deploy', d);
  const input = {
    agent,
    daemon: { version: '0.1.0', commit: null, tee: 'simulated' as const, simulatorRootCa: sim.rootCaDer },
    project: { name: NAME },
    deployment: d,
    log,
    previous: [],
    appKey: null,
    nonce: null,
    collateral: async () => sim.collateral(),
  };
  failsOnly(await verifyBundle(await buildEvidenceBundle(input), { allowSimulator: true }), 'log.promote');
  await entry(log, 'teardown', null);
  const torn = await verifyBundle(await buildEvidenceBundle(input), { allowSimulator: true });
  failsOnly(torn, 'log.promote', 'log.current-deployment');
  assert.match(check(torn, 'log.current-deployment').summary, /teardown/);
});

test('a checkpoint older than one seen before fails log.consistency; growth passes with or without a proof', async () => {
  const w = await world(null);
  const old = w.bundle;
  await entry(w.log, 'redeploy', w.record);
  await entry(w.log, 'redeploy', w.record);
  const now = await w.make();
  const base = { allowSimulator: true, project: NAME };

  const back = await verifyBundle(old, { ...base, seen: [seenOf(now)] });
  failsOnly(back, 'log.consistency');
  assert.match(check(back, 'log.consistency').summary, /went backwards: you saw size 4 on 2026-01-02T03:04:05.000Z, it now shows size 2/);

  const viaEntries = await verifyBundle(now, { ...base, seen: [seenOf(old)] });
  assert.equal(check(viaEntries, 'log.consistency').status, 'pass', check(viaEntries, 'log.consistency').summary);
  assert.equal(check(viaEntries, 'log.consistency').facts?.new_entries, 2);
  assert.match(headline(viaEntries), /2 changes since you last looked on 2026-01-02 03:04 UTC/);

  const proof = w.log.consistencyProof(2, 4).map(base64Encode);
  const viaProof = await verifyBundle(now, { ...base, seen: [seenOf(old)], consistencyProof: proof });
  assert.equal(check(viaProof, 'log.consistency').status, 'pass');
  assert.equal(check(viaProof, 'log.consistency').facts?.method, 'RFC 9162 consistency proof');

  const flipped = Buffer.from(proof[0]!, 'base64');
  flipped[0]! ^= 1;
  const bad = await verifyBundle(now, { ...base, seen: [seenOf(old)], consistencyProof: [flipped.toString('base64'), ...proof.slice(1)] });
  failsOnly(bad, 'log.consistency');
  assert.match(check(bad, 'log.consistency').summary, /consistency proof fails/);

  const same = await verifyBundle(now, { ...base, seen: [seenOf(now)] });
  assert.equal(check(same, 'log.consistency').status, 'pass');
  assert.match(check(same, 'log.consistency').summary, /Unchanged/);
});

test('a fork (same origin and key, another history of the same size) and a key change fail log.consistency', async () => {
  const { agent, sim } = await tee();
  const seed = randomBytes(32);
  const r = repo();
  const d = gitRecord(r);
  const make = async (detail: Record<string, unknown>) => {
    const log = await openLog('1-0badcafe', seed);
    await entry(log, 'promote', d, detail);
    return buildEvidenceBundle({ agent, daemon: { version: '0', commit: null, tee: 'simulated', simulatorRootCa: sim.rootCaDer }, project: { name: NAME }, deployment: d, log, previous: [], appKey: null, nonce: null, collateral: async () => sim.collateral() });
  };
  const a = await make({ fork: 'a' });
  const b = await make({ fork: 'b' });
  const r1 = await verifyBundle(b, { allowSimulator: true, seen: [seenOf(a)] });
  failsOnly(r1, 'log.consistency');
  assert.match(check(r1, 'log.consistency').summary, /two different roots for the same size 1/);

  const rekeyed = await verifyBundle(b, { allowSimulator: true, seen: [{ ...seenOf(b), public_key: ed25519NoteKey(b.log.origin, randomBytes(32)).vkey }] });
  failsOnly(rekeyed, 'log.consistency');
  assert.match(check(rekeyed, 'log.consistency').summary, /different key/);
});

test('earlier incarnations verify and are listed; hiding one, or one you saw, fails log.previous', async () => {
  const { agent, sim } = await tee();
  const r = repo();
  const d = gitRecord(r);
  const first = await openLog('1-aaaaaaaa');
  await entry(first, 'promote', d);
  await entry(first, 'teardown', null);
  const closed = await first.close();
  const second = await openLog('2-bbbbbbbb');
  await entry(second, 'promote', d);
  const make = (previous: ClosedLog[]) =>
    buildEvidenceBundle({ agent, daemon: { version: '0', commit: null, tee: 'simulated', simulatorRootCa: sim.rootCaDer }, project: { name: NAME }, deployment: d, log: second, previous, appKey: null, nonce: null, collateral: async () => sim.collateral() });

  const ok = await verifyBundle(await make([closed]), { allowSimulator: true });
  assert.equal(ok.ok, true, ok.summary);
  const c = check(ok, 'log.previous');
  assert.equal(c.status, 'pass');
  assert.deepEqual((c.facts?.logs as { origin: string; last_action: string }[]).map((l) => [l.origin, l.last_action]), [[origin('1-aaaaaaaa'), 'teardown']]);

  const hidden = await verifyBundle(await make([]), { allowSimulator: true });
  failsOnly(hidden, 'log.previous');
  assert.match(check(hidden, 'log.previous').summary, /incarnation 1 of demo missing \(this is incarnation 2\)/);

  const seenOld: SeenCheckpoint = { origin: closed.origin, public_key: closed.public_key, size: 1, root_hash: base64Encode(merkleRoot([leafHash(utf8ToBytes(closed.entries[0]!))])), seen_at: at(0) };
  const renumbered = copy(await make([]));
  // Even with a consistent numbering story, a log you saw must still be there.
  const r2 = await verifyBundle(renumbered, { allowSimulator: true, seen: [seenOf(renumbered), seenOld] });
  assert.match(check(r2, 'log.previous').summary, /the log .*1-aaaaaaaa you saw on .* \(size 1\) is gone/);

  const tampered = copy(await make([closed]));
  tampered.log.previous[0]!.entries.pop();
  const r3 = await verifyBundle(tampered, { allowSimulator: true, seen: [seenOld] });
  failsOnly(r3, 'log.previous');
  assert.match(check(r3, 'log.previous').summary, /do not hash to its checkpoint/);
  // What you saw of it (size 1) is a prefix of what is served now (size 2): that passes.
  const grown = await verifyBundle(await make([closed]), { allowSimulator: true, seen: [seenOld] });
  assert.equal(check(grown, 'log.previous').status, 'pass', check(grown, 'log.previous').summary);
});

test('a recorded tree hash that git does not reproduce fails source.tree; an unreachable source fails too', async () => {
  const w = await world();
  const other = repo({ 'README': 'not the deployed files\n' });
  // The daemon itself recorded a wrong tree (everything else consistent and bound).
  const lie = gitRecord(w.repo, { tree_hash: other.tree() });
  await entry(w.log, 'deploy', lie);
  const b = await w.make({ record: lie });
  const r = await verifyBundle(b, { ...OPTS, sourceFetcher: gitTreeFetcher });
  failsOnly(r, 'source.tree');
  assert.equal(check(r, 'source.tree').expected, other.tree());
  assert.equal(check(r, 'source.tree').actual, w.repo.tree());

  const gone = gitRecord(w.repo, { url: path.join(w.repo.dir, 'no-such-repo') });
  await entry(w.log, 'deploy', gone);
  const r2 = await verifyBundle(await w.make({ record: gone }), { ...OPTS, sourceFetcher: gitTreeFetcher });
  failsOnly(r2, 'source.tree');
  assert.match(check(r2, 'source.tree').summary, /Could not fetch commit/);

  const noSource = await verifyBundle(b, OPTS);
  assert.equal(check(noSource, 'source.tree').status, 'skip');
  assert.match(headline(noSource), /\(source not fetched\)/);
});

test('the git fetcher refuses transports a bundle must not make the verifier use', async () => {
  for (const url of ['ext::sh -c touch% /tmp/pwned', '-uhelp', 'ssh://git@example.com/x.git', 'git@example.com:x.git', 'relative/path']) {
    await assert.rejects(gitTreeFetcher(url, 'a'.repeat(40)), /not a plain URL|remote helper|only https/, url);
  }
});

test('daemon identity and app-compose edited in the bundle fail daemon.identity and compose.hash', async () => {
  const w = await world();
  const b = copy(w.bundle);
  b.daemon.app_id = 'ff'.repeat(20);
  failsOnly(await verifyBundle(b, OPTS), 'daemon.identity');
  const c = copy(w.bundle);
  c.daemon.app_compose = c.daemon.app_compose.replace('dstack-webhost', 'dstack-webhost-evil');
  const r = await verifyBundle(c, OPTS);
  assert.equal(check(r, 'compose.hash').status, 'fail');
  assert.equal(check(r, 'daemon.identity').status, 'pass', 'the shown identity itself is still the measured one');
});

test('the preimage must name the project asked for, and the app key the bundle shows', async () => {
  const w = await world();
  const r = await verifyBundle(w.bundle, { ...OPTS, project: 'other' });
  failsOnly(r, 'binding.preimage');
  assert.match(check(r, 'binding.preimage').summary, /project \(asked for\) \(other vs demo\)/);
  const b = copy(w.bundle);
  b.project.app_key = 'aa'.repeat(32);
  failsOnly(await verifyBundle(b, OPTS), 'binding.preimage');
});

test('a malformed document fails bundle.schema and skips the rest without throwing', async () => {
  for (const doc of [null, 'x', { schema: 'other/v9' }, { ...(await world()).bundle, log: { origin: 1 } }]) {
    const r = await verifyBundle(doc);
    assert.equal(r.ok, false);
    assert.equal(check(r, 'bundle.schema').status, 'fail');
    assert.ok(r.checks.slice(1).every((c) => c.status === 'skip'));
  }
  const w = await world();
  const b = copy(w.bundle);
  b.attestation.quote = 'zz';
  const r = await verifyBundle(b, OPTS);
  assert.equal(check(r, 'quote.parse').status, 'fail');
  assert.equal(check(r, 'log.entries').status, 'pass', 'the log is judged on its own');
});

test('the on-chain hook gets the measured boot identity and its checks join the report', async () => {
  const w = await world();
  let seenAppId = '';
  const r = await verifyBundle(w.bundle, {
    ...OPTS,
    onchain: async (id, ctx) => {
      seenAppId = id.appId;
      assert.ok(ctx.checks.some((c) => c.id === 'boot.identity'));
      return [pass('onchain.app-registered', 'App registered', 'stub')];
    },
  });
  assert.equal(seenAppId, w.bundle.daemon.app_id);
  assert.equal(check(r, 'onchain.app-registered').status, 'pass');
  const broken = await verifyBundle(w.bundle, { ...OPTS, onchain: async () => Promise.reject(new Error('rpc down')) });
  failsOnly(broken, 'onchain');
  assert.match(check(broken, 'onchain').summary, /rpc down/);
});
