// A byte relay from a stable address (a unix socket, or a loopback TCP port) to a target that can
// change. It gives nginx a stable upstream for apps that listen on TCP (containers), and Layer 2
// apps a stable address for the Layer 1 services they use: a redeploy moves the target, new
// connections follow it, and connections already open stay with the old target until they end.
import net from 'node:net';
import { rm, chmod } from 'node:fs/promises';

export interface RelayTarget {
  host: string;
  port: number;
}

export class TcpRelay {
  private readonly server: net.Server;
  private target: RelayTarget;
  private readonly open = new Set<net.Socket>();

  constructor(target: RelayTarget) {
    this.target = target;
    this.server = net.createServer((client) => this.relay(client));
  }

  private relay(client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    this.open.add(client);
    const done = () => {
      this.open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  retarget(target: RelayTarget): void {
    this.target = target;
  }

  get current(): RelayTarget {
    return this.target;
  }

  /** Listens on a unix socket (mode 0600: only the daemon and nginx, both root, connect). */
  async listenUnix(socketPath: string): Promise<void> {
    await rm(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(socketPath, () => resolve());
    });
    await chmod(socketPath, 0o600);
  }

  /** Listens on 127.0.0.1 (port 0 picks one); resolves the port. */
  async listenTcp(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
