// The deploy pipeline: fetch the source (git at an exact ref, or an uploaded archive), resolve the
// manifest (request > repo project.json > autodetect), make an immutable content-addressed
// deployment, install dependencies sandboxed, start it health-gated, and only then record it as
// current. A failure at any step leaves the project exactly as it was.
import { cp, mkdir, mkdtemp, rename, rm, readdir } from 'node:fs/promises';
import path from 'node:path';
import { badRequest, notFound, unprocessable, conflict, HttpError } from '../lib/http-error.ts';
import { KeyedMutex } from '../lib/keyed-mutex.ts';
import { deploymentId, deploymentRef, type DeploymentRecord } from '../verify/deployment.ts';
import type { DeploymentRef } from '../verify/bundle.ts';
import type { ProcessRuntime } from '../runtimes/driver.ts';
import { isDockerRuntime, parseDockerFields, dockerFieldsRecord, type DockerDriver, type DockerFields, type ResolvedImage } from '../runtimes/docker/index.ts';
import { resolveLimits, parseGitSource, type DeployManifest } from './manifest.ts';
import { readRepoManifest, resolveRuntime } from './resolve-runtime.ts';
import { ensureOwnedDir, sealTree } from '../runtimes/tenant-dirs.ts';
import { checkoutGit } from './git-source.ts';
import { extractArchive, type ArchiveLimits } from './tarball.ts';
import { treeHash } from './tree-hash.ts';
import { redactUrl } from './redact.ts';
import type { ProjectRecord, StoredDeployment, ProjectSpec } from './model.ts';
import type { ProjectStore } from './store.ts';
import type { Runner } from './runner.ts';
import type { AppLogs } from './app-logs.ts';
import type { EnvDigester } from './env-digest.ts';
import type { AuditTrail } from './audit-trail.ts';

export const RETAINED_DEPLOYMENTS = 5;

/** A management action, reported after it took effect (the audit log listens here). */
export interface ProjectEvent {
  project: ProjectRecord;
  action: 'deploy' | 'redeploy' | 'rollback' | 'env' | 'teardown';
  deployment: DeploymentRef | null;
  detail: Record<string, unknown>;
}

export interface DeployerOptions {
  store: ProjectStore;
  runner: Runner;
  logs: AppLogs;
  envDigest: EnvDigester;
  archiveLimits: ArchiveLimits;
  /** Whether project `name` can be served on `port` (free, or already its own); false when something else holds it. */
  portAvailable: (port: number, name: string) => Promise<boolean>;
  ingressPort: number;
  /** Records actions on attested projects (promotion opens the log). */
  audit?: AuditTrail;
  /** Layer 1 (image, dockerfile, compose); absent when no Docker engine answers. */
  docker?: DockerDriver;
  /** The operator's allowlist for secret-looking env_passthrough names. */
  passthroughAllow?: ReadonlySet<string>;
  /** Called after every successful action (the action already happened). */
  onEvent?: (e: ProjectEvent) => Promise<void>;
}

export interface DeployResult {
  project: ProjectRecord;
  deployment: StoredDeployment;
  changed: boolean;
}

/** The source of a deploy: a git location, or an uploaded archive. */
export type SourceInput =
  | { kind: 'git'; url: string; ref: string | undefined }
  | { kind: 'upload'; archive: Blob; label: string | undefined }
  /** No files: an image (or an inline compose file) named in the manifest. */
  | { kind: 'none' };

export class Deployer {
  private readonly opts: DeployerOptions;
  private readonly lock = new KeyedMutex();

  constructor(opts: DeployerOptions) {
    this.opts = opts;
  }

