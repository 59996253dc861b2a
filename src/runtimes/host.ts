// What this machine offers for sandboxing, probed once per daemon: are we root (uid separation),
// is setpriv there, does bubblewrap actually work here (a container without user-namespace or
// mount permissions has the binary but cannot use it), which cgroup controllers can we use.
// Every answer comes from trying, not from guessing, because isolation() must tell the truth.
import { runCommand } from './run-command.ts';
import { which } from './which.ts';
import { bwrapArgs } from './sandbox.ts';
import { dropPrivileges } from './launch.ts';
import { detectCgroups, type ControllerSupport } from './cgroups.ts';

export interface HostSupport {
  /** The daemon runs as uid 0, so it can give each tenant its own uid/gid. */
  root: boolean;
  setpriv: string | null;
  /** setpriv's path inside the sandbox (it must live under /usr, which the sandbox shows). */
  setprivInSandbox: string | null;
  bwrap: { path: string; version: string; privileged: boolean } | null;
  /** Why bubblewrap is not used, when it is not. */
  bwrapNote: string | null;
  cgroups: ControllerSupport[];
}

/** A uid/gid that owns nothing, for the sandbox self-test. */
const NOBODY = 65534;

async function probeBwrap(root: boolean, setpriv: string | null): Promise<Pick<HostSupport, 'bwrap' | 'bwrapNote'>> {
  const path = which('bwrap');
  if (!path) return { bwrap: null, bwrapNote: 'bubblewrap (bwrap) is not installed' };
  const version = (await runCommand([path, '--version'])).stdout.trim() || 'bubblewrap';
  const truePath = which('true');
  if (!truePath?.startsWith('/usr/')) return { bwrap: null, bwrapNote: 'no /usr/bin/true to test bubblewrap with' };
  if (root && !setpriv?.startsWith('/usr/')) return { bwrap: null, bwrapNote: 'setpriv is not under /usr, so it cannot run inside the sandbox' };
  const inner = root ? [...dropPrivileges(setpriv!, NOBODY, NOBODY), truePath] : [truePath];
  const r = await runCommand([path, ...bwrapArgs(root, { mounts: [], chdir: '/' }), '--', ...inner], { timeoutMs: 10_000 });
  if (r.code !== 0) {
    return { bwrap: null, bwrapNote: `bubblewrap is installed but does not work here: ${(r.stderr || `exit ${r.code}`).trim()}` };
  }
  return { bwrap: { path, version, privileged: root }, bwrapNote: null };
}

async function probe(): Promise<HostSupport> {
  const root = process.getuid?.() === 0;
  const setpriv = which('setpriv');
  const [sandbox, cgroups] = await Promise.all([probeBwrap(root, setpriv), detectCgroups()]);
  return {
    root,
    setpriv,
    setprivInSandbox: setpriv?.startsWith('/usr/') ? setpriv : null,
    ...sandbox,
    cgroups,
  };
}

let cached: Promise<HostSupport> | null = null;

export function hostSupport(): Promise<HostSupport> {
  cached ??= probe();
  return cached;
}
