// One compose service → one ServicePlan, key by key. This IS the policy: a key is either
// translated here (and then runs exactly as translated), refused as forbidden (privileges, host
// namespaces, host paths, devices, sockets), refused as unsupported, or ignored with a warning
// when ignoring it is harmless (`ports`: nothing is ever published to the host). Unknown keys are
// refused, so a compose feature added tomorrow cannot slip past the policy.
import path from 'node:path';
import type { Limits } from '../../driver.ts';
import { checkImageRef } from '../policy/image-ref.ts';
import { checkMountTarget, checkVolumeName, resolveBindSource, type HostPathContext } from '../policy/mounts.ts';
import { ALLOWED_CAP_ADD, ALLOWED_SECURITY_OPT, normalizeCap } from '../policy/hardening.ts';
import { LABEL_PREFIX, LOGICAL_NAME } from '../names.ts';
import type { DependsCondition, HealthPlan, MountPlan, RestartName, ServicePlan } from '../plan.ts';
import { bool, forbidden, int, invalid, isObj, keyValues, list, obj, str, strOrList, unsupported, type Obj } from './checks.ts';
import { parseBytes, parseDuration, shellWords } from './units.ts';

export interface ServiceContext extends HostPathContext {
  attested: boolean;
  limits: Limits;
  /** Variables a bare `environment: [NAME]` takes its value from (the project's env). */
  vars: Readonly<Record<string, string>>;
  declaredVolumes: ReadonlySet<string>;
  declaredNetworks: ReadonlySet<string>;
  serviceNames: ReadonlySet<string>;
  warnings: string[];
}

/** Keys refused whatever their value (other than an explicit "off"), with the reason. */
const FORBIDDEN: Record<string, string> = {
  pid: 'would share a PID namespace (host or another container); tenants get their own',
  uts: 'would share the host UTS namespace',
  userns_mode: 'would change the user namespace (host mode disables remapping)',
  cgroup_parent: 'would place the container outside the daemon-managed cgroup',
  devices: 'would expose host devices',
  device_cgroup_rules: 'would allow host device access',
  gpus: 'would expose host devices',
  sysctls: 'would change kernel parameters',
  runtime: 'is chosen by the daemon operator (DAEMON_CONTAINER_RUNTIME), not by a tenant',
  isolation: 'is chosen by the daemon operator',
  external_links: "would link to containers outside this project's compose file",
  use_api_socket: 'would mount the Docker API socket',
  credential_spec: 'is not available to tenants',
};

/** Keys we recognise but do not implement: refused so nothing is silently dropped. */
const UNSUPPORTED: Record<string, string> = {
  configs: 'is not supported; put the file in the source and bind-mount it with a relative path (read-only)',
  secrets: "is not supported; use the project's env (set through the API)",
  extends: 'is not supported (it reads other files); inline the service',
  profiles: 'is not supported; remove services you do not want to run',
  logging: 'is not supported: logs go to the daemon (GET /_api/projects/<name>/logs)',
  storage_opt: 'is not supported',
  mac_address: 'is not supported',
  blkio_config: 'is not supported',
  cpu_count: "is not supported; use 'cpus'",
  cpu_percent: "is not supported; use 'cpus'",
  cpu_period: "is not supported; use 'cpus'",
  cpu_quota: "is not supported; use 'cpus'",
  cpu_rt_runtime: 'is not supported',
  cpu_rt_period: 'is not supported',
  cpuset: 'is not supported',
  scale: 'is not supported: one container per service',
  ulimits: 'is not supported',
  memswap_limit: 'is not supported: swap is always off',
  mem_swappiness: 'is not supported: swap is always off',
  annotations: 'is not supported',
  attach: 'is not supported',
  develop: 'is not supported',
  post_start: 'is not supported',
  pre_stop: 'is not supported',
  label_file: 'is not supported',
  models: 'is not supported',
  provider: 'is not supported',
  volumes_from: 'is not supported; declare named volumes and mount them in each service',
  oom_score_adj: 'is not supported',
};

