// The app's identity as dstack measured it at boot: the runtime (imr-3) events before the first
// `system-ready`. Events after it are emitted by the app itself and prove nothing about what was
// booted, so they are never read here (dstack's own find_event stops at the same place).
import { sha256 } from '@noble/hashes/sha2';
import type { TdxEvent } from './bundle.ts';
import { bytesToHex, bytesToUtf8, concatBytes, hexToBytes, isAllZero } from './bytes.ts';
import { fail, pass, type Check, type Facts } from './check.ts';
import { isRuntimeEvent } from './eventlog.ts';
import type { TdReport } from './quote.ts';

export interface KeyProviderInfo {
  name: string;
  id: string;
}

export interface BootIdentity {
  appId: string;
  composeHash: string;
  /** Empty when the app runs with no_instance_id. */
  instanceId: string;
  /** The exact key-provider payload text, e.g. {"name":"kms","id":"3059…"}. */
  keyProvider: string | null;
  /** The key-provider payload as hex (mr_system hashes these bytes). */
  keyProviderHex: string | null;
  keyProviderInfo: KeyProviderInfo | null;
  /** KMS-measured OS image hash (KMS mode, OS >= 0.5.3). */
  osImageHash: string | null;
  /** All boot event names in order, up to and including system-ready. */
  bootEvents: string[];
}

/** Events that dstack emits once per boot; a second copy before system-ready is an attack or a bug. */
const SINGLETONS = new Set([
  'system-preparing',
  'rootfs-hash',
  'app-id',
  'compose-hash',
  'upgraded-app-id',
  'instance-id',
  'boot-mr-done',
  'mr-kms',
  'os-image-hash',
  'key-provider',
  'storage-fs',
]);

export type BootEventsResult = { ok: true; identity: BootIdentity } | { ok: false; reason: string };

export function extractBootIdentity(events: readonly TdxEvent[]): BootEventsResult {
  const runtime = events.filter((e) => e.imr === 3 && isRuntimeEvent(e));
  const end = runtime.findIndex((e) => e.event === 'system-ready');
  if (end < 0) return { ok: false, reason: 'there is no system-ready event, so boot events cannot be told apart from app events' };
  const boot = runtime.slice(0, end);
  const byName = new Map<string, TdxEvent>();
  for (const e of boot) {
    if (SINGLETONS.has(e.event) && byName.has(e.event)) return { ok: false, reason: `event "${e.event}" appears twice before system-ready` };
    if (!byName.has(e.event)) byName.set(e.event, e);
  }
  const payload = (name: string) => byName.get(name)?.event_payload;
  const appId = payload('app-id');
  // The oldest images named the compose hash event upgraded-app-id.
  const composeHash = payload('compose-hash') ?? payload('upgraded-app-id');
  const instanceId = payload('instance-id') ?? '';
  if (appId === undefined) return { ok: false, reason: 'no app-id event before system-ready' };
  if (composeHash === undefined) return { ok: false, reason: 'no compose-hash event before system-ready' };
  if (appId.length !== 40) return { ok: false, reason: `app-id payload is ${appId.length / 2} bytes, not 20` };
  if (composeHash.length !== 64) return { ok: false, reason: `compose-hash payload is ${composeHash.length / 2} bytes, not 32` };
  if (instanceId.length !== 0 && instanceId.length !== 40) return { ok: false, reason: `instance-id payload is ${instanceId.length / 2} bytes, not 20 or empty` };
  let keyProvider: string | null = null;
  let keyProviderInfo: KeyProviderInfo | null = null;
  const kp = payload('key-provider');
  if (kp !== undefined) {
    try {
      keyProvider = bytesToUtf8(hexToBytes(kp));
      const o = JSON.parse(keyProvider) as Partial<KeyProviderInfo>;
      if (typeof o.name !== 'string' || typeof o.id !== 'string') throw new Error('missing name or id');
      keyProviderInfo = { name: o.name, id: o.id };
    } catch (e) {
      return { ok: false, reason: `key-provider payload is not {"name","id"} JSON (${e instanceof Error ? e.message : String(e)})` };
    }
  }
  const osImageHash = payload('os-image-hash') ?? null;
  return {
    ok: true,
    identity: { appId, composeHash, instanceId, keyProvider, keyProviderHex: kp ?? null, keyProviderInfo, osImageHash, bootEvents: [...boot.map((e) => e.event), 'system-ready'] },
  };
}

/** mr_system = sha256(mrtd ‖ rtmr0 ‖ rtmr1 ‖ rtmr2 ‖ sha256(key-provider payload) or 32 zero bytes). */
export function mrSystem(r: TdReport, keyProviderPayloadHex: string | null): string {
  const kp = keyProviderPayloadHex === null ? new Uint8Array(32) : sha256(hexToBytes(keyProviderPayloadHex));
  return bytesToHex(sha256(concatBytes(r.mrTd, r.rtmr[0], r.rtmr[1], r.rtmr[2], kp)));
}

/** mr_aggregated = sha256(mrtd ‖ rtmr0..3 [‖ mr_config_id ‖ mr_owner ‖ mr_owner_config if any is non-zero]). */
export function mrAggregated(r: TdReport): string {
  const parts = [r.mrTd, ...r.rtmr];
  if (!isAllZero(r.mrConfigId) || !isAllZero(r.mrOwner) || !isAllZero(r.mrOwnerConfig)) parts.push(r.mrConfigId, r.mrOwner, r.mrOwnerConfig);
  return bytesToHex(sha256(concatBytes(...parts)));
}

export function identityFacts(id: BootIdentity, r: TdReport): Facts {
  return {
    app_id: id.appId,
    compose_hash: id.composeHash,
    instance_id: id.instanceId,
    key_provider: id.keyProvider,
    key_provider_name: id.keyProviderInfo?.name ?? null,
    key_provider_id: id.keyProviderInfo?.id ?? null,
    os_image_hash: id.osImageHash,
    mr_system: mrSystem(r, id.keyProviderHex),
    mr_aggregated: mrAggregated(r),
    boot_events: id.bootEvents,
  };
}

/**
 * `rtmr3Matched` says whether the log's runtime events replay to the signed RTMR3; without that
 * the events are unbound text and establish no identity.
 */
export function checkBootIdentity(events: readonly TdxEvent[], rtmr3Matched: boolean, report: TdReport): { check: Check; identity: BootIdentity | null; facts: Facts } {
  const id = 'boot.identity';
  const title = 'Boot identity (app-id, compose-hash, instance-id, key provider)';
  const r = extractBootIdentity(events);
  if (!r.ok) return { check: fail(id, title, `The boot events are not acceptable: ${r.reason}.`), identity: null, facts: {} };
  const facts = identityFacts(r.identity, report);
  const who = `app-id ${r.identity.appId}, compose-hash ${r.identity.composeHash}, key provider ${r.identity.keyProviderInfo?.name ?? 'none'}`;
  if (!rtmr3Matched) {
    return { check: fail(id, title, `The boot events name ${who}, but they do not replay to the quote's RTMR3, so they are not bound to it.`, { facts }), identity: null, facts: {} };
  }
  return { check: pass(id, title, `Measured at boot, before system-ready: ${who}.`, { facts }), identity: r.identity, facts };
}
