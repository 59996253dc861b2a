// Just enough of the Solidity ABI for the reads the on-chain checks make on dstack's KMS contracts
// (research/dstack.md §5): static arguments (address, bytes32), the AppBootInfo tuple, and the
// results bool, (bool, string) and (bytes, bytes, bytes, bytes). Hand-written on purpose: a
// general ABI library would be the largest dependency of a verifier that runs in a browser, and
// every byte decoded here is bounds-checked, so a hostile RPC answer is an error, never a guess.
import { keccak_256 } from '@noble/hashes/sha3';
import { bytesToHex, bytesToUtf8, concatBytes, hexToBytes, utf8ToBytes } from './bytes.ts';

/** The function signatures the checks call; selectors are derived from them (tested against dstack.md §5). */
export const SIGNATURES = {
  registeredApps: 'registeredApps(address)',
  allowedOsImages: 'allowedOsImages(bytes32)',
  kmsInfo: 'kmsInfo()',
  allowedComposeHashes: 'allowedComposeHashes(bytes32)',
  allowedDeviceIds: 'allowedDeviceIds(bytes32)',
  allowAnyDevice: 'allowAnyDevice()',
  isAppAllowed: 'isAppAllowed((address,bytes32,address,bytes32,bytes32,bytes32,bytes32,string,string[]))',
} as const;

export const EVENT_SIGNATURES = {
  composeHashAdded: 'ComposeHashAdded(bytes32)',
  composeHashRemoved: 'ComposeHashRemoved(bytes32)',
} as const;

export type ContractFunction = keyof typeof SIGNATURES;

export function keccakHex(data: Uint8Array): string {
  return bytesToHex(keccak_256(data));
}

/** The 4-byte function selector of a canonical signature, as 8 hex digits. */
export function selector(signature: string): string {
  return keccakHex(utf8ToBytes(signature)).slice(0, 8);
}

/** topic0 of an event: keccak256 of its canonical signature, 64 hex digits. */
export function eventTopic(signature: string): string {
  return keccakHex(utf8ToBytes(signature));
}

export const SELECTORS = Object.fromEntries(Object.entries(SIGNATURES).map(([k, s]) => [k, selector(s)])) as Record<ContractFunction, string>;

// ---- addresses ----

const ADDRESS_RE = /^(?:0x)?[0-9a-fA-F]{40}$/;

export function isAddress(s: string): boolean {
  return ADDRESS_RE.test(s);
}

/** 40 lowercase hex digits, no 0x; throws on anything else. */
export function normalizeAddress(s: string): string {
  if (!isAddress(s)) throw new Error(`${JSON.stringify(s)} is not a 20-byte hex address`);
  return s.replace(/^0x/, '').toLowerCase();
}

/** EIP-55 mixed-case form, as explorers and wallets print addresses (display only). */
export function checksumAddress(s: string): string {
  const a = normalizeAddress(s);
  const h = keccakHex(utf8ToBytes(a));
  let out = '0x';
  for (let i = 0; i < 40; i++) out += parseInt(h[i]!, 16) >= 8 ? a[i]!.toUpperCase() : a[i]!;
  return out;
}

// ---- encoding ----

const WORD = 32;

function leftPad(bytes: Uint8Array): Uint8Array {
  if (bytes.length > WORD) throw new Error(`${bytes.length} bytes do not fit a 32-byte word`);
  const w = new Uint8Array(WORD);
  w.set(bytes, WORD - bytes.length);
  return w;
}

function uintWord(n: number): Uint8Array {
  const w = new Uint8Array(WORD);
  new DataView(w.buffer).setBigUint64(WORD - 8, BigInt(n));
  return w;
}

/** An address argument (20 bytes, left-padded); an empty string is the zero address. */
export function addressWord(hex: string): Uint8Array {
  if (hex === '') return new Uint8Array(WORD);
  return leftPad(hexToBytes(normalizeAddress(hex)));
}

/** A bytes32 argument: exactly 32 bytes of hex (dstack's hashes are never shorter). */
export function bytes32Word(hex: string): Uint8Array {
  const b = hexToBytes(hex.replace(/^0x/, ''));
  if (b.length !== WORD) throw new Error(`expected 32 bytes of hex, got ${b.length}`);
  return b;
}

function dynamicBytes(b: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.ceil(b.length / WORD) * WORD);
  padded.set(b);
  return concatBytes(uintWord(b.length), padded);
}

/** string[]: length, then one offset per element (from the start of the offsets), then the elements. */
function stringArray(items: readonly string[]): Uint8Array {
  const bodies = items.map((s) => dynamicBytes(utf8ToBytes(s)));
  const heads: Uint8Array[] = [];
  let offset = items.length * WORD;
  for (const b of bodies) {
    heads.push(uintWord(offset));
    offset += b.length;
  }
  return concatBytes(uintWord(items.length), ...heads, ...bodies);
}

/** Calldata `0x…` for a function whose arguments are all static words. */
export function encodeCall(fn: ContractFunction, ...words: Uint8Array[]): string {
  return '0x' + SELECTORS[fn] + bytesToHex(concatBytes(...words));
}

/** dstack's AppBootInfo, field for field (research/dstack.md §5); hex without 0x. */
export interface AppBootInfo {
  appId: string;
  composeHash: string;
  /** Empty (no_instance_id) encodes as the zero address, as the KMS pads it. */
  instanceId: string;
  deviceId: string;
  mrAggregated: string;
  mrSystem: string;
  osImageHash: string;
  tcbStatus: string;
  advisoryIds: readonly string[];
}

