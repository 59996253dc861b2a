// Plain HTTP/1.1 over the engine's unix socket with node:http: the Engine API is small JSON and
// a few streams, so no client library is needed (and none of them sits between our policy checks
// and what the engine is told). Buffered calls for JSON, raw responses for streams.
import http from 'node:http';
import type { Readable } from 'node:stream';
import { EngineError, EngineTimeoutError, EngineUnreachableError } from './errors.ts';

export interface RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  /** Path including the API version prefix and query string. */
  path: string;
  /** A JSON body, or a byte stream (build contexts, import tarballs). */
  json?: unknown;
  stream?: Readable;
  contentType?: string;
  headers?: Record<string, string>;
  /** For buffered calls only; streams are bounded by their caller. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ENOTSOCK', 'ECONNRESET']);

export class Transport {
  readonly socketPath: string;
  /** No socket cap: log follows, waits and event streams are long-lived and must not queue. */
  private readonly agent = new http.Agent({ keepAlive: true, maxFreeSockets: 8 });

  constructor(socketPath: string) {
    this.socketPath = socketPath;
  }

  /** Opens a request and resolves with the response head; the caller consumes the body. */
  open(opts: RequestOptions): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...opts.headers };
      let body: Buffer | undefined;
      if (opts.json !== undefined) {
        body = Buffer.from(JSON.stringify(opts.json));
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(body.length);
      } else if (opts.stream) {
        headers['content-type'] = opts.contentType ?? 'application/x-tar';
        headers['transfer-encoding'] = 'chunked';
      }
      const req = http.request(
        { socketPath: this.socketPath, path: opts.path, method: opts.method, headers: { host: 'docker', ...headers }, agent: this.agent, signal: opts.signal },
        resolve,
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code && UNREACHABLE.has(err.code) && !req.reusedSocket) reject(new EngineUnreachableError(this.socketPath, err));
        else reject(err);
      });
      if (opts.stream) {
        opts.stream.on('error', (err) => req.destroy(err));
        opts.stream.pipe(req);
      } else {
        req.end(body);
      }
    });
  }

  /** A buffered call. Throws EngineError for any status >= 400, with the engine's message. */
  async call(opts: RequestOptions): Promise<{ status: number; body: Buffer }> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const ac = new AbortController();
    const onAbort = () => ac.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ac.abort(new EngineTimeoutError(`${opts.method} ${opts.path.split('?')[0]}`, timeoutMs)), timeoutMs);
    try {
      const res = await this.open({ ...opts, signal: ac.signal });
      const body = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status >= 400) throw new EngineError(status, engineMessage(body), opts.method, opts.path);
      return { status, body };
    } catch (err) {
      if (ac.signal.aborted && ac.signal.reason instanceof Error) throw ac.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** A call whose answer is JSON (or empty). */
  async json<T>(opts: RequestOptions): Promise<T> {
    const { body } = await this.call(opts);
    return (body.length ? JSON.parse(body.toString('utf8')) : undefined) as T;
  }

  /** A streaming call: resolves once the engine accepted it (status < 400), with the live body. */
  async streaming(opts: RequestOptions): Promise<http.IncomingMessage> {
    const res = await this.open(opts);
    const status = res.statusCode ?? 0;
    if (status >= 400) throw new EngineError(status, engineMessage(await readAll(res)), opts.method, opts.path);
    return res;
  }

  close(): void {
    this.agent.destroy();
  }
}

export function readAll(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** The engine puts its reason in `{"message": ...}`; fall back to the raw text. */
function engineMessage(body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON
  }
  return text.slice(0, 2000) || '(no message)';
}

/** Splits a stream of newline-delimited JSON objects (build, pull, import and event streams). */
export async function* jsonLines<T>(stream: AsyncIterable<Buffer | string>): AsyncGenerator<T> {
  let rest = '';
  for await (const chunk of stream) {
    rest += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  if (rest.trim()) yield JSON.parse(rest) as T;
}

/** `?a=1&b=...` from defined values; objects become JSON (the engine's `filters`, `labels`, `buildargs`). */
export function query(params: Record<string, string | number | boolean | object | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    const text = typeof v === 'object' ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(text)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}
