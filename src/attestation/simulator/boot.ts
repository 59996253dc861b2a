// The simulated CVM's boot story, the way dstack OS 0.5.x tells it: firmware, kernel and initrd
// measurements in RTMR0–2, then the RTMR3 events dstack-util emits while preparing the app
// (system-preparing, app-id, compose-hash, instance-id, boot-mr-done, key-provider,
// system-ready). The app-compose.json text is deterministic JSON, as Phala Cloud and the VMM
// produce it, and its docker_compose_file names the daemon's image by digest: compose-hash is
// the SHA-256 of exactly that text, which is what ties a quote to a published daemon build.

import { createHash } from 'node:crypto';
import { runtimeEventDigest } from '../event-log.ts';
import { RUNTIME_EVENT_TYPE, type TdxEvent } from '../guest-agent-types.ts';
import { bytesToHex, utf8 } from '../hex.ts';
import { deriveBytes } from './derive.ts';
import { MR_TD, OS_IMAGE_HASH } from './platform.ts';

const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const sha384 = (b: Uint8Array) => new Uint8Array(createHash('sha384').update(b).digest());

/** Placeholder daemon image: a digest-pinned reference, as attested mode requires. */
export const DEFAULT_IMAGE_REF = `ghcr.io/dstack-webhost/daemon@sha256:${bytesToHex(sha256(utf8('dstack-webhost/simulator: placeholder daemon image')))}`;
export const DEFAULT_APP_NAME = 'dstack-webhost';

const IMAGE_REF_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;

export interface BootIdentity {
  /** The exact app-compose.json text. */
  appCompose: string;
  composeHash: Uint8Array;
  appId: Uint8Array;
  instanceId: Uint8Array;
  /** The key-provider event payload, a JSON text. */
  keyProviderInfo: string;
  vmConfig: string;
  osImageHash: Uint8Array;
  mrTd: Uint8Array;
  /** Every boot event (RTMR0–3 up to and including system-ready), with digests and payloads. */
  bootEvents: TdxEvent[];
}

/** JSON with keys sorted recursively and compact separators: dstack's normalized app-compose form. */
export function deterministicJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value));
}

export function dockerComposeFile(imageRef: string): string {
  return [
    'services:',
    '  webhost:',
    `    image: ${imageRef}`,
    '    restart: always',
    '    ports:',
    '      - "8080:8080"',
    '    volumes:',
    '      - /var/run/dstack.sock:/var/run/dstack.sock',
    '      - webhost-state:/var/lib/webhost',
    'volumes:',
    '  webhost-state:',
    '',
  ].join('\n');
}

export function appComposeText(imageRef: string, appName: string): string {
  if (!IMAGE_REF_RE.test(imageRef)) throw new Error(`image reference ${JSON.stringify(imageRef)} is not a plain image reference`);
  return deterministicJson({
    manifest_version: 2,
    name: appName,
    runner: 'docker-compose',
    docker_compose_file: dockerComposeFile(imageRef),
    features: [],
    kms_enabled: false,
    gateway_enabled: false,
    local_key_provider_enabled: true,
    key_provider: 'local',
    key_provider_id: '',
    public_logs: false,
    public_sysinfo: true,
    public_tcbinfo: true,
    allowed_envs: [],
    no_instance_id: false,
    secure_time: true,
  });
}

