// The audit-log half of a bundle: the checkpoint is signed by the key the quote binds, the entries
// hash to its root, the history starts with promote and ends at the deployment the quote binds,
// it only ever grew since this verifier last looked, and earlier incarnations of the same name are
// all there. Pure (tlog.ts, note.ts).
import type { ClosedLog, DeploymentRef, LogEntry, Preimage } from './bundle.ts';
import { utf8ToBytes } from './bytes.ts';
import { errorMessage, fail, pass, skip, type Check, type Fact, type Facts } from './check.ts';
import { parseLogEntry, parseLogOrigin, sameDeploymentRef } from './log-entry.ts';
import { base64DecodeStrict, base64Encode, openCheckpoint, parseNote, type OpenedCheckpoint } from './note.ts';
import { assertConsistency, leafHash, MerkleTree, ProofError } from './tlog.ts';
import { readCheckpointBody } from './bundle-checks.ts';

/** A checkpoint this verifier saw (and verified) earlier: what it remembers per log origin. */
export interface SeenCheckpoint {
  origin: string;
  /** The log's verifier key then: a log origin never changes its key. */
  public_key: string;
  size: number;
  /** Base64 of the root hash, as in the checkpoint. */
  root_hash: string;
  /** When it was seen (ISO 8601). */
  seen_at: string;
}

const short = (h: string | null | undefined, n = 12) => (h ? h.slice(0, n) : 'none');
const signers = (note: string): string => {
  try {
    return parseNote(note).signatures.map((s) => `${s.name}+${s.keyId.toString(16).padStart(8, '0')}`).join(', ') || 'no signature';
  } catch (e) {
    return `unreadable note (${errorMessage(e)})`;
  }
};

/** log.checkpoint: signed by the log key the preimage (hence the quote) binds, for its origin. */
export function checkLogCheckpoint(checkpoint: string, p: Preimage): { check: Check; opened: OpenedCheckpoint | null } {
  const id = 'log.checkpoint';
  const title = 'Audit log checkpoint signed by the attested log key';
  try {
    const opened = openCheckpoint(checkpoint, [p.log.public_key], { origin: p.log.origin });
    return {
      check: pass(id, title, `Checkpoint of ${opened.origin} at size ${opened.size}, signed by the log key the quote binds.`, {
        expected: p.log.public_key,
        actual: signers(checkpoint),
        facts: { origin: opened.origin, size: opened.size, root_hash: base64Encode(opened.rootHash) },
      }),
      opened,
    };
  } catch (e) {
    return {
      check: fail(id, title, `The checkpoint does not verify with the log key the quote binds: ${errorMessage(e)}. Whoever signed it is not this attested log.`, {
        expected: p.log.public_key,
        actual: signers(checkpoint),
      }),
      opened: null,
    };
  }
}

export interface EntriesOutcome {
  check: Check;
  /** The parsed entries, when every one is well-formed and they hash to the checkpoint's root. */
  entries: LogEntry[] | null;
  /** The tree of the entries, when it matches the checkpoint. */
  tree: MerkleTree | null;
}

function actionCounts(entries: LogEntry[]): Facts {
  const n: Record<string, number> = {};
  for (const e of entries) n[e.action] = (n[e.action] ?? 0) + 1;
  return n;
}

/** Hashes entries into a tree; throws nothing (entries are strings here). */
function treeOf(texts: readonly string[]): MerkleTree {
  return new MerkleTree(texts.map((t) => leafHash(utf8ToBytes(t))));
}

