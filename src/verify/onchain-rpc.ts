// A tiny Ethereum JSON-RPC client for the on-chain checks: eth_chainId, eth_blockNumber, eth_getCode,
// eth_call, eth_getLogs, eth_getBlockByNumber. `fetch` is injectable (tests, pages with their own
// transport). Two kinds of trouble are kept apart, because the checks judge them differently:
// a call that REVERTED is an answer from the contract (a getter this deployment lacks reads as
// "absent"), while an RPC that did not answer properly is a failure to check at all.
import { revertReason } from './onchain-abi.ts';

export type RpcFetch = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string; signal?: AbortSignal },
) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

export interface RpcClientOptions {
  fetch?: RpcFetch;
  /** Per request; default 20 s. */
  timeoutMs?: number;
}

/** The contract reverted (or the node says execution reverted): an answer, not an outage. */
export class RpcRevert extends Error {
  readonly data: string | undefined;
  readonly reason: string | null;

  constructor(message: string, data: string | undefined) {
    const reason = revertReason(data);
    super(reason ? `${message}: ${reason}` : message);
    this.data = data;
    this.reason = reason;
  }
}

/** No usable answer: unreachable, HTTP error, not JSON-RPC, or a JSON-RPC error other than a revert. */
export class RpcFailure extends Error {}

export interface RpcLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: number;
  transactionHash: string;
  logIndex: number;
}

const QUANTITY_RE = /^0x[0-9a-fA-F]{1,16}$/;
const DATA_RE = /^0x(?:[0-9a-fA-F]{2})*$/;

/** The URL without credentials, path or query: RPC URLs often carry an API key. */
export function rpcLabel(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname.length > 1 || u.search ? `${u.origin}/…` : u.origin;
  } catch {
    return 'the RPC';
  }
}

function quantity(v: unknown, what: string): number {
  if (typeof v !== 'string' || !QUANTITY_RE.test(v)) throw new RpcFailure(`${what} is not a hex quantity: ${JSON.stringify(v)?.slice(0, 80)}`);
  const n = Number.parseInt(v, 16);
  if (!Number.isSafeInteger(n)) throw new RpcFailure(`${what} is out of range: ${v}`);
  return n;
}

function data(v: unknown, what: string): string {
  if (typeof v !== 'string' || !DATA_RE.test(v)) throw new RpcFailure(`${what} is not hex data`);
  return v.toLowerCase();
}

/** Revert data sits in error.data as a string, or one level down (error.data.data) on some nodes. */
function revertData(e: { data?: unknown }): string | undefined {
  const d = e.data;
  if (typeof d === 'string' && DATA_RE.test(d)) return d;
  if (d && typeof d === 'object' && typeof (d as { data?: unknown }).data === 'string' && DATA_RE.test((d as { data: string }).data)) return (d as { data: string }).data;
  return undefined;
}

export class JsonRpcClient {
  readonly url: string;
  readonly label: string;
  readonly #fetch: RpcFetch;
  readonly #timeoutMs: number;
  #id = 0;

  constructor(url: string, o: RpcClientOptions = {}) {
    this.url = url;
    this.label = rpcLabel(url);
    const f = o.fetch ?? (globalThis.fetch as unknown as RpcFetch | undefined);
    if (!f) throw new Error('no fetch available: pass one');
    this.#fetch = f;
    this.#timeoutMs = o.timeoutMs ?? 20_000;
  }

  async request(method: string, params: unknown[]): Promise<unknown> {
    const id = ++this.#id;
    const init: Parameters<RpcFetch>[1] = {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
    };
    if (typeof AbortSignal !== 'undefined' && typeof AbortSignal.timeout === 'function') init.signal = AbortSignal.timeout(this.#timeoutMs);
    let res: Awaited<ReturnType<RpcFetch>>;
    let text: string;
    try {
      res = await this.#fetch(this.url, init);
      text = await res.text();
    } catch (e) {
      const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : e instanceof Error ? e.message : String(e);
      throw new RpcFailure(`${method}: ${this.label} did not answer (${cause})`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new RpcFailure(`${method}: ${this.label} answered HTTP ${res.status} with no JSON-RPC body`);
    }
    const o = body as { id?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } } | null;
    if (!o || typeof o !== 'object' || Array.isArray(o)) throw new RpcFailure(`${method}: ${this.label} answered HTTP ${res.status} with something other than a JSON-RPC response`);
    if (o.error && typeof o.error === 'object') {
      const msg = typeof o.error.message === 'string' ? o.error.message : 'error';
      // geth, reth and anvil answer a revert with code 3 (or -32000 when there is no revert data);
      // other nodes only say so in the message.
      if (o.error.code === 3 || /revert/i.test(msg)) throw new RpcRevert(`${method} reverted`, revertData(o.error));
      throw new RpcFailure(`${method}: ${this.label} answered error ${String(o.error.code)}: ${msg.slice(0, 200)}`);
    }
    if (!res.ok) throw new RpcFailure(`${method}: ${this.label} answered HTTP ${res.status}`);
    if (o.id !== id || !('result' in o)) throw new RpcFailure(`${method}: ${this.label} answered without a result for request ${id}`);
    return o.result;
  }

  async chainId(): Promise<number> {
    return quantity(await this.request('eth_chainId', []), 'eth_chainId');
  }

  async blockNumber(): Promise<number> {
    return quantity(await this.request('eth_blockNumber', []), 'eth_blockNumber');
  }

  /** Contract code at `address` (0x-prefixed) as of `block`; "0x" when there is none. */
  async getCode(address: string, block: number): Promise<string> {
    return data(await this.request('eth_getCode', [address, hex(block)]), 'eth_getCode');
  }

  /** eth_call as of `block`; throws RpcRevert when the call reverts. */
  async call(to: string, calldata: string, block: number): Promise<string> {
    return data(await this.request('eth_call', [{ to, data: calldata }, hex(block)]), 'eth_call');
  }

  async getLogs(filter: { address: string; topics: (string | null)[]; fromBlock: number; toBlock: number }): Promise<RpcLog[]> {
    const r = await this.request('eth_getLogs', [{ address: filter.address, topics: filter.topics, fromBlock: hex(filter.fromBlock), toBlock: hex(filter.toBlock) }]);
    if (!Array.isArray(r)) throw new RpcFailure('eth_getLogs did not answer a list');
    return r.map((l: Record<string, unknown>, i) => {
      if (!l || typeof l !== 'object' || !Array.isArray(l.topics)) throw new RpcFailure(`eth_getLogs: log ${i} is malformed`);
      return {
        address: data(l.address, 'log address'),
        topics: l.topics.map((t) => data(t, 'log topic')),
        data: data(l.data, 'log data'),
        blockNumber: quantity(l.blockNumber, 'log blockNumber'),
        transactionHash: data(l.transactionHash, 'log transactionHash'),
        logIndex: quantity(l.logIndex, 'log logIndex'),
      };
    });
  }

  /** A block's timestamp (seconds), or null when the node does not have the block. */
  async blockTimestamp(block: number): Promise<number | null> {
    const r = (await this.request('eth_getBlockByNumber', [hex(block), false])) as { timestamp?: unknown } | null;
    return r ? quantity(r.timestamp, 'block timestamp') : null;
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}
