// The sentence at the top of the verifier page: what code runs there and what changed since this
// browser last looked, or exactly what failed. It only reads the report; the checks below it stay
// the evidence. Pure, so tests run it in Node.
import type { Facts, Report } from '../../verify/check.ts';
import { countStatuses, findCheck } from '../../verify/check.ts';
import type { ChangesSince } from './changes.ts';
import { plural, sourceAt, short, when } from './format.ts';

export interface Summary {
  verdict: 'verified' | 'simulated' | 'failed';
  headline: string;
  /** Further sentences: warnings, skipped checks worth knowing, what to do. */
  notes: string[];
}

export interface SummaryContext {
  changes: ChangesSince | null;
  /** null when this browser keeps checkpoints; otherwise why it cannot compare with an earlier visit. */
  memoryProblem: string | null;
}

/** What runs, as people say it: `github.com/o/r@abc1234`, an uploaded tarball, or images. */
export function runningCode(deployment: Facts | undefined): string {
  if (!deployment) return 'an unidentified deployment';
  if (deployment.kind === 'git') return sourceAt(deployment.url, deployment.commit_sha);
  if (deployment.kind === 'tarball') return `an uploaded tarball (tree ${short(deployment.tree_hash as string)})`;
  const images = Array.isArray(deployment.image_digests) ? deployment.image_digests.map(String) : [];
  return `${String(deployment.kind)} deployment${images.length ? ` of ${images.map((d) => short(d, 19)).join(', ')}` : ''}`;
}

function changesSentence(ctx: SummaryContext): string {
  const c = ctx.changes;
  if (!c) {
    return ctx.memoryProblem === null
      ? 'this is your first visit: this browser now remembers the audit log, so next time it can prove nothing was rewritten'
      : `nothing was compared with an earlier visit: ${ctx.memoryProblem}`;
  }
  const n = c.changes.length;
  return n === 0 ? `nothing changed since you last looked on ${when(c.since)}` : `${plural(n, 'change')} since your last visit on ${when(c.since)} (listed below)`;
}

export function summarize(report: Report, ctx: SummaryContext): Summary {
  const notes: string[] = [];
  const n = countStatuses(report.checks);
  if (!report.ok) {
    const failed = report.checks.filter((c) => c.status === 'fail');
    if (!failed.length) return { verdict: 'failed', headline: 'NOT VERIFIED: nothing could be checked.', notes };
    const names = failed.map((c) => `${c.title} (${c.id})`).join('; ');
    notes.push(failed[0]!.summary);
    if (failed.length > 1) notes.push('Each failed check below shows what was expected and what was found.');
    notes.push('Do not rely on this app until the failures are explained: see "When a check fails" below.');
    return { verdict: 'failed', headline: `NOT VERIFIED: ${plural(failed.length, 'check')} failed — ${names}.`, notes };
  }
  const bundle = report.facts.bundle as Facts | undefined;
  const deployment = bundle?.deployment as Facts | undefined;
  const src = findCheck(report, 'source.tree');
  const code = runningCode(deployment);
  const sourceState = src?.status === 'pass' ? ' (its tree matches that commit at the source)' : deployment?.kind === 'git' ? ' (the source itself was not fetched here)' : '';
  const lead = report.simulated ? 'SIMULATED TEE, not hardware evidence: the' : 'The';
  const headline = `${lead} code running here is ${code}${sourceState}; ${changesSentence(ctx)}.`;
  if (report.simulated) notes.push('Every check ran, but the quote is signed by the simulator\'s development key, which anyone can make: this shows the chain is consistent, not that real TDX hardware runs it.');
  if (n.warn) notes.push(`${plural(n.warn, 'warning')}: ${report.checks.filter((c) => c.status === 'warn').map((c) => c.id).join(', ')}.`);
  notes.push(`${n.pass} passed, ${n.fail} failed, ${n.warn} ${n.warn === 1 ? 'warning' : 'warnings'}, ${n.skip} skipped.`);
  return { verdict: report.simulated ? 'simulated' : 'verified', headline, notes };
}
