// The Docker driver: plan → prepare (images) → start (networks, volumes, containers in
// dependency order) → instance; adopt after a daemon restart; cleanup and remove. Stateless:
// the engine's labels and the deployment record (which keeps prepare()'s images) are the state.
import { HttpError, conflict, unprocessable } from '../../lib/http-error.ts';
import type { Limits } from '../driver.ts';
import { DockerEngine, socketFromEnv } from './engine/client.ts';
import type { ContainerSummary } from './engine/types.ts';
import { COMPOSE_FILE_NAMES, composePlan, parseComposeText } from './compose/normalize.ts';
import { configHash, containerBody, type BodyContext } from './container-body.ts';
import { sleep } from './health.ts';
import { ensureRecordedImages, resolveImages, type DigestKind, type ResolvedImage } from './images.ts';
import { DockerInstance, DockerStartFailure, type OutputSink } from './instance.ts';
import { describeIsolation, type DockerIsolation } from './isolation.ts';
import type { DockerFields, DockerRuntime } from './manifest.ts';
import { LABELS, Names, checkProject, newInstanceId } from './names.ts';
import { startOrder, type DeploymentPlan, type ServicePlan } from './plan.ts';
import { passthroughAllowFromEnv, resolvePassthrough } from './policy/env-passthrough.ts';
import { KNOWN_RUNTIMES, parseRuntimeSetting } from './policy/hardening.ts';
import { verifyBindOnDisk } from './policy/mounts.ts';
import { checkImageRef } from './policy/image-ref.ts';
import { singleServicePlan } from './single-service.ts';
import { parseEnvFile, readSourceFile } from './source-files.ts';

export interface DockerDriverOptions {
  /** Default: DOCKER_HOST (unix://) or /var/run/docker.sock. */
  socketPath?: string;
  /** runc, sysbox-runc or runsc. Default: DAEMON_CONTAINER_RUNTIME, else the engine's default runtime. */
  containerRuntime?: string;
  /** Prefix of every engine object name and a label value; several daemons (or test runs) can share one engine. Default `webhost`. */
  namespace?: string;
  /** Pull images that are not present. Default true. */
  pull?: boolean;
  /** Where env_passthrough values come from. Default process.env. */
  passthroughSource?: NodeJS.ProcessEnv;
  /** Secret-looking names the operator allows to pass through. Default DAEMON_ENV_PASSTHROUGH_ALLOW. */
  passthroughAllow?: ReadonlySet<string>;
  /** The daemon's own container (id or name) when it runs in one: it joins every project network so it can reach the entries. */
  joinContainer?: string | null;
  /** Bound on waiting for depends_on conditions while starting. Default 120 s. */
  startTimeoutMs?: number;
}

/** Everything about one Layer 1 deployment that the driver needs. */
export interface DockerSpec {
  project: string;
  runtime: DockerRuntime;
  /** The deployment's source folder (null for `image` and inline compose). */
  sourceDir: string | null;
  fields: DockerFields;
  /** The project's env (values). Compose services get it only where the file asks (`${VAR}`, bare names). */
  env: Readonly<Record<string, string>>;
  limits: Limits;
  attested: boolean;
  /** The project's persistent data folder (absolute); the only host path a compose file may bind read-write. */
  dataDir: string;
  onOutput?: OutputSink;
  /** Daemon-side notes about the instance (restarts, OOM, exits) for the project's log. */
  onEvent?: (text: string) => void;
}

export interface DockerStartSpec extends DockerSpec {
  deploymentId: string;
  /** prepare()'s images, as kept in the deployment. Without them start() prepares again (dev convenience). */
  images?: readonly ResolvedImage[];
}

export interface PrepareResult {
  images: ResolvedImage[];
  /** For the deployment record (`image_digests`), one per distinct image. */
  imageDigests: string[];
  /** `repo-digest` (verifiable against a registry), `image-id` (local config id only), or `mixed`. */
  digestKind: DigestKind | 'mixed';
  warnings: string[];
}

export interface InstanceSummary {
  project: string;
  deploymentId: string;
  instanceId: string;
  containers: Array<{ service: string; id: string; state: string }>;
}

