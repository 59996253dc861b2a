// A small client of the daemon's management API. Failures become one clear CliError line.
import { CliError } from './cli-error.ts';
import type { Connection } from './connection.ts';

export interface ApiErrorBody {
  error?: string;
  code?: string;
  field?: string;
  output?: string;
}

export class ApiClient {
  readonly conn: Connection;

  constructor(conn: Connection) {
    this.conn = conn;
  }

  async request(method: string, path: string, init: { json?: unknown; body?: BodyInit; headers?: Record<string, string>; duplex?: 'half' } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.conn.token) headers.authorization = `Bearer ${this.conn.token}`;
    let body = init.body;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    let res: Response;
    try {
      res = await fetch(this.conn.url + path, { method, headers, body, ...(init.duplex ? { duplex: init.duplex } : {}) } as RequestInit);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach the daemon at ${this.conn.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (!res.ok) {
      let parsed: ApiErrorBody = {};
      const text = await res.text();
      try {
        parsed = JSON.parse(text) as ApiErrorBody;
      } catch {
        parsed = { error: text.slice(0, 200) || res.statusText };
      }
      if (res.status === 401) throw new CliError(`${parsed.error ?? 'unauthorized'} (set --token, WEBHOST_TOKEN or the config file)`);
      const where = parsed.field ? ` [${parsed.field}]` : '';
      throw new CliError(`${parsed.error ?? res.statusText}${where} (HTTP ${res.status}${parsed.code ? `, ${parsed.code}` : ''})`, 1, parsed.output);
    }
    return res;
  }

  async json<T>(method: string, path: string, json?: unknown): Promise<T> {
    const res = await this.request(method, path, json === undefined ? {} : { json });
    return (await res.json()) as T;
  }
}
