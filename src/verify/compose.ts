// The app-compose.json the CVM booted: its SHA-256 must equal the measured compose-hash, and the
// images it runs must be pinned by digest, or the hash pins a name whose code can change.
import { sha256 } from '@noble/hashes/sha2';
import { parse as parseYaml } from 'yaml';
import { bytesToHex, utf8ToBytes } from './bytes.ts';
import { errorMessage, fail, pass, skip, warn, type Check, type Facts } from './check.ts';

const DIGEST_RE = /@sha256:[0-9a-f]{64}$/;

/** compose-hash = sha256 of the exact bytes of app-compose.json (a string is taken as its UTF-8 bytes, never re-serialised). */
export function composeHash(appCompose: string | Uint8Array): string {
  return bytesToHex(sha256(typeof appCompose === 'string' ? utf8ToBytes(appCompose) : appCompose));
}

export function isDigestPinned(image: string): boolean {
  return DIGEST_RE.test(image);
}

export interface ComposeService {
  name: string;
  image: string | null;
  /** True when the service is built at boot from a build context. */
  build: boolean;
}

export interface AppComposeInfo {
  name: string | null;
  runner: string | null;
  services: ComposeService[];
  preLaunchScript: boolean;
  kmsEnabled: boolean | null;
  keyProvider: string | null;
}

/** Parses app-compose.json and the docker-compose YAML inside it. Throws on malformed input. */
export function parseAppCompose(text: string): AppComposeInfo {
  const o = JSON.parse(text) as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error('app-compose is not a JSON object');
  const runner = typeof o.runner === 'string' ? o.runner : null;
  const services: ComposeService[] = [];
  if (runner === 'docker-compose') {
    if (typeof o.docker_compose_file !== 'string') throw new Error('docker_compose_file is missing');
    const doc = parseYaml(o.docker_compose_file, { merge: true }) as { services?: Record<string, unknown> } | null;
    if (!doc || typeof doc !== 'object' || !doc.services || typeof doc.services !== 'object') throw new Error('the compose file has no services');
    for (const [name, svc] of Object.entries(doc.services)) {
      const s = (svc ?? {}) as Record<string, unknown>;
      services.push({ name, image: typeof s.image === 'string' ? s.image : null, build: s.build !== undefined });
    }
  }
  const pre = o.pre_launch_script;
  return {
    name: typeof o.name === 'string' ? o.name : null,
    runner,
    services,
    preLaunchScript: typeof pre === 'string' && pre.trim() !== '',
    kmsEnabled: typeof o.kms_enabled === 'boolean' ? o.kms_enabled : null,
    keyProvider: typeof o.key_provider === 'string' ? o.key_provider : null,
  };
}

export interface ComposePolicy {
  /** Unpinned images fail (true) or warn (false). */
  requirePinnedImages: boolean;
  /** Expected daemon image: a full reference or just `sha256:<hex>`. */
  daemonImage?: string;
}

const DAEMON_RE = /dstack-webhost|(^|[/_-])webhost([:@_-]|$)/;

/** The service that runs the dstack-webhost daemon, recognised by service name or image name. */
export function findDaemonService(info: AppComposeInfo): ComposeService | null {
  return info.services.find((s) => DAEMON_RE.test(s.name) || (s.image !== null && DAEMON_RE.test(s.image.split('@')[0]!))) ?? null;
}

/**
 * `measuredComposeHash` is the compose-hash from the boot events (null when none was established).
 */
