// Confirmation for destructive actions, in a modal <dialog> (focus moves into it, Escape cancels,
// the page behind is inert) rather than window.confirm, so the text is ours to write and the page
// never opens a browser dialog. With `typeToConfirm`, the button stays disabled until that exact
// text is typed.
import { h } from './dom.ts';

export interface ConfirmOptions {
  title: string;
  body: string;
  confirm: string;
  danger?: boolean;
  typeToConfirm?: string;
}

export function confirmAction(o: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = h('button', { attrs: { type: 'submit', value: 'ok' }, class: o.danger ? 'danger' : '' }, o.confirm);
    const cancel = h('button', { attrs: { type: 'button' }, class: 'secondary' }, 'Cancel');
    let typed: HTMLInputElement | null = null;
    if (o.typeToConfirm !== undefined) {
      typed = h('input', { attrs: { type: 'text', id: 'confirm-typed', autocomplete: 'off', spellcheck: 'false' } });
      ok.disabled = true;
      typed.addEventListener('input', () => (ok.disabled = typed!.value !== o.typeToConfirm));
    }
    const form = h(
      'form',
      { attrs: { method: 'dialog' } },
      h('h2', { attrs: { id: 'confirm-title' } }, o.title),
      h('p', null, o.body),
      typed ? [h('label', { attrs: { for: 'confirm-typed' } }, `Type ${o.typeToConfirm} to confirm`), typed] : null,
      h('div', { class: 'row' }, ok, cancel),
    );
    const dialog = h('dialog', { class: 'confirm', attrs: { 'aria-labelledby': 'confirm-title' } }, form);
    let result = false;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (ok.disabled) return;
      result = true;
      dialog.close();
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    (typed ?? cancel).focus();
  });
}
