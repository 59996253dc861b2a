// One running set of containers of one deployment (an "instance"): its address for the ingress,
// its readiness gate, its logs, its exit, and its teardown. Several instances of a project can
// run at once (the new set comes up beside the old one during an update), because every instance
// has its own containers and its own networks.
import type { DockerEngine } from './engine/client.ts';
import { TailBuffer } from './engine/errors.ts';
import type { ContainerInspect, EngineEvent } from './engine/types.ts';
import { LABELS, type Names } from './names.ts';
import { startOrder, type DeploymentPlan } from './plan.ts';
import { probeHttp, sleep } from './health.ts';

/** Where the ingress (or a Layer 2 tenant, through the daemon) reaches the entry service. */
export interface DockerUpstream {
  host: string;
  port: number;
}

export interface ContainerRef {
  service: string;
  id: string;
  name: string;
  /** Logical network name → the container's IP on it. */
  ips: Record<string, string>;
}

export interface DockerExit {
  /** `stopped`: stop() was called; `exited`: a container stopped for good on its own (or was removed). */
  reason: 'stopped' | 'exited';
  service: string | null;
  exitCode: number | null;
  oomKilled: boolean;
}

/** Why an instance did not become ready: the service, its exit code if it exited, and what it printed. */
export class DockerStartFailure extends Error {
  readonly output: string;
  readonly exitCode: number | null;
  readonly service: string | null;
  constructor(message: string, service: string | null, exitCode: number | null, output: string) {
    super(message);
    this.service = service;
    this.exitCode = exitCode;
    this.output = output;
  }
}

export type OutputSink = (stream: 'stdout' | 'stderr', chunk: Buffer, service: string) => void;

export interface InstanceContext {
  engine: DockerEngine;
  names: Names;
  project: string;
  deploymentId: string;
  instanceId: string;
  plan: DeploymentPlan;
  /** Logical network name → engine network name, for the networks this instance owns. */
  networks: Map<string, string>;
  /** The daemon's own container, joined to every network we create (null when the daemon runs on the host). */
  joinContainer: string | null;
  onOutput: OutputSink;
  onEvent: (text: string) => void;
}

export class DockerInstance {
  readonly project: string;
  readonly deploymentId: string;
  readonly instanceId: string;
  /** The entry's address. The object is updated in place if the engine restarts the container on a new IP. */
  readonly upstream: DockerUpstream;
  readonly containers: ContainerRef[] = [];
  readonly warnings: string[];

  private readonly ctx: InstanceContext;
  private readonly ac = new AbortController();
  private readonly outputs = new Map<string, TailBuffer>();
  private readonly restartBaseline = new Map<string, number>();
  /** Exit codes from the engine's die events: once the engine restarted a container, inspect shows only the new run's. */
  private readonly lastExitCode = new Map<string, number>();
  /** When a restart was first seen before its die event had arrived. */
  private readonly restartSeenAt = new Map<string, number>();
  private readonly startWaiters = new Map<string, Array<() => void>>();
  private readonly exitListeners: Array<(e: DockerExit) => void> = [];
  private readonly upstreamListeners: Array<(u: DockerUpstream) => void> = [];
  private exit: DockerExit | null = null;
  private stopping: Promise<void> | null = null;

  constructor(ctx: InstanceContext) {
    this.ctx = ctx;
    this.project = ctx.project;
    this.deploymentId = ctx.deploymentId;
    this.instanceId = ctx.instanceId;
    this.upstream = { host: '', port: ctx.plan.entry.port };
    this.warnings = [...ctx.plan.warnings];
  }

  /** Engine names of the networks this instance owns (a Layer 2 bridge or the daemon's container can join them). */
  get networks(): string[] {
    return [...this.ctx.networks.values()];
  }

  /** Every service's address on its first network, for whoever needs a named service (never published). */
  get services(): Record<string, { host: string; ports: number[] }> {
    const out: Record<string, { host: string; ports: number[] }> = {};
    for (const c of this.containers) {
      const svc = this.ctx.plan.services.find((s) => s.name === c.service);
      const first = svc?.networks[0]?.name;
      out[c.service] = { host: first ? (c.ips[first] ?? '') : '', ports: svc?.exposed ?? [] };
    }
    return out;
  }

