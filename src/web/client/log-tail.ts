// The live tail of a project's app log: the API streams lines (`?follow=1`) and each complete line
// is appended as a text node, so whatever an app prints stays text. Older lines are dropped past
// a cap, so a chatty app cannot grow the page without bound.
import { h } from './dom.ts';
import type { AdminApi } from './admin-api.ts';

const MAX_LINES = 1000;

export class LogTail {
  readonly element: HTMLElement;
  private readonly pre: HTMLPreElement;
  private readonly state: HTMLElement;
  private abort: AbortController | null = null;
  private partial = '';
  private readonly api: AdminApi;
  private readonly name: string;

  constructor(api: AdminApi, name: string, onClose: () => void) {
    this.api = api;
    this.name = name;
    this.pre = h('pre', { class: 'log', attrs: { role: 'log', 'aria-label': `Log of ${name}`, tabindex: '0' } });
    this.state = h('span', { class: 'muted', attrs: { role: 'status' } }, 'Connecting…');
    const stop = h('button', { attrs: { type: 'button' }, class: 'secondary' }, 'Close log');
    stop.addEventListener('click', () => {
      this.stop();
      onClose();
    });
    this.element = h('section', { class: 'log-tail', data: { logOf: name } }, h('div', { class: 'row' }, h('h4', null, 'Live log'), this.state, stop), this.pre);
  }

  private addText(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    const atBottom = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 4;
    for (const line of lines) this.pre.append(h('span', { class: 'log-line' }, line), '\n');
    while (this.pre.childNodes.length > MAX_LINES * 2) {
      this.pre.firstChild!.remove();
      this.pre.firstChild?.remove();
    }
    if (atBottom) this.pre.scrollTop = this.pre.scrollHeight;
  }

  start(): void {
    this.abort = new AbortController();
    this.state.textContent = 'following';
    this.api.followLogs(this.name, this.abort.signal, (t) => this.addText(t)).then(
      () => (this.state.textContent = 'stream ended'),
      (e: Error) => {
        if (e.name !== 'AbortError') this.state.textContent = `stopped: ${e.message}`;
      },
    );
  }

  stop(): void {
    this.abort?.abort();
    this.abort = null;
  }
}
