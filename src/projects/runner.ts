// Runs deployments and points traffic at them. Activating a deployment starts its instance,
// waits until it answers (health gate), swaps the route in one step, then drains and stops the
// previous instance: a redeploy or rollback never drops a request.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { RouteTable, Upstream, type Route } from '../ingress/route-table.ts';
import type { InstanceSpec, ProcessRuntime, RuntimeDriver } from '../runtimes/driver.ts';
import { Supervisor } from '../runtimes/supervisor.ts';
import { unprocessable } from '../lib/http-error.ts';
import type { PlaneChange } from '../ingress/nginx-plane.ts';
import type { ProjectRecord, StoredDeployment } from './model.ts';
import type { ProjectStore } from './store.ts';
import type { AppLogs } from './app-logs.ts';
import type { ServiceLinks } from './service-links.ts';
import { isDockerRuntime, DockerStartFailure, type DockerDriver, type DockerInstance, type DockerStartSpec } from '../runtimes/docker/index.ts';

export interface RunnerOptions {
  store: ProjectStore;
  routes: RouteTable;
  logs: AppLogs;
  drivers: ReadonlyMap<ProcessRuntime, RuntimeDriver>;
  readyTimeoutMs: number;
  /** How long an old instance may keep serving in-flight requests after a swap. */
  drainTimeoutMs: number;
  /** Makes route-table changes live in the data plane (the in-process plane needs nothing). */
  applyRoutes?: () => Promise<PlaneChange>;
  /** Layer 1 tenants run here; absent when no Docker engine answers. */
  docker?: DockerDriver;
  /** How Layer 2 apps reach the Layer 1 services they use. */
  links?: ServiceLinks;
  /**
   * Per-instance services the daemon serves into a process instance's runDir before it starts
   * (the app-key broker, attestation/app-broker.ts); closed once the instance is stopped.
   */
  instanceServices?: (project: ProjectRecord, d: StoredDeployment, runDir: string) => Promise<{ close(): Promise<void> }>;
}

interface Running {
  deploymentId: string;
  supervisor: Supervisor | null;
  container: DockerInstance | null;
  upstream: Upstream | null;
  retiring: boolean;
  /** Layer 1 services this instance was given relays to (released when it retires). */
  uses?: { uid: number; uses: Record<string, string> };
  /** instanceServices of this instance (closed when it retires). */
  services?: { close(): Promise<void> };
}

export type ProjectStatus = 'running' | 'starting' | 'restarting' | 'stopped' | 'failed';

let instanceCounter = 0;

export class Runner {
  private readonly opts: RunnerOptions;
  private readonly running = new Map<string, Running>();

  constructor(opts: RunnerOptions) {
    this.opts = opts;
  }

  driver(runtime: ProcessRuntime): RuntimeDriver {
    const d = this.opts.drivers.get(runtime);
    if (!d) throw unprocessable('runtime_unavailable', `the ${runtime} runtime is not available on this daemon`, 'runtime');
    return d;
  }

  spec(project: ProjectRecord, d: StoredDeployment, runDir: string, linkEnv: Record<string, string> = {}): InstanceSpec {
    const { store, logs } = this.opts;
    return {
      project: project.name,
      deploymentId: d.id,
      runtime: d.runtime as ProcessRuntime,
      sourceDir: store.sourceDir(project.name, d.id),
      entry: d.entry,
      dataDir: store.dataDir(project.name),
      runDir,
      env: { ...project.env, ...linkEnv },
      uid: project.uid,
      gid: project.gid,
      limits: d.limits,
      onOutput: (stream, chunk) => logs.write(project.name, stream, chunk),
    };
  }

  dockerSpec(project: ProjectRecord, d: StoredDeployment): DockerStartSpec {
    if (!d.docker || !isDockerRuntime(d.runtime)) throw new Error(`deployment ${d.id} is not a Layer 1 deployment`);
    const { store, logs } = this.opts;
    return {
      project: project.name,
      runtime: d.runtime,
      sourceDir: d.record.source.tree_hash ? store.sourceDir(project.name, d.id) : null,
      fields: d.docker.fields,
      env: project.env,
      limits: d.limits,
      attested: project.mode === 'attested',
      dataDir: store.dataDir(project.name),
      onOutput: (stream, chunk) => logs.write(project.name, stream, chunk),
      onEvent: (text) => logs.system(project.name, text),
      deploymentId: d.id,
      images: d.docker.images,
    };
  }

  /** Starts (or, after a daemon restart, adopts) a Layer 1 instance and waits until it answers. */
  private async startContainer(project: ProjectRecord, d: StoredDeployment, adopt: boolean): Promise<DockerInstance> {
    const docker = this.opts.docker;
    if (!docker) throw unprocessable('runtime_unavailable', `the ${d.runtime} runtime needs a Docker engine, and none answers on this daemon`, 'runtime');
    const spec = this.dockerSpec(project, d);
    const inst = (adopt ? await docker.adopt(spec) : null) ?? (await docker.start(spec));
    try {
      await inst.ready(this.opts.readyTimeoutMs);
    } catch (err) {
      await inst.stop(0).catch(() => undefined);
      const output = err instanceof DockerStartFailure ? err.output : '';
      throw unprocessable('app_failed_to_start', `the app did not start: ${(err as Error).message}`, undefined, { output });
    }
    if (adopt) await docker.cleanup(project.name, [inst.instanceId]).catch(() => undefined);
    return inst;
  }

