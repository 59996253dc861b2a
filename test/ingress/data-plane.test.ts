// The ingress contract, checked against both data planes (in-process Node, and nginx under the
// daemon's control) with real HTTP and WebSocket clients and a real app on a unix socket.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { WebSocket } from 'ws';
import { RouteTable, Upstream } from '../../src/ingress/route-table.ts';
import { Ingress } from '../../src/ingress/server.ts';
import { AccessLog } from '../../src/ingress/access-log.ts';
import { NginxPlane, findNginx } from '../../src/ingress/nginx-plane.ts';
import { startUpstreamApp, type UpstreamApp } from '../helpers/upstream-app.ts';
import { freePort, eventually } from '../helpers/net.ts';
import { tempDir } from '../helpers/tmp.ts';

interface Plane {
  port: number;
  routes: RouteTable;
  access: string[];
  /** Makes the route table live; resolves once new requests follow it. */
  apply(): Promise<void>;
  close(): Promise<void>;
}

async function startPlane(kind: 'node' | 'nginx'): Promise<Plane> {
  const routes = new RouteTable();
  const access: string[] = [];
  const accessLog = new AccessLog((t) => void access.push(...t.trim().split('\n')));
  const ingress = new Ingress({
    routes,
    daemon: (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ daemon: true, url: req.url }));
    },
    baseDomain: 'localhost',
    accessLog,
    upstreamTimeoutMs: 1500,
    trustProxy: false,
    host: '127.0.0.1',
    ownsPorts: kind === 'node',
  });
  if (kind === 'node') {
    const port = await ingress.listen(0);
    return { port, routes, access, apply: async () => undefined, close: () => ingress.close() };
  }
  const dir = tempDir('nginx-plane-');
  const port = await freePort();
  const socket = path.join(dir, 'daemon.sock');
  await ingress.listenInternal(socket);
  const nginx = new NginxPlane({
    binary: findNginx()!,
    prefix: path.join(dir, 'nginx'),
    port,
    host: '127.0.0.1',
    baseDomain: 'localhost',
    daemonSocket: socket,
    trustProxy: false,
    upstreamTimeoutMs: 1500,
    routes,
    workers: 1,
    access: (t) => void access.push(...t.trim().split('\n')),
    log: () => undefined,
  });
  await nginx.start();
  return {
    port,
    routes,
    access,
    apply: async () => {
      const change = await nginx.apply(5000);
      await change.moved;
    },
    close: async () => {
      await nginx.stop();
      await ingress.close();
    },
  };
}

function request(port: number, p: string, opts: http.RequestOptions & { body?: string | Buffer } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; rawHeaders: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, agent: false, ...opts }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const planes: Array<'node' | 'nginx'> = findNginx() ? ['node', 'nginx'] : ['node'];
if (!findNginx()) test('nginx data plane', { skip: 'nginx is not installed on this machine' }, () => undefined);

