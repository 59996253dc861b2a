// `webhost verify`: checks an attested project (or a quote from elsewhere) link by link with the
// verifier library, prints one line per check, and remembers the last checkpoint it saw of each
// audit log so that next time it can prove the log only grew.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeJsonAtomic } from '../../lib/atomic-file.ts';
import type { AuditResponse } from '../../verify/api-shapes.ts';
import type { Collateral, EvidenceBundle } from '../../verify/bundle.ts';
import { buildReport, skip, type Check, type Facts, type Report } from '../../verify/check.ts';
import { checkBundleShape } from '../../verify/bundle-shape.ts';
import { APP_QUOTE_CHECK_IDS, RECEIPT_CHECK_IDS, RECEIPT_HEADER, verifyAppQuote, verifyReceipt } from '../../verify/receipt.ts';
import { auditPath, isNonce, parseVerifyTarget, verificationPath, type VerifyTarget } from '../../verify/endpoints.ts';
import { headline } from '../../verify/headline.ts';
import { parseQuoteInput } from '../../verify/input.ts';
import { emptySeen, parseSeen, rememberBundle, type SeenFile } from '../../verify/seen.ts';
import type { VerifyOptions } from '../../verify/policy.ts';
import type { SourceFetcher } from '../../verify/source-check.ts';
import { isAddress } from '../../verify/onchain-abi.ts';
import { onchainHook } from '../../verify/onchain.ts';
import { verifyBundle, type OnchainHook } from '../../verify/verify-bundle.ts';
import { verifyQuote } from '../../verify/verify-quote.ts';

export const VERIFY_USAGE = `usage: webhost verify <app-url | bundle-url | bundle-file> [options]
       webhost verify <app-url> --receipt <file> --payload <file> [options]
       webhost verify --receipt-url <url> [options]
       webhost verify --quote <file> [options]

Checks an attested project link by link (Intel root → TDX quote → boot identity → daemon image →
deployment → audit log → source) and prints one line per check: ✓ passed, ✗ failed, ! warning,
- skipped. <app-url> is https://<host>/<name>/ or https://<name>.<domain>/; a bundle URL is
https://<host>/_api/verification/<name> or a saved .json.

  --nonce HEX             nonce to send (default: 32 fresh random bytes); the quote must carry it
  --json                  print the full report as JSON (for agents)
  --collateral FILE       PCCS collateral (JSON) to check the quote with
  --pccs URL              fetch collateral from this PCCS, e.g. https://pccs.phala.network
                          (default: the collateral the bundle carries, checked like any other)
  --now ISO               verify at this time (certificate and collateral validity)
  --allow-simulator       trust the simulator root the bundle carries (development only: the
                          report then says SIMULATED); without it a simulated TEE fails
  --simulator-root FILE   trust this simulator root CA (PEM, DER or hex) instead of the carried one
  --tolerate-tcb STATUS   accept this TCB status with a warning (repeatable), e.g. SWHardeningNeeded
  --rpc URL               chain RPC for the on-chain checks: where the CVM's keys come from dstack's
                          KMS, its app-id must be registered and its compose-hash allowed by the
                          KMS contracts (current state); e.g. a Base mainnet RPC
  --kms ADDRESS           the DstackKms contract (default: Phala Cloud's on Base mainnet, used
                          only when the RPC serves chain 8453)
  --no-source             do not fetch the source with git to reproduce the recorded tree hash
  --quote FILE            check a quote from elsewhere: raw, hex, or a dstack GetQuote JSON response
  --receipt FILE          also check an app's receipt (the JSON of its Webhost-Receipt header)
                          for the exact bytes in --payload FILE: signed by the app key the
                          quote binds, from the current deployment, over this payload
  --receipt-url URL       fetch URL and check its body against the receipt in its
                          Webhost-Receipt header (the app URL defaults to this one)
  --app-quote FILE        also check a quote the app made over its own data (ctx.quote's JSON);
                          --data FILE: the data it says it quoted

Remembers the last checkpoint seen per audit log in $XDG_CONFIG_HOME/webhost/seen.json
(default ~/.config/webhost/seen.json) and proves the log append-only against it next time.
Exit status: 0 when no check failed, 1 when one did or the evidence could not be fetched, 2 on bad usage.`;

