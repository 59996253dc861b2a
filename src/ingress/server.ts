// The in-process data plane: one HTTP server for the ingress port and one per project port.
// It decides, for every request, whether it is for the daemon (`/`, `/_api/…`, `/_webhost/…`, a
// project's verifier page) or for an app, found by `<name>.<base domain>`, by the port it came in
// on, or by the first path segment (which is then stripped).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { RouteTable, type Route } from './route-table.ts';
import { proxyRequest, proxyUpgrade, type ForwardInfo } from './proxy.ts';
import { serveStatic } from './static-files.ts';
import { AccessLog } from './access-log.ts';
import { isValidName } from '../projects/names.ts';

export type DaemonHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface IngressOptions {
  routes: RouteTable;
  /** Serves everything that is not an app: the API, pages, a project's verifier page. */
  daemon: DaemonHandler;
  /** `<name>.<baseDomain>` reaches project <name> on an origin of its own. */
  baseDomain: string;
  accessLog: AccessLog;
  upstreamTimeoutMs: number;
  trustProxy: boolean;
  /** Host to bind project ports on (the ingress port binds with the same). */
  host: string;
  /** False when nginx owns the public ports and hands this ingress the rest on a unix socket. */
  ownsPorts: boolean;
}

/** How a request reached this ingress: a public port (maybe a project's own), or nginx's internal socket. */
type Via = { kind: 'public'; port: number | undefined } | { kind: 'internal' };

/** Where one request goes. */
interface Target {
  project: string;
  /** Path (with query) as the app sees it. */
  path: string;
  prefix: string;
}

const VERIFIER_PAGE = '/.well-known/tee-attestation';

function json(res: ServerResponse, status: number, body: Record<string, unknown>, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...extra });
  res.end(text);
}

function splitQuery(url: string): [string, string] {
  const q = url.indexOf('?');
  return q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q)];
}

export class Ingress {
  private readonly opts: IngressOptions;
  readonly server: http.Server;
  private readonly portServers = new Map<number, http.Server>();
  private readonly portErrors = new Map<number, string>();
  private internal: http.Server | undefined;

  constructor(opts: IngressOptions) {
    this.opts = opts;
    this.server = this.createServer({ kind: 'public', port: undefined });
    if (opts.ownsPorts) opts.routes.on('ports', (ports: Map<number, string>) => void this.syncPorts(ports));
  }

