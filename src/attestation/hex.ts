// Hex and byte helpers shared by the guest-agent client and the simulator. The dstack wire format
// carries every `bytes` field as lowercase hex without `0x`; callers sometimes send `0x…`, which
// the agent tolerates, so parsing accepts it and formatting never emits it.

const HEX_RE = /^[0-9a-fA-F]*$/;

/** Parses hex (optionally `0x`-prefixed, any case). Throws a short message naming `what` otherwise. */
export function hexToBytes(hex: string, what = 'hex value'): Uint8Array {
  const h = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (h.length % 2 !== 0 || !HEX_RE.test(h)) throw new Error(`${what} is not valid hex`);
  return new Uint8Array(Buffer.from(h, 'hex'));
}

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
