// The parts of the verifier page around the checks: the summary at the top, the changes since the
// last visit, what runs there, the equivalent CLI command and the raw bundle.
import type { EvidenceBundle } from '../../verify/bundle.ts';
import { findCheck, type Facts, type Report } from '../../verify/check.ts';
import type { ChangesSince } from './changes.ts';
import { copyButton, facts, h, linkOrText } from './dom.ts';
import { ago, plural, short, sourceLabel, when } from './format.ts';
import { simulatedBanner } from './identity.ts';
import type { Summary } from './summary.ts';
import type { PageOptions } from './target.ts';

/** First thing on the page whenever the evidence is simulated, pass or fail. */
export function verifierBanner(): HTMLElement {
  return simulatedBanner("This daemon runs without a TEE: its quotes are signed by the built-in simulator's development key, which anyone can make. The checks below show whether the evidence is consistent; they prove nothing about real hardware.");
}

export function summarySection(s: Summary): HTMLElement {
  const verdict = { verified: 'Verified', simulated: 'Consistent, but SIMULATED', failed: 'NOT VERIFIED' }[s.verdict];
  return h(
    'section',
    { class: `summary verdict-${s.verdict}`, attrs: { id: 'summary', 'aria-labelledby': 'summary-title' } },
    h('h2', { attrs: { id: 'summary-title' } }, h('span', { class: `tag verdict-tag tag-${s.verdict}` }, verdict)),
    h('p', { class: 'headline', attrs: { id: 'summary-headline' } }, s.headline),
    s.notes.length ? h('ul', { class: 'summary-notes' }, s.notes.map((n) => h('li', null, n))) : null,
  );
}

/** Shown only when the log checks that vouch for these entries passed. */
export function changesSection(report: Report, changes: ChangesSince | null, remembered: true | string): HTMLElement {
  const section = h('section', { attrs: { id: 'changes', 'aria-labelledby': 'changes-title' } });
  const title = h('h2', { attrs: { id: 'changes-title' } });
  section.append(title);
  const consistency = findCheck(report, 'log.consistency')?.status;
  const previous = findCheck(report, 'log.previous')?.status;
  if (!changes) {
    title.textContent = 'Your first visit';
    section.append(
      h('p', null, 'This browser had not seen this audit log before, so there is nothing to compare with: the history is shown as it is served now (trust on first use). '),
      h('p', null, remembered === true ? 'Its checkpoint is now remembered in this browser; your next visit proves the log only grew since.' : `The checkpoint is not remembered: ${remembered}.`),
    );
    return section;
  }
  // The current log's entries are vouched for by log.consistency; an earlier incarnation's by log.previous.
  const currentOrigin = ((report.facts.bundle as Facts | undefined)?.log as Facts | undefined)?.origin;
  const vouched = changes.seenOrigin === currentOrigin ? consistency === 'pass' : previous === 'pass' && findCheck(report, 'log.entries')?.status === 'pass';
  if (!vouched) {
    title.textContent = 'Changes since your last visit: not shown';
    section.append(h('p', null, `You last looked on ${when(changes.since)} (log size ${changes.seenSize}), but the log checks failed, so its entries cannot be listed as the changes since then. See the failed checks below.`));
    return section;
  }
  const n = changes.changes.length;
  title.textContent = n ? `${plural(n, 'change')} since your last visit on ${when(changes.since)}` : `No change since your last visit on ${when(changes.since)}`;
  if (!n) {
    section.append(h('p', null, `The audit log is exactly as you saw it (${ago(changes.since)}): same size, same root.`));
    return section;
  }
  section.append(
    h(
      'ol',
      { class: 'changes' },
      changes.changes.map((c) =>
        h(
          'li',
          { class: 'change', data: { action: c.action } },
          h('p', null, h('strong', null, c.action), ' · ', h('time', { attrs: { datetime: c.time } }, when(c.time)), ' · ', c.what),
          facts(
            [
              ['Deployment', c.deployment ? h('code', null, short(c.deployment)) : undefined],
              ['Commit', c.commit ? h('code', null, short(c.commit, 12)) : undefined],
              ['Tree', c.tree ? h('code', null, short(c.tree, 12)) : undefined],
              ...c.details.map(([k, v]): [string, HTMLElement] => [k, h('code', null, v)]),
              ['Log entry', `${c.origin} #${c.seq}`],
            ],
            'facts small',
          ),
        ),
      ),
    ),
  );
  return section;
}

