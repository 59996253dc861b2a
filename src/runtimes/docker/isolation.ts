// What is actually enforced for Layer 1 tenants on this engine, in plain words, for
// /_api/substrate. Everything is read from the engine (`/info`, `/version`), never assumed: a
// runtime that is configured but not installed, or a cgroup controller the kernel lacks, shows
// up as not enforced.
import type { IsolationReport } from '../driver.ts';
import type { DockerEngine } from './engine/client.ts';
import type { EngineInfo } from './engine/types.ts';
import { DEFAULT_CAPS } from './policy/hardening.ts';

export interface EngineSummary {
  socket: string;
  version: string;
  apiVersion: string;
  defaultRuntime: string;
  runtimes: string[];
  cgroupVersion: string | null;
  cgroupDriver: string | null;
  securityOptions: string[];
}

export interface DockerIsolation {
  available: boolean;
  /** Why not, when the engine cannot be reached or the configured runtime is missing. */
  error: string | null;
  engine: EngineSummary | null;
  /** DAEMON_CONTAINER_RUNTIME, or null when the engine's default is used. */
  configuredRuntime: string | null;
  /** The runtime tenant containers actually get. */
  effectiveRuntime: string | null;
  /** One report per Layer 1 runtime (image, dockerfile, compose), in the shape every driver uses. */
  reports: IsolationReport[];
}

function has(info: EngineInfo, name: string): boolean {
  return (info.SecurityOptions ?? []).some((o) => o.split(',').includes(`name=${name}`));
}

export async function describeIsolation(engine: DockerEngine, configured: string | null): Promise<DockerIsolation> {
  let info: EngineInfo;
  let apiVersion: string;
  let version: string;
  try {
    const v = await engine.version();
    version = v.Version;
    apiVersion = await engine.apiVersion();
    info = await engine.info();
  } catch (err) {
    const error = `the Docker engine is not available: ${(err as Error).message}`;
    return {
      available: false,
      error,
      engine: null,
      configuredRuntime: configured,
      effectiveRuntime: null,
      reports: (['image', 'dockerfile', 'compose'] as const).map((runtime) => ({ runtime, available: false, version: null, mechanisms: [{ name: 'docker-engine', enforced: false, note: error }] })),
    };
  }
  const runtimes = Object.keys(info.Runtimes ?? {}).sort();
  const effective = configured ?? info.DefaultRuntime;
  const runtimeOk = runtimes.includes(effective);
  const warnings = (info.Warnings ?? []).join(' ');
  const bridgeNf = !/bridge-nf-call-iptables is disabled/i.test(warnings);
  const userns = has(info, 'userns');
  const rootless = has(info, 'rootless');
  const common: IsolationReport['mechanisms'] = [
    {
      name: `oci-runtime:${effective}`,
      enforced: runtimeOk,
      note: runtimeOk
        ? effective === 'runsc'
          ? 'gVisor: a user-space kernel between each container and the host kernel'
          : effective === 'sysbox-runc'
            ? 'sysbox: user-namespaced system containers'
            : 'runc: namespaces, cgroups and seccomp on the shared host kernel'
        : `the engine has no runtime "${effective}" (it has ${runtimes.join(', ')}); containers cannot start`,
    },
    { name: 'memory-limit', enforced: info.MemoryLimit, note: info.MemoryLimit ? 'per container, from the manifest limits' : 'the kernel has no memory cgroup: limits are not applied' },
    { name: 'swap-off', enforced: info.SwapLimit, note: info.SwapLimit ? 'swap is capped at the memory limit' : 'no swap accounting: the engine cannot stop containers from swapping' },
    { name: 'cpu-limit', enforced: info.CpuCfsQuota, note: info.CpuCfsQuota ? 'CFS quota (NanoCPUs) per container' : 'no CFS quota support: CPU is not limited' },
    { name: 'pids-limit', enforced: info.PidsLimit, note: info.PidsLimit ? 'per container' : 'no pids cgroup: fork bombs are not contained' },
    { name: 'capabilities', enforced: true, note: `all dropped except ${DEFAULT_CAPS.join(', ')} (compose may add only a short safe list)` },
    { name: 'no-new-privileges', enforced: true },
    { name: 'seccomp', enforced: has(info, 'seccomp'), note: has(info, 'seccomp') ? "the engine's default profile; tenants cannot change it" : 'the engine has no seccomp support' },
    { name: 'apparmor', enforced: has(info, 'apparmor'), ...(has(info, 'apparmor') ? {} : { note: 'not available on this kernel' }) },
    {
      name: 'user-namespace',
      enforced: userns || rootless || effective === 'sysbox-runc',
      note: userns || rootless || effective === 'sysbox-runc' ? 'container root is not host root' : "no user-namespace remapping: root in a container is root on the host, limited by the capabilities and confinement above",
    },
    {
      name: 'network-isolation',
      enforced: bridgeNf,
      note: bridgeNf
        ? "each deployment has its own bridge networks; the engine's inter-network rules drop traffic between projects (requires dockerd's default --iptables=true)"
        : 'bridge-nf-call-iptables is disabled: traffic between project networks may not be filtered',
    },
    { name: 'no-published-ports', enforced: true, note: 'nothing is published to the host; the daemon reaches the entry by container IP' },
    { name: 'host-paths', enforced: true, note: "only the project's data folder (read-write) and its own source (read-only); never the Docker or dstack socket" },
    { name: 'egress-filter', enforced: false, note: "containers may open outbound connections, including to the host's listening ports through their network gateway" },
    { name: 'read-only-rootfs', enforced: false, note: 'optional per project (read_only)' },
    { name: 'disk-quota', enforced: false, note: 'container layers and volumes share the engine disk without a quota' },
  ];
  const reports: IsolationReport[] = [
    { runtime: 'image', available: runtimeOk, version: `docker ${version}`, mechanisms: common },
    {
      runtime: 'dockerfile',
      available: runtimeOk,
      version: `docker ${version}`,
      mechanisms: [
        ...common,
        {
          name: 'build-sandbox',
          enforced: false,
          note: `builds run in the engine's builder under its default runtime (${info.DefaultRuntime}) with the project's memory/CPU caps, but default capabilities and network access; the build sees only the source folder`,
        },
      ],
    },
    {
      runtime: 'compose',
      available: runtimeOk,
      version: `docker ${version} (compose subset on the Engine API)`,
      mechanisms: [...common, { name: 'compose-policy', enforced: true, note: 'privileged, host namespaces, devices, host paths, sockets, extra capabilities and confinement changes are refused' }],
    },
  ];
  return {
    available: runtimeOk,
    error: runtimeOk ? null : `OCI runtime "${effective}" is not installed in the engine`,
    engine: {
      socket: engine.socketPath,
      version,
      apiVersion,
      defaultRuntime: info.DefaultRuntime,
      runtimes,
      cgroupVersion: info.CgroupVersion ?? null,
      cgroupDriver: info.CgroupDriver ?? null,
      securityOptions: info.SecurityOptions ?? [],
    },
    configuredRuntime: configured,
    effectiveRuntime: effective,
    reports,
  };
}
