// The JSON shapes of the dstack 0.5.x guest-agent API (`DstackGuest` service on dstack.sock), as
// they travel on the wire. Both our client and our simulator use these, so the simulator cannot
// drift from what the client parses. Field names and order follow dstack's proto/JSON.

import type { TdxEvent } from '../verify/bundle.ts';

export type { TdxEvent };

/** Event type dstack uses for RTMR3 runtime events (boot identity and EmitEvent). */
export const RUNTIME_EVENT_TYPE = 0x08000001;

/** `/GetQuote` response. `event_log` and `vm_config` are JSON documents carried as strings. */
export interface GetQuoteResponse {
  quote: string;
  event_log: string;
  report_data: string;
  vm_config: string;
}

/** `/Attest` response: hex of a SCALE-encoded VersionedAttestation (first byte 0x00 = V0). */
export interface AttestResponse {
  attestation: string;
}

/** The document inside `Info.tcb_info` (a pretty-printed JSON string on the wire). */
export interface TcbInfo {
  mrtd: string;
  rtmr0: string;
  rtmr1: string;
  rtmr2: string;
  rtmr3: string;
  mr_aggregated?: string;
  os_image_hash?: string;
  compose_hash?: string;
  device_id?: string;
  /** Full log: every event with its digest and payload. */
  event_log: TdxEvent[];
  /** The exact app-compose.json text; compose_hash is the SHA-256 of its UTF-8 bytes. */
  app_compose: string;
}

/** `/Info` response as sent (tcb_info still a string). */
export interface InfoResponse {
  app_id: string;
  instance_id: string;
  app_cert: string;
  tcb_info: string;
  app_name: string;
  device_id: string;
  mr_aggregated: string;
  os_image_hash: string;
  key_provider_info: string;
  compose_hash: string;
  vm_config: string;
  cloud_vendor?: string;
  cloud_product?: string;
}

export type KeyAlgorithm = 'secp256k1' | 'k256' | 'ed25519' | '';

/** `/GetKey` response: `key` is 32 bytes hex, `signature_chain` two 65-byte r‖s‖v signatures. */
export interface GetKeyResponse {
  key: string;
  signature_chain: string[];
}

export type SignAlgorithm = 'ed25519' | 'secp256k1' | 'secp256k1_prehashed';

export interface SignResponse {
  signature: string;
  signature_chain: string[];
  public_key: string;
}

export interface VerifyResponse {
  valid: boolean;
}

export interface VersionResponse {
  version: string;
  rev: string;
}

/** Body of every error answer: `{"error": "<message>"}` with status 400 or 500. */
export interface ErrorResponse {
  error: string;
}
