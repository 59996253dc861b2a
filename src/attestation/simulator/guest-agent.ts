// The simulated guest agent's methods (dstack 0.5.x `DstackGuest`), independent of transport:
// each takes the decoded JSON arguments and returns the JSON answer, or throws RpcError with the
// status and message the HTTP layer sends as {"error": …}. Answers have dstack's field names and
// order; bytes are lowercase hex.

import { createHash } from 'node:crypto';
import type { AttestResponse, GetKeyResponse, GetQuoteResponse, InfoResponse, SignResponse, VerifyResponse, VersionResponse } from '../guest-agent-types.ts';
import { bytesToHex, concatBytes, hexToBytes } from '../hex.ts';
import { AppKeys, InputError, verifySignature } from './app-keys.ts';
import { buildBootIdentity, type BootIdentity } from './boot.ts';
import { deriveP256Key } from './derive.ts';
import { MeasuredLog } from './measured-log.ts';
import type { Pki } from './pki.ts';
import { QuoteBuilder } from './quote-builder.ts';
import { encodeVersionedAttestationV0 } from './scale.ts';

/** The dstack release whose API the simulator follows. */
export const SIMULATED_DSTACK_VERSION = '0.5.11';
export const SIMULATOR_REV = 'dstack-webhost-simulator';

export class RpcError extends Error {
  readonly status: 400 | 500;

  constructor(status: 400 | 500, message: string) {
    super(message);
    this.status = status;
  }
}

type Args = Record<string, unknown>;

function stringArg(args: Args, name: string): string {
  const v = args[name];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new RpcError(400, `invalid field '${name}': expected a string`);
  return v;
}

function bytesArg(args: Args, name: string): Uint8Array {
  try {
    return hexToBytes(stringArg(args, name), `field '${name}'`);
  } catch (e) {
    if (e instanceof RpcError) throw e;
    throw new RpcError(400, (e as Error).message);
  }
}

const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

export interface GuestAgentOptions {
  seed: Uint8Array;
  pki: Pki;
  imageRef?: string;
  appName?: string;
}

export class SimulatedGuestAgent {
  readonly boot: BootIdentity;
  readonly log: MeasuredLog;
  readonly keys: AppKeys;
  readonly #quotes: QuoteBuilder;

  constructor(o: GuestAgentOptions) {
    this.boot = buildBootIdentity({ seed: o.seed, imageRef: o.imageRef, appName: o.appName });
    this.log = new MeasuredLog(this.boot.bootEvents);
    this.keys = new AppKeys(o.seed, this.boot.appId);
    this.#quotes = new QuoteBuilder(o.pki, deriveP256Key(o.seed, 'qe/attestation-key'), { mrTd: this.boot.mrTd, rtmrs: this.log.rtmrs() });
  }

  /** Dispatches one RPC by method name (the URL path without its slash). */
  call(method: string, args: Args): unknown {
    try {
      switch (method) {
        case 'GetQuote':
          return this.getQuote(bytesArg(args, 'report_data'));
        case 'Attest':
          return this.attest(bytesArg(args, 'report_data'));
        case 'Info':
          return this.info();
        case 'GetKey':
          return this.getKey(stringArg(args, 'path'), stringArg(args, 'purpose'), stringArg(args, 'algorithm'));
        case 'Sign':
          return this.sign(stringArg(args, 'algorithm'), bytesArg(args, 'data'));
        case 'Verify':
          return this.verify(stringArg(args, 'algorithm'), bytesArg(args, 'data'), bytesArg(args, 'signature'), bytesArg(args, 'public_key'));
        case 'EmitEvent':
          this.emitEvent(stringArg(args, 'event'), bytesArg(args, 'payload'));
          return {};
        case 'Version':
          return this.version();
        case 'GetTlsKey':
          throw new RpcError(400, 'GetTlsKey is not implemented by the dstack-webhost simulator');
        default:
          // dstack's prpc answers a failed dispatch (unknown method, bad body) with 400.
          throw new RpcError(400, `Method not found: ${method}`);
      }
    } catch (e) {
      if (e instanceof RpcError) throw e;
      if (e instanceof InputError) throw new RpcError(400, e.message);
      throw new RpcError(500, (e as Error).message);
    }
  }

