// isolation(): what is actually in force for one runtime on this machine, in plain words. It
// feeds GET /_api/substrate, so each line must be true here, not true in general.
import type { IsolationReport, ProcessRuntime } from './driver.ts';
import type { HostSupport } from './host.ts';
import type { Mechanism, RuntimeBinary } from './profile.ts';
import type { Controller } from './cgroups.ts';

/** Mechanism names, stable so that callers and tests can look them up. */
export const MECHANISM = {
  process: 'separate process per instance',
  uid: 'own unprivileged uid/gid per project',
  fsView: 'bubblewrap: filesystem view of /usr, TLS/DNS files and its own folders only',
  namespaces: 'bubblewrap: own pid, ipc and uts namespaces (other processes are invisible)',
  env: 'process env: the project env plus PATH, HOME, TMPDIR, LANG and the runtime’s own settings (DENO_DIR, CA store) only',
  memory: 'memory limit (cgroup)',
  pids: 'process/thread limit (cgroup)',
  cpu: 'cpu quota (cgroup)',
  network: 'network isolation',
} as const;

/** What a tenant's network is when no packet rules keep it in bounds. */
export const NETWORK_NOT_ENFORCED = 'tenants share the host network: outbound connections work, and local TCP services are reachable';

const LIMIT_NAME: Record<Controller, string> = { memory: MECHANISM.memory, pids: MECHANISM.pids, cpu: MECHANISM.cpu };

export function buildIsolationReport(
  runtime: ProcessRuntime,
  binary: RuntimeBinary | null,
  host: HostSupport,
  sandboxWanted: boolean,
  own: Mechanism[],
  ownFsPermissions: boolean,
  network?: Mechanism,
): IsolationReport {
  const sandboxed = sandboxWanted && host.bwrap !== null;
  const sandboxNote = !sandboxWanted ? 'bubblewrap is turned off for this driver' : (host.bwrapNote ?? undefined);
  const uid = host.root && host.setpriv !== null;
  const mechanisms: Mechanism[] = [
    { name: MECHANISM.process, enforced: true },
    uid
      ? { name: MECHANISM.uid, enforced: true, note: 'setpriv: no supplementary groups, no capabilities, no_new_privs' }
      : {
          name: MECHANISM.uid,
          enforced: false,
          note: host.root ? 'setpriv is not installed' : "the daemon does not run as root: tenants run as the daemon's own user",
        },
    ...own,
    sandboxed
      ? { name: MECHANISM.fsView, enforced: true, note: `${host.bwrap!.version}; source read-only at /app, data at /data` }
      : {
          name: MECHANISM.fsView,
          enforced: false,
          note:
            `${sandboxNote ?? 'bubblewrap is not available'}. ` +
            (ownFsPermissions
              ? `The ${runtime} permission flags still confine its files.`
              : `${runtime} can read every file of the machine its uid may read (other tenants' folders stay closed by their modes), ` +
                'and reach any unix socket its uid may open.'),
        },
    sandboxed
      ? { name: MECHANISM.namespaces, enforced: true }
      : { name: MECHANISM.namespaces, enforced: false, note: 'without bubblewrap, tenants see the host process list (not other users’ environments)' },
    { name: MECHANISM.env, enforced: true, note: 'the daemon env never reaches a tenant; startup configuration travels on stdin, not argv' },
  ];
  for (const s of host.cgroups) {
    mechanisms.push(
      s.base
        ? { name: LIMIT_NAME[s.controller], enforced: true, note: `cgroup v${s.version}: ${s.base}` }
        : { name: LIMIT_NAME[s.controller], enforced: false, note: s.note ?? 'not available' },
    );
  }
  mechanisms.push(
    network ?? { name: MECHANISM.network, enforced: false, note: NETWORK_NOT_ENFORCED },
  );
  return {
    runtime,
    available: binary !== null && (!host.root || host.setpriv !== null),
    version: binary?.version ?? null,
    mechanisms,
  };
}
