// C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and transparency-log checkpoints
// (c2sp.org/tlog-checkpoint): the format of the audit log's signed tree heads, so any tool of that
// ecosystem (Go's sumdb/note, witnesses) can check them and we can check theirs.
// Pure and browser-safe: strings, Uint8Array, @noble/hashes and @noble/curves only.
//
// Parsing is strict on purpose. A note is what a verifier trusts after one signature check, so it
// must have exactly one reading: no tolerated whitespace, carriage returns, missing final newline,
// non-canonical base64 or decimal, lone surrogates or control characters. A verifier that accepts
// two spellings of one checkpoint lets an attacker show different people different bytes that
// "verify" alike.
import { ed25519 } from '@noble/curves/ed25519';
import { sha256 } from '@noble/hashes/sha2';
import { utf8ToBytes } from '@noble/hashes/utils';

/** Signature type byte of Ed25519 note keys. */
export const SIG_ED25519 = 0x01;
/** The most signature lines a note may carry (the spec asks for at least 16; Go's reference allows 100). */
export const MAX_SIGNATURES = 100;
const SIG_PREFIX = '\u2014 '; // em dash, space
const SKEY_PREFIX = 'PRIVATE+KEY+';

export type NoteErrorCode =
  | 'malformed_note'
  | 'malformed_key'
  | 'ambiguous_key'
  | 'bad_signature'
  | 'unverified_note'
  | 'malformed_checkpoint'
  | 'origin_mismatch';

export class NoteError extends Error {
  readonly code: NoteErrorCode;
  constructor(code: NoteErrorCode, message: string) {
    super(message);
    this.name = 'NoteError';
    this.code = code;
  }
}

// ---- strict base64 (RFC 4648 §4, padded) ----

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Map([...B64].map((c, i) => [c, i] as const));
const B64_SHAPE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function base64Encode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i]!;
    const b1 = bytes[i + 1];
    const b2 = bytes[i + 2];
    out += B64[b0 >> 2]! + B64[((b0 & 3) << 4) | ((b1 ?? 0) >> 4)]!;
    out += b1 === undefined ? '=' : B64[((b1 & 15) << 2) | ((b2 ?? 0) >> 6)]!;
    out += b2 === undefined ? '=' : B64[b2 & 63]!;
  }
  return out;
}

/**
 * Decodes only the canonical encoding: padded, no whitespace, and zero unused bits in the last
 * character, so that every byte string has exactly one accepted spelling. Returns null otherwise.
 */
