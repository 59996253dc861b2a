// Our client of the dstack guest agent (`/var/run/dstack.sock`, HTTP + JSON; research/dstack.md
// §1). Written instead of using @phala/dstack-sdk, whose unix-socket client compares a string's
// length with the byte Content-Length and stalls on any non-ASCII answer (§1.4): here the body is
// collected as Buffers and decoded as UTF-8 once. The endpoint is resolved as the SDK does
// (DSTACK_SIMULATOR_ENDPOINT as a socket path or http(s) URL, then the usual socket paths), but a
// missing socket is reported on the first call, with its path, rather than thrown at construction.
// The client never logs; key material appears only in the value returned by getKey.

import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type {
  AttestResponse,
  GetKeyResponse,
  GetQuoteResponse,
  InfoResponse,
  KeyAlgorithm,
  TcbInfo,
  TdxEvent,
  VersionResponse,
} from './guest-agent-types.ts';
import { bytesToHex, hexToBytes, utf8 } from './hex.ts';

/** Where dstack mounts the agent's socket, in the order the SDK probes them. */
export const DEFAULT_SOCKET_PATHS = ['/var/run/dstack.sock', '/run/dstack.sock', '/var/run/dstack/dstack.sock', '/run/dstack/dstack.sock'];
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface ResolveOptions {
  env?: Record<string, string | undefined>;
  exists?: (path: string) => boolean;
}

/** DSTACK_SIMULATOR_ENDPOINT if set, else the first existing default socket, else /var/run/dstack.sock. */
export function resolveGuestAgentEndpoint(o: ResolveOptions = {}): string {
  const env = o.env ?? process.env;
  const exists = o.exists ?? existsSync;
  const fromEnv = env.DSTACK_SIMULATOR_ENDPOINT?.trim();
  if (fromEnv) return fromEnv;
  return DEFAULT_SOCKET_PATHS.find((p) => exists(p)) ?? DEFAULT_SOCKET_PATHS[0]!;
}

export type GuestAgentErrorKind = 'unreachable' | 'timeout' | 'agent' | 'protocol' | 'input';

export interface GuestAgentErrorDetails {
  endpoint: string;
  method?: string;
  /** HTTP status of the agent's answer, when there was one. */
  status?: number;
  /** errno code of a transport failure (ENOENT, ECONNREFUSED, …). */
  code?: string;
}

export class GuestAgentError extends Error {
  readonly kind: GuestAgentErrorKind;
  readonly details: GuestAgentErrorDetails;

  constructor(message: string, kind: GuestAgentErrorKind, details: GuestAgentErrorDetails = { endpoint: '' }) {
    super(message);
    this.name = 'GuestAgentError';
    this.kind = kind;
    this.details = details;
  }
}

export interface GuestAgentClientOptions {
  /** Socket path (optionally `unix:`-prefixed) or http(s) URL; default resolveGuestAgentEndpoint(). */
  endpoint?: string;
  timeoutMs?: number;
}

/** GetQuote's answer: the fields exactly as sent, plus decoded forms. */
export interface QuoteResult extends GetQuoteResponse {
  quoteBytes: Uint8Array;
  reportDataBytes: Uint8Array;
  events: TdxEvent[];
}

export interface InfoResult extends Omit<InfoResponse, 'tcb_info'> {
  /** Parsed tcb_info; null when the agent withholds it (empty string). */
  tcb_info: TcbInfo | null;
  /** tcb_info exactly as sent. */
  tcb_info_raw: string;
}

export interface DerivedKey {
  /** 32 bytes of key material. Non-enumerable, so logging or serialising the result omits it. */
  readonly key: Uint8Array;
  readonly signature_chain: Uint8Array[];
}

export interface AttestResult extends AttestResponse {
  attestationBytes: Uint8Array;
}

type Target = { kind: 'socket'; socketPath: string } | { kind: 'url'; base: URL };

function parseEndpoint(endpoint: string): Target {
  if (/^https?:\/\//i.test(endpoint)) {
    const base = new URL(endpoint);
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    return { kind: 'url', base };
  }
  return { kind: 'socket', socketPath: endpoint.replace(/^unix:/, '') };
}

const UNREACHABLE_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'EAI_AGAIN']);

export class GuestAgentClient {
  readonly endpoint: string;
  readonly #target: Target;
  readonly #timeoutMs: number;
  readonly #agent: http.Agent;

