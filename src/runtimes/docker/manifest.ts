// The Layer 1 manifest fields (the reference's `image`, `image_port`, `volumes`,
// `env_passthrough`, plus ours for dockerfile and compose), validated so every bad value is a 4xx
// naming its field. The lead's manifest parser calls parseDockerFields for these keys.
import { badRequest } from '../../lib/http-error.ts';
import type { RuntimeName } from '../driver.ts';
import { checkImageRef } from './policy/image-ref.ts';
import { parseEnvPassthrough } from './policy/env-passthrough.ts';
import { checkMountTarget, checkVolumeName } from './policy/mounts.ts';
import { checkComposePolicy, checkHealthPath, parseComposeText } from './compose/normalize.ts';

export type DockerRuntime = 'image' | 'dockerfile' | 'compose';
export const DOCKER_RUNTIMES: readonly DockerRuntime[] = ['image', 'dockerfile', 'compose'];

export function isDockerRuntime(r: RuntimeName | string | undefined): r is DockerRuntime {
  return r === 'image' || r === 'dockerfile' || r === 'compose';
}

/** Validated Layer 1 settings of one deployment. Nothing here is secret (passthrough holds names only). */
export interface DockerFields {
  /** image: the reference (`org/app:1`, `org/app@sha256:…`). */
  image?: string;
  /** image and dockerfile: the port the container serves HTTP on (dockerfile default 8080). */
  imagePort?: number;
  /** dockerfile: the Dockerfile's path in the source (the reference's `entry`; default `Dockerfile`). */
  dockerfile?: string;
  /** image and dockerfile: project-scoped named volumes. */
  volumes?: Array<{ name: string; mount: string }>;
  /** image and dockerfile: names of daemon env variables forwarded to the container. */
  envPassthrough?: string[];
  /** compose: path of the compose file in the source (default: docker-compose.yaml, compose.yaml, …). */
  composeFile?: string;
  /** compose: the file inline (YAML text or an object), instead of one in the source. */
  compose?: string | Record<string, unknown>;
  /** compose: the HTTP entry (else `x-webhost` in the file). */
  service?: string;
  servicePort?: number;
  /** The path the readiness probe asks for (default `/`); any answer below 500 is ready. */
  healthPath?: string;
  /** image and dockerfile: read-only root filesystem (a tmpfs /tmp is added). */
  readOnly?: boolean;
  /** image and dockerfile: restart policy (default unless-stopped). */
  restart?: 'unless-stopped' | 'on-failure';
  /** stop-first when two copies must never run at once (e.g. a database on a shared volume). */
  update?: 'start-first' | 'stop-first';
}

/** Manifest keys (snake_case, as in the API) that parseDockerFields reads. */
export const DOCKER_MANIFEST_FIELDS: readonly string[] = [
  'image', 'image_port', 'dockerfile', 'volumes', 'env_passthrough', 'compose_file', 'compose', 'service', 'service_port', 'health_path', 'read_only', 'restart', 'update',
];

const FIELD_RUNTIMES: Record<string, readonly DockerRuntime[]> = {
  image: ['image'],
  image_port: ['image', 'dockerfile'],
  dockerfile: ['dockerfile'],
  volumes: ['image', 'dockerfile'],
  env_passthrough: ['image', 'dockerfile'],
  compose_file: ['compose'],
  compose: ['compose'],
  service: ['compose'],
  service_port: ['compose'],
  health_path: ['image', 'dockerfile', 'compose'],
  read_only: ['image', 'dockerfile'],
  restart: ['image', 'dockerfile'],
  update: ['image', 'dockerfile', 'compose'],
};

export interface DockerFieldOptions {
  /** Refuse floating tags now (a project being promoted, or deployed attested). */
  attested?: boolean;
  /** The operator's allowlist for secret-looking passthrough names (passthroughAllowFromEnv()). */
  passthroughAllow?: ReadonlySet<string>;
  /** When known, an inline compose file is checked against the policy right away. */
  dataDir?: string;
}

function port(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw badRequest('invalid_field', `'${field}' must be a port number from 1 to 65535`, field);
  return v;
}

/** A path inside the source: relative, no '..', no backslashes. */
function sourcePath(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '' || v.length > 1024) throw badRequest('invalid_field', `'${field}' must be a path inside the source`, field);
  const parts = v.split('/');
  if (v.startsWith('/') || v.includes('\\') || v.includes('\0') || parts.includes('..')) throw badRequest('invalid_field', `'${field}' must be a relative path inside the source, without '..'`, field);
  return parts.filter((p) => p !== '' && p !== '.').join('/');
}

/**
 * Reads and checks the Layer 1 fields of a manifest object. Fields that do not belong to the
 * runtime are refused (400), so a typo never silently does nothing. `runtime` must already be
 * resolved to a Docker runtime.
 */
