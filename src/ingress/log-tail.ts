// Follows a log file another process appends to (nginx's access log), line by line. Polling a
// regular file means the writer never waits on the daemon: a stalled daemon costs log latency,
// never request latency. When the file grows past a limit it is rotated: renamed, the writer told
// to reopen, the old file read to its end.
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';

export interface LogTailOptions {
  file: string;
  onLines: (lines: string[]) => void;
  /** Asks the writer to reopen its log file (nginx: SIGUSR1 to the master). */
  reopen: () => void;
  intervalMs?: number;
  maxBytes?: number;
}

export class LogTail {
  private readonly o: Required<LogTailOptions>;
  private fh: FileHandle | undefined;
  private offset = 0;
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(o: LogTailOptions) {
    this.o = { intervalMs: 200, maxBytes: 16 * 1024 * 1024, ...o };
  }

  async start(): Promise<void> {
    await rm(this.o.file, { force: true });
    this.fh = await open(this.o.file, 'a+', 0o600);
    this.timer = setInterval(() => void this.poll(), this.o.intervalMs);
    this.timer.unref();
  }

  private async drain(fh: FileHandle): Promise<void> {
    const buf = Buffer.alloc(256 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      const lines = (this.partial + buf.subarray(0, bytesRead).toString()).split('\n');
      this.partial = lines.pop() ?? '';
      const full = lines.filter(Boolean);
      if (full.length) this.o.onLines(full);
    }
  }

  async poll(): Promise<void> {
    if (this.busy || !this.fh) return;
    this.busy = true;
    try {
      await this.drain(this.fh);
      if (this.offset > this.o.maxBytes) await this.rotate();
    } catch {
      // A log problem must never take the daemon down; the next poll tries again.
    } finally {
      this.busy = false;
    }
  }

  private async rotate(): Promise<void> {
    const old = this.fh!;
    const rotated = `${this.o.file}.1`;
    await rename(this.o.file, rotated);
    this.o.reopen();
    // Give the writer a moment to reopen, then finish the old file and follow the new one.
    for (let i = 0; i < 50 && !(await stat(this.o.file).catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 20));
    await this.drain(old);
    await old.close();
    await rm(rotated, { force: true });
    this.fh = await open(this.o.file, 'a+', 0o600);
    this.offset = 0;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.fh) {
      await this.drain(this.fh).catch(() => undefined);
      await this.fh.close();
      this.fh = undefined;
    }
  }
}
