// How a Layer 2 app reaches the Layer 1 services it declared (`uses`). Each used service gets a
// relay on a loopback port whose target follows the service across redeploys; the app receives
// `NAME=127.0.0.1:<port>` and `NAME_URL=http://127.0.0.1:<port>` in its env; packet rules let
// only the projects that declared a service connect to its relay, and no Layer 2 app reach any
// container directly.
import { TcpRelay } from '../ingress/tcp-relay.ts';
import { unprocessable } from '../lib/http-error.ts';
import type { Netfilter } from '../runtimes/netfilter.ts';
import type { DockerInstance } from '../runtimes/docker/index.ts';

interface Link {
  relay: TcpRelay;
  port: number;
  /** uid → how many running instances of that tenant use it. */
  users: Map<number, number>;
}

/** `<project>` (its HTTP entry) or `<project>:<service>:<port>`. */
function parseTarget(value: string): { project: string; service?: string; port?: number } {
  const [project, service, port] = value.split(':');
  return service ? { project: project!, service, port: Number(port) } : { project: project! };
}

export class ServiceLinks {
  private readonly links = new Map<string, Link>();
  private readonly instances = new Map<string, DockerInstance>();
  private readonly netfilter: Netfilter | undefined;

  constructor(netfilter: Netfilter | undefined) {
    this.netfilter = netfilter;
  }

  /** The current instance of a Layer 1 project (called on every activation, so relays follow it). */
  setInstance(project: string, inst: DockerInstance | null): void {
    if (inst) this.instances.set(project, inst);
    else this.instances.delete(project);
    for (const [key, link] of this.links) {
      if (key.split(':')[0] !== project || !inst) continue;
      const t = this.resolve(key);
      if (t) link.relay.retarget(t);
    }
  }

  private resolve(key: string): { host: string; port: number } | undefined {
    const t = parseTarget(key);
    const inst = this.instances.get(t.project);
    if (!inst) return undefined;
    if (!t.service) return { ...inst.upstream };
    const svc = inst.services[t.service];
    if (!svc) return undefined;
    return { host: svc.host, port: t.port! };
  }

  /**
   * The env a Layer 2 instance gets for its `uses`, opening relays as needed. Throws a 422 naming
   * the variable when a used project is not a running Layer 1 project or has no such service.
   */
  async acquire(uid: number, uses: Record<string, string> | undefined): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    if (!uses) return env;
    for (const [name, target] of Object.entries(uses)) {
      const t = parseTarget(target);
      const key = t.service ? `${t.project}:${t.service}:${t.port}` : t.project;
      const addr = this.resolve(key);
      if (!addr) {
        throw unprocessable('unknown_service', `uses.${name}: ${target} is not a running Layer 1 project${t.service ? ` with a service '${t.service}'` : ''}`, `uses.${name}`);
      }
      let link = this.links.get(key);
      if (!link) {
        const relay = new TcpRelay(addr);
        link = { relay, port: await relay.listenTcp(0), users: new Map() };
        this.links.set(key, link);
      }
      link.users.set(uid, (link.users.get(uid) ?? 0) + 1);
      env[name] = `127.0.0.1:${link.port}`;
      env[`${name}_URL`] = `http://127.0.0.1:${link.port}`;
    }
    await this.sync();
    return env;
  }

  /** Gives back what acquire() took (the instance stopped). */
  async release(uid: number, uses: Record<string, string> | undefined): Promise<void> {
    if (!uses) return;
    for (const target of Object.values(uses)) {
      const t = parseTarget(target);
      const key = t.service ? `${t.project}:${t.service}:${t.port}` : t.project;
      const link = this.links.get(key);
      if (!link) continue;
      const n = (link.users.get(uid) ?? 0) - 1;
      if (n > 0) link.users.set(uid, n);
      else link.users.delete(uid);
      if (link.users.size === 0) {
        await link.relay.close();
        this.links.delete(key);
      }
    }
    await this.sync();
  }

  private sync(): Promise<void> {
    return this.netfilter?.apply([...this.links.values()].map((l) => ({ port: l.port, uids: [...l.users.keys()] }))) ?? Promise.resolve();
  }

  async close(): Promise<void> {
    for (const l of this.links.values()) await l.relay.close();
    this.links.clear();
    await this.netfilter?.remove();
  }
}
