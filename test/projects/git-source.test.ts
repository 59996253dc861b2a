// Git sources: fetched at the exact ref asked for (branch, tag, full SHA), written byte for byte
// as committed, and refused clearly when they cannot be.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { checkoutGit } from '../../src/projects/git-source.ts';
import { treeHash } from '../../src/projects/tree-hash.ts';
import { HttpError } from '../../src/lib/http-error.ts';
import { TestRepo, git } from '../helpers/git-repo.ts';
import { tempDir } from '../helpers/tmp.ts';

test('checks out a branch, a tag, a full commit SHA and the default HEAD', async () => {
  const repo = new TestRepo({ 'a.txt': 'v1\n' });
  const first = repo.head();
  repo.tag('v1');
  repo.commit({ 'a.txt': 'v2\n' });
  git(repo.dir, 'checkout', '-q', '-b', 'feature');
  const feature = repo.commit({ 'a.txt': 'feature\n' });
  git(repo.dir, 'checkout', '-q', 'main');
  const scratch = tempDir();
  const cases: Array<[string | undefined, string, string]> = [
    ['feature', feature, 'feature\n'],
    ['v1', first, 'v1\n'],
    [first, first, 'v1\n'],
    [undefined, repo.head(), 'v2\n'],
  ];
  for (const [ref, commit, content] of cases) {
    const dest = path.join(scratch, `co-${ref ?? 'head'}`);
    const co = await checkoutGit(repo.dir, ref, dest, scratch);
    assert.equal(co.commit, commit, `commit for ${ref}`);
    assert.equal(co.tree, repo.tree(commit));
    assert.equal(readFileSync(path.join(dest, 'a.txt'), 'utf8'), content);
    assert.equal(await treeHash(dest), co.tree);
    assert.equal(existsSync(path.join(dest, '.git')), false);
  }
  repo.remove();
});

test('writes files as committed, whatever .gitattributes says', async () => {
  const repo = new TestRepo({ '.gitattributes': '* text eol=crlf\n', 'a.txt': 'line1\nline2\n' });
  const scratch = tempDir();
  const dest = path.join(scratch, 'co');
  const co = await checkoutGit(repo.dir, 'main', dest, scratch);
  assert.equal(readFileSync(path.join(dest, 'a.txt'), 'utf8'), 'line1\nline2\n');
  assert.equal(await treeHash(dest), co.tree);
  repo.remove();
});

async function refusal(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof HttpError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

test('refuses an unknown ref, a missing repository, links out of the tree and submodules', async () => {
  const repo = new TestRepo({ 'a.txt': 'x' });
  const scratch = tempDir();
  await refusal(checkoutGit(repo.dir, 'no-such-branch', path.join(scratch, 'a'), scratch), 'git_failed', /no-such-branch/);
  await refusal(checkoutGit(repo.dir, 'f'.repeat(40), path.join(scratch, 'b'), scratch), 'git_failed', /not in the source/);
  await refusal(checkoutGit('/nonexistent/repo', undefined, path.join(scratch, 'c'), scratch), 'git_failed', /could not fetch/);
  const evil = new TestRepo({ env: { symlink: '/proc/self/environ' } });
  await refusal(checkoutGit(evil.dir, undefined, path.join(scratch, 'd'), scratch), 'unsafe_link', /points outside/);
  const sub = new TestRepo({ 'a.txt': 'x' });
  git(sub.dir, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', repo.dir, 'vendor');
  git(sub.dir, 'commit', '-q', '-m', 'sub');
  await refusal(checkoutGit(sub.dir, undefined, path.join(scratch, 'e'), scratch), 'unsupported_source', /submodule/);
  for (const r of [repo, evil, sub]) r.remove();
});

test('never shows credentials embedded in the source URL', async () => {
  const scratch = tempDir();
  await assert.rejects(checkoutGit('http://alice:s3cr3t-token@127.0.0.1:9/repo.git', undefined, path.join(scratch, 'x'), scratch), (err: Error) => {
    assert.doesNotMatch(err.message, /s3cr3t-token/);
    return true;
  });
});
