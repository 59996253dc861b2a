// One JSON line per request. Lines are batched and written once per event-loop turn, because a
// synchronous write per request costs more than the proxying itself under load. The path is logged
// without its query string: queries often carry tokens.

export interface AccessEntry {
  time: string;
  project: string | null;
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  bytes: number;
  remote?: string;
}

export type AccessSink = (line: string) => void;

export class AccessLog {
  private buffer: string[] = [];
  private scheduled = false;
  private readonly sink: AccessSink;

  constructor(sink: AccessSink) {
    this.sink = sink;
  }

  record(entry: AccessEntry): void {
    this.buffer.push(JSON.stringify(entry));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.buffer.length === 0) return;
    const text = this.buffer.join('\n') + '\n';
    this.buffer = [];
    this.sink(text);
  }
}