/** Accepted and not acted upon, with the note that goes into the deploy warnings. */
const IGNORED: Record<string, string> = {
  container_name: 'container names are chosen by the daemon (so two deployments can run side by side)',
  ports: 'ports are never published to the host; the daemon reaches the entry service on its project network',
  tty: 'containers always run without a TTY (their output is collected as logs)',
  stdin_open: 'containers run without stdin',
  pull_policy: 'images are pulled only when missing',
  mem_reservation: 'reservations are not used; only limits are',
  cpu_shares: "use 'cpus' for a CPU limit",
  platform: 'the engine runs images for its own platform',
  domainname: 'ignored',
  restart_policy: 'ignored',
};

const HANDLED = new Set([
  'image', 'build', 'command', 'entrypoint', 'environment', 'env_file', 'working_dir', 'user', 'hostname', 'labels', 'volumes', 'tmpfs',
  'read_only', 'init', 'stop_signal', 'stop_grace_period', 'restart', 'healthcheck', 'depends_on', 'networks', 'network_mode', 'links',
  'expose', 'mem_limit', 'cpus', 'pids_limit', 'deploy', 'cap_add', 'cap_drop', 'security_opt', 'shm_size', 'extra_hosts', 'dns',
  'dns_search', 'dns_opt', 'group_add', 'ipc', 'privileged', 'oom_kill_disable', 'cgroup',
]);

const ENV_KEY = /^[^=\0]+$/;
const HOSTNAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

function argv(v: unknown, field: string): string[] {
  if (typeof v === 'string') return shellWords(v, field);
  return list(v, field).map((x, i) => str(x, `${field}[${i}]`));
}

function cap(limitMax: number, declared: number, field: string, what: string, shown: string): number {
  if (declared > limitMax) throw forbidden(field, `asks for ${what} ${shown}, above the project's limit; raise the project's 'limits' instead`);
  return declared;
}

/** IPv4/IPv6 addresses a name may not be pointed at: loopback, link-local (cloud metadata), unspecified. */
function dangerousHostTarget(ip: string): boolean {
  return ip === 'host-gateway' || /^127\./.test(ip) || /^169\.254\./.test(ip) || ip === '0.0.0.0' || /^(::1?|fe80:.*)$/i.test(ip) || /^::ffff:/i.test(ip);
}

function parseHealth(v: unknown, field: string): { plan: HealthPlan | null; disabled: boolean } {
  const h = obj(v, field);
  for (const k of Object.keys(h)) {
    if (!['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable'].includes(k)) throw unsupported(`${field}.${k}`);
  }
  if (h.disable !== undefined && bool(h.disable, `${field}.disable`)) return { plan: null, disabled: true };
  if (h.test === undefined) throw invalid(`${field}.test`, 'is required');
  let test: string[];
  if (typeof h.test === 'string') test = ['CMD-SHELL', h.test];
  else {
    test = list(h.test, `${field}.test`).map((x, i) => str(x, `${field}.test[${i}]`));
    if (test[0] === 'NONE') return { plan: null, disabled: true };
    if (test[0] !== 'CMD' && test[0] !== 'CMD-SHELL') throw invalid(`${field}.test`, 'must start with "CMD", "CMD-SHELL" or "NONE"');
  }
  const dur = (k: string) => (h[k] === undefined ? null : parseDuration(h[k], `${field}.${k}`));
  return {
    plan: { test, intervalNs: dur('interval'), timeoutNs: dur('timeout'), startPeriodNs: dur('start_period'), retries: h.retries === undefined ? null : int(h.retries, `${field}.retries`, 0, 1000) },
    disabled: false,
  };
}

function parseRestart(v: unknown, field: string): { name: RestartName; maxRetries: number } {
  // YAML 1.1 reads an unquoted `no` as false.
  const s = v === false ? 'no' : str(v, field);
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(s);
  if (!m || (m[2] !== undefined && m[1] !== 'on-failure')) throw invalid(field, 'must be "no", "always", "unless-stopped" or "on-failure[:N]"');
  return { name: m[1] as RestartName, maxRetries: m[2] ? Number(m[2]) : 0 };
}