  #pad64(reportData: Uint8Array): Uint8Array {
    if (reportData.length > 64) throw new RpcError(400, 'Report data is too long');
    const padded = new Uint8Array(64);
    padded.set(reportData);
    return padded;
  }

  getQuote(reportData: Uint8Array): GetQuoteResponse {
    const rd = this.#pad64(reportData);
    return {
      quote: bytesToHex(this.#quotes.build(this.log.rtmr(3), rd)),
      event_log: this.log.strippedJson(),
      report_data: bytesToHex(rd),
      vm_config: this.boot.vmConfig,
    };
  }

  attest(reportData: Uint8Array): AttestResponse {
    const rd = this.#pad64(reportData);
    const quote = this.#quotes.build(this.log.rtmr(3), rd);
    const bytes = encodeVersionedAttestationV0({ quote, events: this.log.full(), reportData: rd, vmConfig: this.boot.vmConfig });
    return { attestation: bytesToHex(bytes) };
  }

  /** mr_aggregated as dstack computes it when mr_config_id, mr_owner and mr_owner_config are zero. */
  mrAggregated(): Uint8Array {
    const [r0, r1, r2, r3] = this.log.rtmrs();
    return sha256(concatBytes(this.boot.mrTd, r0!, r1!, r2!, r3!));
  }

  info(): InfoResponse {
    const b = this.boot;
    const [r0, r1, r2, r3] = this.log.rtmrs().map(bytesToHex);
    // Since OS 0.5.6 Info reports sha256("") as device_id (its local attestation is not verified).
    const deviceId = bytesToHex(sha256(new Uint8Array()));
    const mrAggregated = bytesToHex(this.mrAggregated());
    const tcbInfo = {
      mrtd: bytesToHex(b.mrTd),
      rtmr0: r0!,
      rtmr1: r1!,
      rtmr2: r2!,
      rtmr3: r3!,
      mr_aggregated: mrAggregated,
      os_image_hash: bytesToHex(b.osImageHash),
      compose_hash: bytesToHex(b.composeHash),
      device_id: deviceId,
      event_log: this.log.full(),
      app_compose: b.appCompose,
    };
    return {
      app_id: bytesToHex(b.appId),
      instance_id: bytesToHex(b.instanceId),
      app_cert: '',
      tcb_info: JSON.stringify(tcbInfo, null, 2),
      app_name: (JSON.parse(b.appCompose) as { name: string }).name,
      device_id: deviceId,
      mr_aggregated: mrAggregated,
      os_image_hash: bytesToHex(b.osImageHash),
      key_provider_info: b.keyProviderInfo,
      compose_hash: bytesToHex(b.composeHash),
      vm_config: b.vmConfig,
      cloud_vendor: 'dstack-webhost',
      cloud_product: 'simulator',
    };
  }

  getKey(path: string, purpose: string, algorithm: string): GetKeyResponse {
    return this.keys.getKey(path, purpose, algorithm);
  }

  sign(algorithm: string, data: Uint8Array): SignResponse {
    return this.keys.sign(algorithm, data);
  }

  verify(algorithm: string, data: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): VerifyResponse {
    return { valid: verifySignature(algorithm, data, signature, publicKey) };
  }

  emitEvent(event: string, payload: Uint8Array): void {
    if (!event) throw new RpcError(400, 'event name must not be empty');
    this.log.emit(event, payload);
  }

  version(): VersionResponse {
    return { version: SIMULATED_DSTACK_VERSION, rev: SIMULATOR_REV };
  }
}
