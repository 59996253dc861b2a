// The bubblewrap sandbox: a filesystem view with only the system's /usr (read-only), a few /etc
// files programs need (TLS roots, DNS), a fresh /proc of its own pid namespace, a private /dev and
// /tmp, and the tenant's own folders at fixed paths. Nothing else of the host exists inside: not
// the daemon's state folder, not other tenants' folders or sockets, not the Docker or dstack
// sockets.
//
// Two ways to run it:
//  - privileged (the daemon is root): bwrap itself runs as root, so it can bind the tenant's
//    folders whatever their ancestors' modes, and WITHOUT a user namespace; inside, setpriv drops
//    to the tenant's uid/gid (see launch.ts). A user namespace run by root would map the sandbox
//    onto host uid 0, the owner of every root file: exactly what we must not do.
//  - unprivileged (development, daemon not root): bwrap creates a user namespace as the daemon's
//    own user. No uid separation is possible then; the filesystem view still applies.
import { lstatSync } from 'node:fs';

export interface Mount {
  host: string;
  inside: string;
  writable: boolean;
}

export interface SandboxSpec {
  mounts: Mount[];
  /** Working directory inside. */
  chdir: string;
  /** Size cap of the private /tmp (tmpfs pages also count against the memory limit). */
  tmpBytes?: number;
}

/** Fixed paths a tenant sees inside the sandbox. */
export const INSIDE = {
  source: '/app',
  data: '/data',
  run: '/run/webhost',
  shims: '/opt/webhost/shims',
  bin: '/opt/webhost/bin',
  cache: '/cache',
  tmp: '/tmp',
} as const;

/**
 * The daemon's app-key broker socket, which the daemon (not the tenant) creates in the instance's
 * run folder: /run/webhost/broker.sock inside the sandbox (see attestation/app-broker.ts).
 */
export const BROKER_SOCKET_NAME = 'broker.sock';

/** /etc files a runtime needs for TLS, DNS and time; each is bound only if the host has it. */
const ETC_FILES = [
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/pki',
  '/etc/resolv.conf',
  '/etc/hosts',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/gai.conf',
  '/etc/localtime',
  '/etc/mime.types',
  '/etc/ld.so.cache',
];

/** Top-level folders that merged-/usr systems make symlinks into /usr. */
const USR_LINKS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/**
 * `--dir` with mode 0755 for every folder above a mount point: left to itself, privileged bwrap
 * creates them 0700 root, and the tenant could not get past /etc or /opt.
 */
function parentDirArgs(destinations: string[]): string[] {
  const dirs = new Set<string>();
  for (const d of destinations) {
    const parts = d.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) dirs.add('/' + parts.slice(0, i).join('/'));
  }
  const sorted = [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  return sorted.flatMap((d) => ['--perms', '0755', '--dir', d]);
}

function systemArgs(): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const dir of USR_LINKS) {
    try {
      const st = lstatSync(dir);
      if (st.isSymbolicLink()) args.push('--symlink', `usr${dir}`, dir);
      else if (st.isDirectory()) args.push('--ro-bind', dir, dir);
    } catch {
      // not on this system
    }
  }
  for (const f of ETC_FILES) args.push('--ro-bind-try', f, f);
  return args;
}

export function bwrapArgs(privileged: boolean, spec: SandboxSpec): string[] {
  const args = privileged
    ? // root: no user namespace (see above); its own pid, ipc, uts and cgroup namespaces
      ['--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try']
    : ['--unshare-all', '--share-net', '--unshare-user', '--disable-userns'];
  args.push('--die-with-parent', '--new-session', '--hostname', 'webhost');
  if (privileged) {
    // Between bwrap and setpriv, root keeps only what it needs: entering the tenant-owned working
    // folder (DAC_READ_SEARCH) and dropping to the tenant's user (SETUID, SETGID, SETPCAP).
    // setpriv then drops these too; the tenant's process has no capability at all.
    args.push('--cap-drop', 'ALL');
    for (const cap of ['CAP_DAC_READ_SEARCH', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP']) args.push('--cap-add', cap);
  }
  args.push(...parentDirArgs([...ETC_FILES, ...spec.mounts.map((m) => m.inside)]));
  args.push(...systemArgs());
  args.push('--proc', '/proc', '--dev', '/dev');
  if (spec.tmpBytes) args.push('--size', String(spec.tmpBytes));
  args.push('--perms', '1777', '--tmpfs', INSIDE.tmp);
  for (const m of spec.mounts) args.push(m.writable ? '--bind' : '--ro-bind', m.host, m.inside);
  args.push('--chdir', spec.chdir);
  return args;
}
