// The daemon's TEE: the real dstack guest agent when one is there (or named), otherwise the
// built-in simulator, started in the state folder so its keys and root CA survive restarts.
// Every secret the daemon needs (log signing keys, the env-digest key, app keys) is derived here
// through GetKey, so on real hardware none of them ever exists outside the CVM.
import path from 'node:path';
import { GuestAgentClient } from '../attestation/guest-agent-client.ts';
import { startSimulator, type Simulator } from '../attestation/simulator/index.ts';

export interface Tee {
  client: GuestAgentClient;
  kind: 'tdx' | 'simulated';
  /** The endpoint the daemon talks to (socket path or URL). */
  endpoint: string;
  /** Hex DER of the simulator root CA, when simulated by the built-in simulator. */
  simulatorRootCa: string | undefined;
  simulator: Simulator | undefined;
  /** A 32-byte key derived inside the TEE for `purpose` at `path` (deterministic across restarts). */
  deriveKey(keyPath: string, purpose: string): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Paths under which the daemon derives its keys; changing one changes every key below it. */
export const KEY_PATHS = {
  envDigest: 'dstack-webhost/v1/env-digest',
  auditLog: (origin: string) => `dstack-webhost/v1/audit-log/${origin}`,
  appKey: (project: string, treeHash: string) => `dstack-webhost/v1/app/${project}/${treeHash}`,
};

export async function connectTee(opts: { endpoint: string | undefined; simulated: boolean; stateDir: string }): Promise<Tee> {
  let simulator: Simulator | undefined;
  let endpoint = opts.endpoint;
  let kind: Tee['kind'] = opts.simulated ? 'simulated' : 'tdx';
  if (!endpoint) {
    simulator = await startSimulator({ dir: path.join(opts.stateDir, 'simulator') });
    endpoint = simulator.endpoint;
    kind = 'simulated';
  }
  const client = new GuestAgentClient({ endpoint });
  // Fail at start-up, with the endpoint named, rather than at the first promote.
  await client.info();
  return {
    client,
    kind,
    endpoint,
    simulatorRootCa: simulator ? Buffer.from(simulator.rootCaDer).toString('hex') : undefined,
    simulator,
    async deriveKey(keyPath, purpose) {
      const r = await client.getKey(keyPath, purpose, 'ed25519');
      return r.key;
    },
    async close() {
      client.close();
      await simulator?.close();
    },
  };
}
