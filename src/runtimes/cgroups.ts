// Per-instance resource limits with cgroups: memory, process count and CPU quota.
//
// Layout: <controller mount>/<the daemon's own cgroup>/webhost/<project>/<instance>/. Nesting
// under the daemon's own cgroup keeps tenants inside whatever envelope the daemon itself was
// given (a container, a systemd slice). Limits sit on the instance, so the old and the new
// instance of a zero-downtime swap do not starve each other.
//
// Works with cgroup v1 (each controller its own hierarchy, as on this machine) and v2 (one
// unified hierarchy), per controller. The launcher puts the tenant's first process into the
// group before the runtime starts (see launch.ts), so no tenant code ever runs outside it.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Limits } from './driver.ts';

export type Controller = 'memory' | 'pids' | 'cpu';
export const CONTROLLERS: readonly Controller[] = ['memory', 'pids', 'cpu'];

/** Where one controller lives here, or why it is not usable. */
export interface ControllerSupport {
  controller: Controller;
  version: 1 | 2 | null;
  /** <mount>/<own cgroup>/webhost, created and writable. */
  base: string | null;
  note?: string;
}

interface MountInfo {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    if (left.length < 5 || right.length < 3) continue;
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ root: unescape(left[3]!), mountPoint: unescape(left[4]!), fsType: right[0]!, superOptions: right[2]!.split(',') });
  }
  return out;
}

/** controller name ('' for v2) -> the daemon's own cgroup path. */
function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    for (const c of m[1]!.split(',')) out.set(c, m[2]!);
  }
  return out;
}

function relativeTo(own: string, mountRoot: string): string {
  if (mountRoot !== '/' && (own === mountRoot || own.startsWith(mountRoot + '/'))) return own.slice(mountRoot.length) || '/';
  return own;
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : String(err);
}

const V1_FILE: Record<Controller, string> = { memory: 'memory.limit_in_bytes', pids: 'pids.max', cpu: 'cpu.cfs_quota_us' };

