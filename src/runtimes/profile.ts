// What differs between the process runtimes, and nothing else: where the binary is, how it is
// invoked (its own permission flags), what it needs in its env, how it installs dependencies and
// what it enforces by itself. The generic driver (process-driver.ts) does everything else.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { ProcessRuntime } from './driver.ts';
import { INSIDE, type Mount } from './sandbox.ts';

export interface RuntimeBinary {
  /** Real path on the host. */
  path: string;
  /** e.g. "deno 2.9.6". */
  version: string;
}

/** The paths the tenant process sees: fixed ones inside the sandbox, host paths without it. */
export interface TenantView {
  source: string;
  /** The source folder's host path (for reading the app's own config files). */
  hostSource: string;
  entry: string;
  data: string;
  run: string;
  socket: string;
  shims: string;
  tmp: string;
  home: string;
  /** A per-deployment cache folder (deno's DENO_DIR), when the runtime uses one. */
  cache: string | null;
  /** The runtime binary. */
  binary: string;
  /** Whether these paths are inside bubblewrap. */
  sandboxed: boolean;
}

export interface Mechanism {
  name: string;
  enforced: boolean;
  note?: string;
}

export interface InstallStep {
  /** For messages: "npm install --omit=dev". */
  what: string;
  argv: string[];
  env: Record<string, string>;
  /** Extra read-only mounts the installer needs (its own files outside /usr). */
  mounts: Mount[];
}

export interface RuntimeProfile {
  readonly runtime: ProcessRuntime;
  /** File name in shims/. */
  readonly shim: string;
  readonly usesCache: boolean;
  /** Whether the runtime confines the filesystem by itself (deno, node); if not, only bwrap does. */
  readonly ownFsPermissions: boolean;
  locate(): Promise<RuntimeBinary | null>;
  /** The runtime's argv (view paths). */
  argv(view: TenantView): Promise<string[]>;
  /** Runtime-specific variables added to the minimal base env (never secrets). */
  env(view: TenantView): Record<string, string>;
  /** What the runtime itself enforces, for isolation(). */
  mechanisms(): Promise<Mechanism[]>;
  /** The dependency install this source asks for, or null. `view` has the source writable. */
  install(sourceDir: string, view: TenantView): Promise<InstallStep | null>;
  /** How the binary appears inside the sandbox, when binaryInSandbox() is not enough. */
  sandboxBinary?(hostPath: string): { path: string; mounts: Mount[] };
}

/**
 * How a binary appears inside the sandbox: under /usr it is already there; a single-file binary
 * elsewhere (deno and bun from npm) is bound read-only at /opt/webhost/bin/<name>.
 */
export function binaryInSandbox(hostPath: string, name: string): { path: string; mounts: Mount[] } {
  const real = realpathSync(hostPath);
  if (real.startsWith('/usr/')) return { path: real, mounts: [] };
  const inside = path.posix.join(INSIDE.bin, name);
  return { path: inside, mounts: [{ host: real, inside, writable: false }] };
}
