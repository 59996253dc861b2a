// The checkpoints this browser saw, per audit-log origin, kept in localStorage: the browser's
// counterpart of the CLI's seen.json. Written only after a report with no failed check, so a
// tampered log is never remembered as the baseline. A damaged record is an error, never silently
// replaced: forgetting would drop the protection it gives.
import type { EvidenceBundle } from '../../verify/bundle.ts';
import { readCheckpointBody } from '../../verify/bundle-checks.ts';
import type { SeenCheckpoint } from '../../verify/log-checks.ts';
import { base64Encode } from '../../verify/note.ts';

export const SEEN_KEY = 'dstack-webhost.seen.v1';

export type SeenRecord = SeenCheckpoint & { project?: string };
export interface SeenFile {
  v: 1;
  logs: Record<string, SeenRecord>;
}

/** What the page needs of localStorage (tests pass a Map-backed one). */
export type KeyValueStore = Pick<Storage, 'getItem' | 'setItem'>;

export class SeenDamaged extends Error {}

export function loadSeen(store: KeyValueStore): SeenFile {
  const text = store.getItem(SEEN_KEY);
  if (text === null) return { v: 1, logs: {} };
  let o: SeenFile;
  try {
    o = JSON.parse(text) as SeenFile;
  } catch {
    throw new SeenDamaged('the checkpoints this browser remembered are unreadable');
  }
  if (!o || o.v !== 1 || typeof o.logs !== 'object' || o.logs === null) throw new SeenDamaged('the checkpoints this browser remembered are not in the expected form');
  return o;
}

/** Remembers the bundle's quoted checkpoint and those of earlier incarnations; never moves one backwards. */
export function rememberBundle(store: KeyValueStore, bundle: EvidenceBundle, at: string = new Date().toISOString()): SeenFile {
  const seen = loadSeen(store); // re-read: another tab may have written meanwhile
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
  store.setItem(SEEN_KEY, JSON.stringify(seen));
  return seen;
}
