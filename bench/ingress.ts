// Ingress throughput and latency, measured in one run against the same hello handler:
//   direct        wrk → the handler's own TCP port
//   nginx         wrk → a plain nginx (1 worker, upstream keep-alive) → the handler's unix socket (the baseline)
//   ours (nginx)  wrk → our nginx data plane (config rendered by the daemon) → the handler's socket
//   ours (node)   wrk → our in-process Node data plane → the handler's socket
// Usage: node --import tsx bench/ingress.ts [--duration 10] [--connections 50]
// Needs wrk and nginx (apt-get install wrk nginx-light).
import { spawn, spawnSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RouteTable, Upstream } from '../src/ingress/route-table.ts';
import { Ingress } from '../src/ingress/server.ts';
import { AccessLog } from '../src/ingress/access-log.ts';
import { NginxPlane, findNginx } from '../src/ingress/nginx-plane.ts';
import { freePort } from '../test/helpers/net.ts';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' } } });
const nginxBin = findNginx();
if (!nginxBin || spawnSync('wrk', ['--version']).error) {
  console.error('bench/ingress: needs nginx and wrk (apt-get install -y nginx-light wrk)');
  process.exit(2);
}
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-ingress-'));
const sock = path.join(dir, 'app.sock');
const children: Array<ReturnType<typeof spawn>> = [];

// The hello handler: a separate process, as a tenant is, listening on a TCP port and a unix socket.
const directPort = await freePort();
const handler = spawn(
  process.execPath,
  [
    '-e',
    `const http=require('http');const h=(q,s)=>{s.writeHead(200,{'content-type':'text/plain'});s.end('hello world\\n')};` +
      `http.createServer(h).listen(${directPort},'127.0.0.1');http.createServer(h).listen(${JSON.stringify(sock)});`,
  ],
  { stdio: 'inherit' },
);
children.push(handler);

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`port ${port} never opened`);
}
await waitPort(directPort);

// Baseline nginx: 1 worker, upstream keep-alive, no access log.
const basePort = await freePort();
const baseConf = path.join(dir, 'base.conf');
writeFileSync(
  baseConf,
  `worker_processes 1; user root root; pid ${dir}/base.pid; error_log stderr warn; daemon off;
events { worker_connections 4096; }
http { access_log off; upstream be { server unix:${sock}; keepalive 64; }
  server { listen 127.0.0.1:${basePort}; location /hello/ { proxy_pass http://be/; proxy_http_version 1.1; proxy_set_header Connection ""; } } }\n`,
);
const base = spawn(nginxBin, ['-p', dir, '-c', baseConf], { stdio: 'inherit' });
children.push(base);
await waitPort(basePort);

function plane(kind: 'node' | 'nginx') {
  const routes = new RouteTable();
  routes.set('hello', { kind: 'proxy', project: 'hello', upstream: new Upstream(sock) });
  // Access logging stays on: it is part of the product's hot path.
  const accessLog = new AccessLog(() => undefined);
  const ingress = new Ingress({
    routes,
    daemon: (_req, res) => res.end('daemon'),
    baseDomain: 'localhost',
    accessLog,
    upstreamTimeoutMs: 60_000,
    trustProxy: false,
    host: '127.0.0.1',
    ownsPorts: kind === 'node',
  });
  return { routes, ingress };
}

const node = plane('node');
const nodePort = await node.ingress.listen(0);
const ng = plane('nginx');
const ngPort = await freePort();
await ng.ingress.listenInternal(path.join(dir, 'daemon.sock'));
const ourNginx = new NginxPlane({
  binary: nginxBin,
  prefix: path.join(dir, 'ours'),
  port: ngPort,
  host: '127.0.0.1',
  baseDomain: 'localhost',
  daemonSocket: path.join(dir, 'daemon.sock'),
  trustProxy: false,
  upstreamTimeoutMs: 60_000,
  routes: ng.routes,
  workers: 1,
  access: () => undefined,
  log: () => undefined,
});
await ourNginx.start();

interface Result {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: string;
}

function ms(v: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

// wrk runs as a child process without blocking this event loop: the node plane serves from it.
const run = promisify(execFile);

async function wrk(name: string, url: string): Promise<Result> {
  const { stdout: out } = await run('wrk', ['-t1', `-c${values.connections}`, `-d${values.duration}s`, '--latency', url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = ms(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = ms(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const errors = /Socket errors:.*|Non-2xx.*/.exec(out)?.[0] ?? 'none';
  return { name, rps, p50, p99, errors };
}

// Warm up every path, then measure.
for (const u of [`http://127.0.0.1:${directPort}/`, `http://127.0.0.1:${basePort}/hello/`, `http://127.0.0.1:${ngPort}/hello/`, `http://127.0.0.1:${nodePort}/hello/`]) {
  await run('wrk', ['-t1', '-c10', '-d1s', u]);
}
const results = [
  await wrk('direct', `http://127.0.0.1:${directPort}/`),
  await wrk('nginx (baseline)', `http://127.0.0.1:${basePort}/hello/`),
  await wrk('ours: nginx plane', `http://127.0.0.1:${ngPort}/hello/`),
  await wrk('ours: node plane', `http://127.0.0.1:${nodePort}/hello/`),
];
const baseline = results[1]!;
console.log(`\ningress bench — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, wrk -t1 -c${values.connections} -d${values.duration}s, ${new Date().toISOString()}\n`);
console.log('path                   req/s    p50 ms   p99 ms   req/s ÷ nginx   p99 ÷ nginx   errors');
for (const r of results) {
  console.log(
    `${r.name.padEnd(20)} ${r.rps.toFixed(0).padStart(7)}  ${r.p50.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}   ${(r.rps / baseline.rps).toFixed(2).padStart(13)}   ${(r.p99 / baseline.p99).toFixed(2).padStart(11)}   ${r.errors}`,
  );
}

await ourNginx.stop();
await node.ingress.close();
await ng.ingress.close();
// Wait for the processes to exit before their folder goes (nginx unlinks its pid file on the way out).
await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => { c.once('exit', r); c.kill('SIGTERM'); }))));
rmSync(dir, { recursive: true, force: true });
process.exit(0);
