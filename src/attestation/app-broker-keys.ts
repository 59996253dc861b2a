// The app key: one Ed25519 key per (project, tree hash), derived inside the TEE. The derivation is
// the one the public evidence publishes (src/api/attested-routes.ts appKey(): KEY_PATHS.appKey of
// the project name and the tree hash — the deployment id when there is no tree — purpose
// 'app-key', public key = ed25519.getPublicKey(seed)), so what the broker signs with is exactly
// the key the bundle's quote binds. The seed stays in this process: tenants get signatures only.
import { createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519';
import { bytesToHex } from '@noble/hashes/utils';
import { KEY_PATHS } from '../daemon/tee.ts';

export const APP_KEY_PURPOSE = 'app-key';

/** What the derivation needs of a deployment: its id and recorded tree hash. */
export interface AppKeyDeployment {
  id: string;
  record: { source: { tree_hash: string | null } };
}

/** The GetKey path of a project's app key for this deployment's code. */
export function appKeyPath(project: string, d: AppKeyDeployment): string {
  return KEY_PATHS.appKey(project, d.record.source.tree_hash ?? d.id);
}

/** Derives the app key seed through the TEE (GetKey). */
export function deriveAppKeySeed(tee: { deriveKey(path: string, purpose: string): Promise<Uint8Array> }, project: string, d: AppKeyDeployment): Promise<Uint8Array> {
  return tee.deriveKey(appKeyPath(project, d), APP_KEY_PURPOSE);
}

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410), so node:crypto signs natively.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export class AppSigner {
  /** Hex of the 32-byte public key (the bundle's `app_key`). */
  readonly publicKey: string;
  private readonly key: KeyObject;

  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new Error(`an Ed25519 seed is 32 bytes, not ${seed.length}`);
    this.publicKey = bytesToHex(ed25519.getPublicKey(seed));
    this.key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  }

  /** Hex of the 64-byte Ed25519 signature of `message`. */
  sign(message: Uint8Array): string {
    return cryptoSign(null, message, this.key).toString('hex');
  }
}
