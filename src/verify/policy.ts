// What the verifier accepts. Defaults are strict: Intel's root only, TCB UpToDate only,
// collateral required, images pinned by digest. Anything looser is an explicit choice that the
// report then shows (warnings, SIMULATED).
import type { Collateral } from './bundle.ts';
import type { FetchLike } from './collateral.ts';

export interface VerifyOptions {
  /** PCCS collateral for the quote's FMSPC. Takes precedence over pccsUrl. */
  collateral?: Collateral;
  /** A PCCS (or Intel PCS) base URL to fetch collateral from, with `fetch` (default: globalThis.fetch). */
  pccsUrl?: string;
  fetch?: FetchLike;
  /** The time to verify at (certificate and collateral windows). Default: the current time. */
  now?: Date | string | number;
  /** Trust the simulator's root CA. Off by default; the report then says SIMULATED. */
  allowSimulator?: boolean;
  /** The simulator's root CA (DER bytes, hex of the DER, or PEM). Ignored unless allowSimulator. */
  simulatorRootCa?: Uint8Array | string;
  /** TCB statuses that pass. Default ['UpToDate']. */
  allowedTcbStatuses?: readonly string[];
  /** TCB statuses that only warn. Default []. Anything in neither list fails. */
  toleratedTcbStatuses?: readonly string[];
  /** Without collateral, fail dcap.qvl (default true) or skip it. */
  requireCollateral?: boolean;
  /** Unpinned compose images fail (default true) or warn. */
  requirePinnedImages?: boolean;
  /** The daemon image the compose file must name (a full reference or `sha256:<hex>`). */
  daemonImage?: string;
  /** The nonce this verifier sent (hex); the preimage must carry it. */
  nonce?: string;
}

export interface Policy {
  now: Date;
  collateral?: Collateral;
  pccsUrl?: string;
  fetch?: FetchLike;
  allowSimulator: boolean;
  simulatorRootCa?: Uint8Array | string;
  allowedTcbStatuses: readonly string[];
  toleratedTcbStatuses: readonly string[];
  requireCollateral: boolean;
  requirePinnedImages: boolean;
  daemonImage?: string;
  nonce?: string;
}

export const DEFAULT_ALLOWED_TCB_STATUSES: readonly string[] = ['UpToDate'];

export function resolvePolicy(o: VerifyOptions = {}): Policy {
  const now = o.now === undefined ? new Date() : new Date(o.now);
  if (Number.isNaN(now.getTime())) throw new Error('policy.now is not a valid date');
  const p: Policy = {
    now,
    allowSimulator: o.allowSimulator === true,
    allowedTcbStatuses: o.allowedTcbStatuses ?? DEFAULT_ALLOWED_TCB_STATUSES,
    toleratedTcbStatuses: o.toleratedTcbStatuses ?? [],
    requireCollateral: o.requireCollateral ?? true,
    requirePinnedImages: o.requirePinnedImages ?? true,
  };
  if (o.collateral) p.collateral = o.collateral;
  if (o.pccsUrl) p.pccsUrl = o.pccsUrl;
  if (o.fetch) p.fetch = o.fetch;
  if (o.simulatorRootCa !== undefined) p.simulatorRootCa = o.simulatorRootCa;
  if (o.daemonImage) p.daemonImage = o.daemonImage;
  if (o.nonce !== undefined) p.nonce = o.nonce;
  return p;
}