export function parseDockerFields(input: Record<string, unknown>, runtime: DockerRuntime, opts: DockerFieldOptions = {}): DockerFields {
  const attested = opts.attested ?? false;
  const allow = opts.passthroughAllow ?? new Set<string>();
  for (const key of DOCKER_MANIFEST_FIELDS) {
    if (input[key] !== undefined && input[key] !== null && !FIELD_RUNTIMES[key]!.includes(runtime)) {
      throw badRequest('invalid_field', `'${key}' applies to runtime ${FIELD_RUNTIMES[key]!.join(' or ')}, not ${runtime}`, key);
    }
  }
  const out: DockerFields = {};
  const has = (k: string) => input[k] !== undefined && input[k] !== null;

  if (runtime === 'image') {
    if (!has('image')) throw badRequest('missing_field', "runtime 'image' needs 'image' (e.g. \"org/app@sha256:…\")", 'image');
    out.image = checkImageRef(input.image, 'image', attested);
    if (!has('image_port')) throw badRequest('missing_field', "runtime 'image' needs 'image_port', the port the container serves HTTP on", 'image_port');
  }
  if (has('image_port')) out.imagePort = port(input.image_port, 'image_port');
  if (runtime === 'dockerfile') {
    out.dockerfile = has('dockerfile') ? sourcePath(input.dockerfile, 'dockerfile') : 'Dockerfile';
    out.imagePort ??= 8080;
  }
  if (has('volumes')) {
    if (!Array.isArray(input.volumes)) throw badRequest('invalid_field', "'volumes' must be a list of {name, mount}", 'volumes');
    if (input.volumes.length > 16) throw badRequest('invalid_field', "'volumes' has more than 16 entries", 'volumes');
    const seen = new Set<string>();
    out.volumes = input.volumes.map((v: unknown, i: number) => {
      const f = `volumes[${i}]`;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('invalid_field', `'${f}' must be {name, mount}`, f);
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) if (k !== 'name' && k !== 'mount') throw badRequest('invalid_field', `'${f}.${k}' is not a volume setting (name, mount)`, `${f}.${k}`);
      const mount = checkMountTarget(o.mount, `${f}.mount`);
      if (seen.has(mount)) throw badRequest('invalid_field', `'${f}.mount' mounts ${mount} twice`, `${f}.mount`);
      seen.add(mount);
      return { name: checkVolumeName(o.name, `${f}.name`), mount };
    });
  }
  const passthrough = parseEnvPassthrough(input.env_passthrough, allow);
  if (passthrough) out.envPassthrough = passthrough;

  if (runtime === 'compose') {
    if (has('compose_file') && has('compose')) throw badRequest('invalid_field', "give either 'compose_file' or an inline 'compose', not both", 'compose');
    if (has('compose_file')) out.composeFile = sourcePath(input.compose_file, 'compose_file');
    if (has('compose')) {
      const c = input.compose;
      if (typeof c === 'string') parseComposeText(c);
      else if (typeof c !== 'object' || Array.isArray(c)) throw badRequest('invalid_field', "'compose' must be a compose document (YAML text or an object)", 'compose');
      out.compose = c as string | Record<string, unknown>;
    }
    if (has('service')) {
      if (typeof input.service !== 'string' || input.service === '') throw badRequest('invalid_field', "'service' must be a service name", 'service');
      out.service = input.service;
    }
    if (has('service_port')) out.servicePort = port(input.service_port, 'service_port');
    if (has('service') !== has('service_port')) {
      throw badRequest('missing_field', "'service' and 'service_port' go together (or use x-webhost: {service, port} in the compose file)", has('service') ? 'service_port' : 'service');
    }
    if (out.compose !== undefined && opts.dataDir) {
      checkComposePolicy(typeof out.compose === 'string' ? parseComposeText(out.compose) : out.compose, {
        attested,
        dataDir: opts.dataDir,
        sourceDir: null,
        entry: { service: out.service, port: out.servicePort },
      });
    }
  }
  if (has('health_path')) out.healthPath = checkHealthPath(input.health_path, 'health_path');
  if (has('read_only')) {
    if (typeof input.read_only !== 'boolean') throw badRequest('invalid_field', "'read_only' must be true or false", 'read_only');
    out.readOnly = input.read_only;
  }
  if (has('restart')) {
    if (input.restart !== 'unless-stopped' && input.restart !== 'on-failure') throw badRequest('invalid_field', "'restart' must be 'unless-stopped' or 'on-failure'", 'restart');
    out.restart = input.restart;
  }
  if (has('update')) {
    if (input.update !== 'start-first' && input.update !== 'stop-first') throw badRequest('invalid_field', "'update' must be 'start-first' or 'stop-first'", 'update');
    out.update = input.update;
  }
  return out;
}

/** The fields as they go into the deployment record's manifest (snake_case, JSON, no secrets). */
export function dockerFieldsRecord(f: DockerFields): Record<string, string | number | boolean | string[] | Array<Record<string, string>> | Record<string, unknown>> {
  const out: ReturnType<typeof dockerFieldsRecord> = {};
  if (f.image !== undefined) out.image = f.image;
  if (f.imagePort !== undefined) out.image_port = f.imagePort;
  if (f.dockerfile !== undefined) out.dockerfile = f.dockerfile;
  if (f.volumes) out.volumes = f.volumes.map((v) => ({ name: v.name, mount: v.mount }));
  if (f.envPassthrough) out.env_passthrough = [...f.envPassthrough];
  if (f.composeFile !== undefined) out.compose_file = f.composeFile;
  if (f.compose !== undefined) out.compose = typeof f.compose === 'string' ? f.compose : f.compose;
  if (f.service !== undefined) out.service = f.service;
  if (f.servicePort !== undefined) out.service_port = f.servicePort;
  if (f.healthPath !== undefined) out.health_path = f.healthPath;
  if (f.readOnly !== undefined) out.read_only = f.readOnly;
  if (f.restart !== undefined) out.restart = f.restart;
  if (f.update !== undefined) out.update = f.update;
  return out;
}
