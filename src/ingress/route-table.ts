// Where each project's traffic goes right now. A swap is one Map.set, so a redeploy moves traffic
// atomically; the old upstream keeps its in-flight count so it can be drained before it stops.
import http from 'node:http';
import { EventEmitter } from 'node:events';

/** Where an app listens: a unix socket (process runtimes) or a TCP address (containers). */
export type UpstreamAddress = { socketPath: string } | { host: string; port: number };

export class Upstream {
  readonly address: UpstreamAddress;
  readonly agent: http.Agent;
  inflight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(address: string | UpstreamAddress) {
    this.address = typeof address === 'string' ? { socketPath: address } : address;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' });
  }

  /** Options for http.request / net.connect. */
  get connectOptions(): { socketPath: string } | { host: string; port: number } {
    return this.address;
  }

  /** The unix socket path, when the app listens on one. */
  get socketPath(): string | undefined {
    return 'socketPath' in this.address ? this.address.socketPath : undefined;
  }

  enter(): void {
    this.inflight++;
  }

  leave(): void {
    if (--this.inflight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once no request is in flight (or after timeoutMs), then closes pooled connections. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.agent.destroy();
  }
}

export type Route =
  | { kind: 'static'; project: string; root: string }
  | { kind: 'proxy'; project: string; upstream: Upstream }
  | { kind: 'unavailable'; project: string; status: 502 | 503; message: string };

/** Emits 'ports' when the set of project ports changes, so listeners open and close while the daemon runs. */
export class RouteTable extends EventEmitter {
  private readonly routes = new Map<string, Route>();
  private readonly ports = new Map<number, string>();

  get(name: string): Route | undefined {
    return this.routes.get(name);
  }

  set(name: string, route: Route): Route | undefined {
    const prev = this.routes.get(name);
    this.routes.set(name, route);
    return prev;
  }

  remove(name: string): Route | undefined {
    const prev = this.routes.get(name);
    this.routes.delete(name);
    this.setPort(name, undefined);
    return prev;
  }

  names(): string[] {
    return [...this.routes.keys()];
  }

  projectForPort(port: number): string | undefined {
    return this.ports.get(port);
  }

  portOf(name: string): number | undefined {
    for (const [port, n] of this.ports) if (n === name) return port;
    return undefined;
  }

  setPort(name: string, port: number | undefined): void {
    const current = this.portOf(name);
    if (current === port) return;
    if (current !== undefined) this.ports.delete(current);
    if (port !== undefined) this.ports.set(port, name);
    this.emit('ports', new Map(this.ports));
  }

  portMap(): Map<number, string> {
    return new Map(this.ports);
  }
}