/** The VMM's vm_config JSON (its own formatting: ", " and ": " separators). */
function vmConfigText(osImageHash: Uint8Array): string {
  const entries: [string, unknown][] = [
    ['spec_version', 1],
    ['os_image_hash', bytesToHex(osImageHash)],
    ['cpu_count', 2],
    ['memory_size', 4294967296],
    ['qemu_single_pass_add_pages', false],
    ['pic', false],
    ['pci_hole64_size', 0],
    ['num_gpus', 0],
    ['num_nvswitches', 0],
    ['hugepages', false],
    ['hotplug_off', true],
    ['qemu_version', '9.2.1'],
  ];
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`;
}

function bootEvent(imr: number, eventType: number, payload: Uint8Array, measured: Uint8Array = payload): TdxEvent {
  return { imr, event_type: eventType, digest: bytesToHex(sha384(measured)), event: '', event_payload: bytesToHex(payload) };
}

/**
 * RTMR0–2 in the order OVMF and the loader measure them. Digests are SHA-384 of what the event
 * stands for (a separator is SHA-384 of four zero bytes, as TCG defines it); contents are the
 * simulator's own, since nothing real was booted.
 */
function firmwareEvents(): TdxEvent[] {
  const label = (s: string) => utf8(`dstack-webhost simulator: ${s}`);
  const separator = () => new Uint8Array(4);
  const EV = { separator: 4, action: 0x80000007, tag: 6, platformConfig: 10, handoff: 0x8000000b, blob2: 0x8000000a, varConfig: 0x80000001, varBoot: 0x80000002, bootApp: 0x80000003 };
  return [
    bootEvent(0, EV.handoff, label('TD HOB and configuration tables')),
    bootEvent(0, EV.blob2, label('firmware volume')),
    ...['SecureBoot', 'PK', 'KEK', 'db', 'dbx'].map((v) => bootEvent(0, EV.varConfig, label(`EFI variable ${v}`))),
    bootEvent(0, EV.separator, separator()),
    ...['loader', 'RSDP', 'tables'].map((t) => bootEvent(0, EV.platformConfig, utf8('ACPI DATA'), label(`ACPI ${t}`))),
    bootEvent(0, EV.varBoot, label('EFI variable BootOrder')),
    bootEvent(0, EV.varBoot, label('EFI variable Boot0000')),
    bootEvent(1, EV.bootApp, label('kernel image')),
    bootEvent(1, EV.action, utf8('Calling EFI Application from Boot Option')),
    bootEvent(1, EV.separator, separator()),
    bootEvent(2, EV.tag, utf8('LOADED_IMAGE::LoadOptions'), label('kernel command line')),
    bootEvent(2, EV.tag, utf8('Linux initrd'), label('initrd')),
    bootEvent(1, EV.action, utf8('Exit Boot Services Invocation')),
    bootEvent(1, EV.action, utf8('Exit Boot Services Returned with Success')),
  ];
}

/** A runtime (RTMR3) event in the full form, its digest computed from name and payload. */
export function runtimeEvent(event: string, payload: Uint8Array = new Uint8Array()): TdxEvent {
  const digest = bytesToHex(runtimeEventDigest(event, payload));
  return { imr: 3, event_type: RUNTIME_EVENT_TYPE, digest, event, event_payload: bytesToHex(payload) };
}

export interface BootOptions {
  seed: Uint8Array;
  imageRef?: string;
  appName?: string;
}

export function buildBootIdentity(o: BootOptions): BootIdentity {
  const appCompose = appComposeText(o.imageRef ?? DEFAULT_IMAGE_REF, o.appName ?? DEFAULT_APP_NAME);
  const composeHash = sha256(utf8(appCompose));
  // Without a KMS, dstack's app-id is the first 20 bytes of the compose hash.
  const appId = composeHash.slice(0, 20);
  const instanceId = sha256(new Uint8Array([...deriveBytes(o.seed, 'instance-id-seed', 20), ...appId])).slice(0, 20);
  const keyProviderInfo = JSON.stringify({ name: 'local-sgx', id: bytesToHex(deriveBytes(o.seed, 'local-key-provider-mr', 32)) });
  const rt = runtimeEvent;
  const bootEvents = [
    ...firmwareEvents(),
    rt('system-preparing'),
    rt('app-id', appId),
    rt('compose-hash', composeHash),
    rt('instance-id', instanceId),
    rt('boot-mr-done'),
    rt('key-provider', utf8(keyProviderInfo)),
    rt('system-ready'),
  ];
  return {
    appCompose,
    composeHash,
    appId,
    instanceId,
    keyProviderInfo,
    vmConfig: vmConfigText(OS_IMAGE_HASH),
    osImageHash: OS_IMAGE_HASH,
    mrTd: MR_TD,
    bootEvents,
  };
}