export function base64DecodeStrict(text: string): Uint8Array | null {
  if (!B64_SHAPE.test(text)) return null;
  const body = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((body.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const c of body) {
    acc = ((acc << 6) | B64_VALUE.get(c)!) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return null; // non-zero padding bits: a second spelling
  return out;
}

// ---- text rules shared by notes, names and checkpoints ----

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const CONTROL_EXCEPT_NEWLINE = /[\x00-\x09\x0B-\x1F]/;
// Go's unicode.IsSpace set (JS \s lacks U+0085; it adds U+FEFF, which we reject as well).
const SPACE_OR_PLUS = /[\s\u0085+]/;

function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** Key names: non-empty, valid Unicode, no Unicode spaces, no '+', no control characters. */
export function isValidKeyName(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && wellFormed(name) && !SPACE_OR_PLUS.test(name) && !/[\x00-\x1F\x7F]/.test(name);
}

function checkNoteText(text: string, code: NoteErrorCode): void {
  if (!wellFormed(text)) throw new NoteError(code, 'note is not valid UTF-8 text');
  if (CONTROL_EXCEPT_NEWLINE.test(text)) throw new NoteError(code, 'note contains a control character other than newline');
}

// ---- keys ----

/** Key ID = first four bytes, big-endian, of SHA-256(name ‖ 0x0A ‖ type ‖ public key). */
export function noteKeyId(name: string, type: number, publicKey: Uint8Array): number {
  const h = sha256.create().update(utf8ToBytes(name)).update(Uint8Array.of(0x0a, type)).update(publicKey).digest();
  return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
}

const hex8 = (id: number): string => id.toString(16).padStart(8, '0');

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(message: Uint8Array): Uint8Array;
}

export interface Ed25519Verifier extends NoteVerifier {
  readonly publicKey: Uint8Array;
  /** `<name>+<hex8 key id>+<base64(0x01 ‖ public key)>` */
  readonly vkey: string;
}

export interface Ed25519NoteKey extends Ed25519Verifier, NoteSigner {
  /** `PRIVATE+KEY+<name>+<hex8 key id>+<base64(0x01 ‖ seed)>`: a secret, never to be served. */
  readonly skey: string;
}

function ed25519Verifier(name: string, publicKey: Uint8Array): Ed25519Verifier {
  const keyId = noteKeyId(name, SIG_ED25519, publicKey);
  const pub = publicKey.slice();
  return {
    name,
    keyId,
    publicKey: pub.slice(),
    vkey: `${name}+${hex8(keyId)}+${base64Encode(Uint8Array.of(SIG_ED25519, ...pub))}`,
    verify(message, signature) {
      if (signature.length !== 64) return false;
      try {
        // RFC 8032 rules (canonical encodings), not the laxer ZIP-215 ones.
        return ed25519.verify(signature, message, pub, { zip215: false });
      } catch {
        return false;
      }
    },
  };
}

/** The Ed25519 note key of a 32-byte seed (the RFC 8032 private key): same seed and name, same key. */
export function ed25519NoteKey(name: string, seed: Uint8Array): Ed25519NoteKey {
  if (!isValidKeyName(name)) throw new NoteError('malformed_key', `invalid key name ${JSON.stringify(name)}`);
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new NoteError('malformed_key', 'an Ed25519 seed is 32 bytes');
  const secret = seed.slice();
  const v = ed25519Verifier(name, ed25519.getPublicKey(secret));
  return {
    ...v,
    skey: `${SKEY_PREFIX}${name}+${hex8(v.keyId)}+${base64Encode(Uint8Array.of(SIG_ED25519, ...secret))}`,
    sign: (message) => ed25519.sign(message, secret),
  };
}

export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new NoteError('malformed_key', `invalid key name ${JSON.stringify(name)}`);
  if (publicKey.length !== 32) throw new NoteError('malformed_key', 'an Ed25519 public key is 32 bytes');
  return ed25519Verifier(name, publicKey).vkey;
}

