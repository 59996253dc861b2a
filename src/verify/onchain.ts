// The optional on-chain anchor (design §5 item 5, research/dstack.md §5): where a CVM's keys come
// from dstack's KMS, the KMS only releases them when its contracts on chain allow the boot — the
// app-id registered in DstackKms, the compose-hash allowed by the app's own DstackApp contract
// (whose address IS the app-id), the device and OS image allowed. Reading those contracts through
// an RPC the verifier chooses ties the measured app-id to whoever controls that contract, which
// the quote alone cannot: it proves what runs, not whose it is.
//
// Every read is pinned to one block, so the checks see one consistent state; it is the CURRENT
// state, not the state when the CVM booted (a hash removed later stops future key releases, it does
// not stop a running instance), and the facts say so.
import type { BootIdentity } from './boot-identity.ts';
import { fail, pass, skip, warn, errorMessage, type Check, type Fact, type Facts } from './check.ts';
import {
  AbiError,
  EVENT_SIGNATURES,
  addressWord,
  bytes32Word,
  checksumAddress,
  decodeBool,
  decodeBoolString,
  decodeBytesList,
  encodeCall,
  encodeIsAppAllowed,
  eventBytes32,
  eventTopic,
  normalizeAddress,
  type AppBootInfo,
} from './onchain-abi.ts';
import { JsonRpcClient, RpcFailure, RpcRevert, type RpcFetch } from './onchain-rpc.ts';
import type { OnchainHook } from './verify-bundle.ts';
import { bytesToHex, hexToBytes } from './bytes.ts';

/** Phala Cloud's DstackKms on Base mainnet (research/dstack.md §5); used only when the chain is 8453. */
export const BASE_MAINNET_KMS = '0x2f83172A49584C017F2B256F0FB2Dca14126Ba9C';
export const BASE_MAINNET_CHAIN_ID = 8453;

/** In report order. */
export const ONCHAIN_CHECK_IDS = [
  'onchain.key-provider',
  'onchain.chain',
  'onchain.kms-identity',
  'onchain.app-registered',
  'onchain.compose-hash-allowed',
  'onchain.device',
  'onchain.os-image',
  'onchain.is-app-allowed',
] as const;
type OnchainCheckId = (typeof ONCHAIN_CHECK_IDS)[number];

const TITLES: Record<OnchainCheckId, string> = {
  'onchain.key-provider': 'Key provider is the KMS (so its contracts govern the app)',
  'onchain.chain': 'Chain and KMS contract',
  'onchain.kms-identity': 'The KMS contract names the KMS this CVM got its keys from',
  'onchain.app-registered': 'App-id registered in DstackKms',
  'onchain.compose-hash-allowed': 'Compose-hash allowed by the app contract',
  'onchain.device': 'Device allowed by the app contract',
  'onchain.os-image': 'OS image allowed by DstackKms',
  'onchain.is-app-allowed': "The KMS's own isAppAllowed(boot info)",
};

export interface OnchainOptions {
  rpcUrl: string;
  /** DstackKms address; defaults to BASE_MAINNET_KMS only when the chain is Base mainnet. */
  kmsAddress?: string;
  /** The chain the RPC must serve; without it and without kmsAddress, Base mainnet is expected. */
  chainId?: number;
  fetch?: RpcFetch;
  timeoutMs?: number;
  /** Look up ComposeHashAdded/Removed logs to show when and in which tx the hash was allowed (default true). */
  history?: boolean;
}

const CHAIN_NAMES: Record<number, string> = { 8453: 'Base mainnet', 84532: 'Base Sepolia', 1: 'Ethereum mainnet' };

const CURRENT_STATE =
  'current state of the contracts at this block, not at boot: a later change stops or allows future key releases, it does not stop an instance already running';

interface DeviceCandidate {
  id: string;
  definition: string;
}

interface Ctx {
  rpc: JsonRpcClient;
  block: number;
  kms: string; // 0x-prefixed, lowercase
  app: string; // 0x-prefixed, lowercase
  identity: BootIdentity;
  devices: DeviceCandidate[];
  platform: Facts;
  ids: Facts;
  history: boolean;
  asOf: Facts;
}

