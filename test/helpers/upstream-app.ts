// A real HTTP app on a unix socket, standing in front of nothing: what the ingress proxies to in
// the data-plane tests. Each route exercises one proxy behaviour.
import http from 'node:http';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { tempDir } from './tmp.ts';

export interface UpstreamApp {
  socketPath: string;
  /** Set when the app listens on TCP (as a container does) instead of a unix socket. */
  tcp?: { host: string; port: number };
  /** Requests as the app saw them. */
  seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

export async function startUpstreamApp(name = 'app', opts: { tcp?: boolean } = {}): Promise<UpstreamApp> {
  const socketPath = path.join(tempDir('upstream-'), `${name}.sock`);
  const seen: UpstreamApp['seen'] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    const url = new URL(req.url!, 'http://x');
    switch (url.pathname) {
      case '/echo': {
        let bytes = 0;
        req.on('data', (c: Buffer) => (bytes += c.length));
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ app: name, method: req.method, url: req.url, headers: req.headers, bytes }));
        });
        return;
      }
      case '/upload': {
        // Answers as soon as the first chunk arrives, then counts the rest: proves the body streams.
        let bytes = 0;
        let first = true;
        req.on('data', (c: Buffer) => {
          bytes += c.length;
          if (first) {
            first = false;
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.write('first-chunk-received\n');
          }
        });
        req.on('end', () => res.end(`total ${bytes}\n`));
        return;
      }
      case '/sse': {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let n = 0;
        const t = setInterval(() => {
          res.write(`data: event ${++n}\n\n`);
          if (n === 3) {
            clearInterval(t);
            setTimeout(() => res.end(), 200);
          }
        }, 300);
        req.on('close', () => clearInterval(t));
        return;
      }
      case '/big': {
        const size = Number(url.searchParams.get('mb') ?? '8') * 1024 * 1024;
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
        const chunk = Buffer.alloc(64 * 1024, 7);
        let sent = 0;
        const pump = () => {
          while (sent < size) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      case '/headers':
        res.setHeader('set-cookie', ['a=1; Path=/; HttpOnly', 'b=2; Path=/; SameSite=Lax']);
        res.setHeader('cache-control', 'public, max-age=60');
        res.setHeader('etag', '"v1"');
        res.setHeader('x-custom', 'kept');
        res.end('ok');
        return;
      case '/redirect':
        res.writeHead(302, { location: '/elsewhere?x=1' });
        res.end();
        return;
      case '/slow':
        return; // never answers
      default:
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end(`no route ${url.pathname}\n`);
    }
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m, isBinary) => ws.send(isBinary ? m : `echo: ${m.toString()}`)));
  });
  let tcp: UpstreamApp['tcp'];
  if (opts.tcp) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tcp = { host: '127.0.0.1', port: (server.address() as import('node:net').AddressInfo).port };
  } else {
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  }
  return {
    socketPath,
    tcp,
    seen,
    async close() {
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
