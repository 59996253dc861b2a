// The streaming reverse proxy from a client to an app's unix socket. Bodies stream both ways and
// are never buffered; every response header is passed back as the app sent it (Set-Cookie,
// Location, caching); redirects go to the client, never followed; X-Forwarded-* are added.
import http, { type IncomingMessage, type ServerResponse, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Upstream } from './route-table.ts';

/** Hop-by-hop headers (RFC 9110 §7.6.1) are for one connection only and are never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

export interface ForwardInfo {
  /** Client address as the daemon sees it. */
  remote: string;
  /** Original Host header. */
  host: string;
  proto: 'http' | 'https';
  /** The stripped path prefix (`/<name>`), or '' when the project is on its own origin. */
  prefix: string;
  /** When the daemon sits behind a trusted proxy, existing X-Forwarded-* are kept and appended to. */
  trustProxy: boolean;
}

function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const c = headers.connection;
  return new Set((c ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean));
}

/** The headers sent upstream: the client's, minus hop-by-hop and our own x-webhost-*, plus X-Forwarded-*. */
export function upstreamHeaders(headers: IncomingHttpHeaders, fwd: ForwardInfo, keepUpgrade: boolean): OutgoingHttpHeaders {
  const drop = connectionTokens(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (k.startsWith('x-webhost-')) continue; // only the daemon speaks these to apps (e.g. the readiness probe)
    if ((HOP_BY_HOP.has(k) || drop.has(k)) && !(keepUpgrade && (k === 'upgrade' || k === 'connection'))) continue;
    if (!fwd.trustProxy && k.startsWith('x-forwarded-')) continue;
    out[k] = v;
  }
  const prior = fwd.trustProxy ? headers['x-forwarded-for'] : undefined;
  out['x-forwarded-for'] = prior ? `${prior}, ${fwd.remote}` : fwd.remote;
  if (!(fwd.trustProxy && headers['x-forwarded-proto'])) out['x-forwarded-proto'] = fwd.proto;
  if (!(fwd.trustProxy && headers['x-forwarded-host'])) out['x-forwarded-host'] = fwd.host;
  if (fwd.prefix) out['x-forwarded-prefix'] = fwd.prefix;
  else delete out['x-forwarded-prefix'];
  return out;
}

/** The app's raw response headers minus hop-by-hop ones, as a flat [name, value, ...] list (keeps duplicates). */
export function responseHeaders(raw: string[]): string[] {
  const drop = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const t of raw[i + 1]!.split(',')) drop.add(t.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(k) || drop.has(k)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** Counts a request in flight on `upstream`; the returned function ends it, once, however often called. */
function enter(upstream: Upstream): () => void {
  upstream.enter();
  let left = false;
  return () => {
    if (!left) {
      left = true;
      upstream.leave();
    }
  };
}

export interface ProxyErrorReply {
  (status: 502 | 504, code: string, message: string): void;
}

/**
 * Proxies one request. `onError` renders the 502/504 when nothing was sent yet; once the response
 * started, a broken upstream can only end the client connection.
 */
export function proxyRequest(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  path: string,
  fwd: ForwardInfo,
  timeoutMs: number,
  onError: ProxyErrorReply,
): void {
  const leave = enter(upstream);
  const up = http.request({
    ...upstream.connectOptions,
    agent: upstream.agent,
    method: req.method,
    path,
    headers: upstreamHeaders(req.headers, fwd, false),
  });
  up.setTimeout(timeoutMs, () => up.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT_UPSTREAM' })));
  up.on('response', (ur) => {
    up.setTimeout(0);
    res.writeHead(ur.statusCode ?? 502, ur.statusMessage, responseHeaders(ur.rawHeaders));
    // A streamed body (no length: server-sent events, long polls) must not wait for its first chunk
    // to get its headers out; a sized body sends headers with its first chunk, in one write.
    if (ur.headers['content-length'] === undefined) res.flushHeaders();
    ur.pipe(res);
    ur.on('error', () => res.destroy());
    ur.on('end', leave);
  });
  up.on('error', (err: NodeJS.ErrnoException) => {
    leave();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err.code === 'ETIMEDOUT_UPSTREAM') onError(504, 'app_timeout', 'the app did not answer in time');
    else onError(502, 'app_unavailable', 'the app is not answering');
  });
  res.on('close', () => {
    leave();
    // The client went away: stop the app's work on this request too.
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
}

/** Relays a WebSocket (or any HTTP Upgrade) to the app: writes the request head, then pipes bytes both ways. */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, upstream: Upstream, path: string, fwd: ForwardInfo): void {
  const leave = enter(upstream);
  const target = upstream.connectOptions;
  const conn = 'socketPath' in target ? net.connect(target.socketPath) : net.connect(target.port, target.host);
  const headers = upstreamHeaders(req.headers, fwd, true);
  let text = `${req.method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    for (const value of Array.isArray(v) ? v : [v]) {
      if (value !== undefined) text += `${k}: ${String(value).replace(/[\r\n]/g, '')}\r\n`;
    }
  }
  text += '\r\n';
  conn.on('connect', () => {
    conn.write(text);
    if (head.length) conn.write(head);
    conn.pipe(socket);
    socket.pipe(conn);
  });
  const close = () => {
    leave();
    conn.destroy();
    socket.destroy();
  };
  conn.on('error', () => {
    if (conn.bytesRead === 0 && socket.writable) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"the app is not answering","code":"app_unavailable"}');
    }
    close();
  });
  conn.on('close', close);
  socket.on('error', close);
  socket.on('close', close);
}