function parseVolume(v: unknown, field: string, ctx: ServiceContext): MountPlan {
  if (typeof v === 'string') {
    const parts = v.split(':');
    if (parts.length === 1) return { type: 'volume', volume: '', target: checkMountTarget(parts[0], field), readOnly: false, noCopy: false };
    if (parts.length > 3) throw invalid(field, 'must be "source:target[:options]"');
    const [source, target, opts = ''] = parts as [string, string, string?];
    let readOnly = false;
    let noCopy = false;
    for (const o of opts.split(',').filter(Boolean)) {
      if (o === 'ro') readOnly = true;
      else if (o === 'rw') readOnly = false;
      else if (o === 'nocopy') noCopy = true;
      else if (o === 'private' || o === 'rprivate') continue;
      else if (/^(r?shared|r?slave)$/.test(o)) throw forbidden(field, `uses mount propagation '${o}', which would let mounts cross between the container and the host`);
      else if (o === 'z' || o === 'Z') throw unsupported(field, "uses SELinux relabelling ('z'/'Z'), which is not supported");
      else throw invalid(field, `has an unknown option '${o}'`);
    }
    return mountFrom(source, target, readOnly, noCopy, field, ctx);
  }
  const m = obj(v, field);
  for (const k of Object.keys(m)) {
    if (!['type', 'source', 'target', 'read_only', 'bind', 'volume', 'tmpfs', 'consistency'].includes(k)) throw unsupported(`${field}.${k}`);
  }
  const type = str(m.type, `${field}.type`);
  const target = checkMountTarget(m.target, `${field}.target`);
  const readOnly = m.read_only === undefined ? false : bool(m.read_only, `${field}.read_only`);
  if (type === 'tmpfs') {
    const t = m.tmpfs === undefined ? {} : obj(m.tmpfs, `${field}.tmpfs`);
    return { type: 'tmpfs', target, sizeBytes: t.size === undefined ? null : parseBytes(t.size, `${field}.tmpfs.size`) };
  }
  if (type === 'bind') {
    if (m.bind !== undefined) {
      const b = obj(m.bind, `${field}.bind`);
      if (b.propagation !== undefined && !['private', 'rprivate'].includes(str(b.propagation, `${field}.bind.propagation`))) {
        throw forbidden(`${field}.bind.propagation`, 'would let mounts cross between the container and the host');
      }
      for (const k of Object.keys(b)) if (!['propagation', 'create_host_path'].includes(k)) throw unsupported(`${field}.bind.${k}`);
    }
    if (m.source === undefined) throw invalid(`${field}.source`, 'is required for a bind mount');
    return mountFrom(str(m.source, `${field}.source`), target, readOnly, false, field, ctx, true);
  }
  if (type === 'volume') {
    let noCopy = false;
    if (m.volume !== undefined) {
      const vo = obj(m.volume, `${field}.volume`);
      for (const k of Object.keys(vo)) if (k !== 'nocopy') throw unsupported(`${field}.volume.${k}`);
      if (vo.nocopy !== undefined) noCopy = bool(vo.nocopy, `${field}.volume.nocopy`);
    }
    if (m.source === undefined || m.source === '') return { type: 'volume', volume: '', target, readOnly, noCopy };
    return mountFrom(str(m.source, `${field}.source`), target, readOnly, noCopy, field, ctx, false, true);
  }
  throw unsupported(`${field}.type`, `mount type '${type}' is not supported (volume, bind, tmpfs)`);
}

function mountFrom(source: string, target: string, readOnly: boolean, noCopy: boolean, field: string, ctx: ServiceContext, forceBind = false, forceVolume = false): MountPlan {
  const looksLikePath = source.startsWith('/') || source.startsWith('.') || source.startsWith('~') || source.includes('/');
  if (forceBind || (looksLikePath && !forceVolume)) {
    const bind = resolveBindSource(source, readOnly, ctx, field);
    return { type: 'bind', source: bind.source, root: bind.root, target: checkMountTarget(target, field), readOnly: bind.readOnly, field };
  }
  const name = checkVolumeName(source, field);
  if (!ctx.declaredVolumes.has(name)) throw invalid(field, `uses volume '${name}', which is not declared under the top-level 'volumes'`);
  return { type: 'volume', volume: name, target: checkMountTarget(target, field), readOnly, noCopy };
}

