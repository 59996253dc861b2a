// The handler contract and lifecycle, the same for every process runtime: each runtime's test
// file calls runtimeContract() with its own fixture app.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { Instance, ProcessRuntime, RuntimeDriver } from '../../src/runtimes/driver.ts';
import { createProcessDrivers } from '../../src/runtimes/index.ts';
import { Supervisor } from '../../src/runtimes/supervisor.ts';
import { MECHANISM } from '../../src/runtimes/isolation.ts';
import { StartFailureError } from '../../src/runtimes/failures.ts';
import {
  FAKE_DAEMON_TOKEN,
  hostReaches,
  makeTenant,
  makeWorld,
  processTree,
  request,
  ROOT_ONLY,
  sleep,
  uidOf,
  type Tenant,
  type World,
} from './helpers.ts';

export interface Fixture {
  runtime: ProcessRuntime;
  /** The main test app: files (dest -> fixture) and its entry. */
  files: Record<string, string | { text: string }>;
  entry: string;
  /** Apps that must fail to start: [fixture, entry name, a phrase the output must contain]. */
  failures: Array<{ what: string; fixture: string; entry: string; expect: RegExp }>;
  /** Variables the runtime profile adds to the base env. */
  runtimeEnv: string[];
}

// PWD: bubblewrap sets it to the working folder (/app); it says nothing about the daemon
const BASE_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'PWD'];

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function runtimeContract(fx: Fixture): void {
  const rt = fx.runtime;
  describe(`${rt}: handler contract and lifecycle`, { skip: ROOT_ONLY }, () => {
    let world: World;
    let driver: RuntimeDriver;
    let tenant: Tenant;
    let inst: Instance;
    const extra: Instance[] = [];

    before(async () => {
      world = await makeWorld();
      driver = (await createProcessDrivers({ stateDir: world.stateDir })).get(rt)!;
      tenant = await makeTenant(world, `${rt}-app`, fx.files);
      inst = await driver.start(tenant.spec(rt, fx.entry));
      await inst.ready(15_000);
    });

    after(async () => {
      await Promise.all([inst, ...extra].map((i) => i?.stop(500)));
      await world?.close();
    });

    it('serves a hello through its socket, with ctx and the query string', async () => {
      const r = await request(inst.socketPath, { path: '/hello?x=1&y=%20' });
      assert.equal(r.status, 200, tenant.output);
      assert.equal(r.text, `hello ${rt}-app hi ?x=1&y=%20`);
      assert.equal(r.headers['x-runtime'], rt);
    });

    it('answers the readiness probe itself, without calling the app', async () => {
      const r = await request(inst.socketPath, { path: '/crash', headers: { 'x-webhost-probe': '1' } });
      assert.equal(r.status, 204);
      assert.equal((await request(inst.socketPath, { path: '/hello' })).status, 200, 'the app must still be up: /crash was not called');
    });

    it('keeps every response header, each Set-Cookie on its own', async () => {
      const r = await request(inst.socketPath, { path: '/cookies' });
      assert.equal(r.status, 201);
      assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
      assert.equal(r.headers['content-type'], 'text/plain');
    });

    it('streams a large chunked request body into the handler while it is still being sent', async () => {
      const marker = path.join(tenant.dataDir, 'upload-started');
      await rm(marker, { force: true });
      const chunk = Buffer.alloc(256 * 1024, 7);
      const chunks = 64; // 16 MiB
      const reply = new Promise<string>((resolve, reject) => {
        const req = http.request({ socketPath: inst.socketPath, method: 'POST', path: '/upload', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        void (async () => {
          req.write(chunk);
          // only once the handler has seen the first bytes does the rest follow: a shim that
          // buffered the whole body first would never get here
          await waitFor(() => existsSync(marker), 10_000, 'the handler to see the first bytes');
          for (let i = 1; i < chunks; i++) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
          req.end();
        })().catch((err) => req.destroy(err as Error));
      });
      const body = JSON.parse(await reply) as { bytes: number; sum: number };
      assert.deepEqual(body, { bytes: chunk.length * chunks, sum: 7 * chunk.length * chunks });
    });

    it('streams a large response body while the handler is still producing it', async () => {
      const release = path.join(tenant.dataDir, 'release');
      await rm(release, { force: true });
      const mb = 16;
      const t0 = Date.now();
      const { firstAt, total, head } = await new Promise<{ firstAt: number; total: number; head: string }>((resolve, reject) => {
        http
          .get({ socketPath: inst.socketPath, path: `/download?mb=${mb}` }, (res) => {
            let total = 0;
            let firstAt = 0;
            let head = '';
            res.on('data', (c: Buffer) => {
              if (!firstAt) {
                firstAt = Date.now() - t0;
                head = c.toString('utf8', 0, 6);
                // the handler waits for this file before sending the rest
                void writeFile(release, '');
              }
              total += c.length;
            });
            res.on('end', () => resolve({ firstAt, total, head }));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      assert.equal(head, 'first\n');
      assert.ok(firstAt < 5_000, `the first bytes came after ${firstAt} ms: the response was buffered`);
      assert.equal(total, 6 + mb * 1024 * 1024);
    });

    it('gives the tenant exactly the project env plus PATH, HOME, TMPDIR, LANG — nothing of the daemon', async () => {
      assert.equal(process.env.TEE_DAEMON_TOKEN, FAKE_DAEMON_TOKEN);
      const r = await request(inst.socketPath, { path: '/env' });
      const body = JSON.parse(r.text) as { env: Record<string, string>; ctxEnv: Record<string, string>; project: unknown };
      assert.deepEqual(body.ctxEnv, { GREETING: 'hi', SECRET_OF: `secret-of-${rt}-app` });
      assert.deepEqual(body.project, { name: `${rt}-app`, deployment: 'd1' });
      assert.equal(body.env.GREETING, 'hi');
      const allowed = new Set([...BASE_ENV, ...fx.runtimeEnv, 'GREETING', 'SECRET_OF']);
      const unexpected = Object.keys(body.env).filter((k) => !allowed.has(k));
      assert.deepEqual(unexpected, [], `variables that are neither the project's nor ours: ${unexpected.join(', ')}`);
      assert.ok(!JSON.stringify(body).includes(FAKE_DAEMON_TOKEN));
    });

    it("runs as the tenant's uid (only bwrap stays root), with no daemon env and no project env in any argv", async () => {
      const tree = await processTree(inst.pid!);
      const uids = await Promise.all(tree.map(uidOf));
      assert.ok(uids.includes(tenant.uid), `no process of the instance runs as uid ${tenant.uid}: ${uids.join(',')}`);
      for (const [i, pid] of tree.entries()) {
        const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
        if (uids[i] === 0) assert.equal(comm, 'bwrap', `pid ${pid} (${comm}) runs as root`);
        const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
        assert.ok(!environ.includes(FAKE_DAEMON_TOKEN), `pid ${pid} (${comm}) has the daemon token in its environ`);
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
        assert.ok(!cmdline.includes('secret-of-'), `pid ${pid} (${comm}) carries the project env in its argv: ${cmdline}`);
      }
    });

    it('reaches the internet over HTTPS, trusting the machine’s CA store', async (t) => {
      const target = 'https://registry.npmjs.org/ms';
      if (!(await hostReaches(target))) {
        t.skip('this machine itself cannot reach the npm registry');
        return;
      }
      const r = await request(inst.socketPath, { path: `/fetch?url=${encodeURIComponent(target)}`, timeoutMs: 30_000 });
      assert.equal(r.text, 'status 200');
    });

    for (const f of fx.failures) {
      it(`reports a start failure with the app's output: ${f.what}`, async () => {
        const t = await makeTenant(world, `${rt}-bad-${fx.failures.indexOf(f)}`, { [f.entry]: f.fixture });
        const bad = await driver.start(t.spec(rt, f.entry));
        extra.push(bad);
        const err = await bad.ready(15_000).then(
          () => assert.fail('the broken app became ready'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof StartFailureError, String(err));
        assert.notEqual(err.exitCode, 0);
        assert.notEqual(err.exitCode, null);
        assert.match(err.output, f.expect);
        assert.match(err.message, /exited with code/);
      });
    }

    it('stops gracefully: an in-flight request finishes, then the process is gone', async () => {
      const t = await makeTenant(world, `${rt}-stop`, fx.files);
      const i = await driver.start(t.spec(rt, fx.entry));
      extra.push(i);
      await i.ready(15_000);
      let exitedWith: number | null | undefined;
      i.onExit((code) => (exitedWith = code));
      const slow = request(i.socketPath, { path: '/slow?ms=800' });
      await sleep(200);
      const t0 = Date.now();
      await i.stop(8_000);
      const took = Date.now() - t0;
      const r = await slow;
      assert.equal(r.status, 200);
      assert.equal(r.text, 'done');
      assert.ok(took < 4_000, `stop took ${took} ms: the app was killed at the end of the grace period instead of exiting`);
      assert.equal(exitedWith, 0, t.output);
      await assert.rejects(request(i.socketPath, { path: '/hello', timeoutMs: 1000 }));
    });

    it('restarts a crashed instance with growing backoff on the same socket, and never one stopped on purpose', async () => {
      const t = await makeTenant(world, `${rt}-crash`, fx.files);
      const delays: number[] = [];
      const events: string[] = [];
      const sup = new Supervisor(driver, t.spec(rt, fx.entry), {
        backoff: { initialMs: 100, factor: 3, maxMs: 5_000, resetAfterMs: 60_000 },
        onRestartScheduled: (_n, ms) => delays.push(ms),
        onEvent: (e) => events.push(e),
      });
      const socket = sup.socketPath;
      try {
        await sup.start(15_000);
        for (let round = 1; round <= 2; round++) {
          const pid = sup.pid;
          await request(socket, { path: '/crash' }).catch(() => undefined);
          await waitFor(() => sup.status() === 'running' && sup.pid !== pid, 15_000, `restart ${round}`);
        }
        assert.deepEqual(delays, [100, 300]);
        assert.equal(sup.restarts, 2);
        assert.match(events.join('\n'), /exited with code 3 .*restarting in 100 ms/);
        assert.equal((await request(socket, { path: '/hello' })).status, 200);
      } finally {
        await sup.stop(1_000);
      }
      assert.equal(sup.status(), 'stopped');
      await sleep(400);
      assert.equal(sup.status(), 'stopped');
      assert.deepEqual(delays, [100, 300], 'a stopped instance was restarted');
      await assert.rejects(request(socket, { path: '/hello', timeoutMs: 1000 }));
    });

    it('kills a tenant that allocates past its memory limit, as isolation() says', async (t) => {
      const report = await driver.isolation();
      const memory = report.mechanisms.find((m) => m.name === MECHANISM.memory)!;
      if (!memory.enforced) {
        assert.ok(memory.note, 'an unenforced memory limit must say why');
        t.skip(`no memory cgroup here: ${memory.note}`);
        return;
      }
      const tn = await makeTenant(world, `${rt}-mem`, fx.files);
      const i = await driver.start(tn.spec(rt, fx.entry, { limits: { memoryMb: 160, pids: 64, cpus: 1 } }));
      extra.push(i);
      await i.ready(15_000);
      const exited = new Promise<number | null>((resolve) => i.onExit((code) => resolve(code)));
      await request(i.socketPath, { path: '/alloc?mb=600', timeoutMs: 30_000 }).then(
        (r) => assert.fail(`allocating 600 MiB under a 160 MiB limit answered ${r.status} ${r.text}`),
        () => undefined,
      );
      const code = await exited;
      assert.notEqual(code, 0);
      assert.match(tn.output, /over its memory limit of 160 MiB/);
    });

    it('starts quickly (measured: start to first probe answer)', async () => {
      const times: number[] = [];
      const t = await makeTenant(world, `${rt}-fast`, fx.files);
      for (let n = 0; n < 5; n++) {
        const t0 = performance.now();
        const i = await driver.start(t.spec(rt, fx.entry));
        try {
          await i.ready(15_000);
          const r = await request(i.socketPath, { path: '/hello' });
          times.push(performance.now() - t0);
          assert.equal(r.status, 200);
        } finally {
          await i.stop(500);
        }
      }
      times.sort((a, b) => a - b);
      const p50 = times[2]!;
      console.log(`# ${rt}: start → ready → first 200 in ${times.map((x) => x.toFixed(0)).join(', ')} ms (p50 ${p50.toFixed(0)} ms)`);
      assert.ok(p50 < 1_500, `p50 ${p50.toFixed(0)} ms`);
    });
  });
}
