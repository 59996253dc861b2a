// What each app prints, kept per project and bounded: the newest bytes in memory for `logs` and
// `logs -f`, and a size-capped file (one rotation) so a restart keeps recent history.
import { appendFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

export interface LogLine {
  time: string;
  stream: 'stdout' | 'stderr' | 'system';
  text: string;
}

type Listener = (line: LogLine) => void;

const MEMORY_LINES = 2000;
const MAX_LINE = 16 * 1024;

class ProjectLog {
  readonly lines: LogLine[] = [];
  readonly listeners = new Set<Listener>();
  /** Partial last line per stream, completed by the next chunk. */
  readonly partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  writing: Promise<void> = Promise.resolve();
}

export class AppLogs {
  private readonly dir: string;
  private readonly maxFileBytes: number;
  private readonly logs = new Map<string, ProjectLog>();

  constructor(dir: string, maxFileBytes = 2 * 1024 * 1024) {
    this.dir = dir;
    this.maxFileBytes = maxFileBytes;
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(name: string): string {
    return path.join(this.dir, `${name}.log`);
  }

  private log(name: string): ProjectLog {
    let l = this.logs.get(name);
    if (!l) {
      l = new ProjectLog();
      this.logs.set(name, l);
    }
    return l;
  }

  /** Feeds raw output; complete lines are recorded, a trailing partial line waits for the rest. */
  write(name: string, stream: 'stdout' | 'stderr', chunk: Buffer | string): void {
    const l = this.log(name);
    const text = l.partial[stream] + chunk.toString();
    const parts = text.split('\n');
    l.partial[stream] = (parts.pop() ?? '').slice(-MAX_LINE);
    for (const p of parts) this.record(name, { time: new Date().toISOString(), stream, text: p.slice(0, MAX_LINE) });
  }

  /** A line from the daemon about the app (started, crashed, restarted), shown with the app's own output. */
  system(name: string, text: string): void {
    this.record(name, { time: new Date().toISOString(), stream: 'system', text });
  }

  private record(name: string, line: LogLine): void {
    const l = this.log(name);
    l.lines.push(line);
    if (l.lines.length > MEMORY_LINES) l.lines.splice(0, l.lines.length - MEMORY_LINES);
    for (const fn of l.listeners) fn(line);
    const file = this.file(name);
    l.writing = l.writing.then(async () => {
      try {
        const st = await stat(file).catch(() => undefined);
        if (st && st.size > this.maxFileBytes) await rename(file, `${file}.1`);
        await appendFile(file, JSON.stringify(line) + '\n', { mode: 0o600 });
      } catch {
        // Losing a log line must never take the daemon down.
      }
    });
  }

  /** The newest `n` lines: from memory, or from the files after a restart. */
  async tail(name: string, n: number): Promise<LogLine[]> {
    const l = this.logs.get(name);
    if (l && l.lines.length >= n) return l.lines.slice(-n);
    await l?.writing;
    const lines: LogLine[] = [];
    for (const f of [`${this.file(name)}.1`, this.file(name)]) {
      const text = await readFile(f, 'utf8').catch(() => '');
      for (const row of text.split('\n')) {
        if (!row) continue;
        try {
          lines.push(JSON.parse(row) as LogLine);
        } catch {
          // a torn last line after a crash
        }
      }
    }
    return lines.slice(-n);
  }

  subscribe(name: string, fn: Listener): () => void {
    const l = this.log(name);
    l.listeners.add(fn);
    return () => l.listeners.delete(fn);
  }

  async remove(name: string): Promise<void> {
    const l = this.logs.get(name);
    await l?.writing;
    this.logs.delete(name);
    await rm(this.file(name), { force: true });
    await rm(`${this.file(name)}.1`, { force: true });
  }
}
