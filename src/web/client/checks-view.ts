// The report's checks, grouped by link of the trust chain, each with its status in words (never
// colour alone), its summary, and on failure or warning the expected and actual values in view.
import type { Check, Fact, Report } from '../../verify/check.ts';
import { h, type Child } from './dom.ts';

const GROUPS: { title: string; match: (id: string) => boolean }[] = [
  { title: 'The evidence', match: (id) => id === 'bundle.schema' },
  { title: 'The quote is genuine TDX hardware evidence', match: (id) => /^(quote|dcap|pck|qe|collateral|crl|tcb|td)\./.test(id) },
  { title: 'The quote binds this project\'s state, now', match: (id) => /^binding\./.test(id) },
  { title: 'The TEE runs this daemon', match: (id) => /^(eventlog|rtmr|boot|compose|daemon)\./.test(id) },
  { title: 'The project runs this code', match: (id) => /^(deployment|source)\./.test(id) },
  { title: 'The history is complete and append-only', match: (id) => /^log\./.test(id) },
  { title: 'Whose CVM is this (on-chain)', match: (id) => id === 'onchain' || id.startsWith('onchain.') },
];

export const STATUS_WORD: Record<Check['status'], string> = { pass: 'Passed', fail: 'FAILED', warn: 'Warning', skip: 'Skipped' };
const MARK: Record<Check['status'], string> = { pass: '✓', fail: '✗', warn: '!', skip: '–' };

function factValue(v: Fact): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function valueRow(label: string, value: string | undefined, cls: string): Child {
  if (value === undefined) return null;
  return h('div', { class: cls }, h('dt', null, label), h('dd', null, h('code', null, value)));
}

export function checkItem(c: Check, note?: string): HTMLLIElement {
  const prominent = c.status === 'fail' || c.status === 'warn';
  const values = c.expected !== undefined || c.actual !== undefined ? h('dl', { class: 'values' }, valueRow('Expected', c.expected, 'expected'), valueRow('Actual', c.actual, 'actual')) : null;
  const factRows = c.facts ? Object.entries(c.facts).map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, h('code', null, factValue(v))))) : [];
  const more = !prominent && (values || factRows.length) ? h('details', { class: 'evidence' }, h('summary', null, 'Evidence'), values, factRows.length ? h('dl', { class: 'facts small' }, factRows) : null) : null;
  return h(
    'li',
    { class: `check status-${c.status}`, data: { checkId: c.id, status: c.status } },
    h('div', { class: 'check-head' }, h('span', { class: 'status', attrs: { 'aria-hidden': 'true' } }, MARK[c.status]), h('span', { class: 'status-word' }, STATUS_WORD[c.status]), h('span', { class: 'check-title' }, c.title), h('code', { class: 'check-id' }, c.id)),
    h('p', { class: 'check-summary' }, c.summary),
    note ? h('p', { class: 'check-note' }, h('strong', null, 'In this browser: '), note) : null,
    prominent ? values : null,
    prominent && factRows.length ? h('details', { class: 'evidence' }, h('summary', null, 'Facts'), h('dl', { class: 'facts small' }, factRows)) : null,
    more,
  );
}

export function checksSection(report: Report, notes: Record<string, string>): HTMLElement {
  const section = h('section', { attrs: { id: 'checks', 'aria-labelledby': 'checks-title' } }, h('h2', { attrs: { id: 'checks-title' } }, `Every check (${report.checks.length})`));
  const placed = new Set<Check>();
  for (const g of GROUPS) {
    const checks = report.checks.filter((c) => g.match(c.id));
    if (!checks.length) continue;
    checks.forEach((c) => placed.add(c));
    const failed = checks.filter((c) => c.status === 'fail').length;
    section.append(h('h3', null, g.title, failed ? h('span', { class: 'tag tag-fail' }, ` ${failed} failed`) : null), h('ol', { class: 'checks' }, checks.map((c) => checkItem(c, notes[c.id]))));
  }
  const rest = report.checks.filter((c) => !placed.has(c));
  if (rest.length) section.append(h('h3', null, 'Other checks'), h('ol', { class: 'checks' }, rest.map((c) => checkItem(c, notes[c.id]))));
  return section;
}