  /** Subscribes to the engine's events for this instance. Call before creating containers. */
  async watch(since?: number): Promise<void> {
    const stream = await this.ctx.engine.events({ type: ['container'], label: [`${LABELS.instance}=${this.instanceId}`] }, this.ac.signal, since);
    void (async () => {
      try {
        for await (const ev of stream) await this.onEngineEvent(ev).catch(() => undefined);
      } catch {
        // the engine went away; readiness and stop() notice on their own
      }
    })();
  }

  /**
   * Registers a container: reads its addresses and follows its logs. A container we just created
   * has restarted 0 times by definition; an adopted one keeps the count it came with.
   */
  async add(service: string, id: string, opts: { since?: number; adopted?: boolean } = {}): Promise<ContainerRef> {
    const info = await this.ctx.engine.inspectContainer(id);
    const ref: ContainerRef = { service, id, name: info?.Name.replace(/^\//, '') ?? id, ips: info ? this.ipsOf(info) : {} };
    this.containers.push(ref);
    this.restartBaseline.set(id, opts.adopted ? (info?.RestartCount ?? 0) : 0);
    if (service === this.ctx.plan.entry.service) this.updateUpstream(ref);
    void this.follow(ref, opts.since);
    return ref;
  }

  private ipsOf(info: ContainerInspect): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [logical, engineName] of this.ctx.networks) {
      const ip = info.NetworkSettings.Networks[engineName]?.IPAddress;
      if (ip) out[logical] = ip;
    }
    return out;
  }

  private updateUpstream(ref: ContainerRef): void {
    const svc = this.ctx.plan.services.find((s) => s.name === ref.service)!;
    const internal = new Set(this.ctx.plan.networks.filter((n) => n.internal).map((n) => n.name));
    const pick = svc.networks.find((n) => !internal.has(n.name) && ref.ips[n.name]) ?? svc.networks.find((n) => ref.ips[n.name]);
    const host = pick ? ref.ips[pick.name]! : '';
    if (host && host !== this.upstream.host) {
      const changed = this.upstream.host !== '';
      this.upstream.host = host;
      if (changed) for (const l of this.upstreamListeners) l(this.upstream);
    }
  }

  private output(service: string): TailBuffer {
    let b = this.outputs.get(service);
    if (!b) this.outputs.set(service, (b = new TailBuffer(16 * 1024)));
    return b;
  }