type Read<T> = { ok: true; value: T } | { ok: false; why: string };

/** One getter: a revert or an undecodable answer is "absent" (the deployment lacks it); an RPC failure throws. */
async function read<T>(c: Ctx, to: string, calldata: string, decode: (hex: string) => T): Promise<Read<T>> {
  try {
    return { ok: true, value: decode(await c.rpc.call(to, calldata, c.block)) };
  } catch (e) {
    if (e instanceof RpcRevert) return { ok: false, why: `the call reverted${e.reason ? ` (${e.reason})` : ''}` };
    if (e instanceof AbiError) return { ok: false, why: e.message };
    throw e;
  }
}

const str = (v: Fact | undefined): string | null => (typeof v === 'string' && v !== '' ? v : null);
const isHash = (v: string | null): v is string => v !== null && /^[0-9a-f]{64}$/i.test(v);

// ---- the checks ----

function checkKeyProvider(identity: BootIdentity): { check: Check; governed: boolean } {
  const id = 'onchain.key-provider';
  const kp = identity.keyProviderInfo;
  if (!kp) {
    return { check: skip(id, TITLES[id], 'There is no key-provider boot event, so whether dstack\'s KMS governs this app cannot be told: the on-chain checks were not run.'), governed: false };
  }
  if (kp.name !== 'kms') {
    return {
      check: skip(id, TITLES[id], `The key provider measured at boot is "${kp.name}", not "kms": this app does not get its keys from dstack's KMS, so the KMS contracts do not govern it and there is nothing to check on chain.`, {
        expected: 'kms',
        actual: kp.name,
        facts: { key_provider_id: kp.id },
      }),
      governed: false,
    };
  }
  return {
    check: pass(id, TITLES[id], 'The key provider measured at boot is dstack\'s KMS: it releases this app\'s keys only when its contracts allow the boot.', {
      expected: 'kms',
      actual: 'kms',
      facts: { key_provider_id: kp.id },
    }),
    governed: true,
  };
}

async function checkChain(o: OnchainOptions, rpc: JsonRpcClient): Promise<{ check: Check; chainId?: number; block?: number; kms?: string }> {
  const id = 'onchain.chain';
  const title = TITLES[id];
  let chainId: number;
  let block: number;
  try {
    chainId = await rpc.chainId();
    block = await rpc.blockNumber();
  } catch (e) {
    return { check: fail(id, title, `The chain RPC could not be read: ${errorMessage(e)}.`, { facts: { rpc: rpc.label } }) };
  }
  const facts: Facts = { rpc: rpc.label, chain_id: chainId, chain: CHAIN_NAMES[chainId] ?? null, block };
  const expectedChain = o.chainId ?? (o.kmsAddress === undefined ? BASE_MAINNET_CHAIN_ID : undefined);
  if (expectedChain !== undefined && chainId !== expectedChain) {
    const hint = o.chainId === undefined ? ' Without a KMS address, only Base mainnet\'s KMS is known: give the KMS address for this chain (--kms).' : '';
    return { check: fail(id, title, `The RPC serves chain ${chainId}, not chain ${expectedChain}${CHAIN_NAMES[expectedChain] ? ` (${CHAIN_NAMES[expectedChain]})` : ''}.${hint}`, { expected: String(expectedChain), actual: String(chainId), facts }), chainId };
  }
  if (o.kmsAddress === undefined && chainId !== BASE_MAINNET_CHAIN_ID) {
    return { check: fail(id, title, `No KMS address was given, and only Base mainnet's is known (the RPC serves chain ${chainId}): give the DstackKms address for this chain (--kms).`, { facts }), chainId };
  }
  let kms: string;
  try {
    kms = '0x' + normalizeAddress(o.kmsAddress ?? BASE_MAINNET_KMS);
  } catch (e) {
    return { check: fail(id, title, `The KMS address is not usable: ${errorMessage(e)}.`, { facts }), chainId };
  }
  facts.kms = checksumAddress(kms);
  facts.kms_source = o.kmsAddress === undefined ? 'default: Phala Cloud\'s DstackKms on Base mainnet' : 'given';
  let code: string;
  try {
    code = await rpc.getCode(kms, block);
  } catch (e) {
    return { check: fail(id, title, `The KMS contract's code could not be read: ${errorMessage(e)}.`, { facts }), chainId };
  }
  facts.kms_code_bytes = (code.length - 2) / 2;
  if (code === '0x') {
    return { check: fail(id, title, `There is no contract at the KMS address ${checksumAddress(kms)} on chain ${chainId} (block ${block}).`, { expected: 'contract code', actual: 'none', facts }), chainId };
  }
  const name = CHAIN_NAMES[chainId] ? `${CHAIN_NAMES[chainId]} (chain ${chainId})` : `chain ${chainId}`;
  return { check: pass(id, title, `${name} at block ${block}; the KMS contract ${checksumAddress(kms)} has code. Every read below is pinned to this block.`, { facts }), chainId, block, kms };
}

