// The process drivers of this daemon, one per runtime, and the helpers the deploy pipeline uses.
import type { ProcessRuntime, RuntimeDriver } from './driver.ts';
import { ProcessDriver, type ProcessDriverOptions } from './process-driver.ts';
import { denoProfile } from './profiles/deno.ts';
import { nodeProfile } from './profiles/node.ts';
import { bunProfile } from './profiles/bun.ts';
import { pythonProfile } from './profiles/python.ts';
import type { RuntimeProfile } from './profile.ts';

export interface ProcessDriversOptions extends ProcessDriverOptions {
  /** Explicit runtime binaries; by default this repository's node_modules/.bin, then PATH (node: the daemon's own). */
  binaries?: Partial<Record<ProcessRuntime, string>>;
}

export function processProfiles(binaries: Partial<Record<ProcessRuntime, string>> = {}): RuntimeProfile[] {
  return [denoProfile(binaries.deno), nodeProfile(binaries.node), bunProfile(binaries.bun), pythonProfile(binaries.python)];
}

export async function createProcessDrivers(opts: ProcessDriversOptions = {}): Promise<Map<ProcessRuntime, RuntimeDriver>> {
  const drivers = new Map<ProcessRuntime, RuntimeDriver>();
  for (const profile of processProfiles(opts.binaries)) drivers.set(profile.runtime, new ProcessDriver(profile, opts));
  return drivers;
}

export { ProcessDriver, deploymentCacheDir, removeDeploymentCache } from './process-driver.ts';
export { prepareTenantDirs, ensureOwnedDir, sealTree } from './tenant-dirs.ts';
export { Supervisor } from './supervisor.ts';
export { StartFailureError, PrepareFailureError } from './failures.ts';
export { MECHANISM } from './isolation.ts';
