// Assembles the command line that starts a tenant process, outermost first:
//
//   /bin/sh -c <enter cgroups> ... --      (root) puts its own pid into the instance's cgroups, then execs
//   bwrap <sandbox> --                     (root, no user namespace) builds the filesystem view
//   setpriv --reuid U --regid G ... --     drops to the tenant's uid/gid: no groups, no capabilities, no_new_privs
//   <runtime> <shim>                       the tenant process
//
// Every step execs the next, so the spawned pid ends up being bwrap (or the runtime itself
// without bwrap), and the tenant's first instruction already runs inside its cgroups.
// Nothing secret goes into argv (readable by anyone in /proc/<pid>/cmdline): the project env and
// the rest of the startup configuration travel on stdin.
import type { HostSupport } from './host.ts';
import type { InstanceCgroup } from './cgroups.ts';
import { bwrapArgs, type SandboxSpec } from './sandbox.ts';

const ENTER_CGROUPS = 'unset PWD OLDPWD; while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';

export interface LaunchSpec {
  host: HostSupport;
  uid: number;
  gid: number;
  /** null: no bubblewrap (missing, or not wanted). */
  sandbox: SandboxSpec | null;
  cgroup: InstanceCgroup | null;
  /** The runtime's argv, paths as the tenant sees them. */
  command: string[];
  /** Working directory when there is no sandbox (the sandbox has its own --chdir). */
  cwd: string;
}

export interface LaunchPlan {
  file: string;
  args: string[];
  cwd: string;
  /** Whether the spawned pid is bwrap (SIGTERM would kill the sandbox outright, not gracefully). */
  sandboxed: boolean;
}

/** setpriv's arguments for dropping from root to the tenant: nothing of root survives the exec. */
export function dropPrivileges(setpriv: string, uid: number, gid: number): string[] {
  return [setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--'];
}

export function buildLaunch(spec: LaunchSpec): LaunchPlan {
  const { host } = spec;
  let argv = spec.command;
  const separate = host.root; // uid separation happens only when we can switch users
  if (separate) {
    if (spec.uid <= 0 || spec.gid <= 0) throw new Error(`refusing to run a tenant as uid ${spec.uid} / gid ${spec.gid}`);
    if (!host.setpriv) throw new Error('setpriv (util-linux) is not installed: tenants cannot be run under their own uid');
  }
  if (spec.sandbox && host.bwrap) {
    const inner = separate ? [...dropPrivileges(host.setprivInSandbox!, spec.uid, spec.gid), ...argv] : argv;
    argv = [host.bwrap.path, ...bwrapArgs(host.bwrap.privileged, spec.sandbox), '--', ...inner];
  } else if (separate) {
    argv = [...dropPrivileges(host.setpriv!, spec.uid, spec.gid), ...argv];
  }
  if (spec.cgroup && host.root) {
    argv = ['/bin/sh', '-c', ENTER_CGROUPS, 'webhost-enter-cgroup', ...spec.cgroup.dirs.map((d) => `${d}/cgroup.procs`), '--', ...argv];
  }
  return {
    file: argv[0]!,
    args: argv.slice(1),
    cwd: spec.sandbox && host.bwrap ? '/' : spec.cwd,
    sandboxed: Boolean(spec.sandbox && host.bwrap),
  };
}
