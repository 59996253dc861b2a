// The whole chain for one attested project, from its evidence bundle: the TEE half (verifyQuote:
// Intel root → quote → TCB → report_data → RTMRs → boot identity → app-compose) and the bundle half
// (preimage ↔ bundle, deployment record, audit log, earlier incarnations, source, on-chain hook).
// Every check runs that can; a failure early on never hides a later one. Pure: what a page runs is
// what the CLI runs.
import type { EvidenceBundle } from './bundle.ts';
import { checkBundleShape } from './bundle-shape.ts';
import { checkDaemonIdentity, checkDeploymentRecord, checkPreimageBinding } from './bundle-checks.ts';
import { extractBootIdentity, type BootIdentity } from './boot-identity.ts';
import { hexToBytes } from './bytes.ts';
import { buildReport, errorMessage, fail, skip, type Check, type Fact, type Facts, type Report } from './check.ts';
import { parseEventLog } from './eventlog.ts';
import { checkConsistency, checkCurrentDeployment, checkLogCheckpoint, checkLogEntries, checkPrevious, checkPromote, type SeenCheckpoint } from './log-checks.ts';
import type { VerifyOptions } from './policy.ts';
import { checkSourceTree, type SourceFetcher } from './source-check.ts';
import { QUOTE_CHECK_IDS, verifyQuote } from './verify-quote.ts';

/**
 * On-chain checks (KMS contracts; another module). Called only when boot.identity passed, with the
 * measured identity and what the report established so far (quote, platform: TCB status, advisories).
 */
export type OnchainHook = (identity: BootIdentity, context: { facts: Facts; checks: readonly Check[] }) => Promise<Check[]>;

export interface BundleVerifyOptions extends VerifyOptions {
  /** The project name the verifier asked for; the quoted preimage must name it. */
  project?: string;
  /** Checkpoints this verifier saw earlier (any origins): the current log and earlier incarnations must extend them. */
  seen?: readonly SeenCheckpoint[];
  /** Base64 RFC 9162 consistency proof from the seen size of this log's origin to the quoted size (from the audit endpoint). */
  consistencyProof?: readonly string[];
  /** Resolves a git commit's tree hash (source.tree); without it source.tree is skipped. */
  sourceFetcher?: SourceFetcher;
  onchain?: OnchainHook;
}

/** The bundle checks, in report order, after bundle.schema and verifyQuote's checks. */
export const BUNDLE_CHECK_IDS = [
  'daemon.identity',
  'binding.preimage',
  'deployment.record',
  'log.checkpoint',
  'log.entries',
  'log.promote',
  'log.current-deployment',
  'log.consistency',
  'log.previous',
  'source.tree',
] as const;

/** Every check id verifyBundle may emit, in report order (on-chain checks come last, with the ids the hook gives them). */
export const ALL_BUNDLE_CHECK_IDS = ['bundle.schema', ...QUOTE_CHECK_IDS, ...BUNDLE_CHECK_IDS, 'onchain'] as const;

function quoteOptions(b: EvidenceBundle, o: BundleVerifyOptions): { opts: VerifyOptions; collateralFrom: string } {
  const { project: _p, seen: _s, consistencyProof: _c, sourceFetcher: _f, onchain: _o, ...opts } = o;
  let collateralFrom = o.collateral ? 'verifier' : o.pccsUrl ? o.pccsUrl : 'none';
  // Collateral is signed by Intel (or the simulator's root): the daemon's copy is as good as any,
  // since collateral.signature and collateral.freshness judge it. A verifier's own choice wins.
  if (!o.collateral && !o.pccsUrl && b.attestation.collateral) {
    opts.collateral = b.attestation.collateral;
    collateralFrom = 'bundle';
  }
  // The carried root is used to name a simulated quote as such; it is trusted only with allowSimulator.
  if (opts.simulatorRootCa === undefined && b.daemon.simulator_root_ca) opts.simulatorRootCa = b.daemon.simulator_root_ca;
  return { opts, collateralFrom };
}