  /** Serializes every action on one project. */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(name, fn);
  }

  /**
   * POST /_api/projects: creates the project, or deploys a new version of an existing one.
   * `mode: "attested"` runs exactly the promotion `promote` runs, after the deploy; an attested
   * project never goes back to dev.
   */
  deploy(m: DeployManifest, upload?: Blob): Promise<DeployResult> {
    const existing = this.opts.store.get(m.name);
    if (m.mode === 'dev' && existing?.mode === 'attested') {
      throw conflict('already_attested', `project '${m.name}' is attested and cannot go back to dev mode; delete it to start over`, 'mode');
    }
    if (m.mode === 'attested' && !this.opts.audit) throw unprocessable('attestation_unavailable', 'attested mode is not available on this daemon', 'mode');
    let source: SourceInput;
    if (upload) source = { kind: 'upload', archive: upload, label: m.source };
    else if (m.source) source = { kind: 'git', url: parseGitSource(m.source), ref: m.ref };
    else if (m.runtime === 'image' || (m.runtime === 'compose' && m.docker.compose !== undefined)) source = { kind: 'none' };
    else throw badRequest('missing_field', "'source' is required: a git URL (or upload files as multipart)", 'source');
    const spec: ProjectSpec = {
      source: m.source,
      ref: m.ref,
      sourceKind: source.kind,
      runtime: m.runtime,
      entry: m.entry,
      listen: m.listen,
      limits: m.limits,
      claimedCommit: m.claimedCommit,
      docker: m.docker,
      uses: m.uses,
    };
    return this.withLock(m.name, async () => {
      const r = await this.run(m.name, spec, source, m.env, 'deploy');
      if (m.mode === 'attested' && r.project.mode !== 'attested') return { ...r, project: await this.promoteLocked(r.project, r.deployment) };
      return r;
    });
  }

  /** dev → attested: opens the project's audit log with `promote` and binds it from now on. */
  promote(name: string): Promise<ProjectRecord> {
    return this.withLock(name, async () => {
      const p = this.require(name);
      if (p.mode === 'attested') throw conflict('already_attested', `project '${name}' is already in attested mode`);
      if (!this.opts.audit) throw unprocessable('attestation_unavailable', 'attested mode is not available on this daemon');
      return this.promoteLocked(p, await this.currentDeployment(p));
    });
  }

  private async promoteLocked(p: ProjectRecord, d: StoredDeployment): Promise<ProjectRecord> {
    const src = d.record.source;
    if (d.docker && isDockerRuntime(d.runtime)) {
      // Attested mode pins every image by registry digest: a floating tag is refused here.
      const fields = parseDockerFields(p.spec.docker ?? {}, d.runtime, { attested: true, passthroughAllow: this.opts.passthroughAllow });
      await this.dockerDriver().plan({ ...this.dockerSpec(p, d.runtime, fields, this.opts.store.sourceDir(p.name, d.id)), attested: true });
    }
    // The log entry comes first: a project is never attested without its promote entry.
    await this.opts.audit!.promote(p.name, deploymentRef(d.record), { source: src.url, ref: src.ref, commit: src.commit_sha, tree_hash: src.tree_hash });
    const now = new Date().toISOString();
    const updated: ProjectRecord = { ...p, mode: 'attested', promoted_at: now, updated_at: now, incarnation: p.incarnation + 1 };
    await this.opts.store.save(updated);
    return updated;
  }

  /** Re-fetches the project's ref and deploys it if anything changed (uploads re-use their files). */
  redeploy(name: string): Promise<DeployResult> {
    return this.withLock(name, async () => {
      const p = this.require(name);
      if (p.spec.sourceKind === 'upload') {
        const d = await this.currentDeployment(p);
        await this.opts.runner.activate(p, d);
        return { project: p, deployment: d, changed: false };
      }
      // Git sources are fetched again; an image is pulled again (a tag may have moved).
      const source: SourceInput = p.spec.sourceKind === 'git' ? { kind: 'git', url: p.spec.source!, ref: p.spec.ref } : { kind: 'none' };
      return this.run(name, p.spec, source, undefined, 'redeploy');
    });
  }

  /**
   * Changes the project's env and nothing else: a new deployment with the same files (copied) and
   * images, the new env names and keyed digest. Values never leave the project record.
   */
  setEnv(name: string, env: Record<string, string>): Promise<DeployResult> {
    return this.withLock(name, async () => {
      const { store } = this.opts;
      const p = this.require(name);
      const d = await this.currentDeployment(p);
      const record: DeploymentRecord = {
        ...d.record,
        manifest: { ...d.record.manifest, env_names: Object.keys(env).sort(), env_digest: this.opts.envDigest(env) },
      };
      const id = deploymentId(record);
      const updated: ProjectRecord = { ...p, env, updated_at: new Date().toISOString() };
      if (id === p.current) {
        await store.save(updated);
        return { project: updated, deployment: d, changed: false };
      }
      let created = false;
      try {
        let next = await store.loadDeployment(name, id);
        if (!next) {
          await mkdir(store.deploymentDir(name, id), { recursive: true, mode: 0o750 });
          await cp(store.sourceDir(name, d.id), store.sourceDir(name, id), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
          created = true;
          await sealTree(store.deploymentDir(name, id), p.gid);
          next = { ...d, id, created_at: new Date().toISOString(), record };
          await store.saveDeployment(name, next);
        }
        await this.opts.runner.activate(updated, next);
        const history = [id, ...p.history.filter((h) => h !== id)];
        const saved: ProjectRecord = { ...updated, current: id, history: history.slice(0, RETAINED_DEPLOYMENTS) };
        await store.save(saved);
        created = false;
        for (const old of history.slice(RETAINED_DEPLOYMENTS)) await store.removeDeployment(name, old).catch(() => undefined);
        await this.emit({
          project: saved,
          action: 'env',
          deployment: deploymentRef(next.record),
          detail: { env_names: record.manifest.env_names, env_digest: record.manifest.env_digest, from_deployment: p.current },
        });
        return { project: saved, deployment: next, changed: true };
      } catch (err) {
        if (created) await store.removeDeployment(name, id).catch(() => undefined);
        throw err;
      }
    });
  }

  /** Switches to a retained earlier deployment (the previous one by default). */
  rollback(name: string, to: string | undefined): Promise<DeployResult> {
    return this.withLock(name, async () => {
      const p = this.require(name);
      const target = to ?? p.history.find((id) => id !== p.current);
      if (!target) throw conflict('no_earlier_deployment', `project '${name}' has no earlier deployment to roll back to`, 'deployment');
      if (!p.history.includes(target)) {
        throw badRequest('unknown_deployment', `deployment ${target.slice(0, 12)} is not one of the ${p.history.length} retained deployments of '${name}'`, 'deployment');
      }
      const d = await this.opts.store.loadDeployment(name, target);
      if (!d) throw unprocessable('deployment_missing', `deployment ${target.slice(0, 12)} is no longer on disk`, 'deployment');
      const changed = target !== p.current;
      if (changed) {
        await this.opts.runner.activate(p, d);
        const from = p.current;
        const updated: ProjectRecord = { ...p, current: target, updated_at: new Date().toISOString() };
        await this.opts.store.save(updated);
        await this.emit({ project: updated, action: 'rollback', deployment: deploymentRef(d.record), detail: { from_deployment: from, to_deployment: target } });
        return { project: updated, deployment: d, changed };
      }
      return { project: p, deployment: d, changed };
    });
  }

  /** Tears a project down: stops it, then removes its record, deployments, data and logs. */
  remove(name: string): Promise<void> {
    return this.withLock(name, async () => {
      const p = this.require(name);
      await this.opts.runner.deactivate(name);
      await this.opts.runner.removeContainers(name);
      await this.opts.store.remove(name);
      await this.opts.logs.remove(name);
      await this.emit({ project: p, action: 'teardown', deployment: null, detail: {} });
    });
  }

  private dockerDriver(): DockerDriver {
    if (!this.opts.docker) throw unprocessable('runtime_unavailable', 'this runtime needs a Docker engine, and none answers on this daemon', 'runtime');
    return this.opts.docker;
  }

  private dockerSpec(p: Pick<ProjectRecord, 'name' | 'env' | 'mode'>, runtime: 'image' | 'dockerfile' | 'compose', fields: DockerFields, sourceDir: string | null, limits = resolveLimits()) {
    return {
      project: p.name,
      runtime,
      sourceDir,
      fields,
      env: p.env,
      limits,
      attested: p.mode === 'attested',
      dataDir: this.opts.store.dataDir(p.name),
      onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => this.opts.logs.write(p.name, stream, chunk),
      onEvent: (text: string) => this.opts.logs.system(p.name, text),
    };
  }

  require(name: string): ProjectRecord {
    const p = this.opts.store.get(name);
    if (!p) throw notFound(`project '${name}' not found`);
    return p;
  }

  async currentDeployment(p: ProjectRecord): Promise<StoredDeployment> {
    const d = await this.opts.store.loadDeployment(p.name, p.current);
    if (!d) throw unprocessable('deployment_missing', `the current deployment of '${p.name}' is missing on disk`);
    return d;
  }

  private async emit(e: ProjectEvent): Promise<void> {
    await this.opts.audit?.record(e);
    await this.opts.onEvent?.(e);
  }

  private async run(name: string, spec: ProjectSpec, source: SourceInput, requestEnv: Record<string, string> | undefined, action: 'deploy' | 'redeploy'): Promise<DeployResult> {
    const { store } = this.opts;
    const existing = store.get(name);
    const stage = await mkdtemp(path.join(store.tmpDir, `stage-${name}-`));
    const isNew = !existing;
    let createdDeployment: string | null = null;
    try {
      const files = path.join(stage, 'src');
      let commit: string | null = null;
      let tree: string | null = null;
      if (source.kind === 'none') {
        await mkdir(files);
      } else if (source.kind === 'git') {
        const co = await checkoutGit(source.url, source.ref, files, stage);
        commit = co.commit;
        tree = co.tree;
        const ours = await treeHash(files);
        if (ours !== tree) throw unprocessable('checkout_mismatch', `the checked-out files do not hash to the commit's tree (${ours} != ${tree})`, 'source');
      } else {
        await extractArchive(source.archive, files, this.opts.archiveLimits);
        tree = await treeHash(files);
      }
      const repo = await readRepoManifest(files);
      const resolved = await resolveRuntime(spec, repo, files, source.kind === 'none');
      const listen = spec.listen ?? repo?.listen;
      if (listen) await this.checkPort(name, listen.port);
      const env = { ...(repo?.env ?? {}), ...(requestEnv ?? existing?.env ?? {}) };
      const limits = resolveLimits(repo?.limits, spec.limits);
      const uses = spec.uses ?? repo?.uses;

      // Layer 1: check the fields against the policy and resolve (pull or build) every image
      // before anything is recorded; the image digests are part of the deployment's identity.
      let docker: { fields: DockerFields; images: ResolvedImage[] } | undefined;
      let imageDigests: string[] = [];
      if (isDockerRuntime(resolved.runtime)) {
        const dockerInput = resolved.runtime === 'dockerfile' && spec.entry && spec.docker?.dockerfile === undefined ? { ...spec.docker, dockerfile: spec.entry } : (spec.docker ?? {});
        const fields = parseDockerFields(dockerInput, resolved.runtime, { attested: existing?.mode === 'attested', passthroughAllow: this.opts.passthroughAllow });
        const prepared = await this.dockerDriver().prepare(
          this.dockerSpec({ name, env, mode: existing?.mode ?? 'dev' }, resolved.runtime, fields, source.kind === 'none' ? null : files, limits),
        );
        docker = { fields, images: prepared.images };
        imageDigests = [...prepared.imageDigests].sort();
      }
      const record: DeploymentRecord = {
        v: 1,
        project: name,
        source: {
          kind: source.kind === 'git' ? 'git' : source.kind === 'upload' ? 'tarball' : resolved.runtime === 'image' ? 'image' : 'inline',
          url: source.kind === 'git' ? redactUrl(source.url) : source.kind === 'upload' && source.label ? redactUrl(source.label) : null,
          ref: source.kind === 'git' ? (source.ref ?? null) : null,
          commit_sha: commit,
          tree_hash: tree,
        },
        manifest: {
          runtime: resolved.runtime,
          entry: resolved.entry,
          env_names: Object.keys(env).sort(),
          env_digest: this.opts.envDigest(env),
          listen: listen ? { port: listen.port, protocol: listen.protocol } : null,
          limits: { memory_mb: limits.memoryMb, pids: limits.pids, cpus: limits.cpus },
          ...(uses ? { uses } : {}),
          ...(docker ? dockerFieldsRecord(docker.fields) : {}),
        } as DeploymentRecord['manifest'],
        image_digests: imageDigests,
      };
      const id = deploymentId(record);
      const stored: StoredDeployment = {
        id,
        created_at: new Date().toISOString(),
        record,
        runtime: resolved.runtime,
        entry: resolved.entry,
        listen,
        limits,
        claimed_commit: source.kind === 'upload' ? (spec.claimedCommit ?? null) : null,
        ...(docker ? { docker } : {}),
        ...(uses ? { uses } : {}),
      };

      const uid = existing?.uid ?? store.allocateId();
      const project: ProjectRecord = existing
        ? { ...existing, spec, env, updated_at: stored.created_at }
        : {
            name,
            mode: 'dev',
            created_at: stored.created_at,
            updated_at: stored.created_at,
            promoted_at: null,
            incarnation: 0,
            uid,
            gid: uid,
            spec,
            env,
            current: id,
            history: [],
          };
      await this.prepareTenant(project);

      // Content addressing: the same source and manifest make the same deployment, kept once.
      const known = await store.loadDeployment(name, id);
      const deployment = known ?? stored;
      if (!known) {
        await mkdir(store.deploymentDir(name, id), { recursive: true, mode: 0o750 });
        await rename(files, store.sourceDir(name, id));
        createdDeployment = id;
        if (resolved.runtime !== 'static' && !isDockerRuntime(resolved.runtime)) {
          const before = new Set(await readdir(store.sourceDir(name, id)));
          await this.opts.runner.driver(resolved.runtime as ProcessRuntime).prepare(this.opts.runner.spec(project, deployment, store.runDir(name)));
          const added = (await readdir(store.sourceDir(name, id))).filter((e) => !before.has(e)).sort();
          if (added.length) deployment.installed = added;
        }
        await sealTree(store.deploymentDir(name, id), project.gid);
        await store.saveDeployment(name, deployment);
      }

      const previous = existing?.current;
      const changed = previous !== id;
      if (changed || !this.opts.runner.current(name)) await this.opts.runner.activate(project, deployment);
      const history = [id, ...(existing?.history ?? []).filter((h) => h !== id)];
      const kept = history.slice(0, RETAINED_DEPLOYMENTS);
      const updated: ProjectRecord = { ...project, current: id, history: kept };
      await store.save(updated);
      createdDeployment = null;
      for (const old of history.slice(RETAINED_DEPLOYMENTS)) await store.removeDeployment(name, old).catch(() => undefined);
      if (changed || isNew) {
        await this.emit({
          project: updated,
          action,
          deployment: deploymentRef(deployment.record),
          detail: {
            source: deployment.record.source.url,
            ref: deployment.record.source.ref,
            commit: deployment.record.source.commit_sha,
            tree_hash: deployment.record.source.tree_hash,
            from_deployment: previous ?? null,
          },
        });
      }
      return { project: updated, deployment, changed };
    } catch (err) {
      if (createdDeployment) await store.removeDeployment(name, createdDeployment).catch(() => undefined);
      if (isNew && !store.get(name)) await rm(store.tenantDir(name), { recursive: true, force: true });
      throw err;
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  }

  private async checkPort(name: string, port: number): Promise<void> {
    if (port === this.opts.ingressPort) throw conflict('port_in_use', `port ${port} is the ingress port`, 'listen.port');
    for (const other of this.opts.store.list()) {
      if (other.name === name) continue;
      const d = await this.opts.store.loadDeployment(other.name, other.current);
      if (d?.listen?.port === port) throw conflict('port_in_use', `port ${port} is already used by project '${other.name}'`, 'listen.port');
    }
    if (!(await this.opts.portAvailable(port, name))) throw conflict('port_in_use', `port ${port} is in use on this machine`, 'listen.port');
  }

  /** The tenant's folders: readable by its group only; data and run owned by it. */
  private async prepareTenant(p: ProjectRecord): Promise<void> {
    const { store } = this.opts;
    await ensureOwnedDir(store.tenantDir(p.name), 0, p.gid, 0o750);
    await ensureOwnedDir(store.deploymentsDir(p.name), 0, p.gid, 0o750);
    for (const own of [store.dataDir(p.name), store.runDir(p.name)]) await ensureOwnedDir(own, p.uid, p.gid, 0o700);
  }
}