export interface DockerDriver {
  readonly namespace: string;
  readonly engine: DockerEngine;
  isolation(): Promise<DockerIsolation>;
  /** The checked plan (policy applied), without touching the engine. Throws HttpError 4xx. */
  plan(spec: DockerSpec): Promise<DeploymentPlan>;
  /** Resolves (pulls or builds) every image; returns what to record. */
  prepare(spec: DockerSpec): Promise<PrepareResult>;
  /** Starts a new instance beside any running one. Call instance.ready() before moving traffic. */
  start(spec: DockerStartSpec): Promise<DockerInstance>;
  /** After a daemon restart: the running instance of this deployment, unchanged, or null. */
  adopt(spec: DockerStartSpec): Promise<DockerInstance | null>;
  /** Our instances on the engine (all projects, or one). */
  instances(project?: string): Promise<InstanceSummary[]>;
  /** Removes every instance of the project except `keep` (instance ids): leftovers of crashes or restarts. graceMs > 0 stops them gracefully first. */
  cleanup(project: string, keep: readonly string[], graceMs?: number): Promise<void>;
  /** Tears the project down: containers, networks, volumes (its data!) and built images. */
  remove(project: string): Promise<void>;
  close(): void;
}

const noopOutput: OutputSink = () => undefined;

export function createDockerDriver(opts: DockerDriverOptions = {}): DockerDriver {
  const engine = new DockerEngine(opts.socketPath ?? socketFromEnv());
  const names = new Names(opts.namespace ?? 'webhost');
  const configuredRuntime = opts.containerRuntime ?? process.env.DAEMON_CONTAINER_RUNTIME;
  const runtime = configuredRuntime ? parseRuntimeSetting(configuredRuntime) : null;
  const pull = opts.pull ?? true;
  const allow = opts.passthroughAllow ?? passthroughAllowFromEnv();
  const passSource = opts.passthroughSource ?? process.env;
  const joinContainer = opts.joinContainer ?? null;
  const startTimeoutMs = opts.startTimeoutMs ?? 120_000;

  async function plan(spec: DockerSpec): Promise<DeploymentPlan> {
    checkProject(spec.project);
    if (spec.runtime === 'image') checkImageRef(spec.fields.image, 'image', spec.attested); // again: the mode may have changed since validation
    if (spec.runtime !== 'compose') return singleServicePlan(spec.runtime, spec.fields, spec.limits, spec.env);
    let doc: unknown;
    if (spec.fields.compose !== undefined) {
      doc = typeof spec.fields.compose === 'string' ? parseComposeText(spec.fields.compose) : spec.fields.compose;
    } else {
      if (!spec.sourceDir) throw unprocessable('missing_compose', "runtime 'compose' needs a compose file in the source or an inline 'compose'", 'compose_file');
      const candidates = spec.fields.composeFile ? [spec.fields.composeFile] : COMPOSE_FILE_NAMES;
      let text: string | null = null;
      let found = '';
      for (const c of candidates) {
        text = await readSourceFile(spec.sourceDir, c, 'compose_file');
        if (text !== null) {
          found = c;
          break;
        }
      }
      if (text === null) {
        throw unprocessable('missing_compose', `no compose file in the source (looked for ${candidates.join(', ')})`, 'compose_file');
      }
      doc = parseComposeText(text, found);
    }
    const p = composePlan(doc, {
      attested: spec.attested,
      dataDir: spec.dataDir,
      sourceDir: spec.sourceDir,
      limits: spec.limits,
      env: spec.env,
      entry: { service: spec.fields.service, port: spec.fields.servicePort, healthPath: spec.fields.healthPath },
    });
    return spec.fields.update ? { ...p, update: spec.fields.update } : p;
  }

  function resolveCtx(spec: DockerSpec) {
    return {
      engine,
      names,
      project: spec.project,
      sourceDir: spec.sourceDir,
      attested: spec.attested,
      limits: spec.limits,
      pull,
      onOutput: (text: string) => (spec.onOutput ?? noopOutput)('stdout', Buffer.from(text), 'build'),
    };
  }

  async function prepare(spec: DockerSpec): Promise<PrepareResult> {
    const p = await plan(spec);
    const images = await resolveImages(p, resolveCtx(spec));
    const digests = [...new Set(images.map((i) => i.digest))].sort();
    const kinds = new Set(images.map((i) => i.digestKind));
    return { images, imageDigests: digests, digestKind: kinds.size === 1 ? [...kinds][0]! : 'mixed', warnings: p.warnings };
  }

  async function checkRuntime(): Promise<void> {
    if (!runtime) return;
    const info = await engine.info();
    if (!Object.keys(info.Runtimes ?? {}).includes(runtime)) {
      throw new HttpError(503, 'runtime_unavailable', `the daemon is configured for OCI runtime "${runtime}" (DAEMON_CONTAINER_RUNTIME), which the Docker engine does not have (it has ${Object.keys(info.Runtimes ?? {}).join(', ')})`);
    }
  }

  /** The final env of a service: env files, then `environment`, then passthrough (image/dockerfile). */
  async function serviceEnv(spec: DockerSpec, svc: ServicePlan): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const ef of svc.envFiles) {
      const text = await readSourceFile(spec.sourceDir!, ef.path, ef.field, 64 * 1024);
      if (text === null) throw unprocessable('missing_env_file', `'${ef.field}': ${ef.path} is not in the source`, ef.field);
      Object.assign(env, parseEnvFile(text, ef.field));
    }
    Object.assign(env, svc.env);
    if (spec.runtime !== 'compose' && spec.fields.envPassthrough?.length) Object.assign(env, resolvePassthrough(spec.fields.envPassthrough, passSource, allow));
    return env;
  }

  async function bodyContexts(spec: DockerStartSpec, p: DeploymentPlan, images: Map<string, ResolvedImage>, instanceId: string): Promise<Map<string, BodyContext>> {
    const out = new Map<string, BodyContext>();
    for (const svc of p.services) {
      out.set(svc.name, {
        names,
        project: spec.project,
        deploymentId: spec.deploymentId,
        instanceId,
        imageId: images.get(svc.name)!.id,
        runtime,
        env: await serviceEnv(spec, svc),
        isEntry: svc.name === p.entry.service,
      });
    }
    return out;
  }

  async function ensureVolumes(project: string, p: DeploymentPlan): Promise<void> {
    for (const logical of p.volumes) {
      const name = names.volume(project, logical);
      const existing = await engine.inspectVolume(name);
      if (existing) {
        const l = existing.Labels ?? {};
        if (l[LABELS.managed] !== 'true' || l[LABELS.namespace] !== names.ns || l[LABELS.project] !== project) {
          throw conflict('volume_conflict', `an engine volume named ${name} exists but was not created for project '${project}'; it is never adopted`, 'volumes');
        }
        continue;
      }
      await engine.createVolume({ Name: name, Labels: { ...names.base(project), [LABELS.logical]: logical } });
    }
  }

  async function waitFor(inst: DockerInstance, svc: ServicePlan, dep: { service: string; condition: string }, deadline: number): Promise<void> {
    if (dep.condition === 'service_started') return;
    const ref = inst.containers.find((c) => c.service === dep.service);
    if (!ref) return;
    for (;;) {
      const info = await engine.inspectContainer(ref.id);
      const st = info?.State;
      if (dep.condition === 'service_healthy') {
        if (!st?.Health) return; // no healthcheck: compose treats it as started
        if (st.Health.Status === 'healthy') return;
        if (st.Health.Status === 'unhealthy' || (!st.Running && !st.Restarting)) {
          throw new DockerStartFailure(`service ${svc.name} depends on ${dep.service}, which is ${st.Health.Status === 'unhealthy' ? 'unhealthy' : 'not running'}`, dep.service, st.ExitCode, inst.recentOutput(dep.service));
        }
      } else if (st && !st.Running && !st.Restarting) {
        if (st.ExitCode === 0) return;
        throw new DockerStartFailure(`service ${svc.name} depends on ${dep.service} completing successfully; it exited with code ${st.ExitCode}`, dep.service, st.ExitCode, inst.recentOutput(dep.service));
      }
      if (Date.now() > deadline) throw new DockerStartFailure(`service ${svc.name} gave up waiting for ${dep.service} (${dep.condition})`, dep.service, null, inst.recentOutput(dep.service));
      await sleep(100);
    }
  }

  function instanceFor(spec: DockerStartSpec, p: DeploymentPlan, instanceId: string, networks: Map<string, string>): DockerInstance {
    return new DockerInstance({
      engine,
      names,
      project: spec.project,
      deploymentId: spec.deploymentId,
      instanceId,
      plan: p,
      networks,
      joinContainer,
      onOutput: spec.onOutput ?? noopOutput,
      onEvent: spec.onEvent ?? (() => undefined),
    });
  }

  async function start(spec: DockerStartSpec): Promise<DockerInstance> {
    const p = await plan(spec);
    await checkRuntime();
    const images = await ensureRecordedImages(p, spec.images ?? (await prepare(spec)).images, resolveCtx(spec));
    for (const svc of p.services) for (const m of svc.mounts) if (m.type === 'bind') await verifyBindOnDisk(m, { dataDir: spec.dataDir, sourceDir: spec.sourceDir }, m.field);
    // stop-first: the old set is stopped (gracefully) before the new one touches the shared volumes.
    if (p.update === 'stop-first') await cleanup(spec.project, [], 10_000);

    const instanceId = newInstanceId(spec.deploymentId);
    const networks = new Map(p.networks.map((n) => [n.name, names.network(spec.project, instanceId, n.name)]));
    const inst = instanceFor(spec, p, instanceId, networks);
    const deadline = Date.now() + startTimeoutMs;
    try {
      for (const n of p.networks) {
        await engine.createNetwork({
          Name: networks.get(n.name)!,
          Driver: 'bridge',
          Internal: n.internal,
          Labels: { ...names.base(spec.project), [LABELS.deployment]: spec.deploymentId, [LABELS.instance]: instanceId, [LABELS.logical]: n.name },
        });
        if (joinContainer) await engine.connectNetwork(networks.get(n.name)!, joinContainer);
      }
      await ensureVolumes(spec.project, p);
      const bodies = await bodyContexts(spec, p, images, instanceId);
      await inst.watch();
      for (const svc of startOrder(p.services)) {
        for (const dep of svc.dependsOn) await waitFor(inst, svc, dep, deadline);
        const ctx = bodies.get(svc.name)!;
        const body = containerBody(svc, ctx);
        body.Labels = { ...body.Labels, [LABELS.config]: configHash(svc, ctx) };
        const id = await engine.createContainer(names.container(spec.project, instanceId, svc.name), body);
        // The engine attaches one network at create (API < 1.44); the others are connected before start.
        for (const n of svc.networks.slice(1)) await engine.connectNetwork(networks.get(n.name)!, id, { Aliases: n.aliases });
        await engine.startContainer(id);
        await inst.add(svc.name, id);
      }
      return inst;
    } catch (err) {
      await inst.stop(0).catch(() => undefined);
      // Containers created but not yet registered with the instance, and its networks.
      await removeInstance(spec.project, instanceId).catch(() => undefined);
      throw err;
    }
  }

  async function adopt(spec: DockerStartSpec): Promise<DockerInstance | null> {
    if (!spec.images) return null; // without the recorded images we cannot tell our containers from changed ones
    const p = await plan(spec);
    const images = new Map(spec.images.map((i) => [i.service, i]));
    if (p.services.some((s) => !images.has(s.name))) return null;
    const found = await engine.listContainers(names.filter(spec.project, { [LABELS.deployment]: spec.deploymentId }));
    const groups = groupByInstance(found);
    for (const [instanceId, containers] of groups) {
      const bodies = await bodyContexts(spec, p, images, instanceId);
      const matched: Array<{ svc: ServicePlan; c: ContainerSummary }> = [];
      for (const svc of p.services) {
        const c = containers.filter((x) => x.Labels[LABELS.service] === svc.name);
        if (c.length !== 1) break;
        if (c[0]!.Labels[LABELS.config] !== configHash(svc, bodies.get(svc.name)!)) break;
        matched.push({ svc, c: c[0]! });
      }
      if (matched.length !== p.services.length || containers.length !== p.services.length) continue;
      const networks = new Map(p.networks.map((n) => [n.name, names.network(spec.project, instanceId, n.name)]));
      let networksOk = true;
      for (const net of networks.values()) if (!(await engine.inspectNetwork(net))) networksOk = false;
      if (!networksOk) continue;
      const running = await Promise.all(matched.map(async ({ svc, c }) => {
        const info = await engine.inspectContainer(c.Id);
        if (!info) return false;
        if (info.State.Running || info.State.Restarting) return true;
        return info.State.ExitCode === 0 && svc.restart.name === 'no';
      }));
      if (running.includes(false)) continue;
      const inst = instanceFor(spec, p, instanceId, networks);
      const now = Date.now() / 1000;
      await inst.watch(Math.floor(now));
      if (joinContainer) for (const net of networks.values()) await engine.connectNetwork(net, joinContainer).catch(() => undefined);
      for (const { svc, c } of matched) await inst.add(svc.name, c.Id, { since: now, adopted: true });
      return inst;
    }
    return null;
  }

  function groupByInstance(containers: ContainerSummary[]): Map<string, ContainerSummary[]> {
    const groups = new Map<string, ContainerSummary[]>();
    for (const c of containers) {
      const id = c.Labels[LABELS.instance];
      if (!id) continue;
      groups.set(id, [...(groups.get(id) ?? []), c]);
    }
    return groups;
  }

  async function instances(project?: string): Promise<InstanceSummary[]> {
    const found = await engine.listContainers(names.filter(project));
    return [...groupByInstance(found)].map(([instanceId, cs]) => ({
      project: cs[0]!.Labels[LABELS.project]!,
      deploymentId: cs[0]!.Labels[LABELS.deployment]!,
      instanceId,
      containers: cs.map((c) => ({ service: c.Labels[LABELS.service] ?? '?', id: c.Id, state: c.State })),
    }));
  }

  async function removeInstance(project: string, instanceId: string, graceMs = 0): Promise<void> {
    const filter = names.filter(project, { [LABELS.instance]: instanceId });
    const containers = await engine.listContainers(filter);
    if (graceMs > 0) await Promise.all(containers.map((c) => engine.stopContainer(c.Id, Math.ceil(graceMs / 1000)).catch(() => undefined)));
    for (const c of containers) await engine.removeContainer(c.Id, { force: true });
    for (const n of await engine.listNetworks(filter)) {
      if (joinContainer) await engine.disconnectNetwork(n.Id, joinContainer).catch(() => undefined);
      await engine.removeNetwork(n.Id);
    }
  }

  async function cleanup(project: string, keep: readonly string[], graceMs = 0): Promise<void> {
    checkProject(project);
    const ids = new Set<string>();
    for (const c of await engine.listContainers(names.filter(project))) if (c.Labels[LABELS.instance]) ids.add(c.Labels[LABELS.instance]!);
    for (const n of await engine.listNetworks(names.filter(project))) if (n.Labels?.[LABELS.instance]) ids.add(n.Labels[LABELS.instance]!);
    for (const id of ids) if (!keep.includes(id)) await removeInstance(project, id, graceMs);
  }

  async function remove(project: string): Promise<void> {
    await cleanup(project, []);
    for (const v of await engine.listVolumes(names.filter(project))) await engine.removeVolume(v.Name, true);
    for (const img of await engine.listImages(names.filter(project))) await engine.removeImage(img.Id, true).catch(() => false);
  }

  return {
    namespace: names.ns,
    engine,
    isolation: () => describeIsolation(engine, runtime),
    plan,
    prepare,
    start,
    adopt,
    instances,
    cleanup,
    remove,
    close: () => engine.close(),
  };
}

export { KNOWN_RUNTIMES };
