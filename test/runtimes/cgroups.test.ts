import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { detectCgroups, InstanceCgroup } from '../../src/runtimes/cgroups.ts';
import { ROOT_ONLY } from './helpers.ts';

describe('cgroups', { skip: ROOT_ONLY }, () => {
  it('writes the limits into a per-instance group and removes it again', async (t) => {
    const support = await detectCgroups();
    if (!support.some((s) => s.base)) {
      t.skip('no usable cgroup controller here');
      return;
    }
    const cg = (await InstanceCgroup.create(support, 'cg-limits', { memoryMb: 100, pids: 17, cpus: 0.5 }))!;
    try {
      for (const s of support.filter((x) => x.base && x.version === 1)) {
        const dir = cg.dirs.find((d) => d.startsWith(s.base!))!;
        const file = { memory: 'memory.limit_in_bytes', pids: 'pids.max', cpu: 'cpu.cfs_quota_us' }[s.controller];
        const want = { memory: String(100 * 1024 * 1024), pids: '17', cpu: '50000' }[s.controller];
        assert.equal((await readFile(path.join(dir, file), 'utf8')).trim(), want);
      }
    } finally {
      await cg.remove();
    }
    for (const d of cg.dirs) assert.ok(!existsSync(d), `${d} is still there`);
  });

  it("sweeps empty groups a dead daemon left behind, never a live daemon's", async (t) => {
    const first = await detectCgroups();
    const base = first.find((s) => s.base)?.base;
    if (!base) {
      t.skip('no usable cgroup controller here');
      return;
    }
    const deadPid = spawnSync('true').pid!; // exited: its pid names a daemon that is gone
    const dead = path.join(base, 'cg-sweep', `abc-${deadPid}-1`);
    const live = path.join(base, 'cg-sweep', `abc-${process.pid}-1`);
    await mkdir(dead, { recursive: true });
    await mkdir(live, { recursive: true });
    try {
      await detectCgroups();
      assert.ok(!existsSync(dead), 'the dead daemon’s empty group was left');
      assert.ok(existsSync(live), "a live daemon's group was removed");
    } finally {
      await rmdir(live).catch(() => undefined);
      await rmdir(dead).catch(() => undefined);
      await rmdir(path.dirname(live)).catch(() => undefined);
    }
  });
});