  constructor(options: GuestAgentClientOptions | string = {}) {
    const o = typeof options === 'string' ? { endpoint: options } : options;
    this.endpoint = o.endpoint ?? resolveGuestAgentEndpoint();
    this.#target = parseEndpoint(this.endpoint);
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const secure = this.#target.kind === 'url' && this.#target.base.protocol === 'https:';
    this.#agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  get #where(): string {
    return this.#target.kind === 'socket' ? this.#target.socketPath : this.endpoint;
  }

  /** One JSON RPC: POST /<method> with a JSON body; resolves with the decoded JSON answer. */
  async call<T>(method: string, body: Record<string, unknown> = {}, opts: { idempotent?: boolean } = {}): Promise<T> {
    const payload = Buffer.from(JSON.stringify(body), 'utf8');
    try {
      return await this.#once<T>(method, payload);
    } catch (e) {
      // A keep-alive connection the agent closed while idle fails on reuse; a fresh one is safe
      // to try once for calls that change nothing.
      if (e instanceof RetryableReset && opts.idempotent !== false) return this.#once<T>(method, payload);
      if (e instanceof RetryableReset) throw e.error;
      throw e;
    }
  }

  #once<T>(method: string, payload: Buffer): Promise<T> {
    const where = this.#where;
    const details = { endpoint: this.endpoint, method };
    return new Promise<T>((resolve, reject) => {
      const headers = { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) };
      const t = this.#target;
      const options: http.RequestOptions = { method: 'POST', headers, agent: this.#agent };
      const req =
        t.kind === 'socket'
          ? http.request({ ...options, socketPath: t.socketPath, path: `/${method}` })
          : (t.base.protocol === 'https:' ? https : http).request(new URL(method, t.base), options);
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      };
      const timer = setTimeout(() => {
        fail(new GuestAgentError(`dstack guest agent at ${where} did not answer /${method} within ${this.#timeoutMs} ms`, 'timeout', details));
        req.destroy();
      }, this.#timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? 'error';
        const e = new GuestAgentError(
          UNREACHABLE_CODES.has(code) ? `dstack guest agent not reachable at ${where} (${code})` : `dstack guest agent request /${method} to ${where} failed: ${err.message}`,
          UNREACHABLE_CODES.has(code) ? 'unreachable' : 'protocol',
          { ...details, code },
        );
        fail(req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE') ? new RetryableReset(e) : e);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => fail(new GuestAgentError(`dstack guest agent answer to /${method} broke off: ${err.message}`, 'protocol', details)));
        res.on('end', () => {
          if (settled) return;
          // Decode once, after the last byte: multi-byte characters may straddle chunks.
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            return fail(new GuestAgentError(`dstack guest agent sent a non-JSON answer to /${method} (HTTP ${status})`, 'protocol', { ...details, status }));
          }
          const agentError = json && typeof json === 'object' && 'error' in json ? String((json as { error: unknown }).error) : undefined;
          if (status !== 200 || agentError !== undefined) {
            return fail(new GuestAgentError(`dstack guest agent: /${method} failed (HTTP ${status}): ${agentError ?? text.slice(0, 200)}`, 'agent', { ...details, status }));
          }
          settled = true;
          clearTimeout(timer);
          resolve(json as T);
        });
      });
      req.end(payload);
    });
  }

  /** GetQuote: report_data (≤ 64 bytes) is right-padded with zeros by the agent, never hashed. */
  async getQuote(reportData: Uint8Array): Promise<QuoteResult> {
    checkReportData(reportData, this.endpoint);
    const r = await this.call<GetQuoteResponse>('GetQuote', { report_data: bytesToHex(reportData) });
    const fields = requireStrings(r, ['quote', 'event_log', 'report_data'], 'GetQuote', this.endpoint);
    const vm_config = typeof r.vm_config === 'string' ? r.vm_config : '';
    return {
      quote: fields.quote,
      event_log: fields.event_log,
      report_data: fields.report_data,
      vm_config,
      quoteBytes: decodeHex(fields.quote, 'GetQuote quote', this.endpoint),
      reportDataBytes: decodeHex(fields.report_data, 'GetQuote report_data', this.endpoint),
      events: parseEvents(fields.event_log, 'GetQuote event_log', this.endpoint),
    };
  }

  /** Attest (dstack ≥ 0.5.6): a VersionedAttestation over the padded report_data. */
  async attest(reportData: Uint8Array): Promise<AttestResult> {
    checkReportData(reportData, this.endpoint);
    const r = await this.call<AttestResponse>('Attest', { report_data: bytesToHex(reportData) });
    const { attestation } = requireStrings(r, ['attestation'], 'Attest', this.endpoint);
    return { attestation, attestationBytes: decodeHex(attestation, 'Attest attestation', this.endpoint) };
  }

  async info(): Promise<InfoResult> {
    const r = await this.call<InfoResponse>('Info');
    const { tcb_info } = requireStrings(r, ['app_id', 'compose_hash', 'tcb_info'], 'Info', this.endpoint);
    let parsed: TcbInfo | null = null;
    if (tcb_info !== '') {
      try {
        parsed = JSON.parse(tcb_info) as TcbInfo;
      } catch {
        throw new GuestAgentError('dstack guest agent: Info.tcb_info is not valid JSON', 'protocol', { endpoint: this.endpoint, method: 'Info' });
      }
    }
    return { ...r, tcb_info: parsed, tcb_info_raw: tcb_info };
  }

  async getKey(path: string, purpose = '', algorithm: KeyAlgorithm = 'secp256k1'): Promise<DerivedKey> {
    const r = await this.call<GetKeyResponse>('GetKey', { path, purpose, algorithm });
    if (typeof r.key !== 'string' || !Array.isArray(r.signature_chain)) {
      throw new GuestAgentError('dstack guest agent: GetKey answer lacks key or signature_chain', 'protocol', { endpoint: this.endpoint, method: 'GetKey' });
    }
    const result = { signature_chain: r.signature_chain.map((s) => decodeHex(String(s), 'GetKey signature', this.endpoint)) };
    Object.defineProperty(result, 'key', { value: decodeHex(r.key, 'GetKey key', this.endpoint), enumerable: false });
    return result as DerivedKey;
  }

  async version(): Promise<VersionResponse> {
    const r = await this.call<VersionResponse>('Version');
    return requireStrings(r, ['version', 'rev'], 'Version', this.endpoint);
  }

  /** EmitEvent (dstack 0.5.0–0.5.11): extends RTMR3 with an app event after system-ready. */
  async emitEvent(event: string, payload: Uint8Array | string): Promise<void> {
    if (!event) throw new GuestAgentError('event name must not be empty', 'input', { endpoint: this.endpoint, method: 'EmitEvent' });
    const bytes = typeof payload === 'string' ? utf8(payload) : payload;
    await this.call('EmitEvent', { event, payload: bytesToHex(bytes) }, { idempotent: false });
  }
}

