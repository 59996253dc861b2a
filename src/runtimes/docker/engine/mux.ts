// The engine's multiplexed stream format (logs and attach of containers created without a TTY):
// each frame is an 8-byte header [stream, 0, 0, 0, size as uint32 big-endian] and `size` bytes of
// payload; stream 0 = stdin, 1 = stdout, 2 = stderr. Frames split across chunks arbitrarily.

export type StreamName = 'stdin' | 'stdout' | 'stderr';
const NAMES: Record<number, StreamName> = { 0: 'stdin', 1: 'stdout', 2: 'stderr' };

export interface Frame {
  stream: StreamName;
  payload: Buffer;
}

export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns every frame completed by them. */
  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    while (this.buf.length >= 8) {
      const kind = this.buf[0]!;
      const stream = NAMES[kind];
      if (!stream || this.buf[1] !== 0 || this.buf[2] !== 0 || this.buf[3] !== 0) {
        throw new Error(`not a multiplexed Docker stream (header byte ${kind}); was the container created with a TTY?`);
      }
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      out.push({ stream, payload: Buffer.from(this.buf.subarray(8, 8 + size)) });
      this.buf = this.buf.subarray(8 + size);
    }
    return out;
  }

  /** Bytes of an unfinished frame (non-zero at the end of a stream means it was cut). */
  get pending(): number {
    return this.buf.length;
  }
}

/** Encodes one frame (tests, and anything that must speak the format back). */
export function encodeFrame(stream: StreamName, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream === 'stdin' ? 0 : stream === 'stdout' ? 1 : 2;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}
