// The last bytes an app printed, kept so a start failure can show them. Bounded: an app that
// prints in a loop must not grow the daemon's memory.

export const DEFAULT_OUTPUT_LIMIT = 64 * 1024;

export class BoundedOutput {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  private readonly limit: number;

  constructor(limit = DEFAULT_OUTPUT_LIMIT) {
    this.limit = limit;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
      this.dropped = true;
    }
    if (this.size > this.limit) {
      const only = this.chunks[0]!;
      this.chunks[0] = only.subarray(only.length - this.limit);
      this.size = this.limit;
      this.dropped = true;
    }
  }

  text(): string {
    const body = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped ? `[earlier output dropped]\n${body}` : body;
  }
}
