// A compose document → a DeploymentPlan, with the policy applied on the way (see service.ts for
// the per-service keys). Pure: no filesystem or engine access, so the lead can call it while
// validating a manifest; the driver calls the same function again with the real env and folders.
import { parse as parseYaml } from 'yaml';
import { DEFAULT_LIMITS, type Limits } from '../../driver.ts';
import { badRequest } from '../../../lib/http-error.ts';
import { LOGICAL_NAME } from '../names.ts';
import { startOrder, type DeploymentPlan } from '../plan.ts';
import { forbidden, int, invalid, isObj, obj, str, unsupported } from './checks.ts';
import { interpolate } from './interpolate.ts';
import { normalizeService, type ServiceContext } from './service.ts';

export const MAX_COMPOSE_BYTES = 256 * 1024;
export const MAX_SERVICES = 32;
export const COMPOSE_FILE_NAMES = ['docker-compose.yaml', 'compose.yaml', 'docker-compose.yml', 'compose.yml'];

/** The interpolation variable naming the project's data folder (the one host path a compose file may bind). */
export const DATA_VARIABLE = 'WEBHOST_DATA';

export interface ComposeOptions {
  attested: boolean;
  /** The project's writable data folder (absolute). */
  dataDir: string;
  /** The deployment's source folder, or null for an inline compose file. */
  sourceDir?: string | null;
  /** The project's limits; every service is capped at them. */
  limits?: Limits;
  /** The project's env: the only variables `${...}` and bare `environment` names can read. */
  env?: Readonly<Record<string, string>>;
  /** The manifest's `service`/`service_port`/`health_path`, which win over `x-webhost`. */
  entry?: { service?: string; port?: number; healthPath?: string };
}

/** Parses compose YAML (YAML 1.1 like docker-compose; merge keys; bounded aliases). 400 on bad text. */
export function parseComposeText(text: string, field = 'compose'): unknown {
  if (Buffer.byteLength(text) > MAX_COMPOSE_BYTES) throw badRequest('invalid_compose', `'${field}' is larger than ${MAX_COMPOSE_BYTES} bytes`, field);
  try {
    return parseYaml(text, { version: '1.1', merge: true, maxAliasCount: 100, uniqueKeys: true, prettyErrors: false });
  } catch (err) {
    throw badRequest('invalid_compose', `'${field}' is not valid YAML: ${(err as Error).message.split('\n')[0]}`, field);
  }
}

const TOP_LEVEL = new Set(['version', 'name', 'services', 'networks', 'volumes', 'x-webhost']);

function declaredVolumes(v: unknown): Set<string> {
  const out = new Set<string>();
  if (v === undefined || v === null) return out;
  for (const [name, spec] of Object.entries(obj(v, 'volumes'))) {
    const f = `volumes.${name}`;
    if (!LOGICAL_NAME.test(name)) throw forbidden(f, 'is not a plain volume name; volumes are always the project\'s own');
    const d = spec === null ? {} : obj(spec, f);
    for (const k of Object.keys(d)) {
      if (k === 'external') throw forbidden(`${f}.external`, "would use a volume that is not this project's own");
      if (k === 'name') throw forbidden(`${f}.name`, 'would choose the engine name; volume names are scoped to the project by the daemon');
      if (k === 'driver_opts') throw forbidden(`${f}.driver_opts`, 'could bind a host path into the volume');
      if (k === 'driver' && str(d.driver, `${f}.driver`) !== 'local') throw forbidden(`${f}.driver`, "must be 'local'");
      if (!['driver', 'labels'].includes(k) && !k.startsWith('x-')) throw unsupported(`${f}.${k}`);
    }
    out.add(name);
  }
  return out;
}

function declaredNetworks(v: unknown): Map<string, { internal: boolean }> {
  const out = new Map<string, { internal: boolean }>();
  if (v === undefined || v === null) return out;
  for (const [name, spec] of Object.entries(obj(v, 'networks'))) {
    const f = `networks.${name}`;
    if (!LOGICAL_NAME.test(name)) throw invalid(f, 'is not a valid network name');
    const d = spec === null ? {} : obj(spec, f);
    let internal = false;
    for (const k of Object.keys(d)) {
      if (k === 'external') throw forbidden(`${f}.external`, "would join a network outside this project (another project's or the host's)");
      if (k === 'name') throw forbidden(`${f}.name`, 'would choose the engine name; networks are scoped to the deployment by the daemon');
      if (k === 'driver_opts') throw forbidden(`${f}.driver_opts`, 'would change how the network attaches to the host');
      if (k === 'driver') {
        const drv = str(d.driver, `${f}.driver`);
        if (drv !== 'bridge') throw forbidden(`${f}.driver`, `'${drv}' is not allowed: project networks are isolated bridges (host, macvlan and ipvlan reach the host's network)`);
      } else if (k === 'internal') {
        internal = d.internal === true || d.internal === 'true';
      } else if (k === 'ipam' || k === 'enable_ipv6') {
        throw unsupported(`${f}.${k}`, 'is not supported: addresses are assigned by the engine');
      } else if (!['labels', 'attachable'].includes(k) && !k.startsWith('x-')) {
        throw unsupported(`${f}.${k}`);
      }
    }
    out.set(name, { internal });
  }
  return out;
}

