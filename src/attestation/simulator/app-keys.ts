// GetKey, Sign and Verify of the simulated guest agent, with dstack's key hierarchy and signature
// formats (research/dstack.md §1.3; dstack's kms/src/crypto.rs and guest-agent rpc_service.rs):
//   KMS root k256 key (ours: derived from the seed)
//     └ app k256 key = HKDF-SHA256(salt "RATLS", ikm root, info app_id ‖ "app-key")
//         sig[1] = root's recoverable signature over keccak256("dstack-kms-issued:" ‖ app_id ‖ app pubkey)
//     └ GetKey(path) = HKDF-SHA256(salt "RATLS", ikm app key, info path), 32 bytes, any algorithm
//         sig[0] = app key's recoverable signature over keccak256(purpose ":" hex(derived pubkey))
// Signatures are r ‖ s ‖ v (65 bytes, v = 0/1). Key material never leaves this module except as
// the GetKey answer itself; nothing here logs.

import { hkdfSync, createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519';
import { secp256k1 } from '@noble/curves/secp256k1';
import { keccak_256 } from '@noble/hashes/sha3';
import type { GetKeyResponse, SignResponse } from '../guest-agent-types.ts';
import { bytesToHex, concatBytes, utf8 } from '../hex.ts';
import { deriveSecp256k1Key } from './derive.ts';

/** dstack's key derivation (ra-tls kdf::derive_key): HKDF-SHA256 with salt "RATLS". */
export function dstackDeriveKey(ikm: Uint8Array, info: Uint8Array, length = 32): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, 'RATLS', info, length));
}

function recoverableSign(key: Uint8Array, message: Uint8Array): Uint8Array {
  const sig = secp256k1.sign(keccak_256(message), key);
  return concatBytes(sig.toCompactRawBytes(), Uint8Array.of(sig.recovery));
}

export class InputError extends Error {}

type Algo = 'secp256k1' | 'ed25519';

function normalizeAlgorithm(a: string): string {
  return a === 'k256' || a === '' ? 'secp256k1' : a;
}

export class AppKeys {
  readonly #appKey: Uint8Array;
  readonly #appKeySignature: Uint8Array;
  /** Compressed secp256k1 public keys, for verifiers of the signature chain. */
  readonly kmsRootPublicKey: Uint8Array;
  readonly appPublicKey: Uint8Array;

  constructor(seed: Uint8Array, appId: Uint8Array) {
    const root = deriveSecp256k1Key(seed, 'kms/root-k256');
    this.#appKey = dstackDeriveKey(root, concatBytes(appId, utf8('app-key')));
    if (!secp256k1.utils.isValidPrivateKey(this.#appKey)) throw new Error('derived app key is not a valid secp256k1 key');
    this.kmsRootPublicKey = secp256k1.getPublicKey(root, true);
    this.appPublicKey = secp256k1.getPublicKey(this.#appKey, true);
    this.#appKeySignature = recoverableSign(root, concatBytes(utf8('dstack-kms-issued:'), appId, this.appPublicKey));
  }

  #derive(path: string, algorithm: string): { key: Uint8Array; publicKey: Uint8Array; algo: Algo } {
    const algo = normalizeAlgorithm(algorithm);
    const key = dstackDeriveKey(this.#appKey, utf8(path));
    if (algo === 'ed25519') return { key, publicKey: ed25519.getPublicKey(key), algo };
    if (algo === 'secp256k1') {
      if (!secp256k1.utils.isValidPrivateKey(key)) throw new Error('derived key is not a valid secp256k1 key');
      return { key, publicKey: secp256k1.getPublicKey(key, true), algo };
    }
    throw new InputError('Unsupported algorithm');
  }

  #chain(purpose: string, publicKey: Uint8Array): Uint8Array[] {
    const sig0 = recoverableSign(this.#appKey, utf8(`${purpose}:${bytesToHex(publicKey)}`));
    return [sig0, this.#appKeySignature];
  }

  getKey(path: string, purpose: string, algorithm: string): GetKeyResponse {
    const { key, publicKey } = this.#derive(path, algorithm);
    return { key: bytesToHex(key), signature_chain: this.#chain(purpose, publicKey).map(bytesToHex) };
  }

  /** Signs with the GetKey("vms", "signing") key, as dstack's /Sign does. */
  sign(algorithm: string, data: Uint8Array): SignResponse {
    const prehashed = algorithm === 'secp256k1_prehashed';
    const { key, publicKey, algo } = this.#derive('vms', prehashed ? 'secp256k1' : algorithm);
    let signature: Uint8Array;
    if (algo === 'ed25519') signature = ed25519.sign(data, key);
    else if (prehashed) {
      if (data.length !== 32) throw new InputError(`Pre-hashed signing requires a 32-byte digest, but received ${data.length} bytes`);
      signature = secp256k1.sign(data, key).toCompactRawBytes();
    } else signature = secp256k1.sign(createHash('sha256').update(data).digest(), key).toCompactRawBytes();
    const [sig0, sig1] = this.#chain('signing', publicKey);
    return {
      signature: bytesToHex(signature),
      signature_chain: [signature, sig0!, sig1!].map(bytesToHex),
      public_key: bytesToHex(publicKey),
    };
  }
}

/** dstack's /Verify: ed25519, secp256k1 (SHA-256 of data) or secp256k1_prehashed. */
export function verifySignature(algorithm: string, data: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  const algo = algorithm === 'k256' ? 'secp256k1' : algorithm;
  if (algo === 'ed25519') {
    if (publicKey.length !== 32) throw new InputError('invalid public key');
    if (signature.length !== 64) throw new InputError('invalid signature');
    return ed25519.verify(signature, data, publicKey);
  }
  if (algo === 'secp256k1' || algo === 'secp256k1_prehashed') {
    try {
      secp256k1.ProjectivePoint.fromHex(publicKey);
    } catch {
      throw new InputError('invalid public key');
    }
    if (signature.length !== 64) throw new InputError('invalid signature');
    const digest = algo === 'secp256k1' ? createHash('sha256').update(data).digest() : data;
    if (digest.length !== 32) throw new InputError('Pre-hashed verification requires a 32-byte digest');
    return secp256k1.verify(signature, digest, publicKey);
  }
  throw new InputError('Unsupported algorithm');
}
