// The confinement every tenant container gets, whatever its manifest says, and the bounds a
// compose file may move within. One place, so image, dockerfile and compose tenants are equal.

/**
 * Capabilities a container keeps (everything else is dropped). Enough for the usual image entry
 * scripts that chown their data and drop to a service user (postgres, nginx, redis); no NET_RAW
 * (ARP/ICMP spoofing of neighbours), no MKNOD, no SYS_*.
 */
export const DEFAULT_CAPS: readonly string[] = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'NET_BIND_SERVICE'];

/** What a compose file may add on top (harmless under no-new-privileges and without host access). */
export const ALLOWED_CAP_ADD: readonly string[] = [...DEFAULT_CAPS, 'SETPCAP', 'SETFCAP', 'SYS_CHROOT', 'AUDIT_WRITE'];

/** `security_opt` values a compose file may carry: only ones that keep or tighten confinement. */
export const ALLOWED_SECURITY_OPT = /^no-new-privileges(?:[:=]true)?$/;

export const SECURITY_OPT = ['no-new-privileges:true'];

/** Bounded json-file logs, so a chatty tenant cannot fill the disk through the engine. */
export const LOG_CONFIG = { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } };

/** The OCI runtimes the daemon can be configured with (`DAEMON_CONTAINER_RUNTIME`). */
export const KNOWN_RUNTIMES = ['runc', 'sysbox-runc', 'runsc'] as const;
export type OciRuntime = (typeof KNOWN_RUNTIMES)[number];

export function normalizeCap(cap: string): string {
  return cap.toUpperCase().replace(/^CAP_/, '');
}

export function parseRuntimeSetting(value: string | undefined): OciRuntime {
  const v = (value ?? '').trim() || 'runc';
  if (!(KNOWN_RUNTIMES as readonly string[]).includes(v)) {
    throw new Error(`DAEMON_CONTAINER_RUNTIME must be one of ${KNOWN_RUNTIMES.join(', ')}; got ${JSON.stringify(v)}`);
  }
  return v as OciRuntime;
}
