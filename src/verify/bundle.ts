// The public evidence a dstack-webhost daemon serves for an attested project, and the exact
// preimage it binds into a TDX quote. This file is the contract between the daemon (which builds
// these documents), the verifier library (which checks them) and the pages (which show them).
// Pure types and constants: nothing here may depend on Node.

/** report_data = SHA-512(REPORT_DATA_TAG ‖ canonical JSON of the Preimage). */
export const REPORT_DATA_TAG = 'dstack-webhost/v1:';
/** Domain tag for quotes an attested app asks for over its own data (ctx.quote). */
export const APP_REPORT_DATA_TAG = 'dstack-webhost/app/v1:';
export const BUNDLE_SCHEMA = 'dstack-webhost/bundle/v1';
export const PREIMAGE_VERSION = 'dstack-webhost/v1';

/** The deployment as it is bound into a quote and recorded in the audit log. */
export interface DeploymentRef {
  /** Content address of the deployment record: hex SHA-256 of its canonical JSON (see deployment.ts). */
  id: string;
  /** Git tree object id of the deployed source (40 hex), null for image-only deployments. */
  tree_hash: string | null;
  /** Git commit, recorded only when the daemon checked it (git deploys); null otherwise. */
  commit_sha: string | null;
  /** Hex SHA-256 of the canonical JSON of the deployment's public manifest. */
  manifest_digest: string;
  /** Registry digests (`sha256:…`) of the images a Layer 1 deployment runs, sorted; [] otherwise. */
  image_digests: string[];
}

/** What report_data commits to. Every field is a string, number, boolean, null, array or object of those. */
export interface Preimage {
  v: typeof PREIMAGE_VERSION;
  project: string;
  deployment: DeploymentRef;
  log: {
    /** C2SP checkpoint origin line of the project's audit log. */
    origin: string;
    size: number;
    /** Base64 of the 32-byte RFC 9162 root hash, exactly as in the checkpoint. */
    root_hash: string;
    /** The log's Ed25519 verifier key in C2SP note vkey form: `<name>+<hex8 key hash>+<base64(0x01 ‖ pubkey)>`. */
    public_key: string;
  };
  /** Hex Ed25519 public key of the app key (derived from project name and tree hash), null if none. */
  app_key: string | null;
  /** The caller's nonce (hex, ≤ 64 bytes), null for the cached un-nonced quote. */
  nonce: string | null;
}

/** One event of a dstack event log (the JSON objects inside GetQuote's `event_log` string). */
export interface TdxEvent {
  imr: number;
  event_type: number;
  digest: string;
  event: string;
  event_payload: string;
  /** Present on some newer dstack versions (runtime event format v2). */
  version?: number;
  preimage?: string;
}

/** PCCS collateral in the shape @phala/dcap-qvl takes. */
export interface Collateral {
  pck_crl_issuer_chain: string;
  root_ca_crl: string;
  pck_crl: string;
  tcb_info_issuer_chain: string;
  tcb_info: string;
  tcb_info_signature: string;
  qe_identity_issuer_chain: string;
  qe_identity: string;
  qe_identity_signature: string;
  pck_certificate_chain?: string;
}

/** The daemon's own identity, from the guest agent's Info (plus what the daemon knows of itself). */
export interface DaemonIdentity {
  version: string;
  /** Git commit the daemon was built from, when known. */
  commit: string | null;
  /** 'tdx' on real hardware, 'simulated' when the built-in simulator answers for the guest agent. */
  tee: 'tdx' | 'simulated';
  app_id: string;
  instance_id: string;
  compose_hash: string;
  /** The exact app-compose.json text: compose_hash must equal its SHA-256. */
  app_compose: string;
  os_image_hash: string;
  key_provider_info: string;
  vm_config: string;
  /** Full event log from Info (boot events with digests and payloads). */
  event_log: TdxEvent[];
  /** Hex DER of the simulator's root CA. Present only when tee === 'simulated'. Never trusted by default. */
  simulator_root_ca?: string;
}

/** A closed audit log of an earlier incarnation of the same project name (deleted, then re-created). */
export interface ClosedLog {
  origin: string;
  public_key: string;
  checkpoint: string;
  entries: string[];
}

export interface EvidenceBundle {
  schema: typeof BUNDLE_SCHEMA;
  generated_at: string;
  daemon: DaemonIdentity;
  /** The project's public manifest: never env values. */
  project: Record<string, unknown>;
  /** The current deployment record (see deployment.ts); its id and manifest digest are recomputable. */
  deployment: Record<string, unknown>;
  log: {
    origin: string;
    public_key: string;
    /** The latest signed checkpoint, C2SP signed-note text. */
    checkpoint: string;
    /** Every entry, each the exact canonical JSON text whose leaf hash is SHA-256(0x00 ‖ utf8(text)). */
    entries: string[];
    previous: ClosedLog[];
  };
  attestation: {
    quote: string;
    event_log: string;
    report_data: string;
    vm_config: string;
    preimage: Preimage;
    /** Collateral the daemon fetched for this quote; a verifier may use its own instead. */
    collateral: Collateral | null;
  };
}

/** One audit-log entry; its canonical JSON text is the leaf. */
export interface LogEntry {
  v: 1;
  seq: number;
  time: string;
  action: 'promote' | 'deploy' | 'redeploy' | 'rollback' | 'env' | 'teardown';
  project: string;
  /** The deployment in effect after the action (null after teardown). */
  deployment: DeploymentRef | null;
  detail: Record<string, unknown>;
}