const MARK: Record<Check['status'], string> = { pass: '✓', fail: '✗', warn: '!', skip: '-' };
const FETCH_TIMEOUT_MS = 30_000;

/** Other modules plug in here: the on-chain checks, given the --rpc URL (default: onchainHook). */
export interface VerifyCommandDeps {
  onchain?: (rpcUrl: string, kmsAddress?: string) => OnchainHook;
  env?: NodeJS.ProcessEnv;
}

class UsageError extends Error {}
class FetchError extends Error {}

interface Flags {
  positionals: string[];
  nonce?: string;
  json: boolean;
  collateral?: string;
  pccs?: string;
  now?: string;
  allowSimulator: boolean;
  simulatorRoot?: string;
  tolerateTcb: string[];
  rpc?: string;
  kms?: string;
  noSource: boolean;
  quote?: string;
  receipt?: string;
  payload?: string;
  receiptUrl?: string;
  appQuote?: string;
  data?: string;
  help: boolean;
}

function parseFlags(argv: string[]): Flags {
  let r;
  try {
    r = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        nonce: { type: 'string' },
        json: { type: 'boolean' },
        collateral: { type: 'string' },
        pccs: { type: 'string' },
        now: { type: 'string' },
        'allow-simulator': { type: 'boolean' },
        'simulator-root': { type: 'string' },
        'tolerate-tcb': { type: 'string', multiple: true },
        rpc: { type: 'string' },
        kms: { type: 'string' },
        'no-source': { type: 'boolean' },
        quote: { type: 'string' },
        receipt: { type: 'string' },
        payload: { type: 'string' },
        'receipt-url': { type: 'string' },
        'app-quote': { type: 'string' },
        data: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = r.values;
  const f: Flags = {
    positionals: r.positionals,
    json: v.json === true,
    allowSimulator: v['allow-simulator'] === true,
    tolerateTcb: (v['tolerate-tcb'] ?? []).flatMap((s) => s.split(',')).filter(Boolean),
    noSource: v['no-source'] === true,
    help: v.help === true,
  };
  if (v.nonce !== undefined) f.nonce = v.nonce;
  if (v.collateral !== undefined) f.collateral = v.collateral;
  if (v.pccs !== undefined) f.pccs = v.pccs;
  if (v.now !== undefined) f.now = v.now;
  if (v['simulator-root'] !== undefined) f.simulatorRoot = v['simulator-root'];
  if (v.rpc !== undefined) f.rpc = v.rpc;
  if (v.kms !== undefined) f.kms = v.kms;
  if (v.quote !== undefined) f.quote = v.quote;
  if (v.receipt !== undefined) f.receipt = v.receipt;
  if (v.payload !== undefined) f.payload = v.payload;
  if (v['receipt-url'] !== undefined) f.receiptUrl = v['receipt-url'];
  if (v['app-quote'] !== undefined) f.appQuote = v['app-quote'];
  if (v.data !== undefined) f.data = v.data;
  if (f.help) return f;

  if (f.quote !== undefined && f.positionals.length) throw new UsageError('--quote takes no URL or bundle file');
  if (f.quote !== undefined && (f.receipt ?? f.receiptUrl ?? f.appQuote) !== undefined) throw new UsageError('--quote checks a quote alone; receipts and app quotes are checked against a bundle (give the app URL)');
  if ((f.receipt === undefined) !== (f.payload === undefined)) throw new UsageError('--receipt and --payload go together: the receipt, and the exact bytes it covers');
  if (f.receipt !== undefined && f.receiptUrl !== undefined) throw new UsageError('give --receipt or --receipt-url, not both');
  if (f.data !== undefined && f.appQuote === undefined) throw new UsageError('--data goes with --app-quote');
  if (f.receiptUrl !== undefined && !/^https?:\/\/[^\s]+$/i.test(f.receiptUrl)) throw new UsageError('--receipt-url must be an http(s) URL');
  const implied = f.receiptUrl !== undefined && f.positionals.length === 0;
  if (f.quote === undefined && !implied && f.positionals.length !== 1) throw new UsageError('expected exactly one app URL, bundle URL or bundle file');
  if (f.nonce !== undefined && !isNonce(f.nonce)) throw new UsageError('--nonce must be hex: 1 to 64 whole bytes');
  if (f.now !== undefined && Number.isNaN(new Date(f.now).getTime())) throw new UsageError(`--now ${JSON.stringify(f.now)} is not a date`);
  for (const [flag, url] of [['--pccs', f.pccs], ['--rpc', f.rpc]] as const) {
    if (url !== undefined && !/^https?:\/\/[^\s]+$/i.test(url)) throw new UsageError(`${flag} must be an http(s) URL`);
  }
  if (f.kms !== undefined && f.rpc === undefined) throw new UsageError('--kms needs --rpc (the chain to read it on)');
  if (f.kms !== undefined && !isAddress(f.kms)) throw new UsageError('--kms must be a 20-byte hex address (0x + 40 hex digits)');
  return f;
}

async function readInputFile(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new UsageError(`${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The verification policy the flags ask for (shared by bundle and --quote mode). */
async function policy(f: Flags): Promise<VerifyOptions> {
  const o: VerifyOptions = { allowSimulator: f.allowSimulator };
  if (f.collateral !== undefined) {
    try {
      o.collateral = JSON.parse((await readInputFile(f.collateral, '--collateral')).toString('utf8')) as Collateral;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`--collateral ${f.collateral}: not JSON`);
    }
  }
  if (f.pccs !== undefined) o.pccsUrl = f.pccs;
  if (f.now !== undefined) o.now = f.now;
  if (f.simulatorRoot !== undefined) {
    const raw = await readInputFile(f.simulatorRoot, '--simulator-root');
    const text = raw.toString('utf8').trim();
    // PEM or hex text stays text (the verifier reads both); anything else is DER.
    if (text.startsWith('-----BEGIN')) o.simulatorRootCa = text;
    else if (/^[0-9a-fA-F\s]+$/.test(text)) o.simulatorRootCa = text.replace(/\s+/g, '');
    else o.simulatorRootCa = new Uint8Array(raw);
  }
  if (f.tolerateTcb.length) o.toleratedTcbStatuses = f.tolerateTcb;
  return o;
}

// ---- remembered checkpoints ----

export function seenFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'webhost', 'seen.json');
}

async function loadSeen(file: string): Promise<SeenFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptySeen();
    throw e;
  }
  return parseSeen(text, file);
}

/** After a passing report: remember the quoted checkpoint and those of earlier incarnations. */
async function remember(file: string, bundle: EvidenceBundle): Promise<void> {
  const seen = rememberBundle(await loadSeen(file), bundle); // re-read: another run may have written meanwhile
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeJsonAtomic(file, seen);
}

// ---- fetching ----

async function fetchJson(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'follow' });
  } catch (e) {
    throw new FetchError(`cannot fetch ${url}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new FetchError(`${url}: HTTP ${res.status}, not JSON`);
  }
  if (!res.ok) {
    const msg = body && typeof body === 'object' && 'error' in body ? String((body as { error: unknown }).error) : text.slice(0, 200);
    throw new FetchError(`${url}: HTTP ${res.status}: ${msg}`);
  }
  return body;
}

// ---- source: the system git ----

function gitEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: os.tmpdir(),
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    // No ssh: a URL from a bundle must not make this machine offer its keys to someone's host.
    GIT_ALLOW_PROTOCOL: 'file:git:http:https',
    LANG: 'C',
  };
}

