// Node: confined by its permission model (and by bubblewrap where the machine has it). The flag
// is --experimental-permission up to Node 22.12 and --permission after; which one this node
// takes is found out by asking it.
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { InstallStep, Mechanism, RuntimeBinary, RuntimeProfile, TenantView } from '../profile.ts';
import { runCommand } from '../run-command.ts';
import { which } from '../which.ts';
import { INSIDE } from '../sandbox.ts';
import { wantsDependencies } from './package-json.ts';

const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

let permissionFlag: Promise<string> | null = null;

function detectPermissionFlag(bin: string): Promise<string> {
  permissionFlag ??= runCommand([bin, '--permission', '-e', '0']).then((r) => (r.code === 0 ? '--permission' : '--experimental-permission'));
  return permissionFlag;
}

export function nodeProfile(explicit?: string): RuntimeProfile {
  const bin = explicit ?? process.execPath;
  return {
    runtime: 'node',
    shim: 'node.mjs',
    usesCache: false,
    ownFsPermissions: true,

    async locate(): Promise<RuntimeBinary | null> {
      const r = await runCommand([bin, '--version']);
      return r.code === 0 ? { path: realpathSync(bin), version: `node ${r.stdout.trim()}` } : null;
    },

    async argv(view: TenantView): Promise<string[]> {
      const flag = await detectPermissionFlag(bin);
      const reads = [view.source, view.data, view.run, view.shims];
      const writes = [view.data, view.run];
      return [
        view.binary,
        flag,
        // the warning would print at every start, into the app's own log
        '--disable-warning=ExperimentalWarning',
        ...reads.map((p) => `--allow-fs-read=${p}`),
        ...writes.map((p) => `--allow-fs-write=${p}`),
        path.posix.join(view.shims, 'node.mjs'),
      ];
    },

    env(): Record<string, string> {
      // Node trusts only its bundled roots; the machine's CA store (shown in the sandbox under
      // /etc/ssl) is what every other runtime here trusts, so node gets it too.
      return existsSync(SYSTEM_CA_BUNDLE) ? { NODE_EXTRA_CA_CERTS: SYSTEM_CA_BUNDLE } : {};
    },

    async mechanisms(): Promise<Mechanism[]> {
      const flag = await detectPermissionFlag(bin);
      const note = flag === '--experimental-permission' ? 'experimental on this Node version (--experimental-permission)' : undefined;
      return [
        { name: 'node permission model: reads only its own source, data and run folders', enforced: true, ...(note ? { note } : {}) },
        { name: 'node permission model: writes only its own data and run folders', enforced: true, ...(note ? { note } : {}) },
        { name: 'node permission model: no child processes, worker threads, addons or WASI', enforced: true, ...(note ? { note } : {}) },
      ];
    },

    async install(sourceDir: string, view: TenantView): Promise<InstallStep | null> {
      if (!(await wantsDependencies(sourceDir))) return null;
      const npm = which('npm');
      if (!npm) throw new Error('package.json lists dependencies, but npm is not installed on this machine');
      const cli = realpathSync(npm); // .../npm/bin/npm-cli.js
      const root = path.dirname(path.dirname(cli));
      const visible = root.startsWith('/usr/') || !view.sandboxed;
      const insideRoot = visible ? root : path.posix.join(INSIDE.bin, 'npm');
      return {
        what: 'npm install --omit=dev',
        argv: [view.binary, path.posix.join(insideRoot, path.relative(root, cli)), 'install', '--omit=dev', '--no-audit', '--no-fund'],
        env: {
          npm_config_cache: path.posix.join(view.tmp, '.npm'),
          npm_config_update_notifier: 'false',
          npm_config_userconfig: path.posix.join(view.tmp, '.npmrc'),
        },
        mounts: visible ? [] : [{ host: root, inside: insideRoot, writable: false }],
      };
    },
  };
}
