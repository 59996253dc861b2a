// nginx as the data plane, under the daemon's control. A redeploy only swaps the project's upstream
// symlink (no reload: a reload makes nginx close clients' idle keep-alive connections, which races
// with requests in flight on them); nginx stops using the old instance's pooled connections within
// UPSTREAM_KEEPALIVE_SECONDS. Adding or removing a project or a port rewrites the config and
// reloads nginx gracefully. `apply()` says when nothing can reach a replaced instance any more.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { writeFileAtomic } from '../lib/atomic-file.ts';
import { renderNginxConfig, type NginxConfigInput, ACCESS_LOG_NAME, UPSTREAM_KEEPALIVE_SECONDS, upstreamLink } from './nginx-config.ts';
import { LogTail } from './log-tail.ts';
import { TcpRelay } from './tcp-relay.ts';
import type { RouteTable } from './route-table.ts';

/** What the config needs, except the routes, which are read from the live table on every change. */
export interface NginxPlaneOptions extends Omit<NginxConfigInput, 'routes'> {
  binary: string;
  routes: RouteTable;
  /** Receives access-log lines (JSON, one per line) in the daemon's own format. */
  access: (text: string) => void;
  log: (msg: string) => void;
}

const NGINX_CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx', '/usr/local/bin/nginx'];

export interface PlaneChange {
  /** No new request can reach a replaced instance any more. */
  moved: Promise<void>;
  /** Nothing can reach a replaced instance any more (requests in flight have finished). */
  drained: Promise<void>;
}

export function findNginx(): string | undefined {
  return NGINX_CANDIDATES.find((p) => existsSync(p));
}

/** The pids of a process's children (nginx workers are the master's children). */
async function childrenOf(pid: number): Promise<Set<number>> {
  const kids = new Set<number>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) kids.add(Number(entry));
  }
  return kids;
}

const alive = (pid: number) => existsSync(`/proc/${pid}`);

/** Socket inodes of every listening TCP socket on the machine (state 0A in /proc/net/tcp{,6}). */
async function listeningInodes(): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && f[9]) inodes.add(f[9]);
    }
  }
  return inodes;
}

