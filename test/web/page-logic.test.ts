// The pages' pure logic, in Node: content negotiation, which app a verifier address names, the
// GitHub tree lookup (definite answers reach the check, indefinite ones skip it), remembered
// checkpoints, the changes since a visit, the summary sentence and the copyable command.
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { prefersHtml } from '../../src/web/negotiate.ts';
import { originSource } from '../../src/web/csp.ts';
import { pageOptions, resolveTarget } from '../../src/web/client/target.ts';
import { githubRepo, lookUpSource } from '../../src/web/client/source-hosts.ts';
import { loadSeen, rememberBundle, SEEN_KEY, SeenDamaged, type KeyValueStore } from '../../src/web/client/seen-store.ts';
import { changesSince } from '../../src/web/client/changes.ts';
import { summarize, runningCode } from '../../src/web/client/summary.ts';
import { cliCommand } from '../../src/web/client/verify-view.ts';
import { sourceAt, sourceLabel } from '../../src/web/client/format.ts';
import { checkSourceTree } from '../../src/verify/source-check.ts';
import type { EvidenceBundle } from '../../src/verify/bundle.ts';
import { buildReport, pass, fail, skip, warn } from '../../src/verify/check.ts';
import type { DeploymentRecord } from '../../src/verify/deployment.ts';

describe('content negotiation for /', () => {
  test('HTML only when it is named and ranked above JSON', () => {
    assert.equal(prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), true);
    assert.equal(prefersHtml('text/html'), true);
    assert.equal(prefersHtml('application/xhtml+xml'), true);
    for (const a of [undefined, '', '*/*', 'application/json', 'text/html, application/json', 'application/json, text/html;q=0.9', 'text/html;q=0', 'text/*', 'text/plain']) {
      assert.equal(prefersHtml(a), false, String(a));
    }
    assert.equal(prefersHtml('application/json;q=0.5, text/html'), true);
  });

  test('CSP origins carry only scheme, host and port', () => {
    assert.equal(originSource('https://Example.ORG:8443/a/b?c#d'), 'https://example.org:8443');
    assert.equal(originSource('http://[::1]:8080/x'), 'http://[::1]:8080');
    assert.equal(originSource('javascript:alert(1)'), null);
    assert.equal(originSource('ftp://x.example/'), null);
    assert.equal(originSource('not a url'), null);
  });
});

describe('which app a verifier address names', () => {
  const t = (u: string) => resolveTarget(new URL(u));
  test('project pages on the daemon origin, on the project origin, and standalone', () => {
    assert.deepEqual(t('https://h.example/notary/.well-known/tee-attestation'), { kind: 'daemon', base: 'https://h.example', name: 'notary', appUrl: 'https://h.example/notary/' });
    assert.deepEqual(t('https://h.example/_webhost/verify/notary'), { kind: 'daemon', base: 'https://h.example', name: 'notary', appUrl: 'https://h.example/notary/' });
    assert.deepEqual(t('https://notary.apps.example/.well-known/tee-attestation'), { kind: 'daemon', base: 'https://apps.example', name: 'notary', appUrl: 'https://notary.apps.example/' });
    assert.deepEqual(t('http://notary.localhost:8080/.well-known/tee-attestation'), { kind: 'daemon', base: 'http://localhost:8080', name: 'notary', appUrl: 'http://notary.localhost:8080/' });
    assert.deepEqual(t(`https://elsewhere.example/_webhost/verify?url=${encodeURIComponent('https://h.example/notary/')}`), { kind: 'daemon', base: 'https://h.example', name: 'notary', appUrl: 'https://h.example/notary/' });
    assert.deepEqual(t(`https://x.example/_webhost/verify?url=${encodeURIComponent('https://h.example/bundles/b.json')}`), { kind: 'document', url: 'https://h.example/bundles/b.json' });
    assert.deepEqual(t('https://h.example/_webhost/verify'), { kind: 'ask', reason: null });
    assert.equal(t('https://h.example/_webhost/verify?url=nope').kind, 'ask');
    // A project's own port names neither project nor daemon.
    assert.equal(t('http://localhost:5001/.well-known/tee-attestation').kind, 'unresolved');
  });

  test('options from the query: only well-formed ones', () => {
    assert.deepEqual(pageOptions(new URL('https://x/_webhost/verify?pccs=https://p.example/&rpc=javascript:1&kms=0x2f83172A49584C017F2B256F0FB2Dca14126Ba9C')), { pccs: 'https://p.example/', kms: '0x2f83172A49584C017F2B256F0FB2Dca14126Ba9C' });
  });
});

