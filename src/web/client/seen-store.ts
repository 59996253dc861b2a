// The checkpoints this browser saw, per audit-log origin, kept in localStorage: the browser's
// counterpart of the CLI's seen.json. Written only after a report with no failed check, so a
// tampered log is never remembered as the baseline. A damaged record is an error, never silently
// replaced: forgetting would drop the protection it gives.
import type { EvidenceBundle } from '../../verify/bundle.ts';
import { emptySeen, parseSeen, rememberBundle as remember, SeenDamaged, type SeenFile } from '../../verify/seen.ts';

export { SeenDamaged, type SeenFile, type SeenRecord } from '../../verify/seen.ts';

export const SEEN_KEY = 'dstack-webhost.seen.v1';

/** What the page needs of localStorage (tests pass a Map-backed one). */
export type KeyValueStore = Pick<Storage, 'getItem' | 'setItem'>;

export function loadSeen(store: KeyValueStore): SeenFile {
  const text = store.getItem(SEEN_KEY);
  return text === null ? emptySeen() : parseSeen(text, 'this browser');
}

/** Remembers the bundle's quoted checkpoint and those of earlier incarnations; never moves one backwards. */
export function rememberBundle(store: KeyValueStore, bundle: EvidenceBundle, at: string = new Date().toISOString()): SeenFile {
  const seen = remember(loadSeen(store), bundle, at); // re-read: another tab may have written meanwhile
  store.setItem(SEEN_KEY, JSON.stringify(seen));
  return seen;
}
