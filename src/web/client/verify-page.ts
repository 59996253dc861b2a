// The verifier page: resolves which app it checks from its own address, runs the verification in
// the browser and shows the result. Entry point of the verify.js bundle.
import { h, pageMain, replace, setHeading } from './dom.ts';
import { checksSection } from './checks-view.ts';
import { summarize } from './summary.ts';
import { pageOptions, resolveTarget, type PageTarget } from './target.ts';
import { browserStore, runVerification } from './verify-run.ts';
import { changesSection, cliCommand, commandSection, helpSection, rawSection, summarySection, verifierBanner, whatRunsSection } from './verify-view.ts';
import type { EvidenceBundle } from '../../verify/bundle.ts';

/** The standalone page's form: any app URL, checked by this page (a GET to /_webhost/verify). */
function urlForm(value: string, problem: string | null): HTMLElement {
  const input = h('input', { attrs: { id: 'app-url', name: 'url', type: 'url', required: true, inputmode: 'url', autocomplete: 'url', placeholder: 'https://host/name/', value } });
  return h(
    'form',
    { class: 'url-form', attrs: { method: 'get', action: '/_webhost/verify', id: 'url-form' } },
    h('label', { attrs: { for: 'app-url' } }, 'App URL to verify'),
    problem ? h('p', { class: 'error', attrs: { role: 'alert' } }, problem) : null,
    h('div', { class: 'row' }, input, h('button', { attrs: { type: 'submit' } }, 'Verify')),
    h('p', { class: 'note' }, 'https://<host>/<name>/, https://<name>.<domain>/ or https://<host>/_api/verification/<name>. The evidence is fetched from that daemon\'s public endpoints and checked here, in your browser.'),
  );
}

async function verify(main: HTMLElement, target: Extract<PageTarget, { kind: 'daemon' | 'document' }>, standalone: boolean): Promise<void> {
  const opts = pageOptions(new URL(location.href));
  const label = target.kind === 'daemon' ? target.name : target.url;
  setHeading(main, `Verifier: ${label}`, `Verifier: ${label} · dstack-webhost`);
  const status = h('p', { class: 'loading', attrs: { role: 'status' } }, 'Fetching the evidence with a fresh nonce and checking it in this browser…');
  const results = h('div', { attrs: { id: 'results', 'aria-busy': 'true' } }, status);
  main.append(results);
  const targetUrl = target.kind === 'daemon' ? target.appUrl : target.url;
  try {
    const run = await runVerification(target, opts, browserStore());
    const bundle = run.report.checks[0]?.status === 'pass' ? (run.bundle as EvidenceBundle) : null;
    const simulated = run.report.simulated || bundle?.daemon?.tee === 'simulated';
    const summary = summarize(run.report, { changes: run.changes, memoryProblem: run.memoryProblem });
    replace(
      results,
      simulated ? verifierBanner() : null,
      summarySection(summary),
      changesSection(run.report, run.changes, run.remembered),
      whatRunsSection(run.report, bundle),
      checksSection(run.report, run.notes),
      commandSection(cliCommand(targetUrl, simulated, opts)),
      rawSection(run.bundle, run.fetched),
      helpSection(),
      h('p', null, h('button', { attrs: { type: 'button', id: 'verify-again' }, on: { click: () => location.reload() } }, 'Check again (fresh nonce)')),
    );
    results.dataset.verdict = summary.verdict;
  } catch (e) {
    replace(
      results,
      h('section', { class: 'summary verdict-failed', attrs: { id: 'summary' } }, h('h2', null, h('span', { class: 'tag tag-failed' }, 'NOT VERIFIED')), h('p', { class: 'headline', attrs: { id: 'summary-headline', role: 'alert' } }, `The evidence could not be fetched: ${(e as Error).message}. Nothing was checked.`)),
      commandSection(cliCommand(targetUrl, false, opts)),
    );
    results.dataset.verdict = 'error';
  }
  results.setAttribute('aria-busy', 'false');
  if (standalone) main.append(h('h2', null, 'Verify another app'), urlForm('', null));
}

function start(): void {
  const main = pageMain();
  const page = new URL(location.href);
  const target = resolveTarget(page);
  switch (target.kind) {
    case 'daemon':
    case 'document':
      void verify(main, target, page.pathname.replace(/\/+$/, '') === '/_webhost/verify');
      return;
    case 'ask':
      setHeading(main, 'Verify an attested app', 'Verify an app · dstack-webhost');
      main.append(urlForm(page.searchParams.get('url') ?? '', target.reason));
      return;
    case 'unresolved':
      setHeading(main, 'Verifier', 'Verifier · dstack-webhost');
      main.append(h('p', { class: 'error', attrs: { role: 'alert' } }, target.reason));
  }
}

start();
