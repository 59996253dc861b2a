// The JSON documents of the public verifier endpoints, shared by the daemon (which serves them),
// the `webhost verify` CLI and the verifier page (which read them). Pure types: nothing here runs.
//
//   GET /_api/verification/<name>[?nonce=<hex>]                         → VerificationResponse
//   GET /_api/attest/<name>[?nonce=<hex>]                               → AttestationResponse
//   GET /_api/projects/<name>/audit[?consistency=<m>][&inclusion=<i>]   → AuditResponse
//
// All three are public for attested projects only; a dev or missing project is a 404
// ApiErrorResponse. A malformed nonce, `consistency` or `inclusion` is a 400 naming the parameter.
// None of them ever carries a private key or an env value.
import type { EvidenceBundle, Preimage } from './bundle.ts';

/**
 * `nonce`: lowercase or uppercase hex, an even number of digits, at most 64 bytes (128 digits). The
 * daemon binds it, lowercased, into the preimage; without one the preimage's nonce is null.
 */
export type NonceParam = string;

/**
 * The whole evidence bundle. `project` is the public project view plus `app_key` (hex Ed25519
 * public key of the project's app key, or null): the same value the preimage binds.
 */
export type VerificationResponse = EvidenceBundle;

/** A fresh quote over the project's current state: the `attestation` part of the bundle without collateral. */
export interface AttestationResponse {
  /** Hex of the TDX quote. */
  quote: string;
  /** GetQuote's event log, a JSON array carried as a string (runtime digests may be empty: recompute them). */
  event_log: string;
  /** Hex of the 64-byte report_data = SHA-512("dstack-webhost/v1:" ‖ canonical JSON of `preimage`). */
  report_data: string;
  /** The CVM's vm_config JSON text, as GetQuote returned it. */
  vm_config: string;
  preimage: Preimage;
}

/**
 * The project's current audit log. `checkpoint`, `size` and `entries` always describe the same
 * tree (one snapshot), so `entries.length === size`.
 */
export interface AuditResponse {
  /** Checkpoint origin line, `<host>/dstack-webhost/<project>/<n>-<8 hex>`. */
  origin: string;
  /** The log's Ed25519 verifier key (C2SP note vkey). */
  public_key: string;
  size: number;
  /** The latest signed checkpoint (C2SP signed-note text). */
  checkpoint: string;
  /** Every entry's exact canonical JSON text, seq 0 … size-1. */
  entries: string[];
  /**
   * With `?consistency=<m>` (0 ≤ m ≤ size): base64 hashes of the RFC 9162 consistency proof from
   * the tree of size m to this checkpoint's tree ([] when m is 0 or size).
   */
  consistency_proof?: string[];
  /** With `?inclusion=<i>` (0 ≤ i < size): base64 hashes of entry i's audit path in this checkpoint's tree. */
  inclusion_proof?: string[];
}

/** Every error of the API. */
export interface ApiErrorResponse {
  error: string;
  code: string;
  field?: string;
}
