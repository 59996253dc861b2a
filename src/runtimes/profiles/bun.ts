// Bun: no permission model of its own; bubblewrap and the tenant's uid are its whole confinement.
import path from 'node:path';
import type { InstallStep, Mechanism, RuntimeBinary, RuntimeProfile, TenantView } from '../profile.ts';
import { runCommand } from '../run-command.ts';
import { locateBinary } from './locate.ts';
import { wantsDependencies } from './package-json.ts';

export function bunProfile(explicit?: string): RuntimeProfile {
  return {
    runtime: 'bun',
    shim: 'bun.mjs',
    usesCache: false,
    ownFsPermissions: false,

    async locate(): Promise<RuntimeBinary | null> {
      const bin = locateBinary('bun', explicit);
      if (!bin) return null;
      const r = await runCommand([bin, '--version']);
      return r.code === 0 ? { path: bin, version: `bun ${r.stdout.trim()}` } : null;
    },

    async argv(view: TenantView): Promise<string[]> {
      return [
        view.binary,
        '--no-install', // no implicit package downloads at run time: the deployment is what runs
        '--no-env-file', // the env is the project's, not a .env file that came with the source
        path.posix.join(view.shims, 'bun.mjs'),
      ];
    },

    env(): Record<string, string> {
      return { NO_COLOR: '1' };
    },

    async mechanisms(): Promise<Mechanism[]> {
      return [{ name: 'bun has no permission model', enforced: false, note: 'bun confines nothing by itself; the sandbox and the uid do' }];
    },

    async install(sourceDir: string, view: TenantView): Promise<InstallStep | null> {
      if (!(await wantsDependencies(sourceDir))) return null;
      return {
        what: 'bun install --production',
        argv: [view.binary, 'install', '--production', '--no-progress'],
        env: { BUN_INSTALL_CACHE_DIR: path.posix.join(view.tmp, 'bun-cache') },
        mounts: [],
      };
    },
  };
}