const KEY_TEXT = /^([^+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/;

function splitKey(text: string): { name: string; id: number; key: Uint8Array } {
  const m = KEY_TEXT.exec(text);
  if (!m) throw new NoteError('malformed_key', 'key is not <name>+<8 lowercase hex>+<base64>');
  const [, name, id, b64] = m as unknown as [string, string, string, string];
  if (!isValidKeyName(name)) throw new NoteError('malformed_key', `invalid key name ${JSON.stringify(name)}`);
  const key = base64DecodeStrict(b64);
  if (!key) throw new NoteError('malformed_key', 'key material is not canonical base64');
  if (key.length !== 33 || key[0] !== SIG_ED25519) throw new NoteError('malformed_key', 'only Ed25519 keys (type 0x01, 32 bytes) are supported');
  return { name, id: parseInt(id, 16), key: key.subarray(1) };
}

/** Parses a verifier key, checking its key ID and that the public key is a canonical, non-small-order point. */
export function parseVerifierKey(vkey: string): Ed25519Verifier {
  const { name, id, key } = splitKey(vkey);
  let point;
  try {
    point = ed25519.Point.fromBytes(key, false);
  } catch {
    throw new NoteError('malformed_key', 'public key is not a canonical Ed25519 point');
  }
  if (point.isSmallOrder()) throw new NoteError('malformed_key', 'public key is a small-order point');
  const v = ed25519Verifier(name, key);
  if (v.keyId !== id) throw new NoteError('malformed_key', `key ID ${hex8(id)} does not match the key (${hex8(v.keyId)})`);
  if (v.vkey !== vkey) throw new NoteError('malformed_key', 'verifier key is not in canonical form');
  return v;
}

export function parseSignerKey(skey: string): Ed25519NoteKey {
  if (!skey.startsWith(SKEY_PREFIX)) throw new NoteError('malformed_key', `signer key must start with ${SKEY_PREFIX}`);
  const { name, id, key } = splitKey(skey.slice(SKEY_PREFIX.length));
  const k = ed25519NoteKey(name, key);
  if (k.keyId !== id) throw new NoteError('malformed_key', `key ID ${hex8(id)} does not match the key (${hex8(k.keyId)})`);
  return k;
}

// ---- notes ----

export interface NoteSignature {
  name: string;
  keyId: number;
  /** The signature proper, without the 4-byte key ID. */
  signature: Uint8Array;
}

export interface Note {
  /** The signed text: everything up to and including the newline before the blank line. */
  text: string;
  signatures: NoteSignature[];
}

export interface OpenedNote extends Note {
  /** Signatures from the given keys, all of which verified. */
  verified: NoteSignature[];
  /** Signatures from keys not given (other logs' keys, witnesses): ignored, never trusted. */
  unverified: NoteSignature[];
}

function decodeInput(msg: string | Uint8Array): string {
  if (typeof msg === 'string') return msg;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(msg);
  } catch {
    throw new NoteError('malformed_note', 'note is not valid UTF-8');
  }
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(SIG_PREFIX)) throw new NoteError('malformed_note', 'signature line does not start with an em dash and a space');
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) throw new NoteError('malformed_note', 'signature line has no signature');
  const name = rest.slice(0, space);
  if (!isValidKeyName(name)) throw new NoteError('malformed_note', `invalid key name in signature line: ${JSON.stringify(name)}`);
  const raw = base64DecodeStrict(rest.slice(space + 1));
  if (!raw) throw new NoteError('malformed_note', 'signature is not canonical base64');
  if (raw.length < 5) throw new NoteError('malformed_note', 'signature is too short');
  const keyId = ((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0;
  return { name, keyId, signature: raw.slice(4) };
}

/** Splits a signed note into its text and signature lines, checking syntax only (no key, no trust). */
export function parseNote(msg: string | Uint8Array): Note {
  const s = decodeInput(msg);
  checkNoteText(s, 'malformed_note');
  // The text ends at the last blank line; the text itself may contain blank lines.
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed_note', 'note has no blank line before its signatures');
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (!block.endsWith('\n')) throw new NoteError('malformed_note', 'signature block must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('malformed_note', `more than ${MAX_SIGNATURES} signatures`);
  return { text, signatures: lines.map(parseSignatureLine) };
}

export function formatSignatureLine(sig: NoteSignature): string {
  const id = Uint8Array.of(sig.keyId >>> 24, (sig.keyId >>> 16) & 0xff, (sig.keyId >>> 8) & 0xff, sig.keyId & 0xff);
  const raw = new Uint8Array(4 + sig.signature.length);
  raw.set(id);
  raw.set(sig.signature, 4);
  return `${SIG_PREFIX}${sig.name} ${base64Encode(raw)}\n`;
}

/** Signs `text` (non-empty, ending in a newline) with each signer: text, blank line, one line per signer. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (!text.endsWith('\n')) throw new NoteError('malformed_note', 'note text must be non-empty and end with a newline');
  checkNoteText(text, 'malformed_note');
  if (signers.length === 0 || signers.length > MAX_SIGNATURES) throw new NoteError('malformed_note', `a note needs 1 to ${MAX_SIGNATURES} signatures`);
  const message = utf8ToBytes(text);
  let out = text + '\n';
  for (const s of signers) {
    if (!isValidKeyName(s.name)) throw new NoteError('malformed_key', `invalid key name ${JSON.stringify(s.name)}`);
    out += formatSignatureLine({ name: s.name, keyId: s.keyId, signature: s.sign(message) });
  }
  return out;
}

function toVerifiers(keys: readonly (NoteVerifier | string)[]): NoteVerifier[] {
  const vs = keys.map((k) => (typeof k === 'string' ? parseVerifierKey(k) : k));
  const seen = new Set<string>();
  for (const v of vs) {
    const id = `${v.name}+${hex8(v.keyId)}`;
    if (seen.has(id)) throw new NoteError('ambiguous_key', `two verifier keys share the name and key ID ${id}`);
    seen.add(id);
  }
  return vs;
}

/**
 * Verifies a note against trusted keys (verifier objects or vkey strings), per the spec: lines from
 * unknown keys (name and ID not both matching) are ignored; every line from a known key must verify,
 * or the whole note is rejected; and at least one must. Throws a NoteError saying which rule failed.
 */
export function openNote(msg: string | Uint8Array, keys: readonly (NoteVerifier | string)[]): OpenedNote {
  const verifiers = toVerifiers(keys);
  const note = parseNote(msg);
  const message = utf8ToBytes(note.text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of note.signatures) {
    const v = verifiers.find((k) => k.name === sig.name && k.keyId === sig.keyId);
    if (v && !v.verify(message, sig.signature)) throw new NoteError('bad_signature', `signature by ${sig.name}+${hex8(sig.keyId)} does not verify`);
    // A line repeated verbatim is reported once.
    const line = formatSignatureLine(sig);
    if (seen.has(line)) continue;
    seen.add(line);
    (v ? verified : unverified).push(sig);
  }
  if (verified.length === 0) {
    const names = note.signatures.map((s) => `${s.name}+${hex8(s.keyId)}`).join(', ');
    throw new NoteError('unverified_note', `no signature from a trusted key (signed by: ${names})`);
  }
  return { ...note, verified, unverified };
}

// ---- checkpoints ----

export interface Checkpoint {
  origin: string;
  size: number;
  /** The 32-byte RFC 9162 root hash. */
  rootHash: Uint8Array;
  /** Optional extension lines (non-empty), in order. */
  extensions: string[];
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/** The checkpoint body: origin, size, base64 root, extension lines, each ending in a newline. */
export function formatCheckpoint(c: Checkpoint): string {
  const bad = (msg: string) => new NoteError('malformed_checkpoint', msg);
  if (!c.origin || c.origin.includes('\n')) throw bad('origin must be one non-empty line');
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw bad('size must be a non-negative integer');
  if (c.rootHash.length !== 32) throw bad('root hash must be 32 bytes');
  for (const e of c.extensions) if (!e || e.includes('\n')) throw bad('extension lines must be non-empty single lines');
  const text = [c.origin, String(c.size), base64Encode(c.rootHash), ...c.extensions].join('\n') + '\n';
  checkNoteText(text, 'malformed_checkpoint');
  return text;
}

/** Parses a checkpoint body (the note text, not the signed note). */
export function parseCheckpoint(text: string): Checkpoint {
  const bad = (msg: string) => new NoteError('malformed_checkpoint', msg);
  checkNoteText(text, 'malformed_checkpoint');
  if (!text.endsWith('\n')) throw bad('checkpoint must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw bad('checkpoint needs origin, size and root hash lines');
  if (lines.some((l) => l.length === 0)) throw bad('checkpoint lines must be non-empty');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (!DECIMAL.test(sizeText)) throw bad(`tree size ${JSON.stringify(sizeText)} is not a decimal without leading zeros`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw bad('tree size is too large');
  const rootHash = base64DecodeStrict(rootText);
  if (!rootHash || rootHash.length !== 32) throw bad('root hash is not the canonical base64 of 32 bytes');
  return { origin, size, rootHash, extensions };
}

export function signCheckpoint(c: Checkpoint, signers: readonly NoteSigner[]): string {
  return signNote(formatCheckpoint(c), signers);
}

export interface OpenedCheckpoint extends Checkpoint {
  note: OpenedNote;
}

/** Verifies a signed checkpoint against trusted keys and parses it; `origin`, when given, must match exactly. */
export function openCheckpoint(msg: string | Uint8Array, keys: readonly (NoteVerifier | string)[], opts: { origin?: string } = {}): OpenedCheckpoint {
  const note = openNote(msg, keys);
  const c = parseCheckpoint(note.text);
  if (opts.origin !== undefined && c.origin !== opts.origin) {
    throw new NoteError('origin_mismatch', `checkpoint origin ${JSON.stringify(c.origin)} is not ${JSON.stringify(opts.origin)}`);
  }
  return { ...c, note };
}
