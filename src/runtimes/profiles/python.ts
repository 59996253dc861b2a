// Python: no permission model of its own; bubblewrap and the tenant's uid are its whole
// confinement. Debian's /usr/bin/python3 comes first (it lives under /usr, which the sandbox
// shows); another python3 has its whole prefix bound read-only at the same path.
import { existsSync, realpathSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { Mount } from '../sandbox.ts';
import type { InstallStep, Mechanism, RuntimeBinary, RuntimeProfile, TenantView } from '../profile.ts';
import { runCommand } from '../run-command.ts';
import { locateBinary } from './locate.ts';

export const PYTHON_DEPS_DIR = '.python-packages';

export function pythonProfile(explicit?: string): RuntimeProfile {
  return {
    runtime: 'python',
    shim: 'python.py',
    usesCache: false,
    ownFsPermissions: false,

    async locate(): Promise<RuntimeBinary | null> {
      const bin = explicit ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : locateBinary('python3'));
      if (!bin) return null;
      const r = await runCommand([bin, '-I', '-c', 'import sys; print("python %d.%d.%d" % sys.version_info[:3])']);
      return r.code === 0 ? { path: bin, version: r.stdout.trim() } : null;
    },

    async argv(view: TenantView): Promise<string[]> {
      // -I: no PYTHON* variables, no user site, no script folder on sys.path; -B: the source is
      // read-only, so no .pyc files; -u: output reaches the log as it is printed
      return [view.binary, '-I', '-B', '-u', path.posix.join(view.shims, 'python.py')];
    },

    env(): Record<string, string> {
      return {};
    },

    async mechanisms(): Promise<Mechanism[]> {
      return [{ name: 'python has no permission model', enforced: false, note: 'python confines nothing by itself; the sandbox and the uid do' }];
    },

    sandboxBinary(hostPath: string): { path: string; mounts: Mount[] } {
      // a python outside /usr (pyenv, a venv) needs its whole prefix: the stdlib lives there
      const real = realpathSync(hostPath);
      if (real.startsWith('/usr/')) return { path: real, mounts: [] };
      const prefix = path.dirname(path.dirname(real));
      return { path: real, mounts: [{ host: prefix, inside: prefix, writable: false }] };
    },

    async install(sourceDir: string, view: TenantView): Promise<InstallStep | null> {
      const req = await lstat(path.join(sourceDir, 'requirements.txt')).catch(() => null);
      if (!req) return null;
      if (!req.isFile()) throw new Error('requirements.txt is not a regular file');
      return {
        what: 'pip install -r requirements.txt',
        argv: [
          view.binary, '-I', '-m', 'pip', 'install', '--no-input', '--disable-pip-version-check', '--no-cache-dir',
          '--target', path.posix.join(view.source, PYTHON_DEPS_DIR), '-r', path.posix.join(view.source, 'requirements.txt'),
        ],
        env: {},
        mounts: [],
      };
    },
  };
}