  /**
   * Makes `d` the deployment serving `project`. Throws (leaving the current one serving) when the
   * new instance does not become ready; the error carries the app's output. `adopt`: after a
   * daemon restart, reuse a Layer 1 instance that is still running instead of starting another.
   */
  async activate(project: ProjectRecord, d: StoredDeployment, opts: { adopt?: boolean } = {}): Promise<void> {
    const name = project.name;
    const prev = this.running.get(name);
    let next: Running;
    let route: Route;
    if (d.runtime === 'static') {
      next = { deploymentId: d.id, supervisor: null, container: null, upstream: null, retiring: false };
      route = { kind: 'static', project: name, root: path.join(this.opts.store.sourceDir(name, d.id), d.entry) };
    } else if (isDockerRuntime(d.runtime)) {
      const container = await this.startContainer(project, d, opts.adopt ?? false);
      this.opts.links?.setInstance(name, container);
      const upstream = new Upstream({ ...container.upstream });
      next = { deploymentId: d.id, supervisor: null, container, upstream, retiring: false };
      route = { kind: 'proxy', project: name, upstream };
      const self = next;
      // The engine may restart a crashed container on a new address: follow it.
      container.onUpstreamChange((u) => {
        if (this.running.get(name) !== self || self.retiring) return;
        self.upstream = new Upstream({ ...u });
        this.opts.routes.set(name, { kind: 'proxy', project: name, upstream: self.upstream });
        void this.applyRoutes().catch(() => undefined);
      });
      container.onExit((exit) => {
        if (this.running.get(name) !== self || self.retiring || exit.reason === 'stopped') return;
        this.opts.logs.system(name, `the ${exit.service ?? 'app'} container exited (code ${exit.exitCode ?? '?'}${exit.oomKilled ? ', out of memory' : ''})`);
      });
    } else {
      const runDir = path.join(this.opts.store.runDir(name), `i${process.pid}-${++instanceCounter}`);
      await mkdir(runDir, { recursive: true, mode: 0o700 });
      const linkEnv = (await this.opts.links?.acquire(project.uid, d.uses)) ?? {};
      const uses = d.uses ? { uid: project.uid, uses: d.uses } : undefined;
      const spec = this.spec(project, d, runDir, linkEnv);
      const supervisor = new Supervisor(this.driver(spec.runtime), spec, {
        onEvent: (text) => this.opts.logs.system(name, text),
      });
      let services: { close(): Promise<void> } | undefined;
      try {
        services = await this.opts.instanceServices?.(project, d, runDir); // the key broker, before the app can ask for it
        await supervisor.start(this.opts.readyTimeoutMs);
      } catch (err) {
        await supervisor.stop(0).catch(() => undefined);
        await services?.close().catch(() => undefined);
        if (uses) await this.opts.links?.release(uses.uid, uses.uses);
        const output = (err as { output?: string }).output ?? '';
        throw unprocessable('app_failed_to_start', `the app did not start: ${(err as Error).message}`, undefined, { output });
      }
      const upstream = new Upstream(supervisor.socketPath);
      next = { deploymentId: d.id, supervisor, container: null, upstream, retiring: false, uses, services };
      route = { kind: 'proxy', project: name, upstream };
    }
    this.running.set(name, next);
    this.opts.routes.set(name, route);
    this.opts.routes.setPort(name, d.listen?.port);
    const change = await this.applyRoutes();
    if (prev) {
      // Answer only once every new request reaches the new deployment.
      await change.moved;
      void this.retire(prev, change.drained);
    }
  }

  private async applyRoutes(): Promise<PlaneChange> {
    if (this.opts.applyRoutes) return this.opts.applyRoutes();
    const done = Promise.resolve();
    return { moved: done, drained: done };
  }

  /** Drains an instance that no longer receives new requests, then stops it. */
  private async retire(r: Running, drained: Promise<void>): Promise<void> {
    r.retiring = true;
    await drained;
    await r.upstream?.drain(this.opts.drainTimeoutMs);
    await r.supervisor?.stop(5_000);
    await r.services?.close().catch(() => undefined);
    await r.container?.stop(10_000);
    if (r.uses) await this.opts.links?.release(r.uses.uid, r.uses.uses);
  }

  /** Stops the project's instance and removes its route (teardown, shutdown). */
  async deactivate(name: string): Promise<void> {
    const r = this.running.get(name);
    this.running.delete(name);
    this.opts.routes.remove(name);
    if (r?.container) this.opts.links?.setInstance(name, null);
    const { drained } = await this.applyRoutes();
    if (r) await this.retire(r, drained);
  }

  /** Teardown of a Layer 1 project's engine objects: containers, networks, volumes (its data). */
  async removeContainers(name: string): Promise<void> {
    await this.opts.docker?.remove(name);
  }

  /** Marks a project as not serving (e.g. its deployment could not be started after a restart). */
  markUnavailable(name: string, message: string): void {
    this.opts.routes.set(name, { kind: 'unavailable', project: name, status: 503, message });
    void this.applyRoutes().catch(() => undefined);
  }

  current(name: string): string | undefined {
    return this.running.get(name)?.deploymentId;
  }

  status(name: string): ProjectStatus {
    const r = this.running.get(name);
    if (!r) return this.opts.routes.get(name)?.kind === 'unavailable' ? 'failed' : 'stopped';
    return r.supervisor ? r.supervisor.status() : 'running';
  }

  /**
   * Daemon shutdown: stops every process tenant (they are the daemon's children). Containers keep
   * running, so the next daemon adopts them instead of restarting them.
   */
  async stopAll(): Promise<void> {
    for (const r of this.running.values()) r.container = null;
    await Promise.all([...this.running.keys()].map((n) => this.deactivate(n)));
  }
}
