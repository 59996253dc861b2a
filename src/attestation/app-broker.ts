// The per-instance app-key broker: a unix socket the daemon (root) serves in an instance's runDir,
// which the sandbox shows the tenant at /run/webhost/broker.sock. Through it a handler signs with
// its project's app key (ctx.sign, ctx.receipt) and, when the project is attested, gets a quote
// over its own data (ctx.quote). Protocol: app-broker-protocol.ts.
//
// Who can reach it: the runDir is the tenant's own (0700) and bubblewrap binds only that runDir;
// the socket itself belongs to the tenant's uid and nobody else may write to it. What it can do:
// sign with this instance's app key, nothing else — no key path, no other key of the daemon.
//
// The runDir's parent belongs to the tenant, which could swap entries in it; so the folder is
// opened without following a link and the socket is made through /proc/self/fd/<that folder>,
// never through a path the tenant could redirect.
import { constants } from 'node:fs';
import { lchown, open, unlink, type FileHandle } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { appReportData, padReportData } from '../verify/binding.ts';
import type { DeploymentRef } from '../verify/bundle.ts';
import { bytesEqual } from '../verify/bytes.ts';
import { deploymentRef, type DeploymentRecord } from '../verify/deployment.ts';
import { APP_PREIMAGE_VERSION, RESERVED_SIGN_PREFIX, receiptMessage, type AppPreimage, type Receipt, type UnsignedReceipt } from '../verify/receipt.ts';
import { BROKER_SOCKET_NAME } from '../runtimes/sandbox.ts';
import { AppSigner, deriveAppKeySeed } from './app-broker-keys.ts';
import { BrokerError, MAX_LINE_BYTES, parseRequest, requestId, TokenBucket, type BrokerRequest } from './app-broker-protocol.ts';

export interface BrokerLimits {
  /** Quotes cost the TEE real work: a small burst, then a slow refill. */
  quoteBurst: number;
  quotesPerSecond: number;
  /** Signatures are cheap but run on the daemon's event loop. */
  signBurst: number;
  signsPerSecond: number;
  connections: number;
  idleTimeoutMs: number;
}

export const DEFAULT_BROKER_LIMITS: BrokerLimits = { quoteBurst: 10, quotesPerSecond: 0.5, signBurst: 1000, signsPerSecond: 1000, connections: 16, idleTimeoutMs: 60_000 };

/** The quote a guest agent returns (the daemon's GuestAgentClient.getQuote). */
export interface AgentQuote {
  quote: string;
  event_log: string;
  report_data: string;
  reportDataBytes: Uint8Array;
}

export interface AppBrokerOptions {
  runDir: string;
  /** The tenant the socket belongs to. */
  uid: number;
  gid: number;
  project: string;
  /** The id receipts name (the deployment the instance runs). */
  deploymentId: string;
  /** What quotes bind; null refuses quotes (webhost dev has no deployment record and no TEE). */
  deployment: DeploymentRef | null;
  /** The app key's 32-byte seed; called once, on first use. */
  seed: () => Promise<Uint8Array>;
  /** GetQuote; null refuses quotes. */
  getQuote: ((reportData: Uint8Array) => Promise<AgentQuote>) | null;
  /** Read at every quote request: a promotion does not restart the instance. */
  attested: () => boolean;
  /** Why quotes are refused when not attested (default: promote first). */
  notAttestedMessage?: string;
  limits?: Partial<BrokerLimits>;
  /** Daemon-side details of failures the tenant only gets in plain words. */
  log?: (msg: string) => void;
}

const isRoot = (): boolean => process.getuid?.() === 0;

export class AppBroker {
  /** The socket's path on the host (the tenant sees it at /run/webhost/broker.sock under bubblewrap). */
  readonly socketPath: string;
  private readonly opts: AppBrokerOptions;
  private readonly limits: BrokerLimits;
  private readonly server: net.Server;
  private readonly dir: FileHandle;
  private readonly sockets = new Set<net.Socket>();
  private readonly quotes: TokenBucket;
  private readonly signs: TokenBucket;
  private signer: Promise<AppSigner> | null = null;
  private closing: Promise<void> | null = null;

