// The hostile tenant on the network: an app tries to reach this machine's own services over TCP
// (a server on loopback, the same server on the machine's own address, the daemon's port) and to
// serve on a TCP port of its own beside the ingress. The packet rules refuse each; DNS, which a
// resolver on loopback answers inside a container, still gets through. Where iptables cannot be
// used, the substrate says that network isolation is not enforced.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { testDaemon, type TestDaemon } from '../helpers/daemon.ts';

/** The tenant: `?connect=host:port` tries a TCP connection; `/listen` binds a TCP port on every address and says which. */
const TENANT = `import net from 'node:net';
let listener;
const tryConnect = (host, port) => new Promise((resolve) => {
  const s = net.connect({ host, port: Number(port), timeout: 1500 });
  s.on('connect', () => { s.destroy(); resolve('OPENED'); });
  s.on('timeout', () => { s.destroy(); resolve('refused: timeout'); });
  s.on('error', (e) => resolve('refused: ' + e.code));
});
export default async (req) => {
  const url = new URL(req.url);
  if (url.pathname === '/listen') {
    listener ??= await new Promise((resolve, reject) => {
      const srv = net.createServer((c) => c.end('tenant-served\\n'));
      srv.on('error', reject);
      srv.listen(0, () => resolve(srv));
    });
    return Response.json({ port: listener.address().port });
  }
  const [host, port] = url.searchParams.get('connect').split(/:(?=\\d+$)/);
  return new Response(await tryConnect(host, port));
};
`;

/** A TCP server of the machine's own (run by the test as root), answering one line. */
function server(host: string, port = 0): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer((c) => {
      c.on('error', () => undefined); // a prober that hangs up at once resets the connection: not this service's problem
      c.end('machine-service\n');
    });
    srv.once('error', () => resolve(undefined));
    srv.listen(port, host, () => resolve(srv));
  });
}
const portOf = (srv: net.Server) => (srv.address() as net.AddressInfo).port;

/** Whether the test (root, not a tenant) gets a connection and a byte through to host:port. */
function reach(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 1500 });
    s.on('data', () => {
      s.destroy();
      resolve(true);
    });
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(false));
  });
}

/** This machine's first non-loopback IPv4 address: connections to it go through lo as well. */
const ownAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

describe('hostile tenant on the network', () => {
  let d: TestDaemon;
  const servers: net.Server[] = [];
  let network: { enforced: boolean; note?: string };
  before(async () => {
    d = await testDaemon();
    const res = await d.deployTar({ name: 'netprobe', runtime: 'node' }, [{ name: 'index.mjs', content: TENANT }]);
    assert.equal(res.status, 201, await res.clone().text());
    const substrate = await (await d.api('GET', '/_api/substrate')).json();
    const node = substrate.runtimes.find((r: { runtime: string }) => r.runtime === 'node');
    network = node.mechanisms.find((m: { name: string }) => m.name === 'network isolation');
  });
  after(async () => {
    for (const s of servers) s.close();
    await d.stop();
  });

  const probe = async (target: string) => (await fetch(`${d.url}/netprobe/?connect=${encodeURIComponent(target)}`)).text();

  test('the substrate says what is enforced, in plain words', (t) => {
    assert.ok(network, 'the node runtime reports network isolation');
    if (!network.enforced) {
      assert.match(network.note ?? '', /share the host network/);
      t.diagnostic(`not enforced here: ${network.note}`);
      return;
    }
    assert.match(network.note ?? '', /loopback/);
    assert.match(network.note ?? '', /unix socket/);
  });

  test("a tenant cannot connect to this machine's own services: loopback, its own address, the daemon's port", async (t) => {
    if (!network.enforced) return t.skip('packet rules are not usable here (the substrate says so)');
    const onLoopback = await server('127.0.0.1');
    assert.ok(onLoopback);
    servers.push(onLoopback);
    assert.equal(await reach('127.0.0.1', portOf(onLoopback)), true, 'the service answers the machine itself');
    assert.match(await probe(`127.0.0.1:${portOf(onLoopback)}`), /^refused/);
    assert.match(await probe(`127.0.0.1:${new URL(d.url).port}`), /^refused/, "the daemon's port");
    if (ownAddress) {
      const onOwn = await server('0.0.0.0');
      assert.ok(onOwn);
      servers.push(onOwn);
      assert.equal(await reach(ownAddress, portOf(onOwn)), true);
      assert.match(await probe(`${ownAddress}:${portOf(onOwn)}`), /^refused/, `the machine's own address ${ownAddress}`);
    }
    if (!/IPv6 is not covered/.test(network.note ?? '')) {
      const onV6 = await server('::1');
      if (onV6) {
        servers.push(onV6);
        assert.match(await probe(`::1:${portOf(onV6)}`), /^refused/, 'IPv6 loopback');
      }
    }
  });

  test('DNS on a loopback resolver still gets through (the one local service a tenant needs)', async (t) => {
    if (!network.enforced) return t.skip('packet rules are not usable here (the substrate says so)');
    const dns = await server('127.0.0.1', 53);
    if (!dns) return t.skip('port 53 is taken on this machine');
    servers.push(dns);
    assert.equal(await probe('127.0.0.1:53'), 'OPENED');
  });

  test('a port a tenant binds answers nobody: tenants serve on their unix socket only', async (t) => {
    if (!network.enforced) return t.skip('packet rules are not usable here (the substrate says so)');
    const { port } = (await (await fetch(`${d.url}/netprobe/listen`)).json()) as { port: number };
    assert.ok(port > 0, 'the tenant did bind a port');
    assert.equal(await reach('127.0.0.1', port), false, 'reached the tenant-bound port on loopback');
    if (ownAddress) assert.equal(await reach(ownAddress, port), false, `reached the tenant-bound port on ${ownAddress}`);
    // The app itself still answers through the ingress (its probe's reply arrives).
    assert.match(await probe('127.0.0.1:1'), /^refused/);
  });
});
