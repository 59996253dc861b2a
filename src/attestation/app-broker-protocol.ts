// The app-key broker's wire protocol: one JSON object per line in each direction over a unix
// socket, so every runtime speaks it with its standard library (a socket, JSON, base64, SHA-256).
// A connection may carry several requests; they are answered in order.
//
//   → {"op":"sign",    "data":"<base64>"}              ← {"ok":true,"signature":"<128 hex>","public_key":"<64 hex>"}
//   → {"op":"receipt", "payload_sha256":"<64 hex>"}    ← {"ok":true,"receipt":{v,project,deployment_id,app_key,payload_sha256,signature}}
//   → {"op":"quote",   "data_sha256":"<64 hex>"}       ← {"ok":true,"quote","event_log","report_data","preimage"}
//   ← on any error: {"ok":false,"code":"<code>","error":"<plain words>"}
//
// An optional "id" (string or number) is echoed back. Anything else in a request is refused:
// there is deliberately no key path, purpose or algorithm to choose — the broker signs with this
// instance's app key and nothing else.

export const MAX_LINE_BYTES = 1024 * 1024;
/** Signing takes the message itself (Ed25519 hashes internally); apps sign digests of anything bigger. */
export const MAX_SIGN_BYTES = 512 * 1024;

export type BrokerRequest =
  | { id?: string | number; op: 'sign'; data: Uint8Array }
  | { id?: string | number; op: 'receipt'; payloadSha256: string }
  | { id?: string | number; op: 'quote'; dataSha256: string };

export class BrokerError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const FIELDS: Record<string, string[]> = { sign: ['data'], receipt: ['payload_sha256'], quote: ['data_sha256'] };

function hex64(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || !HEX64.test(v.toLowerCase())) throw new BrokerError('bad_request', `${key} must be 64 hex digits (a SHA-256)`);
  return v.toLowerCase();
}

/** Parses one request line; throws BrokerError (with the id, when one could be read) otherwise. */
export function parseRequest(line: string): BrokerRequest {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    throw new BrokerError('bad_json', 'each request is one JSON object on one line');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new BrokerError('bad_json', 'each request is one JSON object on one line');
  const r = o as Record<string, unknown>;
  const op = r.op;
  if (typeof op !== 'string' || !(op in FIELDS)) throw new BrokerError('unknown_op', `op must be one of ${Object.keys(FIELDS).join(', ')}`);
  const allowed = new Set(['op', 'id', ...FIELDS[op]!]);
  const extra = Object.keys(r).filter((k) => !allowed.has(k));
  if (extra.length) throw new BrokerError('bad_request', `unknown field${extra.length > 1 ? 's' : ''} ${extra.join(', ')}: ${op} takes only ${FIELDS[op]!.join(', ')} (the key is always this app's own)`);
  const id = r.id;
  if (id !== undefined && typeof id !== 'string' && typeof id !== 'number') throw new BrokerError('bad_request', 'id must be a string or a number');
  const base = id === undefined ? {} : { id };
  if (op === 'sign') {
    if (typeof r.data !== 'string' || !BASE64.test(r.data) || r.data.length % 4 !== 0) throw new BrokerError('bad_request', 'data must be standard base64');
    const data = new Uint8Array(Buffer.from(r.data, 'base64'));
    if (data.length > MAX_SIGN_BYTES) throw new BrokerError('too_large', `sign takes at most ${MAX_SIGN_BYTES} bytes; sign a SHA-256 of bigger data`);
    return { ...base, op, data };
  }
  if (op === 'receipt') return { ...base, op, payloadSha256: hex64(r, 'payload_sha256') };
  return { ...base, op: 'quote', dataSha256: hex64(r, 'data_sha256') };
}

/** The id of a request line, if it has a usable one (to answer an invalid request under its id). */
export function requestId(line: string): string | number | undefined {
  try {
    const id = (JSON.parse(line) as { id?: unknown }).id;
    return typeof id === 'string' || typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** A token bucket for one instance: a burst of `capacity`, then `refillPerSecond`. */
export class TokenBucket {
  private tokens: number;
  private at: number;
  private readonly capacity: number;
  private readonly refillPerSecond: number;
  constructor(capacity: number, refillPerSecond: number, now = Date.now()) {
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.tokens = capacity;
    this.at = now;
  }

  /** Takes one token; otherwise returns how many ms until one is there. */
  take(now = Date.now()): { ok: true } | { ok: false; retryAfterMs: number } {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.refillPerSecond);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - this.tokens) / this.refillPerSecond) * 1000) };
  }
}