/** log.entries: the served entries are the log (root and size), each a well-formed entry of this project in order. */
export function checkLogEntries(texts: readonly string[], checkpoint: string, project: string): EntriesOutcome {
  const id = 'log.entries';
  const title = 'Audit log entries hash to the checkpoint';
  const cp = readCheckpointBody(checkpoint);
  if (!cp) return { check: fail(id, title, 'The checkpoint is unreadable, so there is no root to compare the entries with.'), entries: null, tree: null };
  const tree = treeOf(texts);
  const root = base64Encode(tree.root());
  const want = base64Encode(cp.rootHash);
  const problems: string[] = [];
  const entries: LogEntry[] = [];
  texts.forEach((t, i) => {
    const r = parseLogEntry(t, i, project);
    if (r.ok) entries.push(r.entry);
    else problems.push(r.reason);
  });
  if (texts.length !== cp.size || root !== want) {
    return {
      check: fail(id, title, `The ${texts.length} entries served hash to a different tree than the signed checkpoint (size ${cp.size}): an entry was edited, removed, added or reordered.${problems.length ? ` Also: ${problems.slice(0, 3).join('; ')}.` : ''}`, {
        expected: `size ${cp.size}, root ${want}`,
        actual: `size ${texts.length}, root ${root}`,
      }),
      entries: null,
      tree: null,
    };
  }
  if (problems.length) {
    return {
      check: fail(id, title, `The entries hash to the checkpoint's root, but ${problems.length} of them are not well-formed entries of ${project}: ${problems.slice(0, 3).join('; ')}.`, {
        expected: 'canonical LogEntry JSON, seq 0..n-1, this project',
        actual: problems[0]!,
      }),
      entries: null,
      tree,
    };
  }
  const facts: Facts = { size: texts.length, actions: actionCounts(entries) };
  if (entries.length) {
    facts.first = entries[0]!.time;
    facts.last = entries[entries.length - 1]!.time;
  }
  return {
    check: pass(id, title, `All ${texts.length} entries are well-formed entries of ${project}, in order, and hash to the checkpoint's root.`, { expected: `size ${cp.size}, root ${want}`, actual: `size ${texts.length}, root ${root}`, facts }),
    entries,
    tree,
  };
}

/** log.promote: an attested history starts with the deliberate promote, never with a silent deploy. */
export function checkPromote(entries: LogEntry[] | null): Check {
  const id = 'log.promote';
  const title = 'The history starts with promote';
  if (!entries) return skip(id, title, 'The entries could not be read (see log.entries).');
  const first = entries[0];
  if (!first) return fail(id, title, 'The audit log is empty: there is no promote entry.', { expected: 'promote', actual: '(no entry)' });
  return first.action === 'promote'
    ? pass(id, title, `Promoted to attested mode at ${first.time}, deployment ${short(first.deployment?.id)}.`, { expected: 'promote', actual: 'promote', facts: { time: first.time } })
    : fail(id, title, `The first entry is ${first.action}, not promote: the log does not start where attested mode began.`, { expected: 'promote', actual: first.action });
}

/** log.current-deployment: the last deployment the log records is the one the quote binds. */
export function checkCurrentDeployment(entries: LogEntry[] | null, bound: DeploymentRef): Check {
  const id = 'log.current-deployment';
  const title = 'The log\'s latest deployment is the running one';
  if (!entries) return skip(id, title, 'The entries could not be read (see log.entries).');
  const last = entries[entries.length - 1];
  if (last?.action === 'teardown') {
    return fail(id, title, `The last entry (seq ${last.seq}, ${last.time}) is a teardown, yet the project is served as attested.`, { expected: bound.id, actual: 'teardown' });
  }
  const withDeployment = [...entries].reverse().find((e) => e.deployment !== null);
  if (!withDeployment) return fail(id, title, 'No entry records a deployment.', { expected: bound.id, actual: '(none)' });
  const d = withDeployment.deployment!;
  const facts: Facts = { seq: withDeployment.seq, action: withDeployment.action, time: withDeployment.time };
  return sameDeploymentRef(d, bound)
    ? pass(id, title, `Entry ${withDeployment.seq} (${withDeployment.action}, ${withDeployment.time}) records deployment ${d.id}, the one the quote binds: the running code is the one the log says.`, { expected: bound.id, actual: d.id, facts })
    : fail(id, title, `The log's latest deployment (entry ${withDeployment.seq}, ${withDeployment.action}) is not the one the quote binds: the running code is not the one the log says.`, {
        expected: bound.id,
        actual: d.id === bound.id ? JSON.stringify(d) : d.id,
        facts,
      });
}

function decodeRoot(b64: string): Uint8Array | null {
  const r = base64DecodeStrict(b64);
  return r && r.length === 32 ? r : null;
}

function decodeProof(proof: readonly string[]): Uint8Array[] | string {
  const out: Uint8Array[] = [];
  for (const [i, h] of proof.entries()) {
    const b = base64DecodeStrict(h);
    if (!b || b.length !== 32) return `proof[${i}] is not the base64 of 32 bytes`;
    out.push(b);
  }
  return out;
}

