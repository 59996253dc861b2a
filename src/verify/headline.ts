// One sentence on top of a bundle report, for people: what code runs there and what changed since
// the reader last looked, or exactly what failed. The checks below it stay the evidence; this only
// reads the report. Pure, so the CLI and the page say the same thing.
import type { Check, Facts, Report } from './check.ts';

const check = (r: Report, id: string): Check | undefined => r.checks.find((c) => c.id === id);
const when = (iso: string) => (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso);

function source(d: Facts | undefined): string {
  if (!d) return 'an unidentified deployment';
  const tree = d.tree_hash ? `, tree ${String(d.tree_hash)}` : '';
  if (d.kind === 'git') return `${String(d.url)}@${String(d.commit_sha)}${tree}`;
  if (d.kind === 'tarball') return `an uploaded tarball${d.url ? ` (${String(d.url)})` : ''}${tree}`;
  const images = Array.isArray(d.image_digests) ? d.image_digests.join(', ') : '';
  return `${String(d.kind)} deployment${images ? ` of ${images}` : ''}${tree}`;
}

function changes(r: Report): string {
  const c = check(r, 'log.consistency');
  const size = (check(r, 'log.entries')?.facts?.size as number | undefined) ?? 0;
  if (c?.status === 'pass' && c.facts) {
    const n = Number(c.facts.new_entries);
    return `${n} change${n === 1 ? '' : 's'} since you last looked on ${when(String(c.facts.seen_at))}`;
  }
  return `first look at this audit log (${size} entr${size === 1 ? 'y' : 'ies'})`;
}

/** `hint` is appended when a simulated bundle failed only for want of trusting the simulator. */
export function headline(r: Report, opts: { simulatorHint?: string } = {}): string {
  const b = r.facts.bundle as Facts | undefined;
  if (r.ok) {
    const sim = r.simulated ? 'SIMULATED TEE, not hardware evidence: ' : '';
    const src = check(r, 'source.tree');
    const unfetched = src?.status === 'skip' && b && (b.deployment as Facts | undefined)?.kind === 'git' ? ' (source not fetched)' : '';
    return `${sim}the code running here is ${source(b?.deployment as Facts | undefined)}${unfetched}; ${changes(r)}.`;
  }
  const failed = r.checks.filter((c) => c.status === 'fail');
  if (!failed.length) return 'NOT VERIFIED: nothing could be checked.';
  const simulatedTee = b?.tee === 'simulated' && check(r, 'dcap.trust-root')?.status === 'fail' && !r.simulated;
  const lead = simulatedTee ? 'NOT VERIFIED: simulated TEE — the quote chains to the simulator\'s development root, not to Intel' : `NOT VERIFIED: ${failed.length} check${failed.length === 1 ? '' : 's'} failed`;
  const hint = simulatedTee && opts.simulatorHint ? ` (${opts.simulatorHint})` : '';
  return `${lead}${hint}: ${failed.map((c) => c.id).join(', ')}. ${failed[0]!.summary}`;
}
