// The one driver for the four process runtimes: a RuntimeProfile says what differs (binary,
// flags, installer), this class does the rest — folders, cgroups, sandbox, launch, install.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Instance, InstanceSpec, IsolationReport, Limits, ProcessRuntime, RuntimeDriver } from './driver.ts';
import { hostSupport, type HostSupport } from './host.ts';
import { InstanceCgroup } from './cgroups.ts';
import { buildLaunch } from './launch.ts';
import { ProcessInstance } from './process-instance.ts';
import { PrepareFailureError } from './failures.ts';
import { buildIsolationReport } from './isolation.ts';
import { runInstall } from './install-run.ts';
import { baseEnv, planView, SOCKET_NAME } from './view.ts';
import { ensureOwnedDir, giveTree, whyUnreachable } from './tenant-dirs.ts';
import { SHIMS_DIR } from './profiles/locate.ts';
import { BROKER_SOCKET_NAME, INSIDE } from './sandbox.ts';
import type { Mechanism, RuntimeBinary, RuntimeProfile } from './profile.ts';

export interface ProcessDriverOptions {
  /** The daemon's state folder: per-deployment caches (deno's DENO_DIR) go to <stateDir>/runtime-cache. */
  stateDir?: string;
  /** 'auto' (default): bubblewrap wherever it works here. 'off': never (how a machine without it behaves). */
  sandbox?: 'auto' | 'off';
  /** Deadline of one dependency install (default 10 minutes). */
  installTimeoutMs?: number;
  /** What keeps tenants' network in bounds (the daemon's packet rules); without it, nothing does. */
  network?: () => Mechanism;
}

/** sun_path holds 108 bytes, NUL included. */
const MAX_SOCKET_PATH = 107;

/** A dependency install gets at least this much room, whatever the app's own limits. */
const INSTALL_FLOOR: Limits = { memoryMb: 1024, pids: 256, cpus: 1 };

function safeSegment(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return s.startsWith('.') || !s ? `_${s}` : s;
}

export class ProcessDriver implements RuntimeDriver {
  readonly runtime: ProcessRuntime;
  private readonly profile: RuntimeProfile;
  private readonly opts: ProcessDriverOptions;
  private binaryP: Promise<RuntimeBinary | null> | null = null;

  constructor(profile: RuntimeProfile, opts: ProcessDriverOptions = {}) {
    this.profile = profile;
    this.runtime = profile.runtime;
    this.opts = opts;
  }

  private binary(): Promise<RuntimeBinary | null> {
    this.binaryP ??= this.profile.locate();
    return this.binaryP;
  }

  private sandboxed(host: HostSupport): boolean {
    return this.opts.sandbox !== 'off' && host.bwrap !== null;
  }

  async isolation(): Promise<IsolationReport> {
    const [host, bin, own] = await Promise.all([hostSupport(), this.binary(), this.profile.mechanisms()]);
    return buildIsolationReport(this.runtime, bin, host, this.opts.sandbox !== 'off', own, this.profile.ownFsPermissions, this.opts.network?.());
  }

  private async require(): Promise<{ host: HostSupport; bin: RuntimeBinary }> {
    const [host, bin] = await Promise.all([hostSupport(), this.binary()]);
    if (!bin) throw new Error(`the ${this.runtime} runtime is not installed on this machine`);
    return { host, bin };
  }

  private cacheDir(spec: InstanceSpec): string | null {
    if (!this.profile.usesCache) return null;
    // Per deployment, not per project: code of one deployment must never plant compiled output or
    // packages that a later (say, attested) deployment of the same project would then run.
    if (this.opts.stateDir) {
      return deploymentCacheDir(this.opts.stateDir, spec.project, spec.deploymentId);
    }
    return path.join(spec.runDir, 'cache');
  }

  async start(spec: InstanceSpec): Promise<Instance> {
    const { host, bin } = await this.require();
    const sandboxed = this.sandboxed(host);
    const entry = path.posix.normalize(spec.entry);
    if (path.isAbsolute(entry) || entry === '..' || entry.startsWith('../')) {
      throw new Error(`the entry must be a path inside the source folder: ${spec.entry}`);
    }
    const socketPath = path.join(spec.runDir, SOCKET_NAME);
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      throw new Error(`the instance socket path is too long for a unix socket (${Buffer.byteLength(socketPath)} > ${MAX_SOCKET_PATH} bytes): ${socketPath}`);
    }

    await ensureOwnedDir(spec.runDir, spec.uid, spec.gid);
    const cacheDir = this.cacheDir(spec);
    if (cacheDir) await ensureOwnedDir(cacheDir, spec.uid, spec.gid);
    const { view, mounts } = planView({ spec: { ...spec, entry }, profile: this.profile, binary: bin.path, sandboxed, cacheDir });
    if (!sandboxed) {
      await ensureOwnedDir(view.tmp, spec.uid, spec.gid);
      if (host.root) await this.checkReachable(spec, [spec.sourceDir, spec.dataDir, spec.runDir, SHIMS_DIR, path.dirname(bin.path)]);
    }