/**
 * Is the log (size, root) an extension of what was seen? With a proof, RFC 9162 consistency; without,
 * from the entries' own tree (which log.entries tied to the checkpoint). Returns the failure reason or null.
 */
function extendsSeen(seen: SeenCheckpoint, size: number, root: Uint8Array, tree: MerkleTree | null, proof: readonly string[] | undefined): { problem: string | null; method: string } {
  const seenRoot = decodeRoot(seen.root_hash);
  if (!seenRoot) return { problem: 'the remembered root hash is unreadable', method: 'none' };
  if (seen.size > size) return { problem: `the log went backwards: you saw size ${seen.size} on ${seen.seen_at}, it now shows size ${size}`, method: 'size' };
  if (proof !== undefined) {
    const hashes = decodeProof(proof);
    if (typeof hashes === 'string') return { problem: hashes, method: 'proof' };
    try {
      assertConsistency(seen.size, size, seenRoot, root, hashes);
      return { problem: null, method: 'proof' };
    } catch (e) {
      if (e instanceof ProofError) return { problem: `the consistency proof fails: ${e.message}`, method: 'proof' };
      throw e;
    }
  }
  if (!tree || tree.size !== size || base64Encode(tree.root()) !== base64Encode(root)) {
    return { problem: 'no consistency proof, and the entries do not reproduce the quoted checkpoint (see log.entries)', method: 'entries' };
  }
  if (base64Encode(tree.root(seen.size)) !== seen.root_hash) {
    return {
      problem: seen.size === size ? `two different roots for the same size ${size}: the log was forked or rewritten` : `the first ${seen.size} entries no longer hash to the root you saw: the log was rewritten`,
      method: 'entries',
    };
  }
  return { problem: null, method: 'entries' };
}

/**
 * log.consistency: against a checkpoint of this origin seen earlier, the log only grew. `proof`
 * (base64, from seen.size to the preimage's size) is checked when given; otherwise the entries'
 * tree decides. The size and root compared are the preimage's, i.e. the quote's.
 */
export function checkConsistency(p: Preimage, seen: readonly SeenCheckpoint[], tree: MerkleTree | null, proof: readonly string[] | undefined): Check {
  const id = 'log.consistency';
  const title = 'Append-only since you last looked';
  const s = seen.find((x) => x.origin === p.log.origin);
  if (!s) return skip(id, title, `First look at ${p.log.origin}: nothing earlier to compare with (remember this checkpoint to prove append-only next time).`, { facts: { size: p.log.size } });
  const facts: Facts = { seen_size: s.size, seen_at: s.seen_at, size: p.log.size, new_entries: p.log.size - s.size };
  const expected = `an extension of size ${s.size}, root ${s.root_hash} (seen ${s.seen_at})`;
  const actual = `size ${p.log.size}, root ${p.log.root_hash}`;
  if (s.public_key !== p.log.public_key) {
    return fail(id, title, 'The same log origin is now signed by a different key than the one you saw: this is not the log you saw before.', { expected: s.public_key, actual: p.log.public_key, facts });
  }
  const root = decodeRoot(p.log.root_hash);
  if (!root) return fail(id, title, 'The preimage\'s root hash is not the base64 of 32 bytes.', { expected, actual, facts });
  const r = extendsSeen(s, p.log.size, root, tree, proof);
  facts.method = r.method === 'proof' ? 'RFC 9162 consistency proof' : 'recomputed from the entries';
  if (r.problem) return fail(id, title, `Not append-only: ${r.problem}.`, { expected, actual, facts });
  const n = p.log.size - s.size;
  return pass(id, title, n === 0 ? `Unchanged since you saw it on ${s.seen_at}.` : `${n} entr${n === 1 ? 'y' : 'ies'} appended since you saw size ${s.size} on ${s.seen_at}; nothing before them changed.`, {
    expected,
    actual,
    facts,
  });
}

/**
 * log.previous: closed logs of earlier incarnations of this name verify on their own (signature,
 * entries, root), the incarnation numbers leave no gap up to the current one, and every log of
 * this name this verifier saw before is still there and only grew.
 */
