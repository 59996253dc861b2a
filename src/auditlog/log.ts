// A file-backed, append-only transparency log for one incarnation of one project: entries on disk,
// the Merkle tree in memory, and a signed checkpoint after every append.
//
// The commit point of an append is the atomic replacement of the checkpoint file: the entry line
// is made durable first, then a checkpoint covering it is signed and renamed into place (with the
// folder fsynced), and only then does append() resolve. So after any crash the disk holds either
// the old checkpoint with at most one extra (unacknowledged) line, possibly torn, or the new one.
// Opening re-hashes every line and checks the result against the signed checkpoint; a crash
// leftover is cut away, anything else is reported as damage and the log refuses to sign on.
import path from 'node:path';
import { utf8ToBytes } from '@noble/hashes/utils';
import type { ClosedLog } from '../verify/bundle.ts';
import { bytesEqual } from '../verify/bytes.ts';
import { MerkleTree, emptyRoot, leafHash } from '../verify/tlog.ts';
import { ed25519NoteKey, openCheckpoint, signCheckpoint, type Ed25519NoteKey } from '../verify/note.ts';
import { entryText, storedEntryProblem, type NewLogEntry } from './entry.ts';
import { EntriesEncodingError, EntriesWriter, readEntries, truncateFile } from './entries-file.ts';
import { AuditLogClosedError, AuditLogFailedError, AuditLogIntegrityError } from './errors.ts';
import {
  ENTRIES_FILE,
  createLogDir,
  inspectDir,
  readCheckpoint,
  readMeta,
  removeStaleTemps,
  writeCheckpoint,
  writeMeta,
  type LogMeta,
} from './log-dir.ts';

export interface AuditLogOptions {
  /** Checkpoint origin line, e.g. `<host>/dstack-webhost/<project>/<incarnation>`. */
  origin: string;
  /** 32-byte Ed25519 seed (derived inside the TEE): the same seed gives the same log key on every start. */
  seed: Uint8Array;
  /** Key name in signature lines; defaults to the origin, as c2sp.org/tlog-checkpoint recommends. */
  keyName?: string;
  /** When set, every appended entry must name this project. */
  project?: string;
  /** Never write: no creation, no crash repair, no appends. A closed log always opens this way. */
  readOnly?: boolean;
  now?: () => Date;
}

export interface AppendResult {
  seq: number;
  /** The stored canonical JSON text of the entry (the leaf). */
  entry: string;
  /** Tree size after the append (seq + 1). */
  size: number;
  rootHash: Uint8Array;
  /** The new signed checkpoint. */
  checkpoint: string;
}

/** What opening had to repair after a crash (both zero after a clean shutdown). */
export interface RecoveryReport {
  /** Bytes cut off the end of the entries file: a torn line and/or one unsigned line. */
  truncatedBytes: number;
  /** Complete but never-acknowledged entries dropped (0 or 1). */
  droppedEntries: number;
}

const utf8Length = (s: string) => utf8ToBytes(s).length;

function checkOrigin(origin: string): void {
  if (typeof origin !== 'string' || origin.length === 0 || /[\x00-\x1F]/.test(origin)) throw new TypeError('origin must be a non-empty line of text');
}

export class AuditLog {
  readonly dir: string;
  readonly origin: string;
  readonly keyName: string;
  readonly recovery: RecoveryReport;
  private readonly key: Ed25519NoteKey;
  private readonly project: string | undefined;
  private readonly now: () => Date;
  private readonly tree: MerkleTree;
  private readonly texts: string[];
  private meta: LogMeta;
  private note: string;
  private writer: EntriesWriter | undefined;
  private failed: unknown = undefined;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(init: {
    dir: string;
    key: Ed25519NoteKey;
    opts: AuditLogOptions;
    meta: LogMeta;
    tree: MerkleTree;
    texts: string[];
    note: string;
    writer: EntriesWriter | undefined;
    recovery: RecoveryReport;
  }) {
    this.dir = init.dir;
    this.origin = init.opts.origin;
    this.keyName = init.key.name;
    this.key = init.key;
    this.project = init.opts.project;
    this.now = init.opts.now ?? (() => new Date());
    this.meta = init.meta;
    this.tree = init.tree;
    this.texts = init.texts;
    this.note = init.note;
    this.writer = init.writer;
    this.recovery = init.recovery;
  }