describe('source.tree through the GitHub API', () => {
  const commit = 'a'.repeat(40);
  const tree = 'b'.repeat(40);
  const record = (url: string) => ({ source: { kind: 'git', url, ref: 'main', commit_sha: commit, tree_hash: tree, image_digests: [] } }) as unknown as DeploymentRecord;
  const fetcherOf = (l: Awaited<ReturnType<typeof lookUpSource>>) => {
    assert.equal(l.kind, 'fetcher', l.note);
    return (l as Extract<typeof l, { kind: 'fetcher' }>).fetcher;
  };
  const answering = (status: number, body: unknown) => async (url: string) => {
    assert.equal(url, `https://api.github.com/repos/o/r/git/commits/${commit}`);
    return new Response(JSON.stringify(body), { status });
  };

  test('recognises GitHub URLs in their usual spellings', () => {
    for (const u of ['https://github.com/o/r', 'https://github.com/o/r.git', 'git@github.com:o/r.git', 'ssh://git@github.com/o/r']) assert.deepEqual(githubRepo(u), { owner: 'o', repo: 'r' }, u);
    for (const u of ['https://gitlab.com/o/r', '/tmp/repo', 'https://github.com.evil.example/o/r', 'https://github.com/o']) assert.equal(githubRepo(u), null, u);
  });

  test('the tree GitHub reports is compared by the library: same passes, different fails', async () => {
    const ok = await lookUpSource(record('https://github.com/o/r').source, answering(200, { sha: commit, tree: { sha: tree } }));
    assert.equal((await checkSourceTree(record('https://github.com/o/r'), fetcherOf(ok))).status, 'pass');
    const other = await lookUpSource(record('https://github.com/o/r').source, answering(200, { sha: commit, tree: { sha: 'c'.repeat(40) } }));
    const c = await checkSourceTree(record('https://github.com/o/r'), fetcherOf(other));
    assert.equal(c.status, 'fail');
    assert.equal(c.expected, tree);
    assert.equal(c.actual, 'c'.repeat(40));
  });

  test('a commit GitHub does not have fails the check; an unanswered or limited API skips it', async () => {
    const gone = await lookUpSource(record('https://github.com/o/r').source, answering(404, { message: 'Not Found' }));
    assert.equal((await checkSourceTree(record('https://github.com/o/r'), fetcherOf(gone))).status, 'fail');
    for (const f of [answering(403, { message: 'API rate limit exceeded' }), answering(500, {}), answering(200, { sha: 'd'.repeat(40), tree: { sha: tree } }), async () => Promise.reject(new TypeError('Failed to fetch'))]) {
      const r = await lookUpSource(record('https://github.com/o/r').source, f);
      assert.equal(r.kind, 'skip');
      assert.match(r.note, /^Not checked/);
    }
    const local = await lookUpSource(record('/srv/repo').source, async () => assert.fail('no request for a host without an API'));
    assert.equal(local.kind, 'skip');
    assert.match(local.note, /not on a git host whose API this page can ask/);
  });
});

/** A bundle with just what the page's own logic reads. */
function bundleWith(origin: string, entries: string[], previous: EvidenceBundle['log']['previous'] = []): EvidenceBundle {
  return {
    log: { origin, public_key: 'k', checkpoint: '', entries, previous },
    attestation: { preimage: { project: 'notary', log: { origin, public_key: 'k', size: entries.length, root_hash: `root${entries.length}` } } },
  } as unknown as EvidenceBundle;
}

const entry = (seq: number, action: string, id = `${seq}`.repeat(64).slice(0, 64), detail: Record<string, unknown> = {}) =>
  JSON.stringify({ action, deployment: { commit_sha: 'c'.repeat(40), id, image_digests: [], manifest_digest: 'm', tree_hash: 't'.repeat(40) }, detail, project: 'notary', seq, time: `2026-05-0${seq + 1}T10:00:00Z`, v: 1 });

function memoryStore(): KeyValueStore & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v) };
}

describe('remembered checkpoints and the changes since a visit', () => {
  const O1 = 'h/dstack-webhost/notary/1-aaaaaaaa';
  const O2 = 'h/dstack-webhost/notary/2-bbbbbbbb';

  test('remember per origin, never backwards; a damaged record is an error, not a blank', () => {
    const s = memoryStore();
    rememberBundle(s, bundleWith(O1, [entry(0, 'promote'), entry(1, 'redeploy')]), '2026-05-02T00:00:00Z');
    rememberBundle(s, bundleWith(O1, [entry(0, 'promote')]), '2026-05-03T00:00:00Z');
    assert.equal(loadSeen(s).logs[O1]!.size, 2);
    assert.equal(loadSeen(s).logs[O1]!.seen_at, '2026-05-02T00:00:00Z');
    s.map.set(SEEN_KEY, '{broken');
    assert.throws(() => loadSeen(s), SeenDamaged);
    assert.throws(() => rememberBundle(s, bundleWith(O1, [entry(0, 'promote')])), SeenDamaged);
  });

  test('first visit, nothing new, and the entries appended since', () => {
    const b = bundleWith(O1, [entry(0, 'promote'), entry(1, 'redeploy', 'e'.repeat(64), { from_deployment: 'f'.repeat(64) }), entry(2, 'rollback')]);
    assert.equal(changesSince(b, {}), null);
    const seen = (size: number) => ({ [O1]: { origin: O1, public_key: 'k', size, root_hash: 'r', seen_at: '2026-05-01T12:00:00Z' } });
    assert.deepEqual(changesSince(b, seen(3))!.changes, []);
    const c = changesSince(b, seen(1))!;
    assert.equal(c.since, '2026-05-01T12:00:00Z');
    assert.deepEqual(c.changes.map((x) => [x.seq, x.action]), [[1, 'redeploy'], [2, 'rollback']]);
    assert.equal(c.changes[0]!.deployment, 'e'.repeat(64));
    assert.deepEqual(c.changes[0]!.details, [['from deployment', 'f'.repeat(64)]]);
    assert.match(c.changes[1]!.what, /Rolled back/);
  });

  test('across a delete and re-create: the rest of the old log, then all of the new one', () => {
    const closed = { origin: O1, public_key: 'k', checkpoint: '', entries: [entry(0, 'promote'), entry(1, 'teardown')] };
    const b = bundleWith(O2, [entry(0, 'promote')], [closed]);
    const c = changesSince(b, { [O1]: { origin: O1, public_key: 'k', size: 1, root_hash: 'r', seen_at: '2026-05-01T00:00:00Z' } })!;
    assert.deepEqual(c.changes.map((x) => [x.origin, x.action]), [[O1, 'teardown'], [O2, 'promote']]);
  });
});

