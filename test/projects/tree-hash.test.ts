// The tree hash we compute from files equals what git itself records for the same files.
import test from 'node:test';
import assert from 'node:assert/strict';
import { treeHash, blobId } from '../../src/projects/tree-hash.ts';
import { TestRepo, git } from '../helpers/git-repo.ts';

test('tree hash of a checkout equals git rev-parse HEAD^{tree}', async () => {
  const repo = new TestRepo({
    'README.md': '# hi\n',
    'run.sh': { content: '#!/bin/sh\necho hi\n', mode: 0o755 },
    'src/index.js': 'export default () => new Response("x")\n',
    'src/sub/deep.txt': 'deep\n',
    'link.md': { symlink: 'README.md' },
    'bin.dat': Buffer.from([0, 1, 2, 255, 254]),
    // git orders a folder as if its name ended in '/': "a.b" < "a/" < "a0"
    'a.b': 'dot\n',
    'a/x': 'in a\n',
    a0: 'zero\n',
  });
  try {
    // Remove .git so only the working files are hashed.
    const { cpSync, mkdtempSync, rmSync } = await import('node:fs');
    const copy = mkdtempSync('/tmp/copy-');
    cpSync(repo.dir, copy, { recursive: true, verbatimSymlinks: true });
    rmSync(`${copy}/.git`, { recursive: true });
    assert.equal(await treeHash(copy), repo.tree());
    rmSync(copy, { recursive: true });
  } finally {
    repo.remove();
  }
});

test('blob id equals git hash-object', () => {
  const repo = new TestRepo({ 'f.txt': 'hello\n' });
  try {
    assert.equal(blobId(Buffer.from('hello\n')), git(repo.dir, 'hash-object', 'f.txt'));
  } finally {
    repo.remove();
  }
});