class RetryableReset extends Error {
  readonly error: GuestAgentError;

  constructor(error: GuestAgentError) {
    super(error.message);
    this.error = error;
  }
}

function checkReportData(reportData: Uint8Array, endpoint: string): void {
  if (reportData.length > 64) {
    throw new GuestAgentError(`report_data is ${reportData.length} bytes; dstack accepts at most 64`, 'input', { endpoint, method: 'GetQuote' });
  }
}

function requireStrings<T extends object, K extends keyof T & string>(r: T, keys: K[], method: string, endpoint: string): T & Record<K, string> {
  if (!r || typeof r !== 'object') throw new GuestAgentError(`dstack guest agent: ${method} answer is not an object`, 'protocol', { endpoint, method });
  for (const k of keys) {
    if (typeof r[k] !== 'string') throw new GuestAgentError(`dstack guest agent: ${method} answer lacks the string field '${k}'`, 'protocol', { endpoint, method });
  }
  return r as T & Record<K, string>;
}

function decodeHex(hex: string, what: string, endpoint: string): Uint8Array {
  try {
    return hexToBytes(hex, what);
  } catch (e) {
    throw new GuestAgentError(`dstack guest agent: ${(e as Error).message}`, 'protocol', { endpoint });
  }
}

function parseEvents(text: string, what: string, endpoint: string): TdxEvent[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new GuestAgentError(`dstack guest agent: ${what} is not valid JSON`, 'protocol', { endpoint });
  }
  if (!Array.isArray(v)) throw new GuestAgentError(`dstack guest agent: ${what} is not a JSON array`, 'protocol', { endpoint });
  return v as TdxEvent[];
}
