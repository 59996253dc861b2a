// The paths a tenant process sees, its sandbox mounts, and its minimal base env. Inside
// bubblewrap the paths are fixed (/app, /data, /run/webhost, ...); without it they are the host's.
import path from 'node:path';
import type { InstanceSpec } from './driver.ts';
import { binaryInSandbox, type RuntimeProfile, type TenantView } from './profile.ts';
import { INSIDE, type Mount } from './sandbox.ts';
import { SHIMS_DIR } from './profiles/locate.ts';

export const SOCKET_NAME = 'app.sock';

export interface ViewPlan {
  view: TenantView;
  /** bubblewrap mounts (empty without the sandbox). */
  mounts: Mount[];
}

export interface ViewInput {
  spec: Pick<InstanceSpec, 'sourceDir' | 'entry' | 'dataDir' | 'runDir'>;
  profile: RuntimeProfile;
  binary: string;
  sandboxed: boolean;
  /** Host path of the per-deployment cache, when the runtime uses one. */
  cacheDir: string | null;
  /** The source is writable (dependency install). */
  sourceWritable?: boolean;
  /** Leave out the data and run folders (dependency install needs neither). */
  sourceOnly?: boolean;
}

export function planView(input: ViewInput): ViewPlan {
  const { spec, sandboxed, cacheDir } = input;
  if (!sandboxed) {
    const tmp = path.join(spec.runDir, 'tmp');
    return {
      view: {
        source: spec.sourceDir,
        hostSource: spec.sourceDir,
        entry: path.join(spec.sourceDir, spec.entry),
        data: spec.dataDir,
        run: spec.runDir,
        socket: path.join(spec.runDir, SOCKET_NAME),
        shims: SHIMS_DIR,
        tmp,
        home: tmp,
        cache: cacheDir,
        binary: input.binary,
        sandboxed: false,
      },
      mounts: [],
    };
  }
  const bin = input.profile.sandboxBinary?.(input.binary) ?? binaryInSandbox(input.binary, input.profile.runtime);
  const mounts: Mount[] = [{ host: spec.sourceDir, inside: INSIDE.source, writable: Boolean(input.sourceWritable) }];
  if (!input.sourceOnly) {
    mounts.push({ host: spec.dataDir, inside: INSIDE.data, writable: true }, { host: spec.runDir, inside: INSIDE.run, writable: true });
  }
  mounts.push({ host: SHIMS_DIR, inside: INSIDE.shims, writable: false }, ...bin.mounts);
  if (cacheDir) mounts.push({ host: cacheDir, inside: INSIDE.cache, writable: true });
  return {
    view: {
      source: INSIDE.source,
      hostSource: spec.sourceDir,
      entry: path.posix.join(INSIDE.source, spec.entry),
      data: INSIDE.data,
      run: INSIDE.run,
      socket: path.posix.join(INSIDE.run, SOCKET_NAME),
      shims: INSIDE.shims,
      tmp: INSIDE.tmp,
      home: INSIDE.tmp,
      cache: cacheDir ? INSIDE.cache : null,
      binary: bin.path,
      sandboxed: true,
    },
    mounts,
  };
}

/** The whole process env of a tenant before its shim adds the project env: nothing of the daemon's. */
export function baseEnv(view: TenantView, profile: RuntimeProfile): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: view.home,
    TMPDIR: view.tmp,
    LANG: 'C.UTF-8',
    ...profile.env(view),
  };
}
