// One verification, the browser's `webhost verify`: a fresh nonce, the bundle, a consistency proof
// from the last checkpoint this browser saw, the source looked up at the git host, then the
// verifier library (the very code the CLI runs), then — only when no check failed — the new
// checkpoint remembered.
import type { AuditResponse } from '../../verify/api-shapes.ts';
import type { EvidenceBundle } from '../../verify/bundle.ts';
import type { Report } from '../../verify/check.ts';
import { auditPath, verificationPath } from '../../verify/endpoints.ts';
import { onchainHook } from '../../verify/onchain.ts';
import { verifyBundle, type BundleVerifyOptions } from '../../verify/verify-bundle.ts';
import { ApiError, fetchJson } from './api-client.ts';
import { changesSince, type ChangesSince } from './changes.ts';
import { loadSeen, rememberBundle, SeenDamaged, type KeyValueStore, type SeenFile } from './seen-store.ts';
import { lookUpSource } from './source-hosts.ts';
import type { PageOptions, PageTarget } from './target.ts';

export interface Run {
  bundle: unknown;
  /** The URL the bundle came from. */
  fetched: string;
  nonce: string | null;
  report: Report;
  /** Set when the bundle was a readable bundle. */
  changes: ChangesSince | null;
  /** Notes per check id, about how the browser ran it (e.g. why source.tree was skipped here). */
  notes: Record<string, string>;
  /** Whether the checkpoint was remembered; why not otherwise. */
  remembered: true | string;
  /** null when this browser keeps checkpoints; otherwise why it cannot (storage off, or its record damaged). */
  memoryProblem: string | null;
}

export function freshNonce(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** localStorage where the browser allows it, else null (private modes, storage disabled). */
export function browserStore(): KeyValueStore | null {
  try {
    const s = window.localStorage;
    const probe = '__webhost_probe__';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return null;
  }
}

const isBundle = (b: unknown): b is EvidenceBundle => {
  const x = b as EvidenceBundle | null;
  return !!x && typeof x === 'object' && typeof x.log?.origin === 'string' && Array.isArray(x.log?.entries) && Array.isArray(x.log?.previous) && !!x.attestation?.preimage?.log;
};

export async function runVerification(target: Extract<PageTarget, { kind: 'daemon' | 'document' }>, opts: PageOptions, store: KeyValueStore | null): Promise<Run> {
  const notes: Record<string, string> = {};
  let nonce: string | null = null;
  let fetched: string;
  if (target.kind === 'daemon') {
    // A fresh nonce makes the daemon quote now: an old bundle replayed cannot carry it.
    nonce = freshNonce();
    fetched = `${target.base}${verificationPath(target.name, nonce)}`;
  } else {
    fetched = target.url;
    notes['binding.nonce'] = 'A saved bundle was given, so this page sent no nonce: the quote proves the state at some time, not now.';
  }
  let bundle: unknown;
  try {
    bundle = await fetchJson(fetched);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && target.kind === 'daemon') {
      throw new Error(`${target.base} has no attested project named ${target.name} (a project in dev mode is not public, and looks the same as a missing one)`);
    }
    throw e;
  }

  let seen: SeenFile = { v: 1, logs: {} };
  let seenProblem: string | null = store ? null : 'this browser does not let the page store anything';
  if (store) {
    try {
      seen = loadSeen(store);
    } catch (e) {
      if (!(e instanceof SeenDamaged)) throw e;
      seenProblem = `${e.message}; they were left as they are (clear this site's storage to start over)`;
      notes['log.consistency'] = `Not compared with your last visit: ${seenProblem}.`;
    }
  }

  const options: BundleVerifyOptions = { seen: Object.values(seen.logs) };
  if (target.kind === 'daemon') options.project = target.name;
  if (nonce) options.nonce = nonce;
  let changes: ChangesSince | null = null;

  if (isBundle(bundle)) {
    // The bundle says whether its TEE is simulated; trusting the simulator root is then the only
    // way to show the rest of the chain, and the report, banner and summary all say SIMULATED. A
    // bundle that claims real TDX never gets this, so a simulated quote there fails dcap.trust-root.
    options.allowSimulator = bundle.daemon?.tee === 'simulated';
    if (!bundle.attestation.collateral) {
      if (opts.pccs) options.pccsUrl = opts.pccs;
      else notes['dcap.qvl'] = 'The bundle carries no collateral. Add ?pccs=<PCCS URL> to this page\'s address to fetch it (the PCCS must allow cross-origin requests), or run the webhost verify command with --pccs.';
    }
    const seenHere = seen.logs[bundle.log.origin];
    if (seenHere && target.kind === 'daemon') {
      // The audit endpoint's proof, used only when it speaks of the very checkpoint the quote binds.
      const url = `${target.base}${auditPath(target.name, { consistency: seenHere.size })}`;
      try {
        const audit = await fetchJson<AuditResponse>(url);
        if (audit.checkpoint === bundle.log.checkpoint && Array.isArray(audit.consistency_proof)) options.consistencyProof = audit.consistency_proof;
        else notes['log.consistency'] = 'The audit endpoint answered for a newer checkpoint (the log moved on): consistency was recomputed from the entries.';
      } catch (e) {
        notes['log.consistency'] = `No consistency proof (${(e as Error).message}): recomputed from the entries.`;
      }
    }
    const lookup = await lookUpSource((bundle.deployment as { source?: Record<string, unknown> })?.source);
    notes['source.tree'] = lookup.note;
    if (lookup.kind === 'fetcher') options.sourceFetcher = lookup.fetcher;
    if (opts.rpc) options.onchain = onchainHook({ rpcUrl: opts.rpc, ...(opts.kms ? { kmsAddress: opts.kms } : {}) });
    else notes.onchain = 'Add ?rpc=<chain RPC URL> to this page\'s address (or run the command below with --rpc) for the on-chain checks.';
    changes = changesSince(bundle, seen.logs);
  }

  const report = await verifyBundle(bundle, options);

  let remembered: true | string = seenProblem ?? 'a check failed, so this checkpoint is not remembered as the baseline for your next visit';
  if (report.ok && store && !seenProblem && isBundle(bundle)) {
    try {
      rememberBundle(store, bundle);
      remembered = true;
    } catch (e) {
      remembered = `could not remember it: ${(e as Error).message}`;
    }
  }
  return { bundle, fetched, nonce, report, changes, notes, remembered, memoryProblem: seenProblem };
}
