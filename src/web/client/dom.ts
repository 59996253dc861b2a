// Building the pages' DOM. Everything that comes from a daemon, a bundle or a user becomes a text
// node (or an attribute value set through the DOM); there is no HTML parsing anywhere, and the
// pages' CSP (Trusted Types with no policy) makes any innerHTML-style sink throw if one slipped in.

export type Child = Node | string | number | null | undefined | false | readonly Child[];

type Handler = (ev: Event) => void;
export interface Props {
  class?: string;
  /** Attributes set with setAttribute; event-handler attributes are refused (use `on`). */
  attrs?: Record<string, string | number | boolean | undefined>;
  data?: Record<string, string>;
  on?: Partial<Record<keyof HTMLElementEventMap, Handler>>;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, ...(c as Child[]));
    else if (c instanceof Node) parent.appendChild(c);
    else parent.appendChild(document.createTextNode(String(c)));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props?.class) el.className = props.class;
  for (const [k, v] of Object.entries(props?.attrs ?? {})) {
    if (/^on/i.test(k)) throw new Error(`refusing event-handler attribute ${k}`);
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const [k, v] of Object.entries(props?.data ?? {})) el.dataset[k] = v;
  for (const [k, fn] of Object.entries(props?.on ?? {})) if (fn) el.addEventListener(k, fn);
  append(el, ...children);
  return el;
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/**
 * An absolute http(s) URL safe to put in href, or null: javascript:, data: and the like never
 * become links, and neither do paths (a source folder on the daemon's disk is not a page here).
 */
export function safeHref(url: unknown): string | null {
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

/** A link when the URL is http(s), plain text otherwise. */
export function linkOrText(url: unknown, text: string, extra?: Props): HTMLElement {
  const href = safeHref(url);
  return href ? h('a', { ...extra, attrs: { ...extra?.attrs, href, rel: 'noopener noreferrer' } }, text) : h('span', extra ?? null, text);
}

/** A <dl> of label/value rows; rows with an undefined value are left out. */
export function facts(rows: [string, Child][], cls = 'facts'): HTMLDListElement {
  const dl = h('dl', { class: cls });
  for (const [k, v] of rows) {
    if (v === undefined) continue;
    append(dl, h('div', null, h('dt', null, k), h('dd', null, v)));
  }
  return dl;
}

/** The page's <main>, emptied of the shell's placeholder (its h1 is kept for the page to retitle). */
export function pageMain(): HTMLElement {
  const main = document.getElementById('main')!;
  main.querySelector('.loading')?.remove();
  return main;
}

/** Sets the page's visible heading (the shell's h1) and the document title. */
export function setHeading(main: HTMLElement, text: string, title?: string): HTMLHeadingElement {
  let h1 = main.querySelector('h1');
  if (!h1) {
    h1 = h('h1');
    main.prepend(h1);
  }
  h1.textContent = text;
  if (title) document.title = title;
  return h1;
}

/** A button that copies `text`, with a fallback that selects it where the clipboard API is not allowed. */
export function copyButton(text: () => string, target: HTMLElement, label = 'Copy'): HTMLButtonElement {
  const btn = h('button', { attrs: { type: 'button' }, class: 'secondary' }, label);
  btn.addEventListener('click', () => {
    const done = (msg: string) => {
      btn.textContent = msg;
      setTimeout(() => (btn.textContent = label), 2000);
    };
    const select = () => {
      const r = document.createRange();
      r.selectNodeContents(target);
      const s = getSelection();
      s?.removeAllRanges();
      s?.addRange(r);
      done('Selected: press Ctrl+C');
    };
    if (navigator.clipboard?.writeText) navigator.clipboard.writeText(text()).then(() => done('Copied'), select);
    else select();
  });
  return btn;
}