/** P-256 SPKI DER is a fixed 26-byte prefix and the 65-byte point; a contract may store either form. */
function sameCaKey(onchain: Uint8Array, spkiHex: string): 'spki' | 'point' | null {
  let spki: Uint8Array;
  try {
    spki = hexToBytes(spkiHex);
  } catch {
    return null;
  }
  const a = bytesToHex(onchain);
  if (a === bytesToHex(spki)) return 'spki';
  if (onchain.length === 65 && spki.length > 65 && a === bytesToHex(spki.subarray(spki.length - 65))) return 'point';
  return null;
}

async function checkKmsIdentity(c: Ctx): Promise<Check> {
  const id = 'onchain.kms-identity';
  const title = TITLES[id];
  const measured = c.identity.keyProviderInfo?.id ?? '';
  const r = await read(c, c.kms, encodeCall('kmsInfo'), (h) => decodeBytesList(h, 4));
  const facts: Facts = { ...c.asOf, key_provider_id: measured };
  if (!r.ok) return warn(id, title, `kmsInfo() could not be read (${r.why}), so which KMS instance this contract stands for is not shown: the checks below say what this contract allows, not that this CVM's KMS obeys it.`, { facts });
  const ca = r.value[1]!;
  facts.kms_ca_pubkey = bytesToHex(ca);
  if (ca.length === 0) return warn(id, title, 'The KMS contract publishes no CA public key (kmsInfo().caPubkey is empty), so it cannot be matched with the KMS this CVM measured.', { facts });
  const same = sameCaKey(ca, measured);
  if (!same) {
    return fail(id, title, 'The KMS root CA key measured at boot (key-provider id) is not the one this KMS contract publishes: this CVM got its keys from another KMS, which this contract does not govern.', {
      expected: bytesToHex(ca),
      actual: measured,
      facts,
    });
  }
  return pass(id, title, `The KMS root CA key measured at boot is the one this contract publishes in kmsInfo()${same === 'point' ? ' (as the bare public key point)' : ''}: this contract governs the KMS that released the keys.`, { expected: bytesToHex(ca), actual: measured, facts });
}

async function checkAppRegistered(c: Ctx): Promise<Check> {
  const id = 'onchain.app-registered';
  const title = TITLES[id];
  const app = checksumAddress(c.app);
  const facts: Facts = { ...c.asOf, app_id: app, kms: checksumAddress(c.kms) };
  const r = await read(c, c.kms, encodeCall('registeredApps', addressWord(c.app)), decodeBool);
  if (!r.ok) {
    return fail(id, title, `registeredApps(address) could not be read from the KMS (${r.why}): it is not a DstackKms (v0.5.4 or later); older KmsAuth contracts are not supported.`, { facts });
  }
  if (!r.value) return fail(id, title, `The app-id ${app} is not registered in the KMS ${checksumAddress(c.kms)}: the KMS would not release keys to it.`, { expected: 'true', actual: 'false', facts });
  return pass(id, title, `The app-id ${app} is registered in the KMS ${checksumAddress(c.kms)}.`, { expected: 'true', actual: 'true', facts });
}

