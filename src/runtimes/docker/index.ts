// Layer 1: `image`, `dockerfile` and `compose` tenants on a Docker engine.
//
// ─── Public API ────────────────────────────────────────────────────────────────────────────────
//
//   createDockerDriver(opts?: DockerDriverOptions): DockerDriver
//     opts: { socketPath?, containerRuntime? ('runc'|'sysbox-runc'|'runsc'; default
//             DAEMON_CONTAINER_RUNTIME, else the engine's default), namespace? ('webhost'),
//             pull? (true), passthroughSource? (process.env), passthroughAllow?
//             (DAEMON_ENV_PASSTHROUGH_ALLOW), joinContainer? (the daemon's own container when it
//             runs in one), startTimeoutMs? (120 s) }
//
//   driver.isolation(): Promise<DockerIsolation>
//       What is enforced, read from the engine: { available, error, engine, configuredRuntime,
//       effectiveRuntime, reports: IsolationReport[] (image, dockerfile, compose) } → /_api/substrate.
//   driver.plan(spec: DockerSpec): Promise<DeploymentPlan>
//       The checked plan (policy applied, nothing started). Throws HttpError 400/422 naming the field.
//   driver.prepare(spec: DockerSpec): Promise<PrepareResult>
//       Pulls or builds every image: { images: ResolvedImage[], imageDigests: string[],
//       digestKind: 'repo-digest'|'image-id'|'mixed', warnings }. Each ResolvedImage says which
//       kind its digest is: `repo@sha256:…` (RepoDigests / pinned ref) or `sha256:…` (config id).
//       Store `images` with the deployment; put `imageDigests` in the record's image_digests.
//   driver.start(spec: DockerStartSpec): Promise<DockerInstance>
//       spec = DockerSpec + { deploymentId, images? (from prepare) }. Creates per-instance
//       networks, the project's volumes, and the containers in depends_on order. Runs beside any
//       instance already running (unless update is 'stop-first').
//   driver.adopt(spec: DockerStartSpec): Promise<DockerInstance | null>
//       After a daemon restart: the running containers of that deployment, reused (same ids) if
//       every one matches what start() would create (config hash label), else null.
//   driver.instances(project?): Promise<InstanceSummary[]>      what is on the engine
//   driver.cleanup(project, keepInstanceIds, graceMs?): Promise<void>   drop leftovers
//   driver.remove(project): Promise<void>      teardown: containers, networks, volumes, built images
//
//   DockerInstance: { upstream: {host, port} (updated in place on an engine restart),
//     ready(timeoutMs) (rejects with DockerStartFailure {service, exitCode, output}),
//     stop(graceMs), onExit(fn(DockerExit)), onUpstreamChange(fn), containers: ContainerRef[],
//     services: {name: {host, ports}}, networks: string[], instanceId, warnings }
//
//   DockerSpec: { project, runtime: 'image'|'dockerfile'|'compose', sourceDir, fields: DockerFields,
//     env, limits, attested, dataDir, onOutput?(stream, chunk, service), onEvent?(text) }
//
//   Validation, pure (for the manifest parser and promote):
//     parseDockerFields(obj, runtime, {attested?, passthroughAllow?, dataDir?}): DockerFields
//     DOCKER_MANIFEST_FIELDS, checkImageRef(ref, field, attested),
//     checkComposePolicy(docOrYaml, {attested, dataDir, sourceDir?, limits?, env?, entry?})
//     parseEnvPassthrough(names, allow), checkVolumeName(name, field)
//
// ─── Lifecycle the pipeline follows ───────────────────────────────────────────────────────────
//
//   deploy:   fields = parseDockerFields(...)  →  prepared = prepare(spec)  →  record.image_digests
//             = prepared.imageDigests  →  inst = start({...spec, deploymentId, images})  →
//             await inst.ready(t)  →  route = inst.upstream  →  old.stop(grace)
//   restart:  inst = adopt(spec) ?? start(spec)  →  cleanup(project, [inst.instanceId])
//   teardown: remove(project)
//
// ─── Networking ───────────────────────────────────────────────────────────────────────────────
//
// Every instance gets its own bridge network(s) (`<ns>_<project>_<instance>_<net>`); services find
// each other by service name there; nothing is published to the host. The engine's inter-network
// rules drop traffic between different networks, so one project cannot reach another's
// containers. The daemon reaches the entry at `instance.upstream` = {container IP, port}:
//   - daemon on the host (tests, plain VMs): bridge IPs are routable from the host as is;
//   - daemon in a container (the dstack CVM): pass `joinContainer: <its own container id>`; the
//     driver connects it to each instance network it creates (and disconnects it on stop).
// A Layer 2 tenant (a host process) reaching a Layer 1 service: `instance.services[name]` gives
// {host, ports} of every service; the address changes with each deployment, so the lead should
// hand tenants a stable name (e.g. a per-project forwarder on a unix socket, or a daemon-side
// route) rather than the IP itself.
//
// ─── Why compose runs on the Engine API and not through docker-compose ────────────────────────
//
// docker-compose v1 (the only compose Debian 12 ships) is Python, end-of-life, and interprets the
// file itself: it interpolates `${VAR}` from the daemon's environment (the token included), reads
// `env_file`/`extends`/`secrets` from arbitrary host paths, and accepts every key of the spec, so
// a policy checked on our parse could differ from what it runs. Translating the subset ourselves
// means the checked plan is exactly what is created, every container gets the same hardening and
// labels as image tenants (adoption works the same), per-instance names let the old and new set
// coexist for a health-gated swap, and the CVM image needs no Python.
export { createDockerDriver, KNOWN_RUNTIMES } from './driver.ts';
export type { DockerDriver, DockerDriverOptions, DockerSpec, DockerStartSpec, PrepareResult, InstanceSummary } from './driver.ts';
export { DockerInstance, DockerStartFailure } from './instance.ts';
export type { DockerUpstream, DockerExit, ContainerRef, OutputSink } from './instance.ts';
export type { DockerIsolation, EngineSummary } from './isolation.ts';
export type { ResolvedImage, DigestKind } from './images.ts';
export type { DeploymentPlan, ServicePlan } from './plan.ts';
export { parseDockerFields, dockerFieldsRecord, isDockerRuntime, DOCKER_MANIFEST_FIELDS, DOCKER_RUNTIMES } from './manifest.ts';
export type { DockerFields, DockerRuntime, DockerFieldOptions } from './manifest.ts';
export { checkComposePolicy, composePlan, parseComposeText, DATA_VARIABLE, COMPOSE_FILE_NAMES } from './compose/normalize.ts';
export type { ComposeOptions } from './compose/normalize.ts';
export { checkImageRef, parseImageRef } from './policy/image-ref.ts';
export { parseEnvPassthrough, passthroughAllowFromEnv, HARD_DENY, SECRET_LIKE } from './policy/env-passthrough.ts';
export { checkVolumeName } from './policy/mounts.ts';
export { DEFAULT_CAPS, ALLOWED_CAP_ADD } from './policy/hardening.ts';
export { DockerEngine, socketFromEnv } from './engine/client.ts';
export { EngineUnreachableError, EngineError, ImageNotFoundError, BuildFailedError } from './engine/errors.ts';
export { LABELS } from './names.ts';