function runGit(args: string[], cwd: string, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-c', 'core.hooksPath=/dev/null', '-c', 'protocol.ext.allow=never', ...args], { cwd, env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Refuses what git would read as an option, remote helpers and transports other than file, git, http(s). */
function checkSourceUrl(url: string): void {
  if (url.startsWith('-') || /\s/.test(url)) throw new Error('the source URL is not a plain URL');
  if (/^[a-z][a-z0-9+.-]*::/i.test(url)) throw new Error('the source URL names a git remote helper');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme ? !['https', 'http', 'git', 'file'].includes(scheme) : !path.isAbsolute(url)) {
    throw new Error(`only https, http, git and file sources (or an absolute path) are fetched, not ${scheme ? `${scheme}://` : 'this form'}`);
  }
}

/**
 * The CLI's source.tree fetcher: fetches `commit` from `url` into a scratch repository (only the
 * commit object where the server allows it) and asks git for `<commit>^{tree}`. The commit id
 * hashes the commit object, which names its tree, so this needs no file contents.
 */
export const gitTreeFetcher: SourceFetcher = async (url, commit) => {
  checkSourceUrl(url);
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) throw new Error('the commit is not a full object id');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'webhost-verify-src-'));
  try {
    const init = await runGit(['init', '-q', '--bare', ...(commit.length === 64 ? ['--object-format=sha256'] : []), dir], dir);
    if (init.code !== 0) throw new Error(`git init failed: ${init.stderr.trim()}`);
    const remote = /^[a-z]+:\/\//i.test(url) && !url.startsWith('file:') ? ['--filter=tree:0'] : [];
    let f = await runGit(['fetch', '-q', '--depth=1', ...remote, '--', url, commit], dir);
    // Servers that refuse a fetch by object id: take the branches and tags, then look it up.
    if (f.code !== 0) f = await runGit(['fetch', '-q', ...remote, '--', url, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'], dir);
    if (f.code !== 0) throw new Error(`git fetch failed: ${f.stderr.trim().split('\n').pop() ?? ''}`);
    const t = await runGit(['rev-parse', '--verify', '--quiet', `${commit}^{tree}`], dir);
    if (t.code !== 0 || !t.stdout.trim()) throw new Error(`commit ${commit} is not in ${url}`);
    return t.stdout.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

// ---- output ----

function lineFor(c: Check): string {
  let s = `${MARK[c.status]} ${c.id}  ${c.title}`;
  if (c.status !== 'pass') s += ` — ${c.summary}`;
  if (c.status === 'fail' && (c.expected !== undefined || c.actual !== undefined)) s += ` [expected: ${c.expected ?? '-'}; actual: ${c.actual ?? '-'}]`;
  return s;
}

function print(report: Report, first: string, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(first);
  for (const c of report.checks) console.log(lineFor(c));
}

function failedLine(report: Report, hint: string): string {
  const failed = report.checks.filter((c) => c.status === 'fail');
  if (!failed.length) return 'NOT VERIFIED: nothing could be checked.';
  return `NOT VERIFIED: ${failed.length} check${failed.length === 1 ? '' : 's'} failed${hint}: ${failed.map((c) => c.id).join(', ')}. ${failed[0]!.summary}`;
}

// ---- the two modes ----

async function verifyQuoteFile(f: Flags): Promise<number> {
  const raw = await readInputFile(f.quote!, '--quote');
  let input;
  try {
    input = parseQuoteInput(new Uint8Array(raw));
  } catch (e) {
    throw new FetchError(`${f.quote}: ${(e as Error).message}`);
  }
  const opts = await policy(f);
  if (f.nonce !== undefined) opts.nonce = f.nonce;
  const report = await verifyQuote({ quote: input.quote, ...(input.eventLog !== undefined ? { eventLog: input.eventLog } : {}) }, opts);
  report.facts.cli = { quote_file: f.quote!, format: input.format };
  const id = report.facts.identity as Facts | undefined;
  const tcb = report.checks.find((c) => c.id === 'tcb.status')?.actual;
  const first = report.ok
    ? `${report.simulated ? 'SIMULATED TEE, not hardware evidence: ' : ''}the quote is genuine${id ? `: app-id ${String(id.app_id)}, compose-hash ${String(id.compose_hash)}` : ''}${tcb ? `, TCB ${tcb}` : ''}.`
    : failedLine(report, f.allowSimulator && f.simulatorRoot === undefined ? ' (with --quote, --allow-simulator needs --simulator-root FILE: a bare quote carries no simulator root)' : '');
  print(report, first, f.json);
  return report.ok ? 0 : 1;
}

// ---- receipts and app quotes, checked against the bundle ----

interface Extras {
  receipt?: { value: unknown; payload: Uint8Array; from: string };
  appQuote?: { value: unknown; data?: Uint8Array; from: string };
}

async function readJsonFile(file: string, flag: string): Promise<unknown> {
  const raw = await readInputFile(file, flag);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new UsageError(`${flag} ${file}: not JSON`);
  }
}

/** GET `url`: its body is the payload, its Webhost-Receipt header the receipt. */
async function fetchReceipt(url: string): Promise<{ value: unknown; payload: Uint8Array }> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'follow' });
  } catch (e) {
    throw new FetchError(`cannot fetch ${url}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`);
  }
  const payload = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw new FetchError(`${url}: HTTP ${res.status}`);
  const header = res.headers.get(RECEIPT_HEADER);
  if (header === null) throw new FetchError(`${url}: the response carries no ${RECEIPT_HEADER} header`);
  try {
    return { value: JSON.parse(header), payload };
  } catch {
    throw new FetchError(`${url}: the ${RECEIPT_HEADER} header is not JSON`);
  }
}

