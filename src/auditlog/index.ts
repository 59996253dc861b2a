// The audit log: per-project transparency logs (RFC 9162 Merkle tree, C2SP signed checkpoints),
// file-backed and crash-safe. Hashing, proofs and note formats live in src/verify (tlog.ts,
// note.ts) so verifiers run the very same code.
export { AuditLog, type AuditLogOptions, type AppendResult, type RecoveryReport } from './log.ts';
export { AuditLogs, type AuditLogsOptions, type Incarnation } from './manager.ts';
export { entryText, storedEntryProblem, InvalidEntryError, ACTIONS, MAX_ENTRY_BYTES, type NewLogEntry } from './entry.ts';
export { AuditLogIntegrityError, AuditLogClosedError, AuditLogFailedError, type IntegrityProblem } from './errors.ts';
export { readLogVerbatim, META_FILE, ENTRIES_FILE, CHECKPOINT_FILE, type LogMeta } from './log-dir.ts';