/** When (block, tx, time) the compose-hash was last allowed and removed, from the app contract's logs. Best effort. */
async function composeHistory(c: Ctx): Promise<Facts> {
  const hash = c.identity.composeHash.toLowerCase();
  const out: Facts = {};
  for (const [key, sig] of [['allowed_in', EVENT_SIGNATURES.composeHashAdded], ['removed_in', EVENT_SIGNATURES.composeHashRemoved]] as const) {
    const logs = await c.rpc.getLogs({ address: c.app, topics: ['0x' + eventTopic(sig)], fromBlock: 0, toBlock: c.block });
    const mine = logs.filter((l) => eventBytes32(l.topics, l.data) === hash);
    const last = mine[mine.length - 1];
    if (!last) continue;
    const ts = await c.rpc.blockTimestamp(last.blockNumber);
    out[key] = { block: last.blockNumber, tx: last.transactionHash, log_index: last.logIndex, time: ts === null ? null : new Date(ts * 1000).toISOString(), events: mine.length };
  }
  return out;
}

async function checkComposeHash(c: Ctx): Promise<Check> {
  const id = 'onchain.compose-hash-allowed';
  const title = TITLES[id];
  const app = checksumAddress(c.app);
  const facts: Facts = { ...c.asOf, app_contract: app, compose_hash: c.identity.composeHash };
  const code = await c.rpc.getCode(c.app, c.block);
  facts.app_code_bytes = (code.length - 2) / 2;
  if (code === '0x') {
    return fail(id, title, `There is no contract at the app-id ${app}: with the KMS, the app-id is the address of the app's DstackApp contract, which says which compose-hashes may boot.`, { expected: 'contract code', actual: 'none', facts });
  }
  const r = await read(c, c.app, encodeCall('allowedComposeHashes', bytes32Word(c.identity.composeHash)), decodeBool);
  if (!r.ok) return fail(id, title, `allowedComposeHashes(bytes32) could not be read from the app contract ${app} (${r.why}): it is not a DstackApp.`, { facts });
  if (c.history) {
    try {
      Object.assign(facts, await composeHistory(c));
    } catch (e) {
      facts.history = `not available: ${errorMessage(e)}`;
    }
  }
  if (!r.value) {
    return fail(id, title, `The app contract ${app} does not allow the compose-hash measured at boot: the KMS would not release keys to this configuration now.`, { expected: 'true', actual: 'false', facts });
  }
  const when = facts.allowed_in && typeof facts.allowed_in === 'object' && !Array.isArray(facts.allowed_in) ? ` (allowed in block ${String(facts.allowed_in.block)}, tx ${String(facts.allowed_in.tx)})` : '';
  return pass(id, title, `The app contract ${app} allows the compose-hash measured at boot${when}.`, { expected: 'true', actual: 'true', facts });
}

async function checkDevice(c: Ctx): Promise<Check> {
  const id = 'onchain.device';
  const title = TITLES[id];
  const facts: Facts = { ...c.asOf, device_ids: c.devices.map((d) => ({ id: d.id, definition: d.definition })) };
  const any = await read(c, c.app, encodeCall('allowAnyDevice'), decodeBool);
  facts.allow_any_device = any.ok ? any.value : `absent: ${any.why}`;
  if (any.ok && any.value) return pass(id, title, 'The app contract allows any device (allowAnyDevice).', { facts });
  if (!c.devices.length) return warn(id, title, 'The app contract does not allow any device, and this quote\'s device id is unknown (no readable PCK certificate), so the device list was not checked.', { facts });
  const results: Facts = {};
  let absent: string | null = null;
  for (const d of c.devices) {
    const r = await read(c, c.app, encodeCall('allowedDeviceIds', bytes32Word(d.id)), decodeBool);
    if (!r.ok) {
      absent = r.why;
      break;
    }
    results[d.definition] = r.value;
    if (r.value) {
      facts.allowed = results;
      return pass(id, title, `The app contract allows this device (device id ${d.id}, ${d.definition}).`, { expected: 'true', actual: 'true', facts });
    }
  }
  facts.allowed = results;
  if (absent !== null) return warn(id, title, `allowedDeviceIds(bytes32) could not be read (${absent}), so whether this device may boot the app is not known.`, { facts });
  return fail(id, title, `The app contract allows neither of this device's ids (${c.devices.map((d) => d.definition).join(', ')}), nor any device: the KMS would not release keys to this machine now.`, {
    expected: 'true',
    actual: 'false',
    facts,
  });
}