export function checkPrevious(previous: readonly ClosedLog[], current: Preimage, seen: readonly SeenCheckpoint[]): Check {
  const id = 'log.previous';
  const title = 'Earlier incarnations of this name';
  const problems: string[] = [];
  const listed: Fact[] = [];
  const origins = new Set<string>([current.log.origin]);
  const cur = parseLogOrigin(current.log.origin);
  const numbers: number[] = [];
  for (const [i, log] of previous.entries()) {
    const where = `previous[${i}] (${log.origin})`;
    if (origins.has(log.origin)) problems.push(`${where} repeats an origin`);
    origins.add(log.origin);
    const o = parseLogOrigin(log.origin);
    if (cur && o) {
      if (o.project !== cur.project || o.host !== cur.host) problems.push(`${where} is the log of another project or host`);
      numbers.push(o.n);
    }
    let opened: OpenedCheckpoint;
    try {
      opened = openCheckpoint(log.checkpoint, [log.public_key], { origin: log.origin });
    } catch (e) {
      problems.push(`${where}: its checkpoint does not verify with its key (${errorMessage(e)})`);
      continue;
    }
    const tree = treeOf(log.entries);
    if (tree.size !== opened.size || base64Encode(tree.root()) !== base64Encode(opened.rootHash)) {
      problems.push(`${where}: its ${log.entries.length} entries do not hash to its checkpoint (size ${opened.size})`);
      continue;
    }
    const parsed = log.entries.map((t, seq) => parseLogEntry(t, seq, current.project));
    const bad = parsed.find((r) => !r.ok);
    if (bad && !bad.ok) {
      problems.push(`${where}: ${bad.reason}`);
      continue;
    }
    const entries = parsed.map((r) => (r as { ok: true; entry: LogEntry }).entry);
    const s = seen.find((x) => x.origin === log.origin);
    if (s) {
      if (s.public_key !== log.public_key) problems.push(`${where}: signed by another key than the one you saw`);
      else {
        const r = extendsSeen(s, opened.size, opened.rootHash, tree, undefined);
        if (r.problem) problems.push(`${where}: ${r.problem}`);
      }
    }
    const last = entries[entries.length - 1];
    listed.push({ origin: log.origin, size: opened.size, first: entries[0]?.time ?? null, last: last?.time ?? null, last_action: last?.action ?? null });
  }
  // Incarnations are numbered 1, 2, … per name: the current one's number says how many came before.
  if (cur && numbers.length === previous.length) {
    const want = Array.from({ length: cur.n - 1 }, (_, k) => k + 1);
    const have = [...numbers].sort((a, b) => a - b);
    const missing = want.filter((n) => !have.includes(n));
    const extra = have.filter((n) => n >= cur.n);
    if (missing.length) problems.push(`incarnation${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${cur.project} missing (this is incarnation ${cur.n})`);
    if (extra.length) problems.push(`incarnation${extra.length > 1 ? 's' : ''} ${extra.join(', ')} listed as earlier than the current ${cur.n}`);
  }
  // A log of this name you saw before must still be served, as the current log or a previous one.
  if (cur) {
    for (const s of seen) {
      const o = parseLogOrigin(s.origin);
      if (o && o.host === cur.host && o.project === cur.project && !origins.has(s.origin)) problems.push(`the log ${s.origin} you saw on ${s.seen_at} (size ${s.size}) is gone`);
    }
  }
  const facts: Facts = { logs: listed };
  if (problems.length) {
    return fail(id, title, `Earlier history of this name does not check out: ${problems.slice(0, 4).join('; ')}${problems.length > 4 ? `; and ${problems.length - 4} more` : ''}.`, {
      expected: cur ? `incarnations 1..${cur.n - 1}, each verifying` : 'each earlier log verifying',
      actual: `${previous.length} earlier log(s)`,
      facts,
    });
  }
  if (!previous.length) {
    return cur && cur.n === 1
      ? pass(id, title, `This is the first incarnation of ${cur.project} (origin numbered 1): there is no earlier history to hide.`, { facts })
      : skip(id, title, 'No earlier incarnation is listed, and the log origin does not say how many there were.', { facts });
  }
  return pass(id, title, `${previous.length} earlier incarnation(s) of this name are listed, closed, and verify on their own${cur ? ` (1..${cur.n - 1}, no gap)` : ''}.`, { facts });
}
