// The entries file: one canonical JSON entry per line, appended and never rewritten. An append is
// durable (fdatasync) before it counts; a crash mid-write can leave only a torn last line, which
// was never acknowledged, and which recovery cuts off once the rest checks out.
import { open, readFile, type FileHandle } from 'node:fs/promises';

export interface EntriesContent {
  /** Complete lines (each was followed by '\n'), without the newline. */
  lines: string[];
  /** Bytes covered by the complete lines, newlines included. */
  completeBytes: number;
  /** Bytes after the last newline: a torn write, or an edit. */
  tailBytes: number;
}

export class EntriesEncodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EntriesEncodingError';
  }
}

export async function readEntries(file: string): Promise<EntriesContent> {
  const buf = await readFile(file);
  const end = buf.lastIndexOf(0x0a) + 1; // 0 when there is no newline at all
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, end));
  } catch {
    throw new EntriesEncodingError('entries file is not valid UTF-8');
  }
  const lines = end === 0 ? [] : text.slice(0, -1).split('\n');
  return { lines, completeBytes: end, tailBytes: buf.length - end };
}

/** An open entries file for appending. One writer: the AuditLog that owns it serializes calls. */
export class EntriesWriter {
  private readonly fh: FileHandle;
  private length: number;

  private constructor(fh: FileHandle, length: number) {
    this.fh = fh;
    this.length = length;
  }

  static async open(file: string, length: number): Promise<EntriesWriter> {
    // 'r+' rather than 'a': writes go at our own offset, so a rollback by truncate and the next
    // write agree on where the end is.
    const fh = await open(file, 'r+');
    return new EntriesWriter(fh, length);
  }

  get bytes(): number {
    return this.length;
  }

  /** Writes `line` + '\n' at the end and waits until it is on disk. */
  async append(line: string): Promise<void> {
    const data = Buffer.from(line + '\n', 'utf8');
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await this.fh.write(data, off, data.length - off, this.length + off);
      off += bytesWritten;
    }
    await this.fh.datasync();
    this.length += data.length;
  }

  /** Cuts the file back to `length` bytes, durably. */
  async truncate(length: number): Promise<void> {
    await this.fh.truncate(length);
    await this.fh.datasync();
    this.length = length;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Truncates a file once, durably, without keeping it open (recovery of a torn tail). */
export async function truncateFile(file: string, length: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.truncate(length);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}