/** Whether any of `pids` still holds a listening TCP socket (an old worker not yet told to quit). */
async function anyListening(pids: Iterable<number>): Promise<boolean> {
  const listening = await listeningInodes();
  for (const pid of pids) {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && listening.has(inode)) return true;
    }
  }
  return false;
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class NginxPlane {
  private readonly o: NginxPlaneOptions;
  private child: ChildProcess | undefined;
  private lastConfig = '';
  private applying: Promise<unknown> = Promise.resolve();
  private stderrTail = '';
  private tail: LogTail | undefined;
  private readonly relays = new Map<string, TcpRelay>();

  constructor(o: NginxPlaneOptions) {
    this.o = o;
  }

  private get confFile(): string {
    return path.join(this.o.prefix, 'nginx.conf');
  }

  private render(): string {
    const { routes, binary: _binary, access: _access, log: _log, ...config } = this.o;
    return renderNginxConfig({
      ...config,
      routes: routes.names().sort().map((name) => ({ name, route: routes.get(name)!, port: routes.portOf(name) })),
    });
  }

  async start(): Promise<void> {
    for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(path.join(this.o.prefix, 'tmp', t), { recursive: true, mode: 0o700 });
    await mkdir(path.join(this.o.prefix, 'upstreams'), { recursive: true, mode: 0o700 });
    await this.syncLinks();
    this.tail = new LogTail({
      file: path.join(this.o.prefix, ACCESS_LOG_NAME),
      onLines: (lines) => this.o.access(lines.map((l) => this.normalize(l)).join('\n') + '\n'),
      reopen: () => {
        if (this.child?.pid) process.kill(this.child.pid, 'SIGUSR1');
      },
    });
    await this.tail.start();
    this.lastConfig = this.render();
    await writeFileAtomic(this.confFile, this.lastConfig, 0o600);
    const child = spawn(this.o.binary, ['-p', this.o.prefix, '-c', this.confFile, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-4096);
      for (const l of chunk.toString().split('\n')) if (l.trim()) this.o.log(`nginx: ${l.trim()}`);
    });
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`nginx exited (${code}): ${this.stderrTail.trim().split('\n').pop() ?? ''}`))),
    );
    await Promise.race([this.waitListening(), exited]);
    child.removeAllListeners('exit');
    child.once('exit', (code, sig) => {
      if (this.child === child) this.o.log(`nginx exited unexpectedly (${code ?? sig})`);
    });
  }

  /** nginx logs request_time in seconds; the daemon's access log speaks milliseconds. */
  private normalize(line: string): string {
    try {
      const e = JSON.parse(line) as Record<string, unknown>;
      e.duration_ms = Math.round(Number(e.duration_ms) * 1000 * 100) / 100;
      if (e.project === '') e.project = null;
      return JSON.stringify(e);
    } catch {
      return line;
    }
  }

  private async waitListening(): Promise<void> {
    const host = this.o.host === '0.0.0.0' ? '127.0.0.1' : this.o.host;
    for (let i = 0; i < 200; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(this.o.port, host, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) return;
      await sleep(25);
    }
    throw new Error(`nginx did not start listening on port ${this.o.port}`);
  }

  /**
   * Makes the route table live. Resolves once new requests are routed by it: `moved` resolves when
   * no new request can reach a replaced instance, `drained` when nothing at all can (old workers
   * that were still finishing requests have exited).
   */
  apply(drainTimeoutMs: number): Promise<PlaneChange> {
    const run = this.applying.then(() => this.reload(drainTimeoutMs));
    this.applying = run.catch(() => undefined);
    return run;
  }

  /**
   * Points each proxied project's stable upstream at its current instance; true when any moved.
   * A unix-socket app gets a symlink to its socket (connect() follows it); a TCP app (a container)
   * gets a byte relay listening at that path, retargeted on a swap.
   */
  private async syncLinks(): Promise<boolean> {
    let moved = false;
    const wanted = new Set<string>();
    for (const name of this.o.routes.names()) {
      const route = this.o.routes.get(name);
      if (route?.kind !== 'proxy') continue;
      wanted.add(name);
      const link = upstreamLink(this.o.prefix, name);
      const addr = route.upstream.address;
      if ('host' in addr) {
        const relay = this.relays.get(name);
        if (relay) {
          const cur = relay.current;
          if (cur.host !== addr.host || cur.port !== addr.port) {
            relay.retarget(addr);
            moved = true;
          }
          continue;
        }
        const r = new TcpRelay(addr);
        await r.listenUnix(link);
        this.relays.set(name, r);
        continue;
      }
      await this.relays.get(name)?.close();
      this.relays.delete(name);
      const current = await readlink(link).catch(() => undefined);
      if (current === addr.socketPath) continue;
      const tmp = `${link}.${process.pid}.tmp`;
      await rm(tmp, { force: true });
      await symlink(addr.socketPath, tmp);
      await rename(tmp, link); // atomic: a connect sees the old target or the new, never none
      moved ||= current !== undefined;
    }
    for (const [name, relay] of this.relays) {
      if (wanted.has(name)) continue;
      await relay.close();
      this.relays.delete(name);
    }
    return moved;
  }

  private async reload(drainTimeoutMs: number): Promise<PlaneChange> {
    const master = this.child?.pid;
    const linksMoved = await this.syncLinks();
    // Pooled connections to an old instance are retired by nginx itself within the keep-alive time.
    const retired = linksMoved ? sleep(UPSTREAM_KEEPALIVE_SECONDS * 1000 + 300) : Promise.resolve();
    const config = this.render();
    if (!master || config === this.lastConfig) return { moved: retired, drained: retired };
    const before = await childrenOf(master);
    await writeFileAtomic(this.confFile, config, 0o600);
    this.lastConfig = config;
    process.kill(master, 'SIGHUP');
    // New workers appear once the new config is loaded; until then requests still use the old one.
    let loaded = false;
    for (let i = 0; i < 400 && !loaded; i++) {
      const now = await childrenOf(master);
      loaded = [...now].some((p) => !before.has(p));
      if (!loaded) await sleep(5);
    }
    if (!loaded) {
      this.lastConfig = '';
      throw new Error(`nginx did not load the new configuration: ${this.stderrTail.trim().split('\n').pop() ?? 'no output'}`);
    }
    // Old workers keep accepting until they handle the master's quit signal, and then close every
    // idle keep-alive connection they took. Waiting until they hold no listening socket means a
    // client that connects after this returns is served by the new workers and keeps its connection.
    for (let i = 0; i < 200 && (await anyListening(before)); i++) await sleep(5);
    const drained = (async () => {
      await retired;
      const deadline = Date.now() + drainTimeoutMs;
      while (Date.now() < deadline && [...before].some(alive)) await sleep(20);
    })();
    return { moved: retired, drained };
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child?.pid && child.exitCode === null) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGQUIT'); // graceful: finish in-flight requests
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    }
    await this.tail?.stop();
    this.tail = undefined;
    for (const r of this.relays.values()) await r.close();
    this.relays.clear();
  }
}