async function checkOsImage(c: Ctx): Promise<Check> {
  const id = 'onchain.os-image';
  const title = TITLES[id];
  const h = c.identity.osImageHash;
  if (!h) return skip(id, title, 'There is no os-image-hash boot event (dstack OS before 0.5.3, or not measured from the KMS), so there is no KMS-measured OS image to look up.');
  const facts: Facts = { ...c.asOf, os_image_hash: h };
  const r = await read(c, c.kms, encodeCall('allowedOsImages', bytes32Word(h)), decodeBool);
  if (!r.ok) return warn(id, title, `allowedOsImages(bytes32) could not be read from the KMS (${r.why}), so whether this OS image is allowed is not known.`, { facts });
  if (!r.value) return fail(id, title, 'The KMS does not allow the OS image measured at boot: it would not release keys to this image now.', { expected: 'true', actual: 'false', facts });
  return pass(id, title, 'The KMS allows the OS image measured at boot.', { expected: 'true', actual: 'true', facts });
}

async function checkIsAppAllowed(c: Ctx): Promise<Check> {
  const id = 'onchain.is-app-allowed';
  const title = TITLES[id];
  const missing: string[] = [];
  const osImageHash = c.identity.osImageHash;
  const tcbStatus = str(c.platform.tcb_status);
  const mrAggregated = str(c.ids.mr_aggregated);
  const mrSystem = str(c.ids.mr_system);
  if (!osImageHash) missing.push('the os-image-hash boot event');
  if (!tcbStatus) missing.push("the quote's TCB status");
  if (!isHash(mrAggregated) || !isHash(mrSystem)) missing.push('mr_aggregated and mr_system');
  if (!c.devices.length) missing.push('a device id');
  if (missing.length) return skip(id, title, `The boot info the KMS judges cannot be rebuilt without ${missing.join(', ')}; the checks above cover its parts one by one.`);
  const advisory = c.platform.advisory_ids;
  const base: Omit<AppBootInfo, 'deviceId'> = {
    appId: c.app,
    composeHash: c.identity.composeHash,
    instanceId: c.identity.instanceId,
    mrAggregated: mrAggregated!,
    mrSystem: mrSystem!,
    osImageHash: osImageHash!,
    tcbStatus: tcbStatus!,
    advisoryIds: Array.isArray(advisory) ? advisory.filter((a): a is string => typeof a === 'string') : [],
  };
  const facts: Facts = { ...c.asOf, boot_info: { ...base, advisoryIds: [...base.advisoryIds] } };
  const answers: Facts = {};
  for (const d of c.devices) {
    const r = await read(c, c.kms, encodeIsAppAllowed({ ...base, deviceId: d.id }), decodeBoolString);
    if (!r.ok) {
      facts.answers = answers;
      return skip(id, title, `isAppAllowed(AppBootInfo) could not be read from the KMS (${r.why}); older deployments lack it or cannot take this tuple. The checks above cover its parts one by one.`, { facts });
    }
    answers[d.definition] = { allowed: r.value.allowed, reason: r.value.reason };
    if (r.value.allowed && r.value.reason === '') {
      facts.answers = answers;
      return pass(id, title, `The KMS's own isAppAllowed accepts this boot (device id ${d.definition}): (true, "").`, { expected: '(true, "")', actual: '(true, "")', facts });
    }
  }
  facts.answers = answers;
  const last = Object.values(answers).pop() as { allowed: boolean; reason: string };
  const said = Object.entries(answers).map(([k, v]) => [k, (v as { reason: string }).reason || '(no reason)'] as const);
  // One device id or one answer for all of them: say it once.
  const reasons = new Set(said.map(([, r]) => r)).size === 1 ? said[0]![1] : said.map(([k, r]) => `${k}: ${r}`).join('; ');
  return fail(id, title, `The KMS's own isAppAllowed refuses this boot: ${reasons}.`, { expected: '(true, "")', actual: `(${String(last.allowed)}, ${JSON.stringify(last.reason)})`, facts });
}

