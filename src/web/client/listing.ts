// The public listing at `/`: the daemon's identity, then every attested project with its source
// at commit, when it was promoted, its last change (the audit log's latest entry) and a link to its
// verifier page. It reads only what any client reads: `/` as JSON and the public endpoints.
import { fetchJson, mapLimit } from './api-client.ts';
import { ago, short, sourceAt, when } from './format.ts';
import { h, linkOrText, pageMain, replace, setHeading } from './dom.ts';
import { identitySection, type Substrate } from './identity.ts';

interface Listed {
  runtime?: string;
  mode?: string;
  source?: string | null;
  commit_sha?: string | null;
  tree_hash?: string | null;
  promoted_at?: string | null;
  /** Served by newer daemons; otherwise read from the audit log. */
  last_change?: { time: string; action: string } | null;
}

interface LastChange {
  time: string;
  action: string;
}

/** The latest entry of the project's public audit log. */
async function lastChange(name: string): Promise<LastChange | null> {
  try {
    const audit = await fetchJson<{ entries?: string[] }>(`/_api/projects/${encodeURIComponent(name)}/audit`);
    const last = audit.entries?.[audit.entries.length - 1];
    if (!last) return null;
    const e = JSON.parse(last) as { time?: unknown; action?: unknown };
    return typeof e.time === 'string' && typeof e.action === 'string' ? { time: e.time, action: e.action } : null;
  } catch {
    return null;
  }
}

function timeCell(iso: string | null | undefined): HTMLElement {
  if (!iso) return h('span', null, '—');
  return h('time', { attrs: { datetime: iso, title: iso } }, when(iso), h('span', { class: 'muted' }, ` (${ago(iso)})`));
}

function projectRow(name: string, p: Listed, change: LastChange | null): HTMLElement {
  const verifier = `/${encodeURIComponent(name)}/.well-known/tee-attestation`;
  return h(
    'li',
    { class: 'project', data: { project: name } },
    h('h3', null, h('a', { attrs: { href: `/${encodeURIComponent(name)}/` } }, name)),
    h(
      'dl',
      { class: 'facts' },
      h('div', null, h('dt', null, 'Source'), h('dd', null, linkOrText(p.source, sourceAt(p.source, p.commit_sha), { class: 'source' }), p.tree_hash ? h('span', { class: 'muted' }, ` tree ${short(p.tree_hash)}`) : null)),
      h('div', null, h('dt', null, 'Runtime'), h('dd', null, p.runtime ?? '—')),
      h('div', null, h('dt', null, 'Promoted'), h('dd', null, timeCell(p.promoted_at))),
      h('div', null, h('dt', null, 'Last change'), h('dd', null, change ? [h('span', { class: 'action' }, change.action), ' ', timeCell(change.time)] : '—')),
    ),
    h('p', null, h('a', { class: 'button', attrs: { href: verifier } }, 'Verify ', h('span', { class: 'visually-hidden' }, name), ' →')),
  );
}

async function main(): Promise<void> {
  const root = pageMain();
  setHeading(root, 'Attested apps on this daemon');
  const status = h('p', { attrs: { role: 'status' } }, 'Loading…');
  root.append(status);
  const [substrate, listing] = await Promise.all([
    fetchJson<Substrate>('/_api/substrate').catch(() => null),
    fetchJson<{ projects: Record<string, Listed> }>('/', { headers: { accept: 'application/json' } }),
  ]);
  if (substrate) root.insertBefore(identitySection(substrate), status);
  const names = Object.keys(listing.projects ?? {}).sort();
  const changes = await mapLimit(names, 4, (n) => {
    const served = listing.projects[n]!.last_change;
    return served !== undefined ? Promise.resolve(served) : lastChange(n);
  });
  const section = h('section', { attrs: { 'aria-labelledby': 'projects-title', id: 'projects' } }, h('h2', { attrs: { id: 'projects-title' } }, `Attested projects (${names.length})`));
  if (!names.length) section.append(h('p', null, 'No project on this daemon is in attested mode. Projects in dev mode are not listed.'));
  else section.append(h('ul', { class: 'projects' }, names.map((n, i) => projectRow(n, listing.projects[n]!, changes[i] ?? null))));
  section.append(
    h('p', { class: 'note' }, 'Only attested projects are listed. Their verifier pages check the TEE quote, the deployed code and the audit log in your browser. ', h('a', { attrs: { href: '/_webhost/verify' } }, 'Verify an app by URL'), ' · ', h('a', { attrs: { href: '/_webhost/admin' } }, 'Admin')),
  );
  replace(status);
  status.remove();
  root.append(section);
}

main().catch((e: unknown) => {
  const root = pageMain();
  root.append(h('p', { class: 'error', attrs: { role: 'alert' } }, `Could not load the listing: ${(e as Error).message}`));
});
