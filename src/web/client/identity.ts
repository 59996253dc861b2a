// The daemon's identity as `/_api/substrate` states it, rendered for the top of the listing. These
// are the daemon's own words: each project's verifier page checks them against the quote.
import { facts, h, type Child } from './dom.ts';

export interface Substrate {
  daemon?: { name?: string; version?: string; commit?: string | null };
  tee?: string;
  tee_kind?: string;
  app_id?: string;
  compose_hash?: string;
  instance_id?: string;
}

export const isSimulated = (s: Substrate): boolean => s.tee_kind === 'simulated' || (typeof s.tee === 'string' && /simulat/i.test(s.tee));

export function simulatedBanner(text: Child): HTMLElement {
  return h(
    'div',
    { class: 'banner banner-simulated', attrs: { role: 'alert', id: 'simulated-banner' } },
    h('strong', null, 'SIMULATED TEE — not hardware evidence. '),
    text,
  );
}

export function identitySection(s: Substrate): HTMLElement {
  const simulated = isSimulated(s);
  return h(
    'section',
    { class: 'identity', attrs: { 'aria-labelledby': 'identity-title', id: 'identity' } },
    h('h2', { attrs: { id: 'identity-title' } }, 'This daemon'),
    simulated
      ? simulatedBanner('This daemon runs without a TEE: the built-in simulator signs its quotes with a development key anyone can make. Nothing here is evidence about real hardware.')
      : null,
    facts([
      ['TEE', h('span', { class: simulated ? 'tag tag-sim' : 'tag tag-tee', data: { tee: simulated ? 'simulated' : 'tdx' } }, simulated ? 'SIMULATED' : 'Intel TDX')],
      ['app-id', h('code', null, s.app_id ?? '—')],
      ['compose-hash', h('code', null, s.compose_hash ?? '—')],
      ['daemon', `${s.daemon?.name ?? 'dstack-webhost'} ${s.daemon?.version ?? ''}${s.daemon?.commit ? ` (commit ${s.daemon.commit.slice(0, 12)})` : ''}`],
    ]),
    h('p', { class: 'note' }, 'As the daemon states them. Each project\'s verifier page checks these values against a fresh TDX quote.'),
  );
}
