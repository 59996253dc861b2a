// Deno: confined by its own permission flags (and by bubblewrap where the machine has it).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Mechanism, RuntimeBinary, RuntimeProfile, TenantView } from '../profile.ts';
import { runCommand } from '../run-command.ts';
import { locateBinary } from './locate.ts';

export function denoProfile(explicit?: string): RuntimeProfile {
  return {
    runtime: 'deno',
    shim: 'deno.mjs',
    usesCache: true,
    ownFsPermissions: true,

    async locate(): Promise<RuntimeBinary | null> {
      const bin = locateBinary('deno', explicit);
      if (!bin) return null;
      const r = await runCommand([bin, '--version']);
      const m = /deno (\S+)/.exec(r.stdout);
      return r.code === 0 && m ? { path: bin, version: `deno ${m[1]}` } : null;
    },

    async argv(view: TenantView): Promise<string[]> {
      const reads = [view.source, view.data, view.run, view.shims];
      const writes = [view.data, view.run];
      for (const p of [...reads, ...writes]) {
        if (p.includes(',')) throw new Error(`deno permission lists cannot hold a path with a comma: ${p}`);
      }
      // The app's own deno.json (import maps, compiler options) is honoured; no other config file
      // anywhere above the source folder is looked for.
      const configName = ['deno.json', 'deno.jsonc'].find((f) => existsSync(path.join(view.hostSource, f)));
      return [
        view.binary,
        'run',
        '--no-prompt',
        `--allow-read=${reads.join(',')}`,
        `--allow-write=${writes.join(',')}`,
        '--allow-net', // outbound HTTP is part of the contract; unix sockets still need read+write permission
        '--allow-env', // the process env holds only the project's own variables
        '--deny-run',
        '--deny-ffi',
        '--deny-sys',
        configName ? `--config=${path.posix.join(view.source, configName)}` : '--no-config',
        path.posix.join(view.shims, 'deno.mjs'),
      ];
    },

    env(view: TenantView): Record<string, string> {
      return {
        DENO_DIR: view.cache ?? path.posix.join(view.tmp, 'deno'),
        DENO_NO_UPDATE_CHECK: '1',
        // trust the machine's own CA store too (the sandbox shows /etc/ssl), not only deno's bundled roots
        DENO_TLS_CA_STORE: 'mozilla,system',
        RUST_BACKTRACE: '0',
        NO_COLOR: '1',
      };
    },

    async mechanisms(): Promise<Mechanism[]> {
      return [
        { name: 'deno permissions: reads only its own source, data and run folders', enforced: true },
        { name: 'deno permissions: writes only its own data and run folders', enforced: true },
        { name: 'deno permissions: no subprocesses, FFI or system information', enforced: true },
      ];
    },

    async install(): Promise<null> {
      return null; // npm: and jsr: specifiers resolve at start, into the deployment's cache
    },
  };
}
