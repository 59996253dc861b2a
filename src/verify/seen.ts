// The checkpoints a verifier saw, per audit-log origin: what lets the next run prove the log only
// grew (log.consistency, log.previous). The CLI keeps them in a file, the verifier page in
// localStorage; the format and the rules are here, once. A damaged record is an error, never
// silently replaced: forgetting would drop the protection it gives. Pure.
import type { EvidenceBundle } from './bundle.ts';
import { readCheckpointBody } from './bundle-checks.ts';
import type { SeenCheckpoint } from './log-checks.ts';
import { base64Encode } from './note.ts';

export type SeenRecord = SeenCheckpoint & { project?: string };

export interface SeenFile {
  v: 1;
  logs: Record<string, SeenRecord>;
}

export class SeenDamaged extends Error {}

export function emptySeen(): SeenFile {
  return { v: 1, logs: {} };
}

/** Parses a stored record; `where` names it in the error (a file path, "this browser"). */
export function parseSeen(text: string, where: string): SeenFile {
  let o: SeenFile;
  try {
    o = JSON.parse(text) as SeenFile;
  } catch {
    throw new SeenDamaged(`the checkpoints remembered in ${where} are unreadable (fix or remove them)`);
  }
  if (!o || o.v !== 1 || typeof o.logs !== 'object' || o.logs === null) {
    throw new SeenDamaged(`the checkpoints remembered in ${where} are not in the expected form (fix or remove them)`);
  }
  return o;
}

/**
 * Adds a bundle's quoted checkpoint and those of its earlier incarnations to `seen` (in place), never
 * moving one backwards. Call it only after a report with no failed check, so a tampered log is
 * never remembered as the baseline.
 */
export function rememberBundle(seen: SeenFile, bundle: EvidenceBundle, at: string = new Date().toISOString()): SeenFile {
  const p = bundle.attestation.preimage;
  const put = (s: SeenCheckpoint) => {
    const old = seen.logs[s.origin];
    if (!old || old.size <= s.size) seen.logs[s.origin] = { ...s, project: p.project };
  };
  put({ origin: p.log.origin, public_key: p.log.public_key, size: p.log.size, root_hash: p.log.root_hash, seen_at: at });
  for (const prev of bundle.log.previous) {
    const cp = readCheckpointBody(prev.checkpoint);
    if (cp) put({ origin: prev.origin, public_key: prev.public_key, size: cp.size, root_hash: base64Encode(cp.rootHash), seen_at: at });
  }
  return seen;
}
