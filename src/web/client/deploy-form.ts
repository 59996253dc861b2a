// The admin page's deploy form: a git URL and ref (the API's JSON deploy), optional runtime, entry
// and mode, and env variables as name + value rows. Values are typed into password fields, sent
// once, and cleared: the page never shows a secret, and the API never returns one.
import { RUNTIMES } from '../../runtimes/driver.ts';
import { h } from './dom.ts';

export interface DeployRequest {
  manifest: Record<string, unknown>;
  /** Clears the form after a successful deploy (values first). */
  reset: () => void;
}

function field(id: string, label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h('div', { class: 'field' }, h('label', { attrs: { for: id } }, label), input, hint ? h('p', { class: 'hint', attrs: { id: `${id}-hint` } }, hint) : null);
}

export function deployForm(onDeploy: (r: DeployRequest) => Promise<void>): HTMLElement {
  const name = h('input', { attrs: { id: 'deploy-name', name: 'name', required: true, pattern: '[a-z0-9]([a-z0-9\\-]{0,61}[a-z0-9])?', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'deploy-name-hint' } });
  const source = h('input', { attrs: { id: 'deploy-source', name: 'source', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'https://github.com/owner/repo' } });
  const ref = h('input', { attrs: { id: 'deploy-ref', name: 'ref', autocomplete: 'off', spellcheck: 'false', placeholder: 'main' } });
  const runtime = h('select', { attrs: { id: 'deploy-runtime', name: 'runtime' } }, h('option', { attrs: { value: '' } }, 'detect'), RUNTIMES.map((r) => h('option', { attrs: { value: r } }, r)));
  const entry = h('input', { attrs: { id: 'deploy-entry', name: 'entry', autocomplete: 'off', spellcheck: 'false', placeholder: 'server.ts' } });
  const mode = h('select', { attrs: { id: 'deploy-mode', name: 'mode' } }, h('option', { attrs: { value: 'dev' } }, 'dev'), h('option', { attrs: { value: 'attested' } }, 'attested (promote at once)'));
  const envRows = h('div', { class: 'env-rows' });
  const addEnv = (): void => {
    const n = envRows.children.length;
    const nameInput = h('input', { class: 'env-name', attrs: { 'aria-label': `Variable ${n + 1} name`, autocomplete: 'off', spellcheck: 'false', pattern: '[A-Za-z_][A-Za-z0-9_]*', placeholder: 'NAME' } });
    const valueInput = h('input', { class: 'env-value', attrs: { type: 'password', 'aria-label': `Variable ${n + 1} value`, autocomplete: 'new-password', placeholder: 'value' } });
    const remove = h('button', { attrs: { type: 'button', 'aria-label': `Remove variable ${n + 1}` }, class: 'secondary' }, 'Remove');
    const row = h('div', { class: 'row env-row' }, nameInput, valueInput, remove);
    remove.addEventListener('click', () => row.remove());
    envRows.append(row);
    nameInput.focus();
  };
  const addButton = h('button', { attrs: { type: 'button', id: 'deploy-add-env' }, class: 'secondary', on: { click: addEnv } }, 'Add variable');
  const submit = h('button', { attrs: { type: 'submit', id: 'deploy-submit' } }, 'Deploy');
  const status = h('p', { class: 'form-status', attrs: { role: 'status', id: 'deploy-status' } });

  const form = h(
    'form',
    { attrs: { id: 'deploy-form' } },
    field('deploy-name', 'Name', name, 'Lowercase letters, digits and dashes. The app is served at /<name>/.'),
    field('deploy-source', 'Git URL', source),
    field('deploy-ref', 'Ref (branch, tag or commit)', ref),
    h('div', { class: 'row wrap' }, field('deploy-runtime', 'Runtime', runtime), field('deploy-entry', 'Entry file', entry), field('deploy-mode', 'Mode', mode)),
    h('fieldset', null, h('legend', null, 'Environment variables'), h('p', { class: 'hint' }, 'Values are sent once and never shown again: the daemon returns names only.'), envRows, addButton),
    h('div', { class: 'row' }, submit, status),
  );

  const reset = (): void => {
    for (const v of envRows.querySelectorAll<HTMLInputElement>('.env-value')) v.value = '';
    envRows.replaceChildren();
    form.reset();
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const manifest: Record<string, unknown> = { name: name.value.trim(), source: source.value.trim(), mode: mode.value };
    if (ref.value.trim()) manifest.ref = ref.value.trim();
    if (runtime.value) manifest.runtime = runtime.value;
    if (entry.value.trim()) manifest.entry = entry.value.trim();
    const env: Record<string, string> = {};
    for (const row of envRows.querySelectorAll('.env-row')) {
      const k = row.querySelector<HTMLInputElement>('.env-name')!.value.trim();
      const v = row.querySelector<HTMLInputElement>('.env-value')!.value;
      if (k) env[k] = v;
    }
    if (Object.keys(env).length) manifest.env = env;
    submit.disabled = true;
    status.textContent = `Deploying ${String(manifest.name)}… (fetching the source, installing, starting)`;
    onDeploy({ manifest, reset })
      .then(
        () => (status.textContent = `Deployed ${String(manifest.name)}.`),
        (e: Error) => (status.textContent = `Deploy failed: ${e.message}`),
      )
      .finally(() => (submit.disabled = false));
  });
  return h('section', { class: 'card', attrs: { id: 'deploy', 'aria-labelledby': 'deploy-title' } }, h('h2', { attrs: { id: 'deploy-title' } }, 'Deploy from git'), form);
}