  private createServer(via: Via): http.Server {
    const server = http.createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, (req, res) =>
      this.handle(req, res, via),
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head, via));
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    });
    return server;
  }

  /** Resolves the app a request is for, or null when it is the daemon's. */
  private target(req: IncomingMessage, via: Via): Target | null | 'bad' {
    const url = req.url ?? '';
    // Behind nginx, the project port a request came in on travels in a header only nginx can set.
    const boundPort = via.kind === 'internal' ? Number(req.headers['x-webhost-port']) || undefined : via.port;
    if (!url.startsWith('/')) return 'bad';
    if (boundPort !== undefined) {
      const project = this.opts.routes.projectForPort(boundPort);
      return project ? { project, path: url, prefix: '' } : 'bad';
    }
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    const suffix = `.${this.opts.baseDomain}`;
    if (this.opts.baseDomain && host.endsWith(suffix)) {
      const name = host.slice(0, -suffix.length);
      if (isValidName(name)) return { project: name, path: url, prefix: '' };
    }
    const [pathname] = splitQuery(url);
    const slash = pathname.indexOf('/', 1);
    const first = slash < 0 ? pathname.slice(1) : pathname.slice(1, slash);
    if (!isValidName(first)) return null; // '/', '/_api/…', '/_webhost/…', '/favicon.ico'
    const rest = url.slice(1 + first.length);
    return { project: first, path: rest, prefix: `/${first}` };
  }

  private remote(req: IncomingMessage, via: Via): string {
    const h = req.headers['x-webhost-remote'];
    return via.kind === 'internal' && typeof h === 'string' ? h : (req.socket.remoteAddress ?? '');
  }

  private forwardInfo(req: IncomingMessage, prefix: string, via: Via): ForwardInfo {
    return {
      remote: this.remote(req, via),
      host: req.headers.host ?? '',
      proto: 'http',
      prefix,
      trustProxy: this.opts.trustProxy,
    };
  }

  private handle(req: IncomingMessage, res: ServerResponse, via: Via): void {
    const started = performance.now();
    const sock = req.socket;
    const bytesBefore = sock.bytesWritten;
    const t = this.target(req, via);
    const project = t && t !== 'bad' ? t.project : null;
    res.on('close', () => {
      this.opts.accessLog.record({
        time: new Date().toISOString(),
        project,
        method: req.method ?? '',
        path: splitQuery(req.url ?? '')[0].slice(0, 2048),
        status: res.statusCode,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
        bytes: sock.bytesWritten - bytesBefore,
      });
    });
    if (t === 'bad') return json(res, 400, { error: 'bad request target', code: 'bad_request' });
    if (t === null) return this.toDaemon(req, res, via);
    const [appPath, query] = splitQuery(t.path);
    if (appPath === '') {
      // `/<name>` → `/<name>/`: relative links in the app resolve under its prefix.
      res.writeHead(308, { location: `${t.prefix}/${query}`, 'content-length': 0 });
      return void res.end();
    }
    if (appPath === VERIFIER_PAGE) {
      req.url = `/_webhost/verify/${t.project}${query}`;
      return this.toDaemon(req, res, via);
    }
    const route = this.opts.routes.get(t.project);
    this.dispatch(route, req, res, t, appPath, query, via);
  }

  /**
   * Hands a request to the daemon's own handler with one header it can trust: the client address
   * (`x-webhost-remote`). Whatever x-webhost-* headers the client sent are removed first.
   */
  private toDaemon(req: IncomingMessage, res: ServerResponse, via: Via): void {
    const remote = this.remote(req, via);
    const raw: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (!req.rawHeaders[i]!.toLowerCase().startsWith('x-webhost-')) raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    }
    raw.push('x-webhost-remote', remote);
    for (const k of Object.keys(req.headers)) if (k.startsWith('x-webhost-')) delete req.headers[k];
    req.headers['x-webhost-remote'] = remote;
    Object.defineProperty(req, 'rawHeaders', { value: raw, configurable: true });
    this.opts.daemon(req, res);
  }

  private dispatch(route: Route | undefined, req: IncomingMessage, res: ServerResponse, t: Target, appPath: string, query: string, via: Via): void {
    if (!route) return json(res, 404, { error: 'not found', code: 'not_found' });
    switch (route.kind) {
      case 'unavailable':
        return json(res, route.status, { error: route.message, code: 'app_unavailable' }, { 'retry-after': '1' });
      case 'static':
        serveStatic(route.root, req, res, appPath, query).catch(() => {
          if (!res.headersSent) json(res, 500, { error: 'could not read the file', code: 'static_error' });
          else res.destroy();
        });
        return;
      case 'proxy':
        return proxyRequest(req, res, route.upstream, t.path, this.forwardInfo(req, t.prefix, via), this.opts.upstreamTimeoutMs, (status, code, message) =>
          json(res, status, { error: message, code, project: t.project }),
        );
    }
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, via: Via): void {
    const t = this.target(req, via);
    const route = t && t !== 'bad' ? this.opts.routes.get(t.project) : undefined;
    if (!t || t === 'bad' || route?.kind !== 'proxy') {
      const status = route?.kind === 'unavailable' ? '503 Service Unavailable' : '404 Not Found';
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    socket.on('error', () => socket.destroy());
    proxyUpgrade(req, socket, head, route.upstream, t.path, this.forwardInfo(req, t.prefix, via));
  }

  async listen(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** The internal listener nginx hands the daemon's requests to (a root-only unix socket). */
  async listenInternal(socketPath: string): Promise<http.Server> {
    const { rm, chmod } = await import('node:fs/promises');
    await rm(socketPath, { force: true });
    const server = this.createServer({ kind: 'internal' });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    await chmod(socketPath, 0o600);
    this.internal = server;
    return server;
  }

  /** Opens listeners for new project ports and closes those no project uses any more. */
  private async syncPorts(ports: Map<number, string>): Promise<void> {
    for (const [port, server] of this.portServers) {
      if (!ports.has(port)) {
        this.portServers.delete(port);
        server.close();
        server.closeAllConnections();
      }
    }
    for (const port of ports.keys()) {
      if (this.portServers.has(port)) continue;
      const server = this.createServer({ kind: 'public', port });
      this.portServers.set(port, server);
      server.on('error', (err: NodeJS.ErrnoException) => {
        this.portErrors.set(port, err.code ?? err.message);
        this.portServers.delete(port);
      });
      server.listen(port, this.opts.host, () => this.portErrors.delete(port));
    }
  }

  /** Checks that `port` can be bound right now (for validation before a deploy commits to it). */
  async portAvailable(port: number): Promise<boolean> {
    if (this.portServers.has(port)) return true;
    return new Promise((resolve) => {
      const probe = http.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, this.opts.host, () => probe.close(() => resolve(true)));
    });
  }

  portError(port: number): string | undefined {
    return this.portErrors.get(port);
  }

  async close(): Promise<void> {
    for (const s of [this.server, ...this.portServers.values(), ...(this.internal ? [this.internal] : [])]) {
      s.close();
      s.closeIdleConnections();
    }
    this.opts.accessLog.flush();
  }
}