async function loadExtras(f: Flags): Promise<Extras> {
  const x: Extras = {};
  if (f.receipt !== undefined) {
    x.receipt = { value: await readJsonFile(f.receipt, '--receipt'), payload: new Uint8Array(await readInputFile(f.payload!, '--payload')), from: `${f.receipt} (payload ${f.payload})` };
  } else if (f.receiptUrl !== undefined) {
    x.receipt = { ...(await fetchReceipt(f.receiptUrl)), from: f.receiptUrl };
  }
  if (f.appQuote !== undefined) {
    x.appQuote = { value: await readJsonFile(f.appQuote, '--app-quote'), from: f.appQuote };
    if (f.data !== undefined) x.appQuote.data = new Uint8Array(await readInputFile(f.data, '--data'));
  }
  return x;
}

/** The receipt and app-quote checks, after the bundle's (skipped when the bundle is unreadable). */
async function extraChecks(x: Extras, bundle: unknown, opts: VerifyOptions): Promise<Check[]> {
  const b = checkBundleShape(bundle).bundle;
  const unreadable = (id: string) => skip(id, id, 'The bundle is not readable (see bundle.schema), so there is nothing to check this against.');
  const out: Check[] = [];
  if (x.receipt) out.push(...(b ? verifyReceipt(x.receipt.value, x.receipt.payload, b) : RECEIPT_CHECK_IDS.map(unreadable)));
  if (x.appQuote) {
    if (!b) out.push(...APP_QUOTE_CHECK_IDS.map(unreadable));
    else {
      const { nonce: _nonce, ...o } = opts; // the verifier's nonce is for the bundle's quote, not the app's
      const r = await verifyAppQuote(x.appQuote.value, b, { ...o, ...(x.appQuote.data ? { data: x.appQuote.data } : {}) });
      // The app quote's own quote checks get a prefix, so they never read as the bundle's.
      out.push(...r.checks.map((c) => (c.id.startsWith('app-quote.') ? c : { ...c, id: `app-quote.${c.id}` })));
    }
  }
  return out;
}

