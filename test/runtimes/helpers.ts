// Test world for the process runtimes: a fake daemon state folder laid out like the real one
// (tenants under it, a root-only token and project records), tenants with their own uids, and a
// tiny HTTP client that talks to an instance's unix socket.
import { chmod, chown, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { after, before } from 'node:test';
import type { Instance, InstanceSpec, Limits, ProcessRuntime, RuntimeDriver } from '../../src/runtimes/driver.ts';
import { createProcessDrivers } from '../../src/runtimes/index.ts';
import { prepareTenantDirs } from '../../src/runtimes/tenant-dirs.ts';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

export const isRoot = process.getuid?.() === 0;
export const ROOT_ONLY = isRoot ? false : 'these tests start tenants under their own uids and need root';

/** A fake token in the daemon's own env: it must never reach a tenant. */
export const FAKE_DAEMON_TOKEN = 'fake-daemon-token-0123456789abcdef0123456789';
process.env.TEE_DAEMON_TOKEN = FAKE_DAEMON_TOKEN;

let nextUid = 400_000 + (process.pid % 4000) * 25;

export interface World {
  root: string;
  /** Laid out like the daemon's: 0711, holding tenants/, a 0700 projects/ and a 0600 token. */
  stateDir: string;
  tokenFile: string;
  projectRecord: string;
  /** A second, fully closed state folder (root 0700) with a token (0600). */
  closedStateDir: string;
  closedToken: string;
  /** A world-writable socket (like a carelessly exposed docker/dstack socket) in a readable folder. */
  openSocket: string;
  close(): Promise<void>;
}

export async function makeWorld(): Promise<World> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'webhost-rt-'));
  await chmod(root, 0o711);
  const stateDir = path.join(root, 'state');
  await mkdir(path.join(stateDir, 'tenants'), { recursive: true });
  await chmod(stateDir, 0o711);
  await chmod(path.join(stateDir, 'tenants'), 0o711);
  await mkdir(path.join(stateDir, 'projects'), { mode: 0o700 });
  const tokenFile = path.join(stateDir, 'token');
  await writeFile(tokenFile, FAKE_DAEMON_TOKEN + '\n', { mode: 0o600 });
  const projectRecord = path.join(stateDir, 'projects', 'victim.json');
  await writeFile(projectRecord, JSON.stringify({ env: { SECRET: 'in-the-record' } }), { mode: 0o600 });

  const closedStateDir = path.join(root, 'daemon-state');
  await mkdir(closedStateDir, { mode: 0o700 });
  const closedToken = path.join(closedStateDir, 'token');
  await writeFile(closedToken, FAKE_DAEMON_TOKEN, { mode: 0o600 });

  const publicDir = path.join(root, 'public');
  await mkdir(publicDir, { mode: 0o755 });
  const openSocket = path.join(publicDir, 'open.sock');
  const server = http.createServer((_req, res) => res.end('leaked'));
  await new Promise<void>((resolve) => server.listen(openSocket, resolve));
  await chmod(openSocket, 0o666);

  return {
    root,
    stateDir,
    tokenFile,
    projectRecord,
    closedStateDir,
    closedToken,
    openSocket,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface Tenant {
  name: string;
  uid: number;
  gid: number;
  tenantDir: string;
  sourceDir: string;
  dataDir: string;
  runParent: string;
  output: string;
  spec(runtime: ProcessRuntime, entry: string, extra?: Partial<InstanceSpec>): InstanceSpec;
}

let instanceSeq = 0;

/**
 * A tenant laid out as the deploy pipeline lays it out: tenants/<name>/ root:gid 0750,
 * deployments/<id>/src sealed (root:gid 0750/0640), data and run owned by the tenant (0700).
 * `files` are copied from fixtures (name -> fixture path) or given inline ({ text }).
 */
export async function makeTenant(world: World, name: string, files: Record<string, string | { text: string }>): Promise<Tenant> {
  const uid = nextUid++;
  const gid = uid;
  const tenantDir = path.join(world.stateDir, 'tenants', name);
  const deploymentDir = path.join(tenantDir, 'deployments', 'd1');
  const sourceDir = path.join(deploymentDir, 'src');
  const dataDir = path.join(tenantDir, 'data');
  const runParent = path.join(tenantDir, 'run');
  await mkdir(sourceDir, { recursive: true });
  for (const [dest, from] of Object.entries(files)) {
    const target = path.join(sourceDir, dest);
    await mkdir(path.dirname(target), { recursive: true });
    if (typeof from === 'string') await cp(path.join(FIXTURES, from), target);
    else await writeFile(target, from.text);
  }
  for (const d of [tenantDir, path.join(tenantDir, 'deployments'), deploymentDir]) {
    await chown(d, 0, gid);
    await chmod(d, 0o750);
  }
  await prepareTenantDirs({ sourceDir, dataDir, runDir: runParent, uid, gid });
  const tenant: Tenant = {
    name,
    uid,
    gid,
    tenantDir,
    sourceDir,
    dataDir,
    runParent,
    output: '',
    spec(runtime, entry, extra = {}) {
      return {
        project: name,
        deploymentId: 'd1',
        runtime,
        sourceDir,
        entry,
        dataDir,
        runDir: path.join(runParent, `i${++instanceSeq}`),
        env: { GREETING: 'hi', SECRET_OF: `secret-of-${name}` },
        uid,
        gid,
        limits: { memoryMb: 256, pids: 64, cpus: 1 } satisfies Limits,
        onOutput: (_stream, chunk) => {
          tenant.output += chunk.toString('utf8');
        },
        ...extra,
      };
    },
  };
  return tenant;
}

/** Writes a file into a tenant's data folder as the tenant would own it. */
export async function writeTenantData(t: Tenant, name: string, text: string): Promise<string> {
  const p = path.join(t.dataDir, name);
  await writeFile(p, text, { mode: 0o600 });
  await chown(p, t.uid, t.gid);
  return p;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export function request(
  socketPath: string,
  opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: { host: 'app.test', ...opts.headers }, agent: false, timeout: opts.timeoutMs ?? 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Every process in the tree under `pid` (the instance's launcher), found through /proc. */
export async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(e), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [child, parent] of parents) if (parent === out[i]) out.push(child);
  return out;
}

/** Real uid of a process. */
export async function uidOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
}

export async function started(inst: Instance, timeoutMs = 10_000): Promise<Instance> {
  await inst.ready(timeoutMs);
  return inst;
}

/**
 * Whether this machine itself can reach an HTTPS URL. A one-off connection (no keep-alive pool):
 * a pooled socket would keep the test process alive long after its tests end.
 */
export function hostReaches(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(url, { agent: false, timeout: 15_000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) < 400);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Opens a WebSocket to `urlPath` on an instance's unix socket, sends one message and resolves the first reply. */
export async function wsRoundTrip(socketPath: string, urlPath: string, message: string): Promise<string> {
  const ws = new WebSocket(`ws+unix://${socketPath}:${urlPath}`);
  try {
    return await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send(message));
      ws.on('message', (m) => resolve(String(m)));
      ws.on('error', reject);
    });
  } finally {
    ws.close();
  }
}

/** Inside a describe(): a world made before its tests and closed after, and the runtime's driver in it. */
export function worldWithDriver(runtime: ProcessRuntime): { world: World; driver: RuntimeDriver } {
  const s = {} as { world: World; driver: RuntimeDriver };
  before(async () => {
    s.world = await makeWorld();
    s.driver = (await createProcessDrivers({ stateDir: s.world.stateDir })).get(runtime)!;
  });
  after(() => s.world?.close());
  return s;
}