function bootIdentityOf(eventLog: string): BootIdentity | null {
  try {
    const r = extractBootIdentity(parseEventLog(eventLog));
    return r.ok ? r.identity : null;
  } catch {
    return null;
  }
}

async function onchainChecks(hook: OnchainHook | undefined, b: EvidenceBundle, bootPassed: boolean, facts: Facts, checks: readonly Check[]): Promise<Check[]> {
  const title = 'On-chain anchor (KMS contracts)';
  if (!hook) {
    return [skip('onchain', title, 'Not checked: no chain RPC given. Without it, which CVM this is rests on whoever gave you the URL; the quote proves what runs, not whose it is.')];
  }
  const identity = bootPassed ? bootIdentityOf(b.attestation.event_log) : null;
  if (!identity) return [skip('onchain', title, 'No measured boot identity (see boot.identity), so there is nothing to look up on chain.')];
  try {
    return await hook(identity, { facts, checks });
  } catch (e) {
    return [fail('onchain', title, `The on-chain checks could not run: ${errorMessage(e)}.`)];
  }
}

/** Verifies an evidence bundle (as fetched: unknown JSON) under `options`. */
export async function verifyBundle(input: unknown, options: BundleVerifyOptions = {}): Promise<Report> {
  const shape = checkBundleShape(input);
  if (!shape.bundle) {
    const rest = ALL_BUNDLE_CHECK_IDS.filter((id) => id !== 'bundle.schema' && id !== 'collateral.fetch').map((id) => skip(id, id, 'The bundle is not readable (see bundle.schema).'));
    return buildReport([shape.check, ...rest], {}, false);
  }
  const b = shape.bundle;
  const p = b.attestation.preimage;
  const { opts, collateralFrom } = quoteOptions(b, options);

  let quote: Uint8Array;
  try {
    quote = hexToBytes(b.attestation.quote);
  } catch {
    quote = new Uint8Array(0); // quote.parse then fails and says so
  }
  const q = await verifyQuote({ quote, eventLog: b.attestation.event_log, appCompose: b.daemon.app_compose, preimage: p }, opts);
  const checks: Check[] = [shape.check, ...q.checks];
  const facts: Facts = { ...q.facts };
  const platform = facts.platform as Facts | undefined;
  if (platform) platform.collateral_from = collateralFrom;

  checks.push(checkDaemonIdentity(b.daemon, q.facts.identity as Facts | undefined, platform?.trust_root));
  checks.push(checkPreimageBinding(b, options.project));
  const dep = checkDeploymentRecord(b.deployment, p, b.project);
  checks.push(dep.check);

  checks.push(checkLogCheckpoint(b.log.checkpoint, p).check);
  const entries = checkLogEntries(b.log.entries, b.log.checkpoint, p.project);
  checks.push(entries.check);
  checks.push(checkPromote(entries.entries));
  checks.push(checkCurrentDeployment(entries.entries, p.deployment));
  const seen = options.seen ?? [];
  checks.push(checkConsistency(p, seen, entries.tree, options.consistencyProof));
  checks.push(checkPrevious(b.log.previous, p, seen));
  checks.push(await checkSourceTree(dep.record, options.sourceFetcher));

  const bootPassed = checks.some((c) => c.id === 'boot.identity' && c.status === 'pass');
  checks.push(...(await onchainChecks(options.onchain, b, bootPassed, facts, checks)));

  facts.bundle = {
    generated_at: b.generated_at,
    project: p.project,
    tee: b.daemon.tee,
    daemon_version: b.daemon.version,
    daemon_commit: b.daemon.commit,
    deployment: (dep.check.facts ?? { id: p.deployment.id }) as Fact,
    log: { origin: p.log.origin, size: p.log.size, root_hash: p.log.root_hash, public_key: p.log.public_key, previous: b.log.previous.length },
    nonce: p.nonce,
  };
  return buildReport(checks, facts, q.simulated);
}