  private constructor(opts: AppBrokerOptions, dir: FileHandle, server: net.Server) {
    this.opts = opts;
    this.limits = { ...DEFAULT_BROKER_LIMITS, ...opts.limits };
    this.dir = dir;
    this.server = server;
    this.socketPath = path.join(opts.runDir, BROKER_SOCKET_NAME);
    this.quotes = new TokenBucket(this.limits.quoteBurst, this.limits.quotesPerSecond);
    this.signs = new TokenBucket(this.limits.signBurst, this.limits.signsPerSecond);
  }

  /** Creates the socket in `opts.runDir` (made by the caller) and starts serving. */
  static async open(opts: AppBrokerOptions): Promise<AppBroker> {
    const dir = await open(opts.runDir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      const st = await dir.stat();
      if (isRoot() && st.uid !== 0 && st.uid !== opts.uid) throw new Error(`${opts.runDir} belongs to uid ${st.uid}, neither root nor the tenant`);
      // Through the open folder: the name below cannot be redirected by the tenant.
      const viaFd = existsSync('/proc/self/fd') ? `/proc/self/fd/${dir.fd}` : opts.runDir;
      const at = `${viaFd}/${BROKER_SOCKET_NAME}`;
      await unlink(at).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e; // a leftover (or planted) entry: unlink never follows it
      });
      const server = net.createServer();
      const broker = new AppBroker(opts, dir, server);
      server.maxConnections = broker.limits.connections;
      server.on('connection', (s) => broker.serve(s));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(at, () => {
          server.off('error', reject);
          resolve();
        });
      });
      // Mode 0777 & ~umask leaves write (needed to connect) to the owner: the tenant alone.
      if (isRoot()) await lchown(at, opts.uid, opts.gid);
      return broker;
    } catch (err) {
      await dir.close();
      throw err;
    }
  }

  /** Stops serving (open connections are cut) and removes the socket. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const s of this.sockets) s.destroy();
      await closed; // libuv unlinks the socket through the /proc/self/fd path: the folder must still be open
      await this.dir.close();
    })();
    return this.closing;
  }

  private serve(sock: net.Socket): void {
    if (this.closing) {
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.setTimeout(this.limits.idleTimeoutMs, () => sock.destroy());
    let buf: Buffer = Buffer.alloc(0);
    let busy = false;
    const reply = (o: object) => {
      if (!sock.destroyed) sock.write(JSON.stringify(o) + '\n');
    };
    // One request at a time per connection, in order; reading pauses meanwhile.
    const pump = async () => {
      if (busy) return;
      busy = true;
      sock.pause();
      for (let nl = buf.indexOf(10); !sock.destroyed; nl = buf.indexOf(10)) {
        if ((nl < 0 ? buf.length : nl) > MAX_LINE_BYTES) {
          reply({ ok: false, code: 'too_large', error: `a request line may hold at most ${MAX_LINE_BYTES} bytes` });
          sock.end();
          return;
        }
        if (nl < 0) break;
        const line = buf.subarray(0, nl).toString('utf8');
        buf = buf.subarray(nl + 1);
        reply(await this.answer(line));
      }
      busy = false;
      sock.resume();
    };
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      void pump();
    });
  }

  /** The response to one request line (never throws). */
  async answer(line: string): Promise<object> {
    let req: BrokerRequest;
    try {
      req = parseRequest(line);
    } catch (e) {
      const id = requestId(line);
      const b = e instanceof BrokerError ? e : new BrokerError('bad_request', 'unreadable request');
      return { ...(id !== undefined ? { id } : {}), ok: false, code: b.code, error: b.message };
    }
    const id = req.id === undefined ? {} : { id: req.id };
    try {
      return { ...id, ok: true, ...(await this.run(req)) };
    } catch (e) {
      if (e instanceof BrokerError) return { ...id, ok: false, code: e.code, error: e.message };
      this.opts.log?.(`app-key broker: ${req.op} failed: ${(e as Error).message}`);
      return { ...id, ok: false, code: 'internal', error: `the daemon could not ${req.op === 'quote' ? 'produce a quote' : 'sign'} (see the daemon log)` };
    }
  }

  private key(): Promise<AppSigner> {
    this.signer ??= this.opts.seed().then((s) => new AppSigner(s));
    this.signer.catch(() => (this.signer = null)); // a TEE hiccup must not disable signing for good
    return this.signer;
  }

  private limit(bucket: TokenBucket, what: string): void {
    const t = bucket.take();
    if (!t.ok) throw new BrokerError('rate_limited', `too many ${what} for this instance; retry in ${t.retryAfterMs} ms`);
  }

  private async run(req: BrokerRequest): Promise<object> {
    if (req.op === 'sign') {
      this.limit(this.signs, 'signatures');
      if (startsWith(req.data, RESERVED_SIGN_PREFIX)) {
        throw new BrokerError('reserved_prefix', `data starting with "${RESERVED_SIGN_PREFIX}" is reserved for the daemon's own messages (receipts): use ctx.receipt for a receipt`);
      }
      const k = await this.key();
      return { signature: k.sign(req.data), public_key: k.publicKey };
    }
    if (req.op === 'receipt') {
      this.limit(this.signs, 'signatures');
      const k = await this.key();
      const unsigned: UnsignedReceipt = { v: 1, project: this.opts.project, deployment_id: this.opts.deploymentId, app_key: k.publicKey, payload_sha256: req.payloadSha256 };
      const receipt: Receipt = { ...unsigned, signature: k.sign(receiptMessage(unsigned)) };
      return { receipt };
    }
    return this.quote(req.dataSha256);
  }

  private async quote(dataSha256: string): Promise<object> {
    const { deployment, getQuote } = this.opts;
    if (!deployment || !getQuote || !this.opts.attested()) {
      throw new BrokerError('not_attested', this.opts.notAttestedMessage ?? `ctx.quote is only for attested projects: promote '${this.opts.project}' first (a dev project's quote would bind nothing anyone can check)`);
    }
    this.limit(this.quotes, 'quotes');
    const k = await this.key();
    const preimage: AppPreimage = { v: APP_PREIMAGE_VERSION, project: this.opts.project, deployment, app_key: k.publicKey, data_sha256: dataSha256 };
    const reportData = appReportData(preimage);
    const q = await getQuote(reportData);
    // GetQuote pads, never hashes: anything else back means the agent did not do what we asked.
    if (!bytesEqual(q.reportDataBytes, padReportData(reportData))) throw new Error('the guest agent returned a quote over different report_data');
    return { quote: q.quote, event_log: q.event_log, report_data: q.report_data, preimage };
  }
}

