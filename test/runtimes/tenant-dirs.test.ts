import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureOwnedDir, whyUnreachable } from '../../src/runtimes/tenant-dirs.ts';
import { ROOT_ONLY } from './helpers.ts';

describe('tenant folders', { skip: ROOT_ONLY }, () => {
  it('gives a root-made runDir to the tenant, and refuses a symlink planted in its place', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'webhost-dirs-'));
    try {
      const made = path.join(root, 'run', 'i1');
      await mkdir(made, { recursive: true, mode: 0o700 }); // as the runner makes it: root, 0700
      await ensureOwnedDir(made, 401_001, 401_001);
      const st = await stat(made);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [401_001, 401_001, 0o700]);

      const victim = path.join(root, 'victim');
      await mkdir(victim, { mode: 0o700 });
      const planted = path.join(root, 'run', 'i2');
      await symlink(victim, planted);
      await assert.rejects(ensureOwnedDir(planted, 401_001, 401_001), /ELOOP|ENOTDIR/);
      assert.equal((await stat(victim)).uid, 0, 'the link target was chowned');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('names the folder that keeps a tenant out', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'webhost-dirs-'));
    try {
      await chmod(root, 0o711);
      const closed = path.join(root, 'closed');
      await mkdir(path.join(closed, 'src'), { recursive: true });
      await chmod(closed, 0o700);
      assert.match((await whyUnreachable(path.join(closed, 'src'), 401_002, 401_002)) ?? '', /closed \(owner 0:0, mode 0700\) is not traversable by uid 401002/);
      await chmod(closed, 0o711);
      await chmod(path.join(closed, 'src'), 0o755);
      assert.equal(await whyUnreachable(path.join(closed, 'src'), 401_002, 401_002), null);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
