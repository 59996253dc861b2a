// One project on the admin page: its mode and state, current and earlier deployments, and the
// actions (promote, redeploy, rollback to a chosen deployment, delete, live log). Env names are
// shown; the API has no way to return values, and this page has no field that could show one.
import type { DeploymentRow, ProjectView } from './admin-api.ts';
import { facts, h, linkOrText } from './dom.ts';
import { ago, short, sourceLabel, when } from './format.ts';

export interface ProjectActions {
  promote(p: ProjectView): void;
  redeploy(p: ProjectView): void;
  rollback(p: ProjectView, d: DeploymentRow): void;
  remove(p: ProjectView): void;
  toggleLog(p: ProjectView, panel: HTMLElement, button: HTMLButtonElement): void;
}

const timeText = (iso: string | null | undefined) => (iso ? h('time', { attrs: { datetime: iso, title: iso } }, `${when(iso)} (${ago(iso)})`) : '—');

function deploymentsTable(p: ProjectView, rows: DeploymentRow[] | Error, a: ProjectActions): HTMLElement {
  if (rows instanceof Error) return h('p', { class: 'error' }, `Deployments could not be listed: ${rows.message}`);
  const table = h(
    'table',
    { class: 'deployments' },
    h('caption', null, `Deployments of ${p.name} (newest first)`),
    h('thead', null, h('tr', null, ['Deployment', 'Created', 'Commit', 'Runtime', 'Env names', ''].map((t) => h('th', { attrs: { scope: 'col' } }, t)))),
  );
  const body = h('tbody');
  for (const d of rows) {
    const action = d.current
      ? h('span', { class: 'tag tag-current' }, 'current')
      : h('button', { attrs: { type: 'button' }, class: 'secondary', data: { rollbackTo: d.id }, on: { click: () => a.rollback(p, d) } }, 'Roll back to this', h('span', { class: 'visually-hidden' }, ` (${short(d.id)})`));
    body.append(
      h(
        'tr',
        { data: { deployment: d.id }, class: d.current ? 'current' : '' },
        h('td', null, h('code', null, short(d.id))),
        h('td', null, timeText(d.created_at)),
        h('td', null, d.commit_sha ? h('code', null, short(d.commit_sha, 12)) : '—'),
        h('td', null, d.runtime),
        h('td', null, (d.env_names ?? []).join(', ') || '—'),
        h('td', null, action),
      ),
    );
  }
  table.append(body);
  return h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': `Deployments of ${p.name}` } }, table);
}

export function projectCard(p: ProjectView, rows: DeploymentRow[] | Error, a: ProjectActions): HTMLElement {
  const headingId = `project-${p.name}`;
  const logPanel = h('div', { class: 'log-panel' });
  const logButton = h('button', { attrs: { type: 'button', 'aria-expanded': 'false' }, class: 'secondary', data: { action: 'logs' } }, 'Show live log');
  logButton.addEventListener('click', () => a.toggleLog(p, logPanel, logButton));
  const button = (label: string, action: string, fn: () => void, cls = '') => h('button', { attrs: { type: 'button' }, class: cls, data: { action }, on: { click: fn } }, label, h('span', { class: 'visually-hidden' }, ` ${p.name}`));
  return h(
    'article',
    { class: 'card project', data: { project: p.name, mode: p.mode }, attrs: { 'aria-labelledby': headingId } },
    h('h3', { attrs: { id: headingId } }, h('a', { attrs: { href: `/${encodeURIComponent(p.name)}/` } }, p.name), ' ', h('span', { class: `tag tag-${p.mode}` }, p.mode), ' ', h('span', { class: 'tag' }, p.status)),
    facts([
      ['Source', linkOrText(p.source, sourceLabel(p.source))],
      ['Ref', p.ref ?? undefined],
      ['Commit', p.commit_sha ? h('code', null, p.commit_sha) : p.claimed_commit_sha ? `${p.claimed_commit_sha} (claimed by the uploader, not checked)` : '—'],
      ['Tree', p.tree_hash ? h('code', null, p.tree_hash) : '—'],
      ['Runtime', `${p.runtime}${p.entry ? ` · ${p.entry}` : ''}`],
      ['Deployed', timeText(p.deployed_at)],
      ['Promoted', p.promoted_at ? timeText(p.promoted_at) : 'not promoted (dev)'],
      ['Env names', p.env_names.length ? p.env_names.join(', ') : '(none)'],
    ]),
    h(
      'div',
      { class: 'row wrap actions' },
      p.mode === 'dev' ? button('Promote', 'promote', () => a.promote(p)) : h('a', { class: 'button secondary', attrs: { href: `/${encodeURIComponent(p.name)}/.well-known/tee-attestation` } }, 'Verifier page'),
      button('Redeploy', 'redeploy', () => a.redeploy(p), 'secondary'),
      logButton,
      button('Delete', 'delete', () => a.remove(p), 'danger'),
    ),
    logPanel,
    h('details', { class: 'history', attrs: { open: true } }, h('summary', null, 'Deployments'), deploymentsTable(p, rows, a)),
  );
}
