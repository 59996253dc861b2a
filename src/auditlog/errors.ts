// Why an audit log refuses to open or to append. Each is something the daemon must surface (to the
// operator, and as a 409/500 with a code on the API) rather than work around: re-signing a history
// that no longer matches the last signed checkpoint would turn tampering into a "valid" log.

export type IntegrityProblem =
  /** A file the log needs is missing, or the folder holds something that is not a log. */
  | 'missing_file'
  /** log.json is unreadable or does not describe a log. */
  | 'bad_meta'
  /** The log was created for another origin or key name than the one it is opened with. */
  | 'origin_mismatch'
  /** The log was signed by another key than the one derived now (another seed: another TEE identity). */
  | 'key_mismatch'
  /** The stored checkpoint is malformed, or its signature does not verify with the log's key. */
  | 'bad_checkpoint'
  /** A stored line is not an entry the log wrote at that position (edited, reordered, hand-written). */
  | 'bad_entry'
  /** The entries file holds fewer entries than the last signed checkpoint. */
  | 'entries_missing'
  /** The entries do not hash to the last signed checkpoint's root. */
  | 'root_mismatch'
  /** Entries beyond the checkpoint that no crash can explain (more than one, or with a torn tail). */
  | 'unsigned_entries'
  /** A closed (read-only) log that would need recovery: closed logs are never written to. */
  | 'closed_log_damaged';

export class AuditLogIntegrityError extends Error {
  readonly code = 'audit_log_integrity';
  readonly problem: IntegrityProblem;
  readonly dir: string;

  constructor(problem: IntegrityProblem, dir: string, message: string) {
    super(`audit log ${dir}: ${message} — refusing to sign over it`);
    this.name = 'AuditLogIntegrityError';
    this.problem = problem;
    this.dir = dir;
  }
}

/** Appending to a closed log, or to a log opened read-only. */
export class AuditLogClosedError extends Error {
  readonly code = 'audit_log_closed';
  constructor(dir: string) {
    super(`audit log ${dir} is closed (read-only)`);
    this.name = 'AuditLogClosedError';
  }
}

/**
 * An earlier append failed part-way (disk full, I/O error). What reached the disk is unknown, so the
 * log stops taking appends until it is opened again, which re-reads and re-checks the disk.
 */
export class AuditLogFailedError extends Error {
  readonly code = 'audit_log_failed';
  constructor(dir: string, cause: unknown) {
    super(`audit log ${dir} stopped after a failed append (${(cause as Error)?.message ?? String(cause)}); reopen it to recover`, { cause });
    this.name = 'AuditLogFailedError';
  }
}
