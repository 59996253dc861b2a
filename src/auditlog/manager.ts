// The audit logs of a state folder: one log per incarnation of a project, laid out as
//
//   <root>/<project>/<n>-<8 hex>/   (log.json, entries.jsonl, checkpoint: see log-dir.ts)
//
// A project has at most one open incarnation. Teardown closes it; it stays on disk, read-only, and
// is served as `previous`. Deleting a project and creating one of the same name opens a new
// incarnation with a new origin (hence a new key): the new log neither inherits nor hides the old
// history. The random part of the incarnation name keeps a wiped-and-restarted daemon from ever
// reusing an origin, which would sign a second, different history under the same key.
import { readdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { KeyedMutex } from '../lib/keyed-mutex.ts';
import { isValidKeyName, ed25519NoteKey } from '../verify/note.ts';
import type { ClosedLog } from '../verify/bundle.ts';
import type { NewLogEntry } from './entry.ts';
import { AuditLogIntegrityError } from './errors.ts';
import { AuditLog } from './log.ts';
import { readLogVerbatim, readMeta, type LogMeta } from './log-dir.ts';

export interface AuditLogsOptions {
  /** The daemon's host (its base domain): the first part of every origin. */
  host: string;
  /**
   * The 32-byte Ed25519 seed of the log with this origin. The daemon derives it inside the TEE
   * (dstack GetKey with a path naming the origin), so a restart yields the same key and an
   * operator never holds it.
   */
  seedFor: (origin: string) => Uint8Array | Promise<Uint8Array>;
  now?: () => Date;
}

export interface Incarnation {
  project: string;
  /** `<n>-<8 hex>`, n counting up from 1 per project name. */
  name: string;
  origin: string;
  dir: string;
  publicKey: string;
  createdAt: string;
  closedAt: string | null;
}

const PROJECT = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const INCARNATION = /^([1-9][0-9]*)-[0-9a-f]{8}$/;

function checkProject(project: string): void {
  if (typeof project !== 'string' || !PROJECT.test(project)) throw new TypeError(`invalid project name ${JSON.stringify(project)}`);
}

export class AuditLogs {
  readonly root: string;
  private readonly opts: AuditLogsOptions;
  private readonly open_ = new Map<string, AuditLog>();
  private readonly mutex = new KeyedMutex();

  constructor(root: string, opts: AuditLogsOptions) {
    // The host becomes part of a key name: no spaces, no '+'.
    if (!isValidKeyName(opts.host) || opts.host.includes('/')) throw new TypeError(`invalid audit log host ${JSON.stringify(opts.host)}`);
    this.root = root;
    this.opts = opts;
  }

  originOf(project: string, incarnation: string): string {
    return `${this.opts.host}/dstack-webhost/${project}/${incarnation}`;
  }

  /** Every incarnation of a project, oldest first. */
  async incarnations(project: string): Promise<Incarnation[]> {
    checkProject(project);
    const base = path.join(this.root, project);
    let names: string[];
    try {
      names = await readdir(base);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const found = names.filter((n) => INCARNATION.test(n)).sort((a, b) => Number(INCARNATION.exec(a)![1]) - Number(INCARNATION.exec(b)![1]));
    const out: Incarnation[] = [];
    for (const name of found) {
      const dir = path.join(base, name);
      const meta: LogMeta = await readMeta(dir);
      out.push({ project, name, origin: meta.origin, dir, publicKey: meta.public_key, createdAt: meta.created_at, closedAt: meta.closed_at });
    }
    return out;
  }

  /** The project's open log, if it has one; never creates. */
  current(project: string): Promise<AuditLog | undefined> {
    return this.mutex.run(project, () => this.currentLocked(project));
  }

  /** The project's open log, creating a new incarnation when it has none (first promote, or re-creation after teardown). */
  open(project: string): Promise<AuditLog> {
    return this.mutex.run(project, async () => {
      const log = await this.currentLocked(project);
      if (log) return log;
      await this.removeUnfinished(project);
      const all = await this.incarnations(project);
      const n = all.length ? Number(INCARNATION.exec(all[all.length - 1]!.name)![1]) + 1 : 1;
      const name = `${n}-${randomBytes(4).toString('hex')}`;
      const origin = this.originOf(project, name);
      const created = await AuditLog.open(path.join(this.root, project, name), { origin, seed: await this.opts.seedFor(origin), project, ...this.nowOpt() });
      this.open_.set(project, created);
      return created;
    });
  }

  /**
   * Teardown: appends `final` (typically the 'teardown' entry) when given, then closes the current
   * log for good. Returns the closed log, or undefined when the project had no open log.
   */
  close(project: string, final?: NewLogEntry): Promise<ClosedLog | undefined> {
    return this.mutex.run(project, async () => {
      const log = await this.currentLocked(project);
      if (!log) return undefined;
      if (final) await log.append(final);
      const closed = await log.close();
      this.open_.delete(project);
      return closed;
    });
  }

  /**
   * The current log's public evidence. When the log fails its integrity check on disk, it is served
   * exactly as stored (with the problem named) rather than withheld: a verifier then shows which
   * check fails and how, instead of an error that hides the log.
   */
  async currentEvidence(project: string): Promise<{ log: AuditLog; evidence: ClosedLog } | { log: undefined; evidence: ClosedLog; problem: string } | undefined> {
    try {
      const log = await this.current(project);
      return log ? { log, evidence: log.evidence() } : undefined;
    } catch (err) {
      if (!(err instanceof AuditLogIntegrityError)) throw err;
      const open = (await this.incarnations(project)).filter((i) => i.closedAt === null);
      if (open.length !== 1) throw err;
      const { origin, checkpoint, entries } = await readLogVerbatim(open[0]!.dir);
      // The key the daemon derives for this origin, never the one the damaged files claim: a log
      // re-signed by another key must fail verification, not bring its own key along.
      const public_key = ed25519NoteKey(origin, await this.opts.seedFor(origin)).vkey;
      return { log: undefined, evidence: { origin, public_key, checkpoint, entries }, problem: err.message };
    }
  }

  /** Closed logs of earlier incarnations, oldest first, exactly as stored: a verifier judges them. */
  async previous(project: string): Promise<ClosedLog[]> {
    const out: ClosedLog[] = [];
    for (const inc of await this.incarnations(project)) {
      if (inc.closedAt === null) continue;
      const { origin, public_key, checkpoint, entries } = await readLogVerbatim(inc.dir);
      out.push({ origin, public_key, checkpoint, entries });
    }
    return out;
  }

  /** Releases every open file handle (daemon shutdown); logs stay open on disk. */
  async release(): Promise<void> {
    const logs = [...this.open_.values()];
    this.open_.clear();
    await Promise.all(logs.map((l) => l.release()));
  }

  /** A crash while creating a log leaves only a hidden temp folder (see createLogDir): never a log, safe to drop. */
  private async removeUnfinished(project: string): Promise<void> {
    const base = path.join(this.root, project);
    let names: string[];
    try {
      names = await readdir(base);
    } catch {
      return;
    }
    for (const name of names) if (/^\.[^/]+\.creating-[0-9a-f]{12}$/.test(name)) await rm(path.join(base, name), { recursive: true, force: true });
  }

  private nowOpt(): { now?: () => Date } {
    return this.opts.now ? { now: this.opts.now } : {};
  }

  private async currentLocked(project: string): Promise<AuditLog | undefined> {
    const cached = this.open_.get(project);
    if (cached?.writable) return cached;
    const open = (await this.incarnations(project)).filter((i) => i.closedAt === null);
    if (open.length === 0) return undefined;
    if (open.length > 1) {
      throw new AuditLogIntegrityError('bad_meta', path.join(this.root, project), `${open.length} open incarnations (${open.map((i) => i.name).join(', ')}); expected at most one`);
    }
    const inc = open[0]!;
    // The origin comes from log.json; a forged one derives another key and fails the key check.
    const log = await AuditLog.open(inc.dir, { origin: inc.origin, seed: await this.opts.seedFor(inc.origin), project, ...this.nowOpt() });
    this.open_.set(project, log);
    return log;
  }
}
