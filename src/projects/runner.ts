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
}

interface Running {
  deploymentId: string;
  supervisor: Supervisor | null;
  upstream: Upstream | null;
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

  spec(project: ProjectRecord, d: StoredDeployment, runDir: string): InstanceSpec {
    const { store, logs } = this.opts;
    return {
      project: project.name,
      deploymentId: d.id,
      runtime: d.runtime as ProcessRuntime,
      sourceDir: store.sourceDir(project.name, d.id),
      entry: d.entry,
      dataDir: store.dataDir(project.name),
      runDir,
      env: { ...project.env },
      uid: project.uid,
      gid: project.gid,
      limits: d.limits,
      onOutput: (stream, chunk) => logs.write(project.name, stream, chunk),
    };
  }

  /**
   * Makes `d` the deployment serving `project`. Throws (leaving the current one serving) when the
   * new instance does not become ready; the error carries the app's output.
   */
  async activate(project: ProjectRecord, d: StoredDeployment): Promise<void> {
    const name = project.name;
    const prev = this.running.get(name);
    let next: Running;
    let route: Route;
    if (d.runtime === 'static') {
      next = { deploymentId: d.id, supervisor: null, upstream: null };
      route = { kind: 'static', project: name, root: path.join(this.opts.store.sourceDir(name, d.id), d.entry) };
    } else {
      const runDir = path.join(this.opts.store.runDir(name), `i${process.pid}-${++instanceCounter}`);
      await mkdir(runDir, { recursive: true, mode: 0o700 });
      const spec = this.spec(project, d, runDir);
      const supervisor = new Supervisor(this.driver(spec.runtime), spec, {
        onEvent: (text) => this.opts.logs.system(name, text),
      });
      try {
        await supervisor.start(this.opts.readyTimeoutMs);
      } catch (err) {
        await supervisor.stop(0).catch(() => undefined);
        const output = (err as { output?: string }).output ?? '';
        throw unprocessable('app_failed_to_start', `the app did not start: ${(err as Error).message}`, undefined, { output });
      }
      const upstream = new Upstream(supervisor.socketPath);
      next = { deploymentId: d.id, supervisor, upstream };
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
    await drained;
    await r.upstream?.drain(this.opts.drainTimeoutMs);
    await r.supervisor?.stop(5_000);
  }

  /** Stops the project's instance and removes its route (teardown, shutdown). */
  async deactivate(name: string): Promise<void> {
    const r = this.running.get(name);
    this.running.delete(name);
    this.opts.routes.remove(name);
    const { drained } = await this.applyRoutes();
    if (r) await this.retire(r, drained);
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

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((n) => this.deactivate(n)));
  }
}
