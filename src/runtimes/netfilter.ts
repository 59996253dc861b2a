// Packet rules for Layer 2 tenants (host processes), by their uid: a tenant may connect to the
// loopback relays of the Layer 1 services it declared, and to no other relay and no container
// network. Kept in a chain of our own, rewritten whole on every change.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Address pools Docker allocates bridge networks from: containers of every project live here. */
export const CONTAINER_NETWORKS = ['172.16.0.0/12', '192.168.0.0/16'];

export interface RelayRule {
  port: number;
  /** Tenant uids allowed to connect to this relay. */
  uids: number[];
}

export class Netfilter {
  private readonly chain: string;
  private readonly tenantUids: string;
  private available: boolean | undefined;
  private reason = '';
  private writing: Promise<void> = Promise.resolve();

  /**
   * `tenantUids`: the uid range of tenants, e.g. "200000-299999". `id` names the chain (one per
   * daemon state folder), so two daemons on one machine never rewrite each other's rules.
   */
  constructor(tenantUids: string, id: string) {
    this.tenantUids = tenantUids;
    this.chain = `WEBHOST-${id.slice(0, 12)}`;
  }

  private async ipt(...args: string[]): Promise<void> {
    await run('iptables', ['-w', '5', ...args], { timeout: 10_000 });
  }

  /** Creates our chain and hooks it into OUTPUT; false (with a reason) when iptables cannot be used. */
  async init(): Promise<boolean> {
    if (this.available !== undefined) return this.available;
    try {
      await this.ipt('-N', this.chain).catch(() => undefined);
      await this.ipt('-C', 'OUTPUT', '-j', this.chain).catch(() => this.ipt('-I', 'OUTPUT', '1', '-j', this.chain));
      this.available = true;
    } catch (err) {
      this.available = false;
      this.reason = (err as Error).message.split('\n')[0] ?? 'iptables failed';
    }
    return this.available;
  }

  status(): { enforced: boolean; note?: string } {
    return this.available ? { enforced: true } : { enforced: false, note: `iptables is not usable here (${this.reason || 'not initialised'}): Layer 2 apps are not kept from other projects' containers and service relays` };
  }

  /** Replaces every rule: relay allowances first, then refusals for all tenants. */
  apply(relays: readonly RelayRule[]): Promise<void> {
    const next = this.writing.then(async () => {
      if (!(await this.init())) return;
      await this.ipt('-F', this.chain);
      for (const r of relays) {
        for (const uid of r.uids) {
          await this.ipt('-A', this.chain, '-p', 'tcp', '-d', '127.0.0.1', '--dport', String(r.port), '-m', 'owner', '--uid-owner', String(uid), '-j', 'ACCEPT');
        }
        await this.ipt('-A', this.chain, '-p', 'tcp', '-d', '127.0.0.1', '--dport', String(r.port), '-m', 'owner', '--uid-owner', this.tenantUids, '-j', 'REJECT');
      }
      for (const net of CONTAINER_NETWORKS) {
        await this.ipt('-A', this.chain, '-d', net, '-m', 'owner', '--uid-owner', this.tenantUids, '-j', 'REJECT');
      }
    });
    this.writing = next.catch(() => undefined);
    return next;
  }

  /** Removes our chain (daemon shutdown leaves it: tenants are gone then anyway). */
  async remove(): Promise<void> {
    if (!this.available) return;
    await this.ipt('-D', 'OUTPUT', '-j', this.chain).catch(() => undefined);
    await this.ipt('-F', this.chain).catch(() => undefined);
    await this.ipt('-X', this.chain).catch(() => undefined);
  }
}