/** `x-webhost: {service, port, health_path, update}` at the top of the file. */
function webhostExtension(v: unknown): { service?: string; port?: number; healthPath?: string; update?: 'start-first' | 'stop-first' } {
  if (v === undefined || v === null) return {};
  const x = obj(v, 'x-webhost');
  for (const k of Object.keys(x)) if (!['service', 'port', 'health_path', 'update'].includes(k)) throw invalid(`x-webhost.${k}`, 'is not a known x-webhost setting (service, port, health_path, update)');
  const update = x.update === undefined ? undefined : str(x.update, 'x-webhost.update');
  if (update !== undefined && update !== 'start-first' && update !== 'stop-first') throw invalid('x-webhost.update', "must be 'start-first' or 'stop-first'");
  return {
    service: x.service === undefined ? undefined : str(x.service, 'x-webhost.service'),
    port: x.port === undefined ? undefined : int(x.port, 'x-webhost.port', 1, 65535),
    healthPath: x.health_path === undefined ? undefined : checkHealthPath(x.health_path, 'x-webhost.health_path'),
    update,
  };
}

export function checkHealthPath(v: unknown, field: string): string {
  if (typeof v !== 'string' || !v.startsWith('/') || v.length > 1024 || /[\s\0]/.test(v)) throw badRequest('invalid_field', `'${field}' must be a path starting with '/'`, field);
  return v;
}

/** Interpolates and normalises a parsed compose document. Throws HttpError (400/422) naming the key path. */
export function composePlan(doc: unknown, opts: ComposeOptions): DeploymentPlan {
  const vars = { ...(opts.env ?? {}), [DATA_VARIABLE]: opts.dataDir };
  const { value, missing } = interpolate(doc, vars);
  if (!isObj(value)) throw badRequest('invalid_compose', 'the compose file must be a mapping with a `services` key', 'compose');
  for (const key of Object.keys(value)) {
    if (key.startsWith('x-') || TOP_LEVEL.has(key)) continue;
    if (key === 'secrets' || key === 'configs') throw unsupported(key, "is not supported; use the project's env, or files in the source");
    if (key === 'include') throw unsupported(key, 'is not supported (it reads other files); use one compose file');
    throw unsupported(key, 'is not a compose key this daemon knows');
  }
  const rawServices = obj(value.services, 'services');
  const names = Object.keys(rawServices);
  if (names.length === 0) throw invalid('services', 'must name at least one service');
  if (names.length > MAX_SERVICES) throw invalid('services', `has more than ${MAX_SERVICES} services`);

  const warnings = missing.map((m) => `variable ${m} is not set in the project's env; an empty string was used`);
  const networks = declaredNetworks(value.networks);
  const ctx: ServiceContext = {
    attested: opts.attested,
    dataDir: opts.dataDir,
    sourceDir: opts.sourceDir ?? null,
    limits: opts.limits ?? DEFAULT_LIMITS,
    vars,
    declaredVolumes: declaredVolumes(value.volumes),
    declaredNetworks: new Set(networks.keys()),
    serviceNames: new Set(names),
    warnings,
  };
  const services = names.map((n) => normalizeService(n, rawServices[n], ctx));
  try {
    startOrder(services);
  } catch (err) {
    throw invalid('services', (err as Error).message);
  }

  const x = webhostExtension(value['x-webhost']);
  const entryService = opts.entry?.service ?? x.service ?? (services.length === 1 ? services[0]!.name : undefined);
  const entryField = opts.entry?.service ? 'service' : 'x-webhost.service';
  if (!entryService) throw badRequest('missing_field', "name the HTTP entry service: 'service' and 'service_port' in the manifest, or x-webhost: {service, port} in the compose file", 'service');
  const entry = services.find((s) => s.name === entryService);
  if (!entry) throw badRequest('unknown_service', `'${entryField}' names '${entryService}', which is not a service in the compose file`, entryField);
  if (entry.networkNone) throw invalid(`services.${entry.name}.network_mode`, "is 'none', but this is the HTTP entry service");
  const ports = [...new Set(entry.exposed)];
  const port = opts.entry?.port ?? x.port ?? (ports.length === 1 ? ports[0] : undefined);
  if (port === undefined) {
    throw badRequest('missing_field', `name the port '${entry.name}' serves HTTP on: 'service_port' in the manifest or x-webhost.port (it exposes ${ports.length ? ports.join(', ') : 'no port'})`, 'service_port');
  }

  const usedNetworks = new Set(services.flatMap((s) => s.networks.map((n) => n.name)));
  return {
    runtime: 'compose',
    services,
    networks: [...usedNetworks].sort().map((name) => ({ name, internal: networks.get(name)?.internal ?? false })),
    volumes: [...ctx.declaredVolumes].sort(),
    entry: { service: entry.name, port, healthPath: opts.entry?.healthPath ?? x.healthPath ?? '/' },
    update: x.update ?? 'start-first',
    warnings,
  };
}

/**
 * The policy alone, for manifest validation: throws HttpError 400 (malformed) or 422 (refused:
 * `compose_forbidden`, `compose_unsupported`, `image_not_pinned`, ...) with `field` naming the key
 * path, e.g. `services.db.privileged`. Accepts a parsed document or YAML text.
 */
export function checkComposePolicy(doc: unknown, opts: ComposeOptions): void {
  composePlan(typeof doc === 'string' ? parseComposeText(doc) : doc, opts);
}