// ---- the hook ----

function deviceCandidates(platform: Facts): DeviceCandidate[] {
  const out: DeviceCandidate[] = [];
  const now = str(platform.device_id);
  const legacy = str(platform.device_id_legacy);
  if (isHash(now)) out.push({ id: now.toLowerCase(), definition: 'sha256(PPID), KMS 0.5.6+' });
  if (isHash(legacy) && legacy.toLowerCase() !== now?.toLowerCase()) out.push({ id: legacy.toLowerCase(), definition: 'sha256(quote user_data), KMS up to 0.5.5' });
  return out;
}

async function guarded(id: OnchainCheckId, f: () => Promise<Check>): Promise<Check> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof RpcFailure) return fail(id, TITLES[id], `The chain could not be read: ${e.message}.`);
    return fail(id, TITLES[id], `The check could not run: ${errorMessage(e)}.`);
  }
}

function skipRest(from: OnchainCheckId, reason: string): Check[] {
  return ONCHAIN_CHECK_IDS.slice(ONCHAIN_CHECK_IDS.indexOf(from)).map((id) => skip(id, TITLES[id], reason));
}

/**
 * The on-chain checks as a verifyBundle hook. Never throws: an RPC failure fails the check that
 * needed it, with the reason.
 */
export function onchainHook(o: OnchainOptions): OnchainHook {
  return async (identity, context) => {
    const kp = checkKeyProvider(identity);
    if (!kp.governed) return [kp.check, ...skipRest('onchain.chain', 'Not governed by dstack\'s KMS (see onchain.key-provider).')];
    let rpc: JsonRpcClient;
    try {
      rpc = new JsonRpcClient(o.rpcUrl, { ...(o.fetch ? { fetch: o.fetch } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) });
    } catch (e) {
      return [kp.check, fail('onchain.chain', TITLES['onchain.chain'], `No RPC client: ${errorMessage(e)}.`), ...skipRest('onchain.kms-identity', 'No chain to read (see onchain.chain).')];
    }
    const chain = await checkChain(o, rpc);
    if (chain.block === undefined || chain.kms === undefined) return [kp.check, chain.check, ...skipRest('onchain.kms-identity', 'No chain to read (see onchain.chain).')];
    const platform = (context.facts.platform ?? {}) as Facts;
    const c: Ctx = {
      rpc,
      block: chain.block,
      kms: chain.kms,
      app: '0x' + normalizeAddress(identity.appId),
      identity,
      devices: deviceCandidates(platform),
      platform,
      ids: (context.facts.identity ?? {}) as Facts,
      history: o.history !== false,
      asOf: { chain_id: chain.chainId ?? null, block: chain.block, state: CURRENT_STATE },
    };
    const checks: Check[] = [kp.check, chain.check];
    checks.push(await guarded('onchain.kms-identity', () => checkKmsIdentity(c)));
    checks.push(await guarded('onchain.app-registered', () => checkAppRegistered(c)));
    checks.push(await guarded('onchain.compose-hash-allowed', () => checkComposeHash(c)));
    checks.push(await guarded('onchain.device', () => checkDevice(c)));
    checks.push(await guarded('onchain.os-image', () => checkOsImage(c)));
    checks.push(await guarded('onchain.is-app-allowed', () => checkIsAppAllowed(c)));
    return checks;
  };
}