export function checkCompose(appCompose: string | Uint8Array | undefined, measuredComposeHash: string | null, policy: ComposePolicy): { checks: Check[]; facts: Facts } {
  const titles = { hash: 'compose-hash matches app-compose.json', images: 'Images pinned by digest', daemon: 'Daemon image' };
  if (appCompose === undefined) {
    const why = 'No app-compose.json was given.';
    return { checks: [skip('compose.hash', titles.hash, why), skip('compose.images', titles.images, why), skip('compose.daemon-image', titles.daemon, why)], facts: {} };
  }
  const actual = composeHash(appCompose);
  const checks: Check[] = [];
  const facts: Facts = { app_compose_sha256: actual };
  let bound = false;
  if (measuredComposeHash === null) {
    checks.push(fail('compose.hash', titles.hash, 'No measured compose-hash was established from the boot events, so the app-compose cannot be tied to the quote.', { actual }));
  } else if (measuredComposeHash === actual) {
    bound = true;
    checks.push(pass('compose.hash', titles.hash, 'SHA-256 of the exact app-compose.json bytes equals the compose-hash measured at boot.', { expected: measuredComposeHash, actual }));
  } else {
    checks.push(
      fail('compose.hash', titles.hash, 'SHA-256 of the given app-compose.json differs from the measured compose-hash: it is not the file this CVM booted (a re-serialised copy also differs).', {
        expected: measuredComposeHash,
        actual,
      }),
    );
  }
  const unbound = 'The app-compose.json does not match the measured compose-hash, so what it says proves nothing.';

  let info: AppComposeInfo;
  try {
    const text = typeof appCompose === 'string' ? appCompose : new TextDecoder('utf-8', { fatal: true }).decode(appCompose);
    info = parseAppCompose(text);
  } catch (e) {
    checks.push(fail('compose.images', titles.images, `app-compose.json cannot be parsed: ${errorMessage(e)}`));
    checks.push(skip('compose.daemon-image', titles.daemon, 'app-compose.json cannot be parsed.'));
    return { checks, facts };
  }
  const images: Facts = {};
  for (const s of info.services) images[s.name] = s.image ?? (s.build ? '(built at boot)' : '(no image)');
  Object.assign(facts, { app_name: info.name, runner: info.runner, images, pre_launch_script: info.preLaunchScript, kms_enabled: info.kmsEnabled });

  if (!bound) {
    checks.push(skip('compose.images', titles.images, unbound, { facts: { images } }));
  } else if (info.runner !== 'docker-compose') {
    checks.push(warn('compose.images', titles.images, `The runner is ${info.runner ?? '(none)'}, not docker-compose: what it runs is not analysed.`));
  } else {
    const loose = info.services.filter((s) => s.image === null || s.build || !isDigestPinned(s.image));
    const listing = loose.map((s) => `${s.name} (${s.build ? 'built at boot' : s.image ?? 'no image'})`).join(', ');
    const pre = info.preLaunchScript ? ' A pre_launch_script also runs; it is covered by the compose-hash but not analysed here.' : '';
    if (loose.length) {
      const summary = `Not pinned by digest: ${listing}. The compose-hash pins these names, not the code behind them.${pre}`;
      checks.push((policy.requirePinnedImages ? fail : warn)('compose.images', titles.images, summary, { facts: { images } }));
    } else {
      checks.push((pre ? warn : pass)('compose.images', titles.images, `All ${info.services.length} service image(s) are pinned by @sha256 digest.${pre}`, { facts: { images } }));
    }
  }

  const daemon = findDaemonService(info);
  if (daemon) facts.daemon_image = daemon.image;
  if (!bound) {
    checks.push(skip('compose.daemon-image', titles.daemon, unbound));
  } else if (!daemon || !daemon.image) {
    checks.push(
      policy.daemonImage
        ? fail('compose.daemon-image', titles.daemon, 'No dstack-webhost daemon service was found in the compose file.', { expected: policy.daemonImage })
        : skip('compose.daemon-image', titles.daemon, 'No dstack-webhost daemon service in the compose file (not a dstack-webhost CVM, or an unrecognised service name).'),
    );
  } else if (policy.daemonImage) {
    const want = policy.daemonImage.includes('@') || !policy.daemonImage.startsWith('sha256:') ? policy.daemonImage : `@${policy.daemonImage}`;
    const ok = want.startsWith('@') ? daemon.image.endsWith(want) : daemon.image === want;
    checks.push(
      ok
        ? pass('compose.daemon-image', titles.daemon, `Service "${daemon.name}" runs the expected daemon image.`, { expected: policy.daemonImage, actual: daemon.image })
        : fail('compose.daemon-image', titles.daemon, `Service "${daemon.name}" runs a different daemon image than expected.`, { expected: policy.daemonImage, actual: daemon.image }),
    );
  } else {
    checks.push(
      isDigestPinned(daemon.image)
        ? pass('compose.daemon-image', titles.daemon, `Service "${daemon.name}" runs ${daemon.image}; compare its digest with a published build of dstack-webhost.`, { actual: daemon.image })
        : fail('compose.daemon-image', titles.daemon, `Service "${daemon.name}" runs ${daemon.image}, which is not pinned by digest.`, { actual: daemon.image }),
    );
  }
  return { checks, facts };
}