  /** Follows a container's logs across engine restarts until the instance stops. */
  private async follow(ref: ContainerRef, since?: number): Promise<void> {
    let from = since;
    while (!this.ac.signal.aborted) {
      const started = Date.now() / 1000;
      try {
        await this.ctx.engine.logs(ref.id, { follow: true, since: from, signal: this.ac.signal }, (stream, chunk) => {
          if (stream === 'stdin') return;
          this.output(ref.service).push(chunk.toString('utf8'));
          this.ctx.onOutput(stream, chunk, ref.service);
        });
      } catch {
        // container gone or engine down: the event handler reports it
      }
      if (this.ac.signal.aborted || this.exit) return;
      // The stream ends when the container stops; resume when the engine starts it again.
      await new Promise<void>((resolve) => {
        const list = this.startWaiters.get(ref.id) ?? [];
        list.push(resolve);
        this.startWaiters.set(ref.id, list);
        this.ac.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      from = Math.max(started, Date.now() / 1000 - 1);
    }
  }

  private oneShot(service: string): boolean {
    const svc = this.ctx.plan.services.find((s) => s.name === service);
    return svc?.restart.name === 'no' || this.ctx.plan.services.some((s) => s.dependsOn.some((d) => d.service === service && d.condition === 'service_completed_successfully'));
  }

  private async onEngineEvent(ev: EngineEvent): Promise<void> {
    const ref = this.containers.find((c) => c.id === ev.Actor.ID);
    if (!ref || this.stopping) return;
    if (ev.Action === 'start') {
      const info = await this.ctx.engine.inspectContainer(ref.id);
      if (info) {
        ref.ips = this.ipsOf(info);
        if (ref.service === this.ctx.plan.entry.service) this.updateUpstream(ref);
      }
      const waiters = this.startWaiters.get(ref.id) ?? [];
      this.startWaiters.delete(ref.id);
      for (const w of waiters) w();
      return;
    }
    if (ev.Action === 'oom') {
      this.ctx.onEvent(`service ${ref.service} ran out of memory (limit ${this.limitOf(ref.service)})`);
      return;
    }
    if (ev.Action === 'die' || ev.Action === 'destroy') {
      const code = ev.Actor.Attributes.exitCode !== undefined ? Number(ev.Actor.Attributes.exitCode) : null;
      if (code !== null) this.lastExitCode.set(ref.id, code);
      // The engine marks a container "restarting" before it reports the death, so this is reliable.
      const info = ev.Action === 'destroy' ? null : await this.ctx.engine.inspectContainer(ref.id);
      if (this.stopping) return;
      if (info && (info.State.Restarting || info.State.Running)) {
        this.ctx.onEvent(`service ${ref.service} exited with code ${code ?? '?'}; the engine restarts it`);
        return;
      }
      if (info && code === 0 && this.oneShot(ref.service)) {
        this.ctx.onEvent(`service ${ref.service} completed`);
        return;
      }
      this.ctx.onEvent(`service ${ref.service} ${ev.Action === 'destroy' ? 'was removed' : `exited with code ${code ?? '?'}`} and will not be restarted`);
      this.fireExit({ reason: 'exited', service: ref.service, exitCode: code, oomKilled: info?.State.OOMKilled ?? false });
    }
  }

  private limitOf(service: string): string {
    const svc = this.ctx.plan.services.find((s) => s.name === service);
    return svc ? `${Math.round(svc.resources.memoryBytes / 1024 / 1024)} MiB` : '?';
  }

  private fireExit(e: DockerExit): void {
    if (this.exit) return;
    this.exit = e;
    for (const l of this.exitListeners) {
      try {
        l(e);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** Called once, when the instance stops for good (on its own or through stop()). */
  onExit(listener: (e: DockerExit) => void): void {
    if (this.exit) listener(this.exit);
    else this.exitListeners.push(listener);
  }

  /** Called when the engine restarted the entry container on a different IP (the ingress must follow). */
  onUpstreamChange(listener: (u: DockerUpstream) => void): void {
    this.upstreamListeners.push(listener);
  }

  /** What a service printed lately (bounded), for error reports. */
  recentOutput(service: string): string {
    return this.outputs.get(service)?.toString() ?? '';
  }

  private async failure(message: string, service: string | null, exitCode: number | null): Promise<DockerStartFailure> {
    let output = service ? this.recentOutput(service) : '';
    const ref = service ? this.containers.find((c) => c.service === service) : undefined;
    if (!output && ref) output = await this.ctx.engine.logsText(ref.id, 100).catch(() => '');
    return new DockerStartFailure(message, service, exitCode, output);
  }

  /** Checks every container once: throws a DockerStartFailure for one that died; false while something is still coming up. */
  private async containersReady(): Promise<boolean> {
    let ok = true;
    for (const ref of this.containers) {
      const info = await this.ctx.engine.inspectContainer(ref.id);
      if (!info) throw await this.failure(`service ${ref.service}'s container disappeared`, ref.service, null);
      const st = info.State;
      if (st.Running) {
        ref.ips = this.ipsOf(info);
        if (ref.service === this.ctx.plan.entry.service) this.updateUpstream(ref);
      }
      const restarted = info.RestartCount > (this.restartBaseline.get(ref.id) ?? 0);
      if (!st.Running || restarted) {
        if (!st.Running && !st.Restarting && st.ExitCode === 0 && this.oneShot(ref.service)) continue;
        // A container already running again shows its new run's code (0): the crash's code comes
        // with the die event, which may trail the inspect by a moment.
        let code: number | null = st.ExitCode;
        if (restarted && st.Running) {
          code = this.lastExitCode.get(ref.id) ?? null;
          if (code === null) {
            const seen = this.restartSeenAt.get(ref.id) ?? Date.now();
            this.restartSeenAt.set(ref.id, seen);
            if (Date.now() - seen < 2_000) {
              ok = false;
              continue;
            }
          }
        }
        const oom = st.OOMKilled ? ' (killed: out of memory)' : '';
        throw await this.failure(
          `service ${ref.service} ${restarted ? 'crashed and was restarted' : 'exited'} with code ${code ?? '?'}${oom} before it became ready${st.Error ? `: ${st.Error}` : ''}`,
          ref.service,
          code,
        );
      }
      if (st.Health) {
        if (st.Health.Status === 'unhealthy') {
          const last = st.Health.Log?.at(-1)?.Output?.trim() ?? '';
          throw await this.failure(`service ${ref.service} is unhealthy${last ? `: ${last.slice(0, 500)}` : ''}`, ref.service, null);
        }
        if (st.Health.Status !== 'healthy') ok = false;
      }
    }
    return ok;
  }

  /**
   * Resolves once every container runs (healthchecks healthy) and the entry answers HTTP from the
   * daemon's side; rejects with a DockerStartFailure (service, exit code, output) otherwise.
   */
  async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const { port, healthPath } = this.ctx.plan.entry;
    let lastProbe = 'not probed yet';
    let delay = 50;
    for (;;) {
      if (this.exit) throw await this.failure(`service ${this.exit.service ?? '?'} stopped (${this.exit.reason}, code ${this.exit.exitCode ?? '?'})`, this.exit.service, this.exit.exitCode);
      if (!(await this.containersReady())) {
        lastProbe = 'waiting for healthchecks';
      } else if (!this.upstream.host) {
        lastProbe = 'the entry has no address on its networks yet';
      } else {
        try {
          const status = await probeHttp(this.upstream.host, port, healthPath, Math.max(200, Math.min(2_000, deadline - Date.now())));
          if (status < 500) return;
          lastProbe = `HTTP ${status}`;
        } catch (err) {
          lastProbe = (err as Error).message;
        }
      }
      if (Date.now() >= deadline) {
        throw await this.failure(
          `the entry service ${this.ctx.plan.entry.service} did not answer HTTP on ${this.upstream.host || '?'}:${port}${healthPath} within ${timeoutMs} ms (last: ${lastProbe})`,
          this.ctx.plan.entry.service,
          null,
        );
      }
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
      delay = Math.min(250, delay * 2);
    }
  }

  /**
   * Stops the containers (dependents first; SIGTERM, SIGKILL after graceMs), removes them and this
   * instance's networks. Named volumes stay: they belong to the project. Idempotent.
   */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= this.doStop(graceMs);
    return this.stopping;
  }

  private async doStop(graceMs: number): Promise<void> {
    const { engine } = this.ctx;
    const graceS = Math.max(0, Math.ceil(graceMs / 1000));
    const order = startOrder(this.ctx.plan.services).reverse();
    const errors: string[] = [];
    for (const svc of order) {
      for (const ref of this.containers.filter((c) => c.service === svc.name)) {
        await engine.stopContainer(ref.id, graceS).catch((err: Error) => errors.push(`stop ${ref.name}: ${err.message}`));
      }
    }
    // Let the log streams deliver the last lines before they are cut.
    await sleep(50);
    this.ac.abort();
    await Promise.all(this.containers.map((ref) => engine.removeContainer(ref.id, { force: true }).catch((err: Error) => errors.push(`remove ${ref.name}: ${err.message}`))));
    for (const net of this.ctx.networks.values()) {
      if (this.ctx.joinContainer) await engine.disconnectNetwork(net, this.ctx.joinContainer).catch(() => undefined);
      await engine.removeNetwork(net).catch((err: Error) => errors.push(`remove network ${net}: ${err.message}`));
    }
    this.fireExit({ reason: 'stopped', service: null, exitCode: null, oomKilled: false });
    if (errors.length) this.ctx.onEvent(`stopping instance ${this.instanceId}: ${errors.join('; ')}`);
  }
}