/** v2 refuses to enable controllers for children of a group that holds processes: move ourselves to a leaf first. */
async function enableV2(own: string, controller: Controller): Promise<void> {
  const control = path.join(own, 'cgroup.subtree_control');
  const current = (await readFile(control, 'utf8')).split(/\s+/);
  if (current.includes(controller)) return;
  try {
    await writeFile(control, `+${controller}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EBUSY') throw err;
    const leaf = path.join(own, 'webhost-daemon');
    await mkdir(leaf, { recursive: true });
    await writeFile(path.join(leaf, 'cgroup.procs'), String(process.pid));
    await writeFile(control, `+${controller}`);
  }
}

async function detectController(controller: Controller, mounts: MountInfo[], own: Map<string, string>): Promise<ControllerSupport> {
  if (process.getuid?.() !== 0) return { controller, version: null, base: null, note: 'the daemon does not run as root, so it cannot create cgroups' };
  const v1 = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes(controller));
  if (v1) {
    const base = path.join(v1.mountPoint, relativeTo(own.get(controller) ?? '/', v1.root), 'webhost');
    try {
      await mkdir(base, { recursive: true });
      if (!existsSync(path.join(base, V1_FILE[controller]))) throw new Error(`${V1_FILE[controller]} is missing`);
      return { controller, version: 1, base };
    } catch (err) {
      return { controller, version: null, base: null, note: `cgroup v1 ${controller} is mounted but not usable: ${errText(err)}` };
    }
  }
  const v2 = mounts.find((m) => m.fsType === 'cgroup2');
  if (v2) {
    const ownDir = path.join(v2.mountPoint, relativeTo(own.get('') ?? '/', v2.root));
    try {
      const available = (await readFile(path.join(ownDir, 'cgroup.controllers'), 'utf8')).split(/\s+/);
      if (!available.includes(controller)) throw new Error(`the ${controller} controller is not delegated to this cgroup`);
      await enableV2(ownDir, controller);
      const base = path.join(ownDir, 'webhost');
      await mkdir(base, { recursive: true });
      await writeFile(path.join(base, 'cgroup.subtree_control'), `+${controller}`);
      return { controller, version: 2, base };
    } catch (err) {
      return { controller, version: null, base: null, note: `cgroup v2 ${controller} is not usable: ${errText(err)}` };
    }
  }
  return { controller, version: null, base: null, note: `no ${controller} cgroup controller is mounted` };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the empty instance groups a crashed daemon left behind. An instance group's name carries
 * the pid of the daemon that made it, so groups of another daemon still running are left alone.
 */
async function sweepLeftovers(base: string): Promise<void> {
  for (const project of await readdir(base, { withFileTypes: true }).catch(() => [])) {
    if (!project.isDirectory()) continue;
    const projectDir = path.join(base, project.name);
    for (const inst of await readdir(projectDir, { withFileTypes: true }).catch(() => [])) {
      const m = /^[0-9a-z]+-(\d+)-\d+$/.exec(inst.name);
      if (!inst.isDirectory() || !m || alive(Number(m[1]))) continue;
      await rmdir(path.join(projectDir, inst.name)).catch(() => undefined); // fails (EBUSY) while a process is in it
    }
    await rmdir(projectDir).catch(() => undefined);
  }
}

export async function detectCgroups(): Promise<ControllerSupport[]> {
  let mounts: MountInfo[] = [];
  let own = new Map<string, string>();
  try {
    mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
    own = parseProcCgroup(await readFile('/proc/self/cgroup', 'utf8'));
  } catch {
    // not Linux, or no /proc: nothing is usable
  }
  const support = await Promise.all(CONTROLLERS.map((c) => detectController(c, mounts, own)));
  for (const s of support) if (s.base) await sweepLeftovers(s.base);
  return support;
}

function safeSegment(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return s.startsWith('.') || !s ? `_${s}` : s;
}

let instanceCounter = 0;

/** The cgroup(s) of one running instance: one folder per hierarchy (one in all under v2). */
export class InstanceCgroup {
  /** Folders whose cgroup.procs the launcher writes its own pid into. */
  readonly dirs: string[];
  private readonly memoryDir: { dir: string; version: 1 | 2 } | null;

  private constructor(dirs: string[], memoryDir: { dir: string; version: 1 | 2 } | null) {
    this.dirs = dirs;
    this.memoryDir = memoryDir;
  }

  static async create(support: readonly ControllerSupport[], project: string, limits: Limits): Promise<InstanceCgroup | null> {
    const usable = support.filter((s) => s.base);
    if (!usable.length) return null;
    const name = `${Date.now().toString(36)}-${process.pid}-${++instanceCounter}`;
    const dirs = new Map<string, 1 | 2>();
    let memoryDir: { dir: string; version: 1 | 2 } | null = null;
    for (const s of usable) {
      const projectDir = path.join(s.base!, safeSegment(project));
      const dir = path.join(projectDir, name);
      if (!dirs.has(dir)) {
        await mkdir(dir, { recursive: true });
        dirs.set(dir, s.version!);
      }
      if (s.version === 2) await writeFile(path.join(projectDir, 'cgroup.subtree_control'), `+${s.controller}`).catch(() => undefined);
      await writeLimit(s.controller, s.version!, dir, limits);
      if (s.controller === 'memory') memoryDir = { dir, version: s.version! };
    }
    return new InstanceCgroup([...dirs.keys()], memoryDir);
  }

  async pids(): Promise<number[]> {
    const all = new Set<number>();
    for (const dir of this.dirs) {
      const text = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const l of text.split('\n')) if (l.trim()) all.add(Number(l));
    }
    return [...all];
  }

  /** SIGKILLs everything in the group, forks racing the kill included. */
  async killAll(): Promise<void> {
    for (let round = 0; round < 20; round++) {
      const pids = await this.pids();
      if (!pids.length) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** How many times the kernel killed a process of this group for going over its memory limit. */
  async oomKills(): Promise<number> {
    if (!this.memoryDir) return 0;
    const file = this.memoryDir.version === 1 ? 'memory.oom_control' : 'memory.events';
    const text = await readFile(path.join(this.memoryDir.dir, file), 'utf8').catch(() => '');
    const m = /^oom_kill (\d+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  }

  /** Removes the (empty) groups; the project folder goes too once its last instance is gone. */
  async remove(): Promise<void> {
    await this.killAll();
    for (const dir of this.dirs) {
      for (let i = 0; i < 50; i++) {
        try {
          await rmdir(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY') break;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      await rmdir(path.dirname(dir)).catch(() => undefined);
    }
  }
}

async function writeLimit(controller: Controller, version: 1 | 2, dir: string, limits: Limits): Promise<void> {
  if (controller === 'memory' && limits.memoryMb > 0) {
    const bytes = String(Math.floor(limits.memoryMb * 1024 * 1024));
    if (version === 2) {
      await writeFile(path.join(dir, 'memory.max'), bytes);
      await writeFile(path.join(dir, 'memory.swap.max'), '0').catch(() => undefined);
    } else {
      await writeFile(path.join(dir, 'memory.limit_in_bytes'), bytes);
      // memory + swap: no swapping around the limit where swap exists
      await writeFile(path.join(dir, 'memory.memsw.limit_in_bytes'), bytes).catch(() => undefined);
    }
  }
  if (controller === 'pids' && limits.pids > 0) {
    await writeFile(path.join(dir, 'pids.max'), String(Math.floor(limits.pids)));
  }
  if (controller === 'cpu' && limits.cpus > 0) {
    const period = 100_000;
    const quota = Math.max(1000, Math.round(limits.cpus * period));
    if (version === 2) {
      await writeFile(path.join(dir, 'cpu.max'), `${quota} ${period}`);
    } else {
      await writeFile(path.join(dir, 'cpu.cfs_period_us'), String(period));
      await writeFile(path.join(dir, 'cpu.cfs_quota_us'), String(quota));
    }
  }
}
