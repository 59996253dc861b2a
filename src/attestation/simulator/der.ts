// A minimal DER encoder: just what the simulator needs to build its certificates, the Intel SGX
// PCK extension and CRLs (x509.ts). Encoding only; nothing here parses untrusted input.

import { concatBytes, utf8 } from '../hex.ts';

function lengthBytes(len: number): Uint8Array {
  if (len < 0x80) return Uint8Array.of(len);
  const out: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) out.unshift(n & 0xff);
  return Uint8Array.of(0x80 | out.length, ...out);
}

export function tlv(tag: number, content: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(tag), lengthBytes(content.length), content);
}

export const seq = (...items: Uint8Array[]): Uint8Array => tlv(0x30, concatBytes(...items));
export const octets = (b: Uint8Array): Uint8Array => tlv(0x04, b);
export const bool = (v: boolean): Uint8Array => tlv(0x01, Uint8Array.of(v ? 0xff : 0x00));
/** BIT STRING; `unusedBits` counts the padding bits at the end of the last byte. */
export const bitString = (b: Uint8Array, unusedBits = 0): Uint8Array => tlv(0x03, concatBytes(Uint8Array.of(unusedBits), b));
export const utf8String = (s: string): Uint8Array => tlv(0x0c, utf8(s));
/** Context-specific constructed [n] EXPLICIT wrapper. */
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(0xa0 | n, inner);

/** Non-negative integer content in minimal two's-complement form. */
function uintContent(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`DER integer out of range: ${n}`);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  if (out.length === 0 || out[0]! & 0x80) out.unshift(0);
  return Uint8Array.from(out);
}

export const integer = (n: number): Uint8Array => tlv(0x02, uintContent(n));
/** INTEGER from big-endian magnitude bytes (serial numbers); a 0x00 is prepended when the top bit is set. */
export function integerBytes(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && !(b[i + 1]! & 0x80)) i++;
  const m = b.subarray(i);
  return tlv(0x02, m[0]! & 0x80 ? concatBytes(Uint8Array.of(0), m) : m);
}
export const enumerated = (n: number): Uint8Array => tlv(0x0a, uintContent(n));

export function oid(dotted: string): Uint8Array {
  const parts = dotted.split('.').map(Number);
  if (parts.length < 2 || parts.some((p) => !Number.isSafeInteger(p) || p < 0)) throw new Error(`bad OID ${dotted}`);
  const body: number[] = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [];
    let v = p;
    do {
      chunk.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    body.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(body));
}

/** RFC 5280 time: UTCTime (YYMMDDHHMMSSZ) for 1950–2049, GeneralizedTime (YYYYMMDDHHMMSSZ) after. */
export function time(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 9999) throw new Error(`date out of range for X.509: ${d.toISOString()}`);
  const p = (n: number) => String(n).padStart(2, '0');
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return y < 2050 ? tlv(0x17, utf8(`${p(y % 100)}${rest}`)) : tlv(0x18, utf8(`${y}${rest}`));
}