    const command = await this.profile.argv(view);
    const cgroup = host.root ? await InstanceCgroup.create(host.cgroups, spec.project, spec.limits) : null;
    try {
      const plan = buildLaunch({
        host,
        uid: spec.uid,
        gid: spec.gid,
        sandbox: sandboxed ? { mounts, chdir: INSIDE.source, tmpBytes: tmpfsBytes(spec.limits) } : null,
        cgroup,
        command,
        cwd: spec.sourceDir,
      });
      return new ProcessInstance({
        plan,
        env: baseEnv(view, this.profile),
        startup: {
          entry: view.entry,
          source: view.source,
          socket: view.socket,
          // ctx.sign / ctx.receipt / ctx.quote talk to the daemon's key broker here (when it serves one)
          broker: path.posix.join(view.run, BROKER_SOCKET_NAME),
          dataDir: view.data,
          env: spec.env,
          project: { name: spec.project, deployment: spec.deploymentId },
        },
        socketPath,
        cgroup,
        limits: spec.limits,
        onOutput: spec.onOutput,
      });
    } catch (err) {
      await cgroup?.remove();
      throw err;
    }
  }

  private async checkReachable(spec: InstanceSpec, dirs: string[]): Promise<void> {
    for (const dir of dirs) {
      const why = await whyUnreachable(dir, spec.uid, spec.gid);
      if (why) throw new Error(`the ${this.runtime} app of '${spec.project}' cannot reach ${dir} without bubblewrap: ${why}`);
    }
  }

  async prepare(spec: InstanceSpec): Promise<void> {
    const { host, bin } = await this.require();
    const sandboxed = this.sandboxed(host);
    const { view, mounts } = planView({
      spec,
      profile: this.profile,
      binary: bin.path,
      sandboxed,
      cacheDir: null,
      sourceWritable: true,
      sourceOnly: true,
    });
    const step = await this.profile.install(spec.sourceDir, view);
    if (!step) return;

    // The install writes into the deployment (node_modules, .python-packages) as the tenant; the
    // caller seals the folder (root-owned, read-only) afterwards.
    await giveTree(spec.sourceDir, spec.uid, spec.gid);
    let workDir: string | null = null;
    if (!sandboxed) {
      workDir = path.join(spec.runDir, `install-${process.pid}-${Date.now()}`);
      await ensureOwnedDir(workDir, spec.uid, spec.gid);
      view.tmp = view.home = workDir;
      if (host.root) await this.checkReachable(spec, [spec.sourceDir, path.dirname(bin.path)]);
    }
    const limits: Limits = {
      memoryMb: Math.max(spec.limits.memoryMb, INSTALL_FLOOR.memoryMb),
      pids: Math.max(spec.limits.pids, INSTALL_FLOOR.pids),
      cpus: Math.max(spec.limits.cpus, INSTALL_FLOOR.cpus),
    };
    const cgroup = host.root ? await InstanceCgroup.create(host.cgroups, spec.project, limits) : null;
    try {
      const plan = buildLaunch({
        host,
        uid: spec.uid,
        gid: spec.gid,
        sandbox: sandboxed ? { mounts: [...mounts, ...step.mounts], chdir: INSIDE.source, tmpBytes: tmpfsBytes(limits) } : null,
        cgroup,
        command: step.argv,
        cwd: spec.sourceDir,
      });
      const env = { ...baseEnv(view, this.profile), ...step.env };
      const r = await runInstall(plan, env, cgroup, this.opts.installTimeoutMs ?? 600_000, spec.onOutput);
      if (r.timedOut) throw new PrepareFailureError(`${step.what} (timed out)`, r.output, r.code);
      if (r.code !== 0) throw new PrepareFailureError(step.what, r.output, r.code);
    } finally {
      await cgroup?.remove();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    }
  }
}

/** The private /tmp may use up to the memory limit (its pages count against that limit anyway). */
function tmpfsBytes(limits: Limits): number | undefined {
  return limits.memoryMb > 0 ? Math.floor(limits.memoryMb * 1024 * 1024) : undefined;
}

/** Where a deployment's runtime cache lives (remove it together with the deployment). */
export function deploymentCacheDir(stateDir: string, project: string, deploymentId: string): string {
  return path.join(stateDir, 'runtime-cache', safeSegment(project), safeSegment(deploymentId));
}

/** Removes a deployment's runtime cache (after the deployment itself is removed). */
export async function removeDeploymentCache(stateDir: string, project: string, deploymentId: string): Promise<void> {
  await rm(deploymentCacheDir(stateDir, project, deploymentId), { recursive: true, force: true });
}