function startsWith(data: Uint8Array, prefix: string): boolean {
  const p = Buffer.from(prefix, 'utf8');
  return data.length >= p.length && Buffer.from(data.buffer, data.byteOffset, p.length).equals(p);
}

/** What the daemon knows when it starts an instance (structural: no dependency on the daemon's types). */
export interface InstanceBrokerInput {
  tee: { deriveKey(path: string, purpose: string): Promise<Uint8Array>; client: { getQuote(reportData: Uint8Array): Promise<AgentQuote> } };
  project: { name: string; uid: number; gid: number };
  deployment: { id: string; record: DeploymentRecord };
  runDir: string;
  attested: () => boolean;
  log?: (msg: string) => void;
  limits?: Partial<BrokerLimits>;
}

/** The daemon's broker for one instance: the app key of (project, tree hash), quotes through the TEE. */
export function openInstanceBroker(i: InstanceBrokerInput): Promise<AppBroker> {
  return AppBroker.open({
    runDir: i.runDir,
    uid: i.project.uid,
    gid: i.project.gid,
    project: i.project.name,
    deploymentId: i.deployment.id,
    deployment: deploymentRef(i.deployment.record),
    seed: () => deriveAppKeySeed(i.tee, i.project.name, i.deployment),
    getQuote: (rd) => i.tee.client.getQuote(rd),
    attested: i.attested,
    ...(i.log ? { log: i.log } : {}),
    ...(i.limits ? { limits: i.limits } : {}),
  });
}