  /**
   * Opens the log in `dir`, creating it (empty, with a signed size-0 checkpoint) when the folder does
   * not exist. Throws AuditLogIntegrityError when what is on disk does not match the last signed
   * checkpoint, or was made with another origin or key.
   */
  static async open(dir: string, opts: AuditLogOptions): Promise<AuditLog> {
    checkOrigin(opts.origin);
    const key = ed25519NoteKey(opts.keyName ?? opts.origin, opts.seed);
    const now = opts.now ?? (() => new Date());

    const state = await inspectDir(dir);
    if (state !== 'present') {
      // Only a folder that does not exist yet is a new log: an emptied one is a deleted history,
      // and starting it afresh under the same origin and key would sign a fork of it.
      if (opts.readOnly || state === 'empty') throw new AuditLogIntegrityError('missing_file', dir, state === 'empty' ? 'the log folder is empty' : 'no audit log here');
      const meta: LogMeta = { v: 1, origin: opts.origin, key_name: key.name, public_key: key.vkey, created_at: now().toISOString(), closed_at: null };
      await createLogDir(dir, meta, signCheckpoint({ origin: opts.origin, size: 0, rootHash: emptyRoot(), extensions: [] }, [key]));
    }

    const meta = await readMeta(dir);
    if (meta.origin !== opts.origin) throw new AuditLogIntegrityError('origin_mismatch', dir, `the log's origin is ${JSON.stringify(meta.origin)}, not ${JSON.stringify(opts.origin)}`);
    if (meta.key_name !== key.name) throw new AuditLogIntegrityError('origin_mismatch', dir, `the log's key name is ${JSON.stringify(meta.key_name)}, not ${JSON.stringify(key.name)}`);
    if (meta.public_key !== key.vkey) {
      throw new AuditLogIntegrityError('key_mismatch', dir, `the log was created with key ${meta.public_key}, but the key derived now is ${key.vkey}`);
    }
    const readOnly = opts.readOnly === true || meta.closed_at !== null;
    if (!readOnly) await removeStaleTemps(dir);

    const note = await readCheckpoint(dir);
    let signed;
    try {
      signed = openCheckpoint(note, [key], { origin: opts.origin });
    } catch (err) {
      throw new AuditLogIntegrityError('bad_checkpoint', dir, `the stored checkpoint does not verify with the log's key: ${(err as Error).message}`);
    }

    const file = path.join(dir, ENTRIES_FILE);
    let content;
    try {
      content = await readEntries(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new AuditLogIntegrityError('missing_file', dir, `${ENTRIES_FILE} is missing`);
      if (err instanceof EntriesEncodingError) throw new AuditLogIntegrityError('bad_entry', dir, err.message);
      throw err;
    }
    const { lines, tailBytes, completeBytes } = content;
    const size = signed.size;
    // Line by line first: a removed or reordered entry is then named where it happened.
    for (let i = 0; i < Math.min(size, lines.length); i++) {
      const problem = storedEntryProblem(lines[i]!, i);
      if (problem) throw new AuditLogIntegrityError('bad_entry', dir, `line ${i + 1} (seq ${i}) is not what the log wrote: ${problem}`);
    }
    if (lines.length < size) {
      throw new AuditLogIntegrityError('entries_missing', dir, `the last signed checkpoint covers ${size} entries, the file holds ${lines.length}`);
    }
    const texts = lines.slice(0, size);
    const tree = new MerkleTree(texts.map((t) => leafHash(utf8ToBytes(t))));
    if (!bytesEqual(tree.root(), signed.rootHash)) {
      throw new AuditLogIntegrityError('root_mismatch', dir, `the ${size} entries do not hash to the root of the last signed checkpoint (an entry was edited, replaced or reordered)`);
    }

    // What a crash can leave past the checkpoint: one complete line (written and synced, checkpoint
    // not yet replaced), or one torn line. Never both, never more: appends run one at a time.
    const extra = lines.length - size;
    if (extra > 1 || (extra === 1 && tailBytes > 0)) {
      throw new AuditLogIntegrityError('unsigned_entries', dir, `${extra} complete line(s)${tailBytes ? ` and ${tailBytes} stray bytes` : ''} past the last signed checkpoint (size ${size}); no crash leaves that`);
    }
    if (extra === 1) {
      const problem = storedEntryProblem(lines[size]!, size);
      if (problem) throw new AuditLogIntegrityError('unsigned_entries', dir, `the unsigned line after the checkpoint is not the next entry: ${problem}`);
    }
    const keepBytes = texts.reduce((n, t) => n + utf8Length(t) + 1, 0);
    const recovery: RecoveryReport = { truncatedBytes: completeBytes + tailBytes - keepBytes, droppedEntries: extra };
    if (recovery.truncatedBytes > 0) {
      // Appends end before a log is closed, so a closed log has no crash to recover from.
      if (meta.closed_at !== null) throw new AuditLogIntegrityError('closed_log_damaged', dir, `${recovery.truncatedBytes} bytes past the last signed checkpoint of a closed log`);
      // Never acknowledged, so dropping it loses nothing that was promised. (A read-only opener
      // leaves the repair to the next writer.)
      if (!readOnly) await truncateFile(file, keepBytes);
    }
    const writer = readOnly ? undefined : await EntriesWriter.open(file, keepBytes);
    return new AuditLog({ dir, key, opts, meta, tree, texts, note, writer, recovery });
  }

  /** Number of entries covered by the latest signed checkpoint. */
  get size(): number {
    return this.texts.length;
  }

  /** Closed for good (sealed at teardown). */
  get closed(): boolean {
    return this.meta.closed_at !== null;
  }

  get closedAt(): string | null {
    return this.meta.closed_at;
  }

  get writable(): boolean {
    return this.writer !== undefined;
  }

  /** RFC 9162 root of the first `size` entries (default: all). */
  rootHash(size = this.size): Uint8Array {
    this.checkSize(size);
    return this.tree.root(size);
  }

  /** The latest signed checkpoint (C2SP signed-note text). */
  checkpoint(): string {
    return this.note;
  }

  /** The log's verifier key: `<name>+<hex8>+<base64(0x01 ‖ pubkey)>`. */
  publicKey(): string {
    return this.key.vkey;
  }

  /** Stored entry texts [from, to). */
  entries(from = 0, to = this.size): string[] {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to || to > this.size) {
      throw new RangeError(`entries [${from}, ${to}) are not within [0, ${this.size})`);
    }
    return this.texts.slice(from, to);
  }