function parseDependsOn(v: unknown, field: string, ctx: ServiceContext): Array<{ service: string; condition: DependsCondition }> {
  const out: Array<{ service: string; condition: DependsCondition }> = [];
  const add = (name: string, condition: DependsCondition, f: string, required = true) => {
    if (!ctx.serviceNames.has(name)) {
      if (!required) return;
      throw invalid(f, `names service '${name}', which is not in this compose file`);
    }
    out.push({ service: name, condition });
  };
  if (isObj(v)) {
    for (const [name, spec] of Object.entries(v)) {
      const f = `${field}.${name}`;
      const d = spec === null ? {} : obj(spec, f);
      for (const k of Object.keys(d)) if (!['condition', 'restart', 'required'].includes(k)) throw unsupported(`${f}.${k}`);
      const condition = d.condition === undefined ? 'service_started' : str(d.condition, `${f}.condition`);
      if (!['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition)) {
        throw invalid(`${f}.condition`, 'must be service_started, service_healthy or service_completed_successfully');
      }
      add(name, condition as DependsCondition, f, d.required === undefined ? true : bool(d.required, `${f}.required`));
    }
  } else {
    list(v, field).forEach((x, i) => add(str(x, `${field}[${i}]`), 'service_started', `${field}[${i}]`));
  }
  return out;
}

function parseNetworks(v: unknown, field: string, ctx: ServiceContext, serviceName: string): Array<{ name: string; aliases: string[] }> {
  const out: Array<{ name: string; aliases: string[] }> = [];
  const add = (name: string, aliases: string[], f: string) => {
    if (name !== 'default' && !ctx.declaredNetworks.has(name)) throw invalid(f, `uses network '${name}', which is not declared under the top-level 'networks'`);
    out.push({ name, aliases: [serviceName, ...aliases.filter((a) => a !== serviceName)] });
  };
  if (isObj(v)) {
    for (const [name, spec] of Object.entries(v)) {
      const f = `${field}.${name}`;
      const n = spec === null ? {} : obj(spec, f);
      for (const k of Object.keys(n)) {
        if (k === 'ipv4_address' || k === 'ipv6_address' || k === 'link_local_ips' || k === 'mac_address' || k === 'driver_opts') throw unsupported(`${f}.${k}`, 'is not supported: addresses are assigned by the engine');
        if (k !== 'aliases' && k !== 'priority') throw unsupported(`${f}.${k}`);
      }
      const aliases = n.aliases === undefined ? [] : list(n.aliases, `${f}.aliases`).map((a, i) => str(a, `${f}.aliases[${i}]`));
      for (const [i, a] of aliases.entries()) if (!HOSTNAME.test(a)) throw invalid(`${f}.aliases[${i}]`, 'must be a host name');
      add(name, aliases, f);
    }
  } else {
    list(v, field).forEach((x, i) => add(str(x, `${field}[${i}]`), [], `${field}[${i}]`));
  }
  return out;
}

function parseExpose(v: unknown, field: string): number[] {
  return list(v, field).flatMap((x, i) => {
    const s = str(x, `${field}[${i}]`);
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(s);
    if (!m) throw invalid(`${field}[${i}]`, 'must be a port such as "8080" or "8080/tcp"');
    return m[2] ? [] : [Number(m[1])];
  });
}

/** The container ports named by `ports` entries (used only to infer the entry port). */
function containerPortsOf(v: unknown, field: string): number[] {
  return list(v, field).flatMap((x, i) => {
    if (isObj(x)) return typeof x.target === 'number' ? [x.target] : [];
    const s = str(x, `${field}[${i}]`).replace(/\/(tcp|udp)$/, '');
    const last = s.split(':').pop() ?? '';
    return /^\d+$/.test(last) ? [Number(last)] : [];
  });
}

export function normalizeService(name: string, raw: unknown, ctx: ServiceContext): ServicePlan {
  const base = `services.${name}`;
  if (!LOGICAL_NAME.test(name)) throw invalid(base, 'is not a valid service name (letters, digits, "_", ".", "-"; up to 63 characters)');
  const s = raw === null ? {} : obj(raw, base);
  const f = (k: string) => `${base}.${k}`;

  for (const key of Object.keys(s)) {
    if (key.startsWith('x-')) continue;
    if (FORBIDDEN[key] !== undefined) throw forbidden(f(key), FORBIDDEN[key]);
    if (UNSUPPORTED[key] !== undefined) throw unsupported(f(key), UNSUPPORTED[key]);
    if (IGNORED[key] !== undefined) {
      ctx.warnings.push(`${f(key)}: ${IGNORED[key]}`);
      continue;
    }
    if (!HANDLED.has(key)) throw unsupported(f(key), 'is not a compose key this daemon knows');
  }

  // Privilege switches: only their "off" value is accepted.
  if (s.privileged !== undefined && bool(s.privileged, f('privileged'))) throw forbidden(f('privileged'), 'would give the container full access to the host');
  if (s.oom_kill_disable !== undefined && bool(s.oom_kill_disable, f('oom_kill_disable'))) throw forbidden(f('oom_kill_disable'), 'would let the container exhaust the machine\'s memory');
  if (s.cgroup !== undefined && str(s.cgroup, f('cgroup')) !== 'private') throw forbidden(f('cgroup'), 'must be "private" (the host cgroup namespace is not available)');
  let ipc: 'private' | 'shareable' = 'private';
  if (s.ipc !== undefined) {
    const v = str(s.ipc, f('ipc'));
    if (v !== 'private' && v !== 'shareable') throw forbidden(f('ipc'), `'${v}' would share an IPC namespace with the host or another container`);
    ipc = v;
  }
  let networkNone = false;
  if (s.network_mode !== undefined) {
    const v = str(s.network_mode, f('network_mode'));
    if (v !== 'none') {
      throw forbidden(f('network_mode'), `'${v}' is not allowed: services join their project's own networks (use 'networks'), or 'none'`);
    }
    if (s.networks !== undefined) throw invalid(f('networks'), "cannot be combined with network_mode 'none'");
    networkNone = true;
  }

  // Image or build.
  let image: string | null = null;
  let build: ServicePlan['build'] = null;
  if (s.build !== undefined) {
    if (!ctx.sourceDir) throw invalid(f('build'), 'needs a source folder; an inline compose file can only use images');
    const b = typeof s.build === 'string' ? { context: s.build } : obj(s.build, f('build'));
    for (const k of Object.keys(b)) if (!['context', 'dockerfile', 'args', 'target'].includes(k)) throw unsupported(f(`build.${k}`));
    const context = b.context === undefined ? '.' : str(b.context, f('build.context'));
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(context) || context.startsWith('git@')) throw unsupported(f('build.context'), 'must be a folder inside the source (remote contexts are not supported)');
    const abs = path.resolve(ctx.sourceDir, context);
    const rel = path.relative(ctx.sourceDir, abs);
    if (path.isAbsolute(context) || rel.startsWith('..')) throw forbidden(f('build.context'), 'must be a folder inside the source; a build sees only its own folder');
    const dockerfile = b.dockerfile === undefined ? 'Dockerfile' : str(b.dockerfile, f('build.dockerfile'));
    const dfRel = path.posix.normalize(dockerfile);
    if (path.isAbsolute(dockerfile) || dfRel.startsWith('..')) throw forbidden(f('build.dockerfile'), 'must be a path inside the build context');
    const args: Record<string, string> = {};
    if (b.args !== undefined) {
      for (const kv of keyValues(b.args, f('build.args'))) {
        const value = kv.value ?? ctx.vars[kv.key];
        if (value !== undefined) args[kv.key] = value;
      }
    }
    build = { context: rel === '' ? '.' : rel.split(path.sep).join('/'), dockerfile: dfRel, args, target: b.target === undefined ? null : str(b.target, f('build.target')) };
    if (s.image !== undefined) ctx.warnings.push(`${f('image')}: the service is built from source; the built image is tagged by the daemon`);
  } else if (s.image !== undefined) {
    image = checkImageRef(s.image, f('image'), ctx.attested);
  } else {
    throw invalid(base, "needs 'image' or 'build'");
  }

  // Environment: literal values, or a bare name taken from the project's env (never the daemon's).
  const env: Record<string, string> = {};
  if (s.environment !== undefined) {
    for (const kv of keyValues(s.environment, f('environment'))) {
      if (!ENV_KEY.test(kv.key)) throw invalid(kv.field, 'is not a valid variable name');
      const value = kv.value ?? ctx.vars[kv.key];
      if (value !== undefined) env[kv.key] = value;
    }
  }
  const envFiles: ServicePlan['envFiles'] = [];
  if (s.env_file !== undefined) {
    const items = isObj(s.env_file) ? [s.env_file] : Array.isArray(s.env_file) ? s.env_file : [s.env_file];
    items.forEach((item, i) => {
      const fi = `${f('env_file')}[${i}]`;
      const p = isObj(item) ? str((item as Obj).path, `${fi}.path`) : str(item, fi);
      if (!ctx.sourceDir) throw invalid(fi, 'needs a source folder');
      const abs = path.resolve(ctx.sourceDir, p);
      const rel = path.relative(ctx.sourceDir, abs);
      if (path.isAbsolute(p) || rel.startsWith('..') || rel === '') throw forbidden(fi, 'must be a file inside the source');
      envFiles.push({ path: rel, field: fi });
    });
  }

  // Mounts.
  const mounts: MountPlan[] = [];
  if (s.volumes !== undefined) list(s.volumes, f('volumes')).forEach((v, i) => mounts.push(parseVolume(v, `${f('volumes')}[${i}]`, ctx)));
  if (s.tmpfs !== undefined) {
    strOrList(s.tmpfs, f('tmpfs')).forEach((t, i) => {
      const fi = `${f('tmpfs')}[${i}]`;
      const [target, opts = ''] = t.split(/:(.*)/s) as [string, string?];
      let sizeBytes: number | null = null;
      for (const o of opts.split(',').filter(Boolean)) {
        const [k, v] = o.split('=');
        if (k === 'size') sizeBytes = parseBytes(v, fi);
        else if (!['mode', 'uid', 'gid', 'noexec', 'nosuid', 'nodev', 'exec'].includes(k!)) throw unsupported(fi, `tmpfs option '${k}' is not supported`);
      }
      mounts.push({ type: 'tmpfs', target: checkMountTarget(target, fi), sizeBytes });
    });
  }
  const targets = new Set<string>();
  for (const m of mounts) {
    if (targets.has(m.target)) throw invalid(f('volumes'), `mounts ${m.target} twice`);
    targets.add(m.target);
  }

  // Capabilities and security options.
  const capAdd: string[] = [];
  if (s.cap_add !== undefined) {
    list(s.cap_add, f('cap_add')).forEach((c, i) => {
      const capName = normalizeCap(str(c, `${f('cap_add')}[${i}]`));
      if (!ALLOWED_CAP_ADD.includes(capName)) {
        throw forbidden(`${f('cap_add')}[${i}]`, `adds ${capName}; only ${ALLOWED_CAP_ADD.join(', ')} may be added`);
      }
      capAdd.push(capName);
    });
  }
  const capDrop = s.cap_drop === undefined ? [] : list(s.cap_drop, f('cap_drop')).map((c, i) => normalizeCap(str(c, `${f('cap_drop')}[${i}]`)));
  if (s.security_opt !== undefined) {
    list(s.security_opt, f('security_opt')).forEach((o, i) => {
      const v = str(o, `${f('security_opt')}[${i}]`);
      if (!ALLOWED_SECURITY_OPT.test(v)) throw forbidden(`${f('security_opt')}[${i}]`, `'${v}' would change the container's confinement (seccomp, AppArmor, SELinux and no-new-privileges are set by the daemon)`);
    });
  }

  // Resources: compose values, each capped by the project's limits; the project's limits by default.
  const lim = ctx.limits;
  const memMax = Math.round(lim.memoryMb * 1024 * 1024);
  const deploy = s.deploy === undefined ? {} : obj(s.deploy, f('deploy'));
  for (const k of Object.keys(deploy)) {
    if (k === 'replicas') {
      if (int(deploy.replicas, f('deploy.replicas'), 0, 1000) !== 1) throw unsupported(f('deploy.replicas'), 'must be 1: one container per service');
    } else if (k === 'restart_policy' || k === 'labels' || k === 'update_config' || k === 'rollback_config' || k === 'placement' || k === 'endpoint_mode' || k === 'mode') {
      ctx.warnings.push(`${f(`deploy.${k}`)}: ignored (swarm setting)`);
    } else if (k !== 'resources') throw unsupported(f(`deploy.${k}`));
  }
  const res = deploy.resources === undefined ? {} : obj(deploy.resources, f('deploy.resources'));
  for (const k of Object.keys(res)) {
    if (k === 'reservations') ctx.warnings.push(`${f('deploy.resources.reservations')}: reservations are not used; only limits are`);
    else if (k !== 'limits') throw unsupported(f(`deploy.resources.${k}`));
  }
  const dl = res.limits === undefined ? {} : obj(res.limits, f('deploy.resources.limits'));
  for (const k of Object.keys(dl)) if (!['memory', 'cpus', 'pids'].includes(k)) throw unsupported(f(`deploy.resources.limits.${k}`));
  let memoryBytes = memMax;
  const memDecl = s.mem_limit ?? dl.memory;
  const memField = s.mem_limit !== undefined ? f('mem_limit') : f('deploy.resources.limits.memory');
  if (memDecl !== undefined) memoryBytes = cap(memMax, parseBytes(memDecl, memField), memField, 'memory', String(memDecl));
  if (memoryBytes < 6 * 1024 * 1024) throw invalid(memField, 'must be at least 6m (the engine minimum)');
  let cpus = lim.cpus;
  const cpuDecl = s.cpus ?? dl.cpus;
  const cpuField = s.cpus !== undefined ? f('cpus') : f('deploy.resources.limits.cpus');
  if (cpuDecl !== undefined) {
    const n = Number(cpuDecl);
    if (!Number.isFinite(n) || n <= 0) throw invalid(cpuField, 'must be a positive number of CPUs');
    cpus = cap(lim.cpus, n, cpuField, 'cpus', String(cpuDecl));
  }
  let pids = lim.pids;
  const pidsDecl = s.pids_limit ?? dl.pids;
  const pidsField = s.pids_limit !== undefined ? f('pids_limit') : f('deploy.resources.limits.pids');
  if (pidsDecl !== undefined) pids = cap(lim.pids, int(pidsDecl, pidsField, 1, 1 << 22), pidsField, 'pids', String(pidsDecl));

  // Names and addresses.
  const extraHosts: string[] = [];
  if (s.extra_hosts !== undefined) {
    for (const kv of keyValues(s.extra_hosts, f('extra_hosts'), /[:=]/)) {
      if (kv.value === null || !HOSTNAME.test(kv.key)) throw invalid(kv.field, 'must be "name:address"');
      const ip = kv.value.replace(/^\[|\]$/g, '');
      if (dangerousHostTarget(ip)) {
        throw forbidden(kv.field, `points '${kv.key}' at ${ip}; the host gateway, loopback and link-local (metadata) addresses are not available as host entries`);
      }
      if (!/^[0-9a-fA-F.:]+$/.test(ip)) throw invalid(kv.field, 'must map a name to an IP address');
      extraHosts.push(`${kv.key}:${ip}`);
    }
  }
  const labels: Record<string, string> = {};
  if (s.labels !== undefined) {
    for (const kv of keyValues(s.labels, f('labels'))) {
      if (kv.key.startsWith(LABEL_PREFIX) || kv.key.startsWith('com.docker.compose.')) throw forbidden(kv.field, `sets '${kv.key}', a label the daemon uses to find its containers`);
      labels[kv.key] = kv.value ?? '';
    }
  }
  const links: string[] = s.links === undefined ? [] : list(s.links, f('links')).map((x, i) => str(x, `${f('links')}[${i}]`));
  const dependsOn = s.depends_on === undefined ? [] : parseDependsOn(s.depends_on, f('depends_on'), ctx);
  links.forEach((l, i) => {
    const target = l.split(':')[0]!;
    if (!ctx.serviceNames.has(target)) throw invalid(`${f('links')}[${i}]`, `names service '${target}', which is not in this compose file`);
    if (!dependsOn.some((d) => d.service === target)) dependsOn.push({ service: target, condition: 'service_started' });
  });
  const networks = networkNone ? [] : s.networks === undefined ? [{ name: 'default', aliases: [name] }] : parseNetworks(s.networks, f('networks'), ctx, name);

  const health = s.healthcheck === undefined ? { plan: null, disabled: false } : parseHealth(s.healthcheck, f('healthcheck'));
  const restart = s.restart === undefined ? { name: 'unless-stopped' as const, maxRetries: 0 } : parseRestart(s.restart, f('restart'));
  const stopGraceS = s.stop_grace_period === undefined ? null : Math.min(600, Math.ceil(parseDuration(s.stop_grace_period, f('stop_grace_period')) / 1e9));
  const stopSignal = s.stop_signal === undefined ? null : str(s.stop_signal, f('stop_signal'));
  if (stopSignal !== null && !/^(SIG[A-Z0-9+-]+|\d+)$/.test(stopSignal)) throw invalid(f('stop_signal'), 'must be a signal name such as SIGTERM');
  const workingDir = s.working_dir === undefined ? null : str(s.working_dir, f('working_dir'));
  if (workingDir !== null && !workingDir.startsWith('/')) throw invalid(f('working_dir'), 'must be an absolute path');
  const hostname = s.hostname === undefined ? null : str(s.hostname, f('hostname'));
  if (hostname !== null && !HOSTNAME.test(hostname)) throw invalid(f('hostname'), 'must be a host name');
  const shmSizeBytes = s.shm_size === undefined ? null : cap(memoryBytes, parseBytes(s.shm_size, f('shm_size')), f('shm_size'), 'shm_size', String(s.shm_size));

  return {
    name,
    image,
    build,
    field: build ? f('build') : f('image'),
    command: s.command === undefined || s.command === null ? null : argv(s.command, f('command')),
    entrypoint: s.entrypoint === undefined || s.entrypoint === null ? null : argv(s.entrypoint, f('entrypoint')),
    env,
    envFiles,
    workingDir,
    user: s.user === undefined ? null : str(s.user, f('user')),
    hostname,
    labels,
    mounts,
    readOnly: s.read_only === undefined ? false : bool(s.read_only, f('read_only')),
    init: s.init === undefined ? false : bool(s.init, f('init')),
    stopSignal,
    stopGraceS,
    restart,
    health: health.plan,
    healthDisabled: health.disabled,
    dependsOn,
    networks,
    networkNone,
    capAdd,
    capDrop,
    resources: { memoryBytes, nanoCpus: Math.round(cpus * 1e9), pids },
    shmSizeBytes,
    extraHosts,
    dns: s.dns === undefined ? [] : strOrList(s.dns, f('dns')),
    dnsSearch: s.dns_search === undefined ? [] : strOrList(s.dns_search, f('dns_search')),
    dnsOptions: s.dns_opt === undefined ? [] : strOrList(s.dns_opt, f('dns_opt')),
    groupAdd: s.group_add === undefined ? [] : list(s.group_add, f('group_add')).map((g, i) => str(g, `${f('group_add')}[${i}]`)),
    ipc,
    exposed: [...(s.expose === undefined ? [] : parseExpose(s.expose, f('expose'))), ...(s.ports === undefined ? [] : containerPortsOf(s.ports, f('ports')))],
  };
}
