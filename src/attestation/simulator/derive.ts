// Every secret of the simulator comes from one 32-byte seed through HKDF-SHA256 with a label per
// use. Only the seed is stored; the PKI keys, the attestation key, the PPID and the "KMS" keys are
// re-derived on each start, so a restart (or a copy of the seed) reproduces the same identities.
// None of this is real key material: it is a development PKI that verifiers accept only on request.

import { createPrivateKey, createPublicKey, hkdfSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/p256';
import { secp256k1 } from '@noble/curves/secp256k1';
import { bytesToHex } from '../hex.ts';

const SALT = 'dstack-webhost/simulator/v1';

export function deriveBytes(seed: Uint8Array, label: string, length = 32): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', seed, SALT, label, length));
}

/** A uniform scalar in [1, n-1]: 48 derived bytes reduced mod n-1, plus one (bias < 2^-128). */
function deriveScalar(seed: Uint8Array, label: string, n: bigint): Uint8Array {
  const wide = BigInt(`0x${bytesToHex(deriveBytes(seed, label, 48))}`);
  const d = (wide % (n - 1n)) + 1n;
  return Uint8Array.from(Buffer.from(d.toString(16).padStart(64, '0'), 'hex'));
}

export interface P256Key {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** JWK with the private part, for importing into WebCrypto (certificate issuance). */
  jwk: JsonWebKey;
  /** Uncompressed public point without the 0x04 prefix (x ‖ y), the form DCAP quotes carry. */
  rawPublic: Uint8Array;
}

export function deriveP256Key(seed: Uint8Array, label: string): P256Key {
  const d = deriveScalar(seed, label, p256.CURVE.n);
  const pub = p256.getPublicKey(d, false);
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
  const jwk: JsonWebKey = { kty: 'EC', crv: 'P-256', d: b64(d), x: b64(pub.subarray(1, 33)), y: b64(pub.subarray(33, 65)) };
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  return { privateKey, publicKey: createPublicKey(privateKey), jwk, rawPublic: pub.subarray(1) };
}

/** A secp256k1 private key (32 bytes) for the dstack key hierarchy (KMS root, app key). */
export function deriveSecp256k1Key(seed: Uint8Array, label: string): Uint8Array {
  return deriveScalar(seed, label, secp256k1.CURVE.n);
}
