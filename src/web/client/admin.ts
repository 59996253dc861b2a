// The admin page: sign in with the daemon's token (kept for this tab only), then deploy from git,
// and promote, redeploy, roll back, delete and watch the logs of every project. Entry point of the
// admin.js bundle; every call goes to this daemon's own management API.
import { AdminApi, forgetToken, isAuthError, storedToken, storeToken, type DeploymentRow, type ProjectView } from './admin-api.ts';
import { confirmAction } from './confirm-dialog.ts';
import { deployForm } from './deploy-form.ts';
import { h, pageMain, replace, setHeading } from './dom.ts';
import { short } from './format.ts';
import { LogTail } from './log-tail.ts';
import { projectCard } from './project-card.ts';

const main = pageMain();
setHeading(main, 'Admin', 'Admin · dstack-webhost');
const status = h('p', { class: 'admin-status', attrs: { role: 'status', id: 'admin-status', 'aria-live': 'polite' } });
const body = h('div', { attrs: { id: 'admin-body' } });
main.append(status, body);

const tails = new Map<string, LogTail>();

function say(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

function signIn(message?: string): void {
  for (const t of tails.values()) t.stop();
  tails.clear();
  const input = h('input', { attrs: { id: 'token', type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false' } });
  const form = h(
    'form',
    { class: 'card', attrs: { id: 'sign-in' } },
    h('h2', null, 'Sign in'),
    message ? h('p', { class: 'error', attrs: { role: 'alert' } }, message) : null,
    h('label', { attrs: { for: 'token' } }, 'Admin token (TEE_DAEMON_TOKEN)'),
    h('div', { class: 'row' }, input, h('button', { attrs: { type: 'submit' } }, 'Sign in')),
    h('p', { class: 'hint' }, 'Kept only in this tab (sessionStorage) and sent only to this daemon. Closing the tab forgets it.'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = input.value;
    input.value = '';
    void tryToken(token);
  });
  replace(body, form);
  say('');
  input.focus();
}

async function tryToken(token: string): Promise<void> {
  const api = new AdminApi(token);
  say('Checking the token…');
  try {
    const projects = await api.projects();
    storeToken(token);
    await showAdmin(api, projects);
  } catch (e) {
    if (isAuthError(e)) signIn('The daemon refused this token.');
    else say(`Could not reach the daemon: ${(e as Error).message}`, true);
  }
}

async function showAdmin(api: AdminApi, initial?: ProjectView[]): Promise<void> {
  const list = h('div', { attrs: { id: 'projects' } });
  const refresh = h('button', { attrs: { type: 'button', id: 'refresh' }, class: 'secondary' }, 'Refresh');
  const signOut = h('button', { attrs: { type: 'button', id: 'sign-out' }, class: 'secondary' }, 'Sign out (forget the token)');
  signOut.addEventListener('click', () => {
    forgetToken();
    signIn();
  });

  const load = async (projects?: ProjectView[]): Promise<void> => {
    const ps = (projects ?? (await api.projects())).sort((a, b) => a.name.localeCompare(b.name));
    const rows = await Promise.all(ps.map((p) => api.deployments(p.name).catch((e: Error) => e)));
    for (const [name, t] of tails) {
      if (!ps.some((p) => p.name === name)) {
        t.stop();
        tails.delete(name);
      }
    }
    replace(
      list,
      h('h2', null, `Projects (${ps.length})`),
      ps.length ? null : h('p', null, 'No project yet: deploy one above.'),
      ps.map((p, i) => {
        const card = projectCard(p, rows[i]!, actions);
        const tail = tails.get(p.name);
        if (tail) {
          card.querySelector('.log-panel')!.append(tail.element);
          const b = card.querySelector<HTMLButtonElement>('[data-action="logs"]')!;
          b.textContent = 'Hide live log';
          b.setAttribute('aria-expanded', 'true');
        }
        return card;
      }),
    );
  };

  /** Runs an action with the page saying what happens; the list is reloaded after it either way. */
  const run = async (what: string, fn: () => Promise<unknown>, done: string): Promise<void> => {
    say(`${what}…`);
    body.setAttribute('aria-busy', 'true');
    try {
      await fn();
      say(done);
    } catch (e) {
      if (isAuthError(e)) {
        forgetToken();
        signIn('The daemon refused the token; sign in again.');
        return;
      }
      say(`${what} failed: ${(e as Error).message}`, true);
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
    await load().catch((e: Error) => say(`Could not reload the projects: ${e.message}`, true));
  };

  const actions = {
    promote: (p: ProjectView) =>
      void confirmAction({
        title: `Promote ${p.name} to attested mode?`,
        body: 'Promotion is deliberate and one-way: the source hash is recorded, a public audit log opens with this deployment, and public verifier endpoints appear. Every later change is logged for anyone to see.',
        confirm: 'Promote',
      }).then((ok) => (ok ? run(`Promoting ${p.name}`, () => api.promote(p.name), `${p.name} is attested.`) : undefined)),
    redeploy: (p: ProjectView) =>
      void confirmAction({
        title: `Redeploy ${p.name}?`,
        body: `Fetches ${p.ref ? `ref ${p.ref}` : 'the same ref'} again and switches to it once it is healthy.${p.mode === 'attested' ? ' The audit log records it.' : ''}`,
        confirm: 'Redeploy',
      }).then((ok) => (ok ? run(`Redeploying ${p.name}`, () => api.redeploy(p.name), `${p.name} redeployed.`) : undefined)),
    rollback: (p: ProjectView, d: DeploymentRow) =>
      void confirmAction({
        title: `Roll ${p.name} back?`,
        body: `Switches ${p.name} to deployment ${short(d.id)} (created ${d.created_at}${d.commit_sha ? `, commit ${short(d.commit_sha, 12)}` : ''}).${p.mode === 'attested' ? ' The audit log records it.' : ''}`,
        confirm: 'Roll back',
      }).then((ok) => (ok ? run(`Rolling ${p.name} back to ${short(d.id)}`, () => api.rollback(p.name, d.id), `${p.name} now runs deployment ${short(d.id)}.`) : undefined)),
    remove: (p: ProjectView) =>
      void confirmAction({
        title: `Delete ${p.name}?`,
        body: `Stops the app and removes the project and its deployments.${p.mode === 'attested' ? ' Its audit log is closed with a teardown entry and stays public.' : ''} This cannot be undone.`,
        confirm: 'Delete',
        danger: true,
        typeToConfirm: p.name,
      }).then((ok) => (ok ? run(`Deleting ${p.name}`, () => api.remove(p.name), `${p.name} deleted.`) : undefined)),
    toggleLog: (p: ProjectView, panel: HTMLElement, button: HTMLButtonElement) => {
      const open = tails.get(p.name);
      const close = () => {
        tails.get(p.name)?.stop();
        tails.delete(p.name);
        panel.replaceChildren();
        button.textContent = 'Show live log';
        button.setAttribute('aria-expanded', 'false');
      };
      if (open) return close();
      const tail = new LogTail(api, p.name, close);
      tails.set(p.name, tail);
      panel.append(tail.element);
      button.textContent = 'Hide live log';
      button.setAttribute('aria-expanded', 'true');
      tail.start();
    },
  };

  const form = deployForm(async ({ manifest, reset }) => {
    try {
      await api.deploy(manifest);
    } catch (e) {
      if (isAuthError(e)) {
        forgetToken();
        signIn('The daemon refused the token; sign in again.');
      }
      throw e;
    }
    reset();
    await load();
  });
  replace(body, h('div', { class: 'row toolbar' }, refresh, signOut), form, list);
  refresh.addEventListener('click', () => void load().then(() => say('Reloaded.'), (e: Error) => say(`Could not reload: ${e.message}`, true)));
  await load(initial);
  say('');
}

const token = storedToken();
if (token) void tryToken(token);
else signIn();