/**
 * isAppAllowed(AppBootInfo) calldata. The tuple is dynamic (it holds a string and a string[]),
 * so the call's single head word is the tuple's offset (32), and the tuple's own offsets count
 * from its first word.
 */
export function encodeIsAppAllowed(b: AppBootInfo): string {
  const tcb = dynamicBytes(utf8ToBytes(b.tcbStatus));
  const advisories = stringArray(b.advisoryIds);
  const headLen = 9 * WORD;
  const tuple = concatBytes(
    addressWord(b.appId),
    bytes32Word(b.composeHash),
    addressWord(b.instanceId),
    bytes32Word(b.deviceId),
    bytes32Word(b.mrAggregated),
    bytes32Word(b.mrSystem),
    bytes32Word(b.osImageHash),
    uintWord(headLen),
    uintWord(headLen + tcb.length),
    tcb,
    advisories,
  );
  return '0x' + SELECTORS.isAppAllowed + bytesToHex(concatBytes(uintWord(WORD), tuple));
}

// ---- decoding ----

export class AbiError extends Error {}

function returnBytes(hex: string): Uint8Array {
  if (!/^0x(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new AbiError('the result is not 0x-prefixed hex');
  return hexToBytes(hex.slice(2));
}

function wordAt(b: Uint8Array, at: number): Uint8Array {
  if (at < 0 || at + WORD > b.length) throw new AbiError(`the result is ${b.length} bytes, too short for a word at ${at}`);
  return b.subarray(at, at + WORD);
}

function text(b: Uint8Array): string {
  try {
    return bytesToUtf8(b);
  } catch {
    throw new AbiError('a string in the result is not valid UTF-8');
  }
}

/** A word as a small non-negative integer (offsets, lengths); larger values are malformed here. */
function smallUint(b: Uint8Array, at: number): number {
  const w = wordAt(b, at);
  for (let i = 0; i < WORD - 6; i++) if (w[i] !== 0) throw new AbiError(`the word at ${at} is not a plausible offset or length`);
  let n = 0;
  for (let i = WORD - 6; i < WORD; i++) n = n * 256 + w[i]!;
  return n;
}

function boolAt(b: Uint8Array, at: number): boolean {
  const w = wordAt(b, at);
  for (let i = 0; i < WORD - 1; i++) if (w[i] !== 0) throw new AbiError('the result is not an ABI bool');
  if (w[WORD - 1]! > 1) throw new AbiError('the result is not an ABI bool');
  return w[WORD - 1] === 1;
}

/** bytes/string whose offset word sits at `head`, relative to `base`. */
function dynamicAt(b: Uint8Array, base: number, head: number): Uint8Array {
  const start = base + smallUint(b, head);
  const len = smallUint(b, start);
  if (start + WORD + len > b.length) throw new AbiError('a dynamic value runs past the end of the result');
  return b.subarray(start + WORD, start + WORD + len);
}

/** A `bool` result. An empty result (no contract there, or no such function behind a fallback) is an error. */
export function decodeBool(hex: string): boolean {
  const b = returnBytes(hex);
  if (b.length === 0) throw new AbiError('the call returned no data (is there a contract with this function at that address?)');
  return boolAt(b, 0);
}

/** A `(bool, string)` result, as isAppAllowed returns. */
export function decodeBoolString(hex: string): { allowed: boolean; reason: string } {
  const b = returnBytes(hex);
  if (b.length === 0) throw new AbiError('the call returned no data');
  return { allowed: boolAt(b, 0), reason: text(dynamicAt(b, 0, WORD)) };
}

/** `n` dynamic `bytes` results, e.g. kmsInfo() → (k256Pubkey, caPubkey, quote, eventlog). */
export function decodeBytesList(hex: string, n: number): Uint8Array[] {
  const b = returnBytes(hex);
  if (b.length === 0) throw new AbiError('the call returned no data');
  return Array.from({ length: n }, (_, i) => dynamicAt(b, 0, i * WORD).slice());
}

const ERROR_STRING = '08c379a0'; // Error(string)
const PANIC = '4e487b71'; // Panic(uint256)

/** A readable form of revert data: Error(string)'s message, Panic's code, or the raw selector. */
export function revertReason(data: string | undefined): string | null {
  if (!data || data === '0x') return null;
  try {
    const b = returnBytes(data);
    const sel = bytesToHex(b.subarray(0, 4));
    if (sel === ERROR_STRING) return text(dynamicAt(b.subarray(4), 0, 0));
    if (sel === PANIC) return `panic 0x${bytesToHex(wordAt(b.subarray(4), 0)).replace(/^0+(?=.)/, '')}`;
    return `custom error 0x${sel}`;
  } catch {
    return `undecodable revert data ${data.slice(0, 74)}`;
  }
}

/** The 32-byte value of an event whose only argument is a bytes32, indexed (topics[1]) or not (data). */
export function eventBytes32(topics: readonly string[], data: string): string | null {
  if (topics.length >= 2 && /^0x[0-9a-fA-F]{64}$/.test(topics[1]!)) return topics[1]!.slice(2).toLowerCase();
  if (/^0x[0-9a-fA-F]{64}/.test(data)) return data.slice(2, 66).toLowerCase();
  return null;
}