function receiptLine(x: Extras, report: Report): string {
  const r = x.receipt?.value as { payload_sha256?: string; app_key?: string } | undefined;
  if (!report.ok || !r) return '';
  return ` The receipt checks out: payload sha256 ${r.payload_sha256} was vouched for by this code's app key ${r.app_key}.`;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function verifyTarget(f: Flags, deps: VerifyCommandDeps): Promise<number> {
  // With --receipt-url alone, the app it names is the one to verify.
  const arg = f.positionals[0] ?? f.receiptUrl!;
  let target: VerifyTarget | { kind: 'file'; file: string };
  if (await isFile(arg)) target = { kind: 'file', file: arg };
  else {
    try {
      target = parseVerifyTarget(arg);
    } catch (e) {
      throw new UsageError(`${(e as Error).message} (and there is no such file)`);
    }
  }
  const opts = await policy(f);
  const seenPath = seenFile(deps.env);
  // The receipt first: a receipt checks against the state the daemon attests after it was made.
  const extras = await loadExtras(f);

  let bundle: unknown;
  let nonce: string | undefined = f.nonce;
  let fetched: string;
  if (target.kind === 'file') {
    fetched = path.resolve(target.file);
    try {
      bundle = JSON.parse((await readFile(target.file)).toString('utf8'));
    } catch {
      throw new FetchError(`${target.file}: not JSON`);
    }
  } else if (target.kind === 'document') {
    fetched = target.url;
    bundle = await fetchJson(target.url);
  } else {
    // A fresh nonce makes the daemon quote now: an old bundle replayed cannot carry it.
    nonce = (f.nonce ?? target.nonce ?? randomBytes(32).toString('hex')).toLowerCase();
    if (!isNonce(nonce)) throw new UsageError('the nonce in the URL is not hex (1 to 64 bytes)');
    fetched = `${target.base}${verificationPath(target.name, nonce)}`;
    bundle = await fetchJson(fetched);
  }
  if (nonce !== undefined) opts.nonce = nonce;

  const seen = await loadSeen(seenPath);
  const origin = (bundle as { log?: { origin?: unknown } } | null)?.log?.origin;
  const seenHere = typeof origin === 'string' ? seen.logs[origin] : undefined;
  const cli: Facts = { target: arg, fetched, nonce: nonce ?? null, seen_file: seenPath };

  // Proof from the audit endpoint, used only when it speaks of the very checkpoint the quote binds.
  let consistencyProof: string[] | undefined;
  if (seenHere && target.kind === 'daemon') {
    const url = `${target.base}${auditPath(target.name, { consistency: seenHere.size })}`;
    try {
      const audit = (await fetchJson(url)) as AuditResponse;
      const b = bundle as EvidenceBundle;
      if (audit.checkpoint === b.log?.checkpoint && Array.isArray(audit.consistency_proof)) {
        consistencyProof = audit.consistency_proof;
        cli.consistency_proof = url;
      } else {
        cli.consistency_proof = `not used: ${url} answered for another checkpoint (the log moved on); recomputed from the entries`;
      }
    } catch (e) {
      cli.consistency_proof = `not used: ${(e as Error).message}; recomputed from the entries`;
    }
  }

  let onchain: OnchainHook | undefined;
  if (f.rpc !== undefined) {
    onchain = deps.onchain ? deps.onchain(f.rpc, f.kms) : onchainHook({ rpcUrl: f.rpc, ...(f.kms !== undefined ? { kmsAddress: f.kms } : {}) });
  }

  const report = await verifyBundle(bundle, {
    ...opts,
    ...(target.kind === 'daemon' ? { project: target.name } : {}),
    seen: Object.values(seen.logs),
    ...(consistencyProof ? { consistencyProof } : {}),
    ...(f.noSource ? {} : { sourceFetcher: gitTreeFetcher }),
    ...(onchain ? { onchain } : {}),
  });
  report.facts.cli = cli;
  if (report.ok) {
    try {
      await remember(seenPath, bundle as EvidenceBundle);
    } catch (e) {
      console.error(`webhost verify: could not remember the checkpoint in ${seenPath}: ${(e as Error).message}`);
    }
  }
  const extra = await extraChecks(extras, bundle, opts);
  if (extras.receipt) cli.receipt = extras.receipt.from;
  if (extras.appQuote) cli.app_quote = extras.appQuote.from;
  const all = extra.length ? buildReport([...report.checks, ...extra], report.facts, report.simulated) : report;
  print(all, headline(all, { simulatorHint: 'pass --allow-simulator to check the rest against the simulator\'s root' }) + receiptLine(extras, all), f.json);
  return all.ok ? 0 : 1;
}

/** `webhost verify …`: 0 when no check failed, 1 when one did (or nothing could be fetched), 2 on bad usage. */
export async function verifyCommand(argv: string[], deps: VerifyCommandDeps = {}): Promise<number> {
  try {
    const f = parseFlags(argv);
    if (f.help) {
      console.log(VERIFY_USAGE);
      return 0;
    }
    return f.quote !== undefined ? await verifyQuoteFile(f) : await verifyTarget(f, deps);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`webhost verify: ${e.message} (see 'webhost verify --help')`);
      return 2;
    }
    if (e instanceof FetchError) {
      console.error(`webhost verify: ${e.message}`);
      return 1;
    }
    console.error(`webhost verify: ${(e as Error).message}`);
    return 1;
  }
}
