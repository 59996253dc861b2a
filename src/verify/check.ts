// The report model of the verifier: every link of the trust chain is a named check with its own
// status, the expected and actual values, and the facts it established. A report is never a
// single badge; `ok` only summarises "no check failed".

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

/** A fact is plain JSON so a report can be printed, served and compared as is. */
export type Fact = string | number | boolean | null | Fact[] | { [key: string]: Fact };
export type Facts = Record<string, Fact>;

export interface Check {
  /** Stable dotted id, e.g. `quote.signature`, `rtmr.3`. */
  id: string;
  title: string;
  status: CheckStatus;
  /** One plain sentence: what was proven, or why not. */
  summary: string;
  expected?: string;
  actual?: string;
  facts?: Facts;
}

export interface Report {
  /** True when no check failed and at least one passed. Warnings and skips stay visible in `checks`. */
  ok: boolean;
  /** True when the quote chained to the simulator's development root instead of Intel's. */
  simulated: boolean;
  checks: Check[];
  summary: string;
  facts: Facts;
}

type Extra = Partial<Pick<Check, 'expected' | 'actual' | 'facts'>>;

function make(status: CheckStatus, id: string, title: string, summary: string, extra?: Extra): Check {
  const c: Check = { id, title, status, summary };
  if (extra?.expected !== undefined) c.expected = extra.expected;
  if (extra?.actual !== undefined) c.actual = extra.actual;
  if (extra?.facts !== undefined && Object.keys(extra.facts).length) c.facts = extra.facts;
  return c;
}

export const pass = (id: string, title: string, summary: string, extra?: Extra): Check => make('pass', id, title, summary, extra);
export const fail = (id: string, title: string, summary: string, extra?: Extra): Check => make('fail', id, title, summary, extra);
export const warn = (id: string, title: string, summary: string, extra?: Extra): Check => make('warn', id, title, summary, extra);
export const skip = (id: string, title: string, summary: string, extra?: Extra): Check => make('skip', id, title, summary, extra);

/** pass when expected === actual, else fail; both values shown either way. */
export function compare(id: string, title: string, expected: string, actual: string, okSummary: string, badSummary: string, facts?: Facts): Check {
  const extra: Extra = { expected, actual };
  if (facts) extra.facts = facts;
  return expected === actual ? pass(id, title, okSummary, extra) : fail(id, title, badSummary, extra);
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return e.message + cause;
  }
  return String(e);
}

export const SIMULATED_NOTICE =
  'SIMULATED: this quote was signed by the dstack-webhost simulator\'s development key, not by Intel TDX hardware. It proves nothing about a real TEE.';

export function countStatuses(checks: readonly Check[]): Record<CheckStatus, number> {
  const n: Record<CheckStatus, number> = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const c of checks) n[c.status]++;
  return n;
}

export function buildReport(checks: Check[], facts: Facts, simulated: boolean): Report {
  const n = countStatuses(checks);
  const ok = n.fail === 0 && n.pass > 0;
  const failed = checks.filter((c) => c.status === 'fail');
  const parts: string[] = [];
  if (simulated) parts.push(SIMULATED_NOTICE);
  // A simulated pass must not read like a hardware pass, even out of context.
  const passed = simulated ? "VERIFIED AGAINST THE SIMULATOR ONLY: no check failed, but the trust root is the simulator's." : 'VERIFIED: no check failed.';
  parts.push(ok ? passed : failed.length ? `NOT VERIFIED: ${failed.length} check(s) failed.` : 'NOT VERIFIED: nothing could be checked.');
  parts.push(`${n.pass} passed, ${n.fail} failed, ${n.warn} warning(s), ${n.skip} skipped.`);
  for (const c of failed) parts.push(`[${c.id}] ${c.summary}`);
  return { ok, simulated, checks, summary: parts.join(' '), facts };
}

export function findCheck(report: Pick<Report, 'checks'>, id: string): Check | undefined {
  return report.checks.find((c) => c.id === id);
}
