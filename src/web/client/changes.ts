// "N changes since your last visit": the audit-log entries appended after the checkpoint this
// browser remembered, across incarnations of the name when it was deleted and created again since.
// The entries are the bundle's own, which log.entries / log.previous tie to signed checkpoints and
// log.consistency proves extend what was seen; the page shows this list only when those passed.
// Pure, so tests run it in Node.
import type { EvidenceBundle } from '../../verify/bundle.ts';
import { parseLogOrigin } from '../../verify/log-entry.ts';
import type { SeenRecord } from './seen-store.ts';

export interface Change {
  origin: string;
  seq: number;
  time: string;
  action: string;
  /** What the action means, in words. */
  what: string;
  deployment: string | null;
  commit: string | null;
  tree: string | null;
  /** The entry's detail, flattened to label/value text. */
  details: [string, string][];
}

export interface ChangesSince {
  /** When this browser last looked (the remembered checkpoint's seen_at). */
  since: string;
  seenOrigin: string;
  seenSize: number;
  changes: Change[];
}

const WHAT: Record<string, string> = {
  promote: 'Promoted to attested mode',
  deploy: 'Deployed new code',
  redeploy: 'Redeployed: the source was fetched again',
  rollback: 'Rolled back to an earlier deployment',
  env: 'Environment variables changed (names and a digest of the values are logged, never the values)',
  teardown: 'Deleted: this log was closed',
};

function detailText(v: unknown): string {
  if (typeof v === 'string') return v.length > 200 ? `${v.slice(0, 200)}…` : v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(', ') || '(none)';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

export function parseChange(origin: string, text: string): Change | null {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  const dep = (e.deployment ?? null) as { id?: unknown; commit_sha?: unknown; tree_hash?: unknown } | null;
  const detail = (e.detail && typeof e.detail === 'object' ? e.detail : {}) as Record<string, unknown>;
  const action = String(e.action);
  return {
    origin,
    seq: Number(e.seq),
    time: String(e.time),
    action,
    what: WHAT[action] ?? action,
    deployment: typeof dep?.id === 'string' ? dep.id : null,
    commit: typeof dep?.commit_sha === 'string' ? dep.commit_sha : null,
    tree: typeof dep?.tree_hash === 'string' ? dep.tree_hash : null,
    details: Object.keys(detail)
      .sort()
      .map((k) => [k.replace(/_/g, ' '), detailText(detail[k])]),
  };
}

/** null on a first visit (no log of this name remembered). */
export function changesSince(bundle: EvidenceBundle, seen: Record<string, SeenRecord>): ChangesSince | null {
  const logs = [...bundle.log.previous.map((l) => ({ origin: l.origin, entries: l.entries })), { origin: bundle.log.origin, entries: bundle.log.entries }];
  // Oldest incarnation first, the current log last.
  logs.sort((a, b) => (a.origin === bundle.log.origin ? 1 : b.origin === bundle.log.origin ? -1 : (parseLogOrigin(a.origin)?.n ?? 0) - (parseLogOrigin(b.origin)?.n ?? 0)));
  let start = -1;
  for (let i = logs.length - 1; i >= 0; i--) {
    if (seen[logs[i]!.origin]) {
      start = i;
      break;
    }
  }
  if (start < 0) return null;
  const s = seen[logs[start]!.origin]!;
  const changes: Change[] = [];
  logs.slice(start).forEach((log, i) => {
    const from = i === 0 ? s.size : 0;
    for (const text of log.entries.slice(from)) {
      const c = parseChange(log.origin, text);
      if (c) changes.push(c);
    }
  });
  return { since: s.seen_at, seenOrigin: s.origin, seenSize: s.size, changes };
}