  /** Audit path of entry `index` in the tree of `treeSize` entries (default: the current size). */
  inclusionProof(index: number, treeSize = this.size): Uint8Array[] {
    this.checkSize(treeSize);
    return this.tree.inclusionProof(index, treeSize);
  }

  /** Proof that the tree of size n extends the tree of size m (m ≤ n ≤ current size). */
  consistencyProof(m: number, n = this.size): Uint8Array[] {
    this.checkSize(n);
    return this.tree.consistencyProof(m, n);
  }

  /** The log as the evidence bundle carries it; checkpoint and entries always agree on the size. */
  evidence(): ClosedLog {
    return { origin: this.origin, public_key: this.key.vkey, checkpoint: this.note, entries: this.texts.slice() };
  }

  /**
   * Appends an entry (the log assigns `seq`) and resolves once the entry and a checkpoint covering it
   * are durable. Appends are serialized. An invalid entry throws InvalidEntryError and changes nothing.
   */
  append(entry: NewLogEntry): Promise<AppendResult> {
    return this.serial(() => this.appendNow(entry));
  }

  /**
   * Closes the log for good (teardown): marks it closed on disk and stops appends. The history stays
   * readable and verifiable; returns it.
   */
  close(): Promise<ClosedLog> {
    return this.serial(async () => {
      if (!this.closed) {
        if (!this.writer) throw new AuditLogClosedError(this.dir);
        const meta = { ...this.meta, closed_at: this.now().toISOString() };
        await writeMeta(this.dir, meta);
        this.meta = meta;
      }
      await this.releaseWriter();
      return this.evidence();
    });
  }

  /** Lets go of the file handle (daemon shutdown) without closing the log; reopen to append again. */
  release(): Promise<void> {
    return this.serial(() => this.releaseWriter());
  }

  private async releaseWriter(): Promise<void> {
    const w = this.writer;
    this.writer = undefined;
    await w?.close();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) throw new RangeError(`tree size ${size} is not within [0, ${this.size}]`);
  }

  private async appendNow(entry: NewLogEntry): Promise<AppendResult> {
    if (this.failed !== undefined) throw new AuditLogFailedError(this.dir, this.failed);
    const writer = this.writer;
    if (!writer) throw new AuditLogClosedError(this.dir);
    const seq = this.texts.length;
    const text = entryText(entry, seq, this.project);

    const before = writer.bytes;
    try {
      await writer.append(text);
    } catch (err) {
      // Nothing signed covers the line yet: cutting it off restores a consistent state.
      try {
        await writer.truncate(before);
      } catch {
        this.failed = err;
      }
      throw err;
    }

    this.tree.append(leafHash(utf8ToBytes(text)));
    const rootHash = this.tree.root(seq + 1);
    try {
      const note = signCheckpoint({ origin: this.origin, size: seq + 1, rootHash, extensions: [] }, [this.key]);
      await writeCheckpoint(this.dir, note);
      this.texts.push(text);
      this.note = note;
      return { seq, entry: text, size: seq + 1, rootHash, checkpoint: note };
    } catch (err) {
      // A checkpoint covering the line may or may not have reached the disk. Signing anything else
      // at this size could contradict it, so stop here; reopening lets the disk decide.
      this.tree.truncate(seq);
      this.failed = err;
      throw new AuditLogFailedError(this.dir, err);
    }
  }
}