export function whatRunsSection(report: Report, bundle: EvidenceBundle | null): HTMLElement {
  const b = report.facts.bundle as Facts | undefined;
  const dep = (b?.deployment ?? {}) as Facts;
  const platform = (report.facts.platform ?? {}) as Facts;
  const identity = (report.facts.identity ?? {}) as Facts;
  const log = (b?.log ?? {}) as Facts;
  const tcb = findCheck(report, 'tcb.status');
  const advisories = Array.isArray(platform.advisory_ids) ? platform.advisory_ids.map(String) : null;
  const image = findCheck(report, 'compose.daemon-image')?.actual;
  const project = bundle?.project ?? {};
  return h(
    'section',
    { attrs: { id: 'what-runs', 'aria-labelledby': 'what-runs-title' } },
    h('h2', { attrs: { id: 'what-runs-title' } }, 'What the evidence says'),
    h('p', { class: 'note' }, 'Values as the checks established them; a value is only as good as the checks above it that passed.'),
    h('h3', null, 'The app'),
    facts([
      ['Project', b?.project !== undefined ? String(b.project) : undefined],
      ['Source', dep.url !== undefined ? linkOrText(dep.url, sourceLabel(dep.url)) : undefined],
      ['Ref', dep.ref ? String(dep.ref) : undefined],
      ['Commit', dep.commit_sha ? h('code', null, String(dep.commit_sha)) : undefined],
      ['Tree', dep.tree_hash ? h('code', null, String(dep.tree_hash)) : undefined],
      ['Deployment', dep.id ? h('code', null, String(dep.id)) : undefined],
      ['Runtime', typeof project.runtime === 'string' ? project.runtime : undefined],
      ['Env names', Array.isArray(project.env_names) ? (project.env_names as unknown[]).map(String).join(', ') || '(none)' : undefined],
      ['Audit log', log.origin ? `${String(log.origin)}, ${String(log.size)} entries` : undefined],
    ]),
    h('h3', null, 'The platform'),
    facts([
      ['TEE', b?.tee === 'simulated' || report.simulated ? h('span', { class: 'tag tag-sim' }, 'SIMULATED') : h('span', { class: 'tag tag-tee' }, 'Intel TDX')],
      ['TCB status', tcb?.actual ?? (platform.tcb_status !== undefined ? String(platform.tcb_status) : 'not established')],
      ['Advisories', advisories ? (advisories.length ? advisories.join(', ') : 'none') : 'not established'],
      ['app-id', identity.app_id ? h('code', null, String(identity.app_id)) : undefined],
      ['compose-hash', identity.compose_hash ? h('code', null, String(identity.compose_hash)) : undefined],
      ['Daemon image', image ? h('code', null, image) : undefined],
      ['Daemon', b?.daemon_version ? `dstack-webhost ${String(b.daemon_version)}${b.daemon_commit ? ` (commit ${short(String(b.daemon_commit))})` : ''}` : undefined],
      ['Nonce', b?.nonce ? h('code', null, String(b.nonce)) : 'none (not a fresh quote)'],
      ['Checked at', when(String(platform.now ?? new Date().toISOString()))],
    ]),
  );
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function cliCommand(target: string, simulated: boolean, opts: PageOptions): string {
  const parts = ['webhost', 'verify', shellQuote(target)];
  if (simulated) parts.push('--allow-simulator');
  if (opts.pccs) parts.push('--pccs', shellQuote(opts.pccs));
  if (opts.rpc) parts.push('--rpc', shellQuote(opts.rpc));
  if (opts.kms) parts.push('--kms', opts.kms);
  return parts.join(' ');
}

export function commandSection(command: string): HTMLElement {
  const code = h('code', { attrs: { id: 'cli-command' } }, command);
  return h(
    'section',
    { attrs: { id: 'command', 'aria-labelledby': 'command-title' } },
    h('h2', { attrs: { id: 'command-title' } }, 'Check it yourself'),
    h('p', null, 'The same checks from a terminal (the CLI also fetches the source with git and remembers checkpoints in ~/.config/webhost/seen.json):'),
    h('div', { class: 'command' }, h('pre', null, code), copyButton(() => command, code, 'Copy command')),
  );
}

export function rawSection(bundle: unknown, fetched: string): HTMLElement {
  const text = JSON.stringify(bundle, null, 2);
  const save = h('a', { class: 'button secondary', attrs: { download: 'evidence-bundle.json', href: '#' } }, 'Save as JSON');
  save.addEventListener('click', () => {
    // Made on demand: a blob: URL of exactly the bytes shown.
    save.setAttribute('href', URL.createObjectURL(new Blob([text], { type: 'application/json' })));
  });
  return h(
    'section',
    { attrs: { id: 'raw', 'aria-labelledby': 'raw-title' } },
    h('h2', { attrs: { id: 'raw-title' } }, 'The raw evidence'),
    h('details', { attrs: { id: 'raw-bundle' } }, h('summary', null, `Evidence bundle (${Math.round(text.length / 1024)} KiB), fetched from ${fetched}`), h('p', null, save), h('pre', { class: 'raw' }, text)),
  );
}

export function helpSection(): HTMLElement {
  return h(
    'section',
    { attrs: { id: 'help', 'aria-labelledby': 'help-title' } },
    h('h2', { attrs: { id: 'help-title' } }, 'When a check fails'),
    h(
      'ul',
      null,
      h('li', null, 'Do not rely on the app for anything the failed check covers. A failure means the evidence does not prove what it claims, whatever the reason.'),
      h('li', null, 'Read the failed check: its title says which link of the chain broke; "Expected" and "Actual" show the values that disagree.'),
      h('li', null, 'Reload to check again with a fresh nonce. A network error is not a failed check; a failed check that persists is real.'),
      h('li', null, 'A failed "Append-only since you last looked" means the history you saw earlier was rewritten or rolled back. Keep this browser\'s record (do not clear its storage) and tell whoever runs the app, with the values shown.'),
      h('li', null, 'Run the command above for a second opinion from a different program, on a different machine.'),
    ),
  );
}
