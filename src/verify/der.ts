// A minimal DER reader: just enough to walk X.509 certificates, CRLs and Intel's SGX extension.
// We keep the raw bytes of every element because signatures cover exact encodings (tbsCertificate,
// tbsCertList), which a decode/re-encode round trip would not preserve.

export interface Tlv {
  tag: number;
  /** The whole element: tag, length and value. */
  raw: Uint8Array;
  value: Uint8Array;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export function readTlv(buf: Uint8Array, offset = 0): Tlv & { end: number } {
  if (offset + 2 > buf.length) throw new Error('DER: truncated header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not supported');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('DER: unsupported length encoding');
    if (p + n > buf.length) throw new Error('DER: truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  const end = p + len;
  if (end > buf.length) throw new Error('DER: element overruns its container');
  return { tag, raw: buf.subarray(offset, end), value: buf.subarray(p, end), end };
}

/** Parses exactly one element spanning the whole buffer. */
export function parseDer(buf: Uint8Array): Tlv {
  const t = readTlv(buf, 0);
  if (t.end !== buf.length) throw new Error('DER: trailing bytes after the element');
  return t;
}

export function children(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let off = 0;
  while (off < t.value.length) {
    const c = readTlv(t.value, off);
    out.push(c);
    off = c.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new Error(`DER: expected ${what}`);
  return t;
}

export function decodeOid(value: Uint8Array): string {
  if (value.length === 0) throw new Error('DER: empty OID');
  const parts: number[] = [];
  let acc = 0;
  for (const b of value) {
    acc = acc * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(acc);
      acc = 0;
    }
  }
  const first = parts.shift()!;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...parts].join('.');
}

/** INTEGER as unsigned big-endian hex without sign-padding zeros (serial numbers). */
export function integerHex(value: Uint8Array): string {
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  let s = '';
  for (const b of value.subarray(i)) s += b.toString(16).padStart(2, '0');
  return s;
}

/** UTCTime / GeneralizedTime (Z form, as RFC 5280 requires) to a Date. */
export function decodeTime(t: Tlv): Date {
  const s = new TextDecoder().decode(t.value);
  let m: RegExpMatchArray | null;
  let year: number;
  if (t.tag === TAG.UTC_TIME) {
    m = s.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/);
    if (!m) throw new Error(`DER: bad UTCTime ${s}`);
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (t.tag === TAG.GENERALIZED_TIME) {
    m = s.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/);
    if (!m) throw new Error(`DER: bad GeneralizedTime ${s}`);
    year = Number(m[1]);
  } else {
    throw new Error('DER: expected a time');
  }
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/** The content of a BIT STRING with no unused bits. */
export function bitStringBytes(t: Tlv): Uint8Array {
  expectTag(t, TAG.BIT_STRING, 'BIT STRING');
  if (t.value[0] !== 0) throw new Error('DER: BIT STRING with unused bits');
  return t.value.subarray(1);
}
