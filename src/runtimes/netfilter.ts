// Packet rules for Layer 2 tenants (host processes), by their uid: a tenant may connect to the
// loopback relays of the Layer 1 services it declared, and to no other relay and no container
// network (a chain per daemon, rewritten whole on every change). Below them, one chain shared by
// every daemon on the machine keeps tenants off this machine's own services (anything routed
// through lo: the daemon's ports, a database on loopback, this host's addresses) except DNS, and
// drops whatever a tenant sends as the answering side of a connection, so a tenant that binds a
// TCP port cannot be reached through it: tenants serve on their unix socket only.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Mechanism } from './profile.ts';
import { MECHANISM, NETWORK_NOT_ENFORCED } from './isolation.ts';

const run = promisify(execFile);

/** One iptables (or ip6tables) call, waiting up to 5 s for the xtables lock. */
function xtables(cmd: 'iptables' | 'ip6tables', ...args: string[]): Promise<unknown> {
  return run(cmd, ['-w', '5', ...args], { timeout: 10_000 });
}

/** Address pools Docker allocates bridge networks from: containers of every project live here. */
export const CONTAINER_NETWORKS = ['172.16.0.0/12', '192.168.0.0/16'];

export interface RelayRule {
  port: number;
  /** Tenant uids allowed to connect to this relay. */
  uids: number[];
}

/** The shared chain's name: the same for every daemon, so its rules are the same whoever writes them. */
const TENANTS_CHAIN = 'WEBHOST-TENANTS';

/** Rules of the shared chain, for one uid range (iptables and ip6tables alike). */
function tenantRules(uids: string): string[][] {
  const owner = ['-m', 'owner', '--uid-owner', uids];
  return [
    ['-o', 'lo', '-p', 'udp', '--dport', '53', ...owner, '-j', 'RETURN'],
    ['-o', 'lo', '-p', 'tcp', '--dport', '53', ...owner, '-j', 'RETURN'],
    ['-o', 'lo', ...owner, '-j', 'REJECT'],
    [...owner, '-m', 'conntrack', '--ctdir', 'REPLY', '-j', 'DROP'],
  ];
}

export class Netfilter {
  private readonly chain: string;
  private readonly tenantUids: string;
  private available: boolean | undefined;
  private reason = '';
  /** Whether the shared chain is in place for IPv6 too (no ip6tables: IPv6 loopback stays open). */
  private ipv6 = false;
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
    await xtables('iptables', ...args);
  }

  /**
   * Puts the shared chain in place (idempotent, and safe when daemons race: each rule is added
   * only when missing) and hooks it at the end of OUTPUT, after every daemon's own chain, so a
   * relay one daemon allows is accepted before the shared refusal is reached.
   */
  private static async sharedChain(cmd: 'iptables' | 'ip6tables', uids: string): Promise<void> {
    const t = (...args: string[]) => xtables(cmd, ...args);
    await t('-N', TENANTS_CHAIN).catch(() => undefined);
    for (const rule of tenantRules(uids)) await t('-C', TENANTS_CHAIN, ...rule).catch(() => t('-A', TENANTS_CHAIN, ...rule));
    await t('-C', 'OUTPUT', '-j', TENANTS_CHAIN).catch(() => t('-A', 'OUTPUT', '-j', TENANTS_CHAIN));
  }

  /** Creates our chains and hooks them into OUTPUT; false (with a reason) when iptables cannot be used. */
  async init(): Promise<boolean> {
    if (this.available !== undefined) return this.available;
    try {
      await this.ipt('-N', this.chain).catch(() => undefined);
      await this.ipt('-C', 'OUTPUT', '-j', this.chain).catch(() => this.ipt('-I', 'OUTPUT', '1', '-j', this.chain));
      await Netfilter.sharedChain('iptables', this.tenantUids);
      this.available = true;
    } catch (err) {
      this.available = false;
      this.reason = (err as Error).message.split('\n')[0] ?? 'iptables failed';
    }
    if (this.available) this.ipv6 = await Netfilter.sharedChain('ip6tables', this.tenantUids).then(() => true, () => false);
    return this.available;
  }

  status(): { enforced: boolean; note?: string } {
    return this.available ? { enforced: true } : { enforced: false, note: `iptables is not usable here (${this.reason || 'not initialised'}): Layer 2 apps are not kept from other projects' containers and service relays` };
  }

  /** What the packet rules do for a process tenant's network, as the substrate reports it. */
  networkMechanism(): Mechanism {
    if (!this.available) {
      return {
        name: MECHANISM.network,
        enforced: false,
        note: `iptables is not usable here (${this.reason || 'not initialised'}): ${NETWORK_NOT_ENFORCED}`,
      };
    }
    return {
      name: MECHANISM.network,
      enforced: true,
      note:
        'packet rules by tenant uid: no connection to this machine’s own services (loopback and its addresses) but DNS and declared Layer 1 relays; ' +
        'no container network; nothing answers from a tenant-bound port (tenants serve on their unix socket). Outbound connections to other hosts work.' +
        (this.ipv6 ? '' : ' IPv6 is not covered: ip6tables is not usable here.'),
    };
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