for (const kind of planes) {
  describe(`${kind} data plane`, () => {
    let plane: Plane;
    let app: UpstreamApp;
    let other: UpstreamApp;
    let tcpApp: UpstreamApp;
    let tcpOther: UpstreamApp;
    before(async () => {
      app = await startUpstreamApp('app');
      other = await startUpstreamApp('other');
      tcpApp = await startUpstreamApp('tcp-app', { tcp: true });
      tcpOther = await startUpstreamApp('tcp-other', { tcp: true });
      plane = await startPlane(kind);
      plane.routes.set('app', { kind: 'proxy', project: 'app', upstream: new Upstream(app.socketPath) });
      plane.routes.set('down', { kind: 'proxy', project: 'down', upstream: new Upstream(path.join(tempDir(), 'nothing.sock')) });
      plane.routes.set('starting', { kind: 'unavailable', project: 'starting', status: 503, message: 'the app is starting' });
      plane.routes.set('tcp', { kind: 'proxy', project: 'tcp', upstream: new Upstream(tcpApp.tcp!) });
      await plane.apply();
    });
    after(async () => {
      await plane.close();
      await app.close();
      await other.close();
      await tcpApp.close();
      await tcpOther.close();
    });

    test('proxies to an app on a TCP address (as containers are), and swaps it without a failed request', async () => {
      const r = await request(plane.port, '/tcp/echo?t=1');
      assert.equal(JSON.parse(r.body).app, 'tcp-app');
      assert.equal(JSON.parse(r.body).url, '/echo?t=1');
      let failures = 0;
      const agent = new http.Agent({ keepAlive: true });
      let running = true;
      const seen = new Set<string>();
      const loop = (async () => {
        while (running) {
          const res = await new Promise<{ status: number; body: string }>((resolve) =>
            http
              .get({ host: '127.0.0.1', port: plane.port, path: '/tcp/echo', agent }, (x) => {
                let b = '';
                x.on('data', (c) => (b += c));
                x.on('end', () => resolve({ status: x.statusCode!, body: b }));
              })
              .on('error', () => resolve({ status: 0, body: '' })),
          );
          if (res.status !== 200) failures++;
          else seen.add(JSON.parse(res.body).app);
        }
      })();
      await new Promise((r) => setTimeout(r, 200));
      plane.routes.set('tcp', { kind: 'proxy', project: 'tcp', upstream: new Upstream(tcpOther.tcp!) });
      await plane.apply();
      await new Promise((r) => setTimeout(r, 300));
      running = false;
      await loop;
      agent.destroy();
      assert.equal(failures, 0);
      assert.ok(seen.has('tcp-other'), [...seen].join());
      assert.equal(JSON.parse((await request(plane.port, '/tcp/echo')).body).app, 'tcp-other');
    });

    test('strips the project prefix, keeps method, query and body, and adds X-Forwarded-*', async () => {
      const r = await request(plane.port, '/app/echo?x=1&y=%20z', {
        method: 'PUT',
        headers: { 'content-type': 'text/plain', 'x-forwarded-for': '6.6.6.6', 'x-webhost-probe': '1', host: 'example.test:8080' },
        body: 'hello body',
      });
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.body);
      assert.equal(seen.method, 'PUT');
      assert.equal(seen.url, '/echo?x=1&y=%20z');
      assert.equal(seen.bytes, 10);
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'a client cannot choose its own X-Forwarded-For');
      assert.equal(seen.headers['x-forwarded-proto'], 'http');
      assert.equal(seen.headers['x-forwarded-host'], 'example.test:8080');
      assert.equal(seen.headers['x-forwarded-prefix'], '/app');
      assert.equal(seen.headers['x-webhost-probe'], undefined, 'only the daemon may send the readiness probe');
    });

    test('redirects /<name> to /<name>/, answers unknown projects 404 and gives / to the daemon', async () => {
      const r = await request(plane.port, '/app?q=1');
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, '/app/?q=1');
      const missing = await request(plane.port, '/nope/x');
      assert.equal(missing.status, 404);
      assert.equal(JSON.parse(missing.body).code, 'not_found');
      const root = await request(plane.port, '/');
      assert.deepEqual(JSON.parse(root.body), { daemon: true, url: '/' });
      const api = await request(plane.port, '/_api/health');
      assert.equal(JSON.parse(api.body).url, '/_api/health');
    });

    test('keeps every response header (two Set-Cookie, caching) and passes redirects through unfollowed', async () => {
      const r = await request(plane.port, '/app/headers');
      const cookies = r.rawHeaders.filter((_, i) => i % 2 === 0 && r.rawHeaders[i]!.toLowerCase() === 'set-cookie').length;
      assert.equal(cookies, 2);
      assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/; HttpOnly', 'b=2; Path=/; SameSite=Lax']);
      assert.equal(r.headers['cache-control'], 'public, max-age=60');
      assert.equal(r.headers.etag, '"v1"');
      assert.equal(r.headers['x-custom'], 'kept');
      const redirect = await request(plane.port, '/app/redirect');
      assert.equal(redirect.status, 302);
      assert.equal(redirect.headers.location, '/elsewhere?x=1');
    });

    test('streams a request body: the app answers before the upload ends', async () => {
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: plane.port, path: '/app/upload', method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
          res.setEncoding('utf8');
          let body = '';
          res.on('data', (c: string) => {
            body += c;
            if (body.includes('first-chunk-received') && !req.writableEnded) req.end(Buffer.alloc(100_000, 1));
          });
          res.on('end', () => {
            try {
              assert.match(body, /total 100005/);
              resolve();
            } catch (e) {
              reject(e);
            }
          });
        });
        req.on('error', reject);
        req.write('first'); // the rest is sent only once the app has answered
      });
    });

    test('streams server-sent events as they happen, and large bodies whole', async () => {
      const started = Date.now();
      const firstAt = await new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: plane.port, path: '/app/sse', agent: false }, (res) => {
          assert.equal(res.headers['content-type'], 'text/event-stream');
          res.once('data', () => resolve(Date.now() - started));
          res.resume();
        }).on('error', reject);
      });
      assert.ok(firstAt < 800, `first event after ${firstAt} ms: it was buffered`);
      const big = await new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: plane.port, path: '/app/big?mb=16', agent: false }, (res) => {
          let n = 0;
          res.on('data', (c: Buffer) => (n += c.length));
          res.on('end', () => resolve(n));
        }).on('error', reject);
      });
      assert.equal(big, 16 * 1024 * 1024);
    });

    test('relays WebSockets', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${plane.port}/app/ws`);
      const reply = await new Promise<string>((resolve, reject) => {
        ws.on('open', () => ws.send('ping'));
        ws.on('message', (m) => resolve(m.toString()));
        ws.on('error', reject);
      });
      ws.close();
      assert.equal(reply, 'echo: ping');
      assert.equal(app.seen.at(-1)!.url, '/ws');
    });

    test('answers clear JSON 502, 503 and 504', async () => {
      const down = await request(plane.port, '/down/x');
      assert.equal(down.status, 502);
      assert.equal(JSON.parse(down.body).code, 'app_unavailable');
      const starting = await request(plane.port, '/starting/x');
      assert.equal(starting.status, 503);
      assert.equal(JSON.parse(starting.body).code, 'app_unavailable');
      const slow = await request(plane.port, '/app/slow');
      assert.equal(slow.status, 504);
      assert.equal(JSON.parse(slow.body).code, 'app_timeout');
    });

    test('reaches a project by host name, on its own origin without a prefix', async () => {
      const r = await request(plane.port, '/echo?h=1', { headers: { host: `app.localhost:${plane.port}` } });
      const seen = JSON.parse(r.body);
      assert.equal(seen.url, '/echo?h=1');
      assert.equal(seen.headers['x-forwarded-prefix'], undefined);
    });

    test('opens and closes a project port while running', async () => {
      const port = await freePort();
      plane.routes.setPort('app', port);
      await plane.apply();
      const r = await eventually(() => request(port, '/echo?p=1'));
      assert.equal(JSON.parse(r.body).url, '/echo?p=1');
      plane.routes.setPort('app', undefined);
      await plane.apply();
      await eventually(async () => (await request(port, '/echo').then(() => false, () => true)));
    });

    test('writes one JSON access-log line per request, without the query string', async () => {
      const before = plane.access.length;
      await request(plane.port, '/app/echo?secret=s3cr3t');
      const line = await eventually(async () => plane.access.slice(before).map((l) => JSON.parse(l)).find((e) => e.project === 'app' && e.path === '/app/echo'));
      assert.equal(line.method, 'GET');
      assert.equal(line.status, 200);
      assert.equal(typeof line.duration_ms, 'number');
      assert.ok(line.bytes > 0);
      assert.ok(!plane.access.some((l) => l.includes('s3cr3t')));
    });

    test('swaps an app under continuous load without a failed request', async () => {
      let failures = 0;
      let done = 0;
      const seenApps = new Set<string>();
      let running = true;
      const worker = async () => {
        const agent = new http.Agent({ keepAlive: true });
        while (running) {
          const r = await new Promise<{ status: number; body: string }>((resolve) => {
            http
              .get({ host: '127.0.0.1', port: plane.port, path: '/app/echo', agent }, (res) => {
                let body = '';
                res.on('data', (c) => (body += c));
                res.on('end', () => resolve({ status: res.statusCode!, body }));
              })
              .on('error', () => resolve({ status: 0, body: '' }));
          });
          done++;
          if (r.status !== 200) failures++;
          else seenApps.add(JSON.parse(r.body).app);
        }
        agent.destroy();
      };
      const workers = Array.from({ length: 8 }, worker);
      for (const target of [other, app, other, app]) {
        await new Promise((r) => setTimeout(r, 250));
        const prev = plane.routes.set('app', { kind: 'proxy', project: 'app', upstream: new Upstream(target.socketPath) });
        await plane.apply();
        if (prev?.kind === 'proxy') await prev.upstream.drain(5000);
      }
      await new Promise((r) => setTimeout(r, 250));
      running = false;
      await Promise.all(workers);
      assert.equal(failures, 0, `${failures} of ${done} requests failed`);
      assert.deepEqual([...seenApps].sort(), ['app', 'other']);
    });
  });
}