describe('the summary sentence', () => {
  const facts = { bundle: { deployment: { kind: 'git', url: 'https://github.com/o/r.git', commit_sha: 'abc1234def5678' }, log: { origin: 'O' } } };
  const since = { since: '2026-05-01T09:12:00Z', seenOrigin: 'O', seenSize: 1, changes: [] };

  test('verified: the code, the source check, and what changed since the last visit', () => {
    const r = buildReport([pass('quote.signature', 't', 's'), pass('source.tree', 't', 's')], facts, false);
    assert.equal(summarize(r, { changes: since, memoryProblem: null }).headline, 'The code running here is github.com/o/r@abc1234 (its tree matches that commit at the source); nothing changed since you last looked on 2026-05-01 09:12 UTC.');
    const three = { ...since, changes: [1, 2, 3].map(() => ({}) as never) };
    assert.match(summarize(r, { changes: three, memoryProblem: null }).headline, /; 3 changes since your last visit on 2026-05-01 09:12 UTC \(listed below\)\.$/);
    assert.match(summarize(r, { changes: null, memoryProblem: null }).headline, /this is your first visit/);
  });

  test('simulated: says so first, even when every check passed', () => {
    const r = buildReport([warn('dcap.trust-root', 't', 's'), pass('quote.signature', 't', 's'), skip('source.tree', 't', 's')], facts, true);
    const s = summarize(r, { changes: null, memoryProblem: null });
    assert.equal(s.verdict, 'simulated');
    assert.match(s.headline, /^SIMULATED TEE, not hardware evidence: the code running here is github\.com\/o\/r@abc1234 \(the source itself was not fetched here\)/);
    assert.ok(s.notes.some((n) => /development key/.test(n)));
  });

  test('failed: exactly which checks, and the first reason', () => {
    const r = buildReport([pass('quote.signature', 't', 's'), fail('log.entries', 'Audit log entries hash to the checkpoint', 'The 2 entries served hash to a different tree.', { expected: 'a', actual: 'b' }), fail('log.consistency', 'Append-only since you last looked', 'Not append-only.')], facts, true);
    const s = summarize(r, { changes: since, memoryProblem: null });
    assert.equal(s.verdict, 'failed');
    assert.equal(s.headline, 'NOT VERIFIED: 2 checks failed — Audit log entries hash to the checkpoint (log.entries); Append-only since you last looked (log.consistency).');
    assert.equal(s.notes[0], 'The 2 entries served hash to a different tree.');
  });

  test('other deployment kinds', () => {
    assert.equal(runningCode({ kind: 'tarball', tree_hash: 'f'.repeat(40) }), `an uploaded tarball (tree ${'f'.repeat(12)})`);
    assert.match(runningCode({ kind: 'image', image_digests: ['sha256:' + 'a'.repeat(64)] }), /^image deployment of sha256:a{12}/);
    assert.equal(sourceLabel('https://github.com/o/r.git'), 'github.com/o/r');
    assert.equal(sourceAt('/srv/repo', 'abcdef0123'), '/srv/repo@abcdef0');
  });
});

test('the copyable command quotes what it was given', () => {
  assert.equal(cliCommand('https://h.example/notary/', true, {}), "webhost verify 'https://h.example/notary/' --allow-simulator");
  assert.equal(cliCommand("https://h.example/it's/", false, { pccs: 'https://p.example', rpc: 'https://rpc.example/k', kms: '0x' + 'a'.repeat(40) }), `webhost verify 'https://h.example/it'\\''s/' --pccs 'https://p.example' --rpc 'https://rpc.example/k' --kms 0x${'a'.repeat(40)}`);
});
