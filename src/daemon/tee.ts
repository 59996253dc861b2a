// The daemon's TEE: the real dstack guest agent when one is there (or named), otherwise the
// built-in simulator, started in the state folder so its keys and root CA survive restarts.
// Every secret the daemon needs (log signing keys, the env-digest key, app keys) is derived here
// through GetKey, so on real hardware none of them ever exists outside the CVM.
import path from 'node:path';
import { GuestAgentClient } from '../attestation/guest-agent-client.ts';
import { startSimulator, type Simulator } from '../attestation/simulator/index.ts';
import { collateralForQuote } from '../verify/dcap.ts';
import type { Collateral } from '../verify/bundle.ts';
import type { FetchLike } from '../verify/collateral.ts';

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
  /** PCCS collateral for this platform, cached (null when it cannot be had right now). */
  collateral(): Promise<Collateral | null>;
  close(): Promise<void>;
}

/** Paths under which the daemon derives its keys; changing one changes every key below it. */
export const KEY_PATHS = {
  envDigest: 'dstack-webhost/v1/env-digest',
  auditLog: (origin: string) => `dstack-webhost/v1/audit-log/${origin}`,
  appKey: (project: string, treeHash: string) => `dstack-webhost/v1/app/${project}/${treeHash}`,
};

/** Intel publishes TCB info and QE identity valid for 30 days; refreshing every few hours keeps the evidence fresh. */
const COLLATERAL_TTL_MS = 6 * 3600_000;

export async function connectTee(opts: { endpoint: string | undefined; simulated: boolean; stateDir: string; pccsUrl?: string; log?: (msg: string) => void }): Promise<Tee> {
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
  let cached: { at: number; value: Promise<Collateral | null> } | undefined;
  const collateral = (): Promise<Collateral | null> => {
    if (simulator) return Promise.resolve(simulator.collateral());
    if (!cached || Date.now() - cached.at > COLLATERAL_TTL_MS) {
      const value = (async () => {
        const q = await client.getQuote(new Uint8Array(0));
        return collateralForQuote(q.quoteBytes, opts.pccsUrl ?? 'https://pccs.phala.network', fetch as unknown as FetchLike);
      })().catch((err: Error) => {
        opts.log?.(`collateral from ${opts.pccsUrl ?? 'the default PCCS'}: ${err.message}`);
        cached = undefined; // try again next time
        return null;
      });
      cached = { at: Date.now(), value };
    }
    return cached.value;
  };
  return {
    client,
    kind,
    collateral,
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
