// The hostile tenant: tenant A (its own uid) tries to read tenant B's files and env, the
// daemon's state folder and token, and to connect to B's socket. Every attempt must be refused;
// where this machine cannot refuse something, isolation() must say so.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Instance, IsolationReport } from '../../src/runtimes/driver.ts';
import { ProcessDriver } from '../../src/runtimes/process-driver.ts';
import { processProfiles } from '../../src/runtimes/index.ts';
import { MECHANISM } from '../../src/runtimes/isolation.ts';
import { FAKE_DAEMON_TOKEN, makeTenant, makeWorld, processTree, request, ROOT_ONLY, writeTenantData, type Tenant, type World } from './helpers.ts';
import type { Fixture } from './contract.ts';

interface Attempt {
  op: 'read' | 'list' | 'write' | 'connect';
  path: string;
  why?: string;
}
interface Result extends Attempt {
  ok: boolean;
  error?: string;
}

const REPO_FILE = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../package.json');

function mechanism(report: IsolationReport, name: string): { enforced: boolean; note?: string } {
  const m = report.mechanisms.find((x) => x.name === name);
  assert.ok(m, `isolation() does not mention "${name}"`);
  return m;
}

export function hostileSuite(fx: Fixture, sandbox: 'auto' | 'off'): void {
  const rt = fx.runtime;
  const label = sandbox === 'off' ? 'with bubblewrap turned off (uid separation and the runtime’s own rules only)' : 'in the default sandbox';
  describe(`${rt}: a hostile tenant ${label}`, { skip: ROOT_ONLY }, () => {
    let world: World;
    let victim: Tenant;
    let attacker: Tenant;
    let b: Instance;
    let a: Instance;
    let report: IsolationReport;

    const probe = async (attempts: Attempt[]): Promise<Result[]> => {
      const r = await request(a.socketPath, { method: 'POST', path: '/probe', body: JSON.stringify(attempts), headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 200, `${r.text}\n${attacker.output}`);
      return JSON.parse(r.text) as Result[];
    };

    before(async () => {
      world = await makeWorld();
      const driver = new ProcessDriver(processProfiles().find((p) => p.runtime === rt)!, { stateDir: world.stateDir, sandbox });
      report = await driver.isolation();
      victim = await makeTenant(world, `${rt}-victim`, fx.files);
      attacker = await makeTenant(world, `${rt}-attacker`, fx.files);
      await writeTenantData(victim, 'secret.txt', 'the victim’s secret');
      await writeTenantData(attacker, 'own.txt', 'mine');
      b = await driver.start(victim.spec(rt, fx.entry, { env: { VICTIM_SECRET: 'b-env-secret' } }));
      a = await driver.start(attacker.spec(rt, fx.entry));
      await Promise.all([b.ready(15_000), a.ready(15_000)]);
    });

    after(async () => {
      await Promise.all([a?.stop(500), b?.stop(500)]);
      await world?.close();
    });

    it('can read its own source and data and write its own data (the probe works)', async () => {
      const results = await probe([
        { op: 'read', path: `$SOURCE/${fx.entry}` },
        { op: 'read', path: '$DATA/own.txt' },
        { op: 'write', path: '$DATA/new.txt' },
        { op: 'list', path: '$DATA' },
      ]);
      for (const r of results) assert.ok(r.ok, `${r.op} ${r.path} failed: ${r.error}\n${attacker.output}`);
    });

    it("cannot read another tenant's source, data or env, the daemon's state and token, or connect to another tenant's socket", async () => {
      const bPids = await processTree(b.pid!);
      const attempts: Attempt[] = [
        { op: 'read', path: path.join(victim.sourceDir, fx.entry), why: "the victim's source" },
        { op: 'list', path: victim.sourceDir, why: "the victim's source folder" },
        { op: 'read', path: path.join(victim.dataDir, 'secret.txt'), why: "the victim's data" },
        { op: 'list', path: victim.dataDir, why: "the victim's data folder" },
        { op: 'write', path: path.join(victim.dataDir, 'planted.txt'), why: "the victim's data folder" },
        { op: 'connect', path: b.socketPath, why: "the victim's socket" },
        ...bPids.map((pid) => ({ op: 'read' as const, path: `/proc/${pid}/environ`, why: "the victim's process env" })),
        { op: 'read', path: world.tokenFile, why: "the daemon's token" },
        { op: 'list', path: world.stateDir, why: "the daemon's state folder" },
        { op: 'list', path: path.join(world.stateDir, 'projects'), why: 'the project records' },
        { op: 'read', path: world.projectRecord, why: 'a project record (env values)' },
        { op: 'list', path: world.closedStateDir, why: 'a closed state folder' },
        { op: 'read', path: world.closedToken, why: 'the token in a closed state folder' },
        { op: 'write', path: `$SOURCE/planted.txt`, why: 'its own (sealed) source' },
      ];
      // the targets exist: a refusal must come from isolation, not from a typo
      for (const t of attempts) if (!t.path.startsWith('$')) assert.ok(existsSync(t.path) || t.op === 'write', `missing target ${t.path}`);
      assert.ok(readFileSync(path.join(victim.dataDir, 'secret.txt'), 'utf8').includes('secret'));

      const results = await probe(attempts);
      const leaks = results.filter((r) => r.ok).map((r) => `${r.op} ${r.path} (${r.why})`);
      assert.deepEqual(leaks, [], `the attacker got through:\n${leaks.join('\n')}`);
      assert.ok(!existsSync(path.join(victim.dataDir, 'planted.txt')));
    });

    it("holds nothing of the daemon's env, even in /proc/self/environ", async () => {
      const env = await request(a.socketPath, { path: '/env' });
      assert.ok(!env.text.includes(FAKE_DAEMON_TOKEN));
      assert.ok(!env.text.includes('TEE_DAEMON_TOKEN'));
      assert.ok(!env.text.includes('b-env-secret'));
      const environ = JSON.parse((await request(a.socketPath, { path: '/environ' })).text) as { text?: string; error?: string };
      if (environ.text !== undefined) {
        assert.ok(!environ.text.includes(FAKE_DAEMON_TOKEN));
        assert.ok(!environ.text.includes('TEE_DAEMON_TOKEN'));
      }
    });

    it('cannot connect to a world-writable socket outside its view, or isolation() says so', async () => {
      const [r] = await probe([{ op: 'connect', path: world.openSocket }]);
      if (r!.ok) {
        assert.equal(mechanism(report, MECHANISM.fsView).enforced, false, 'the socket was reachable, yet isolation() claims a confined view');
        assert.ok(sandbox === 'off', 'reachable although bubblewrap is on');
      }
      if (sandbox === 'auto' && report.mechanisms.find((m) => m.name === MECHANISM.fsView)?.enforced) assert.equal(r!.ok, false);
    });

    it('cannot read world-readable host files outside its view, or isolation() says so', async () => {
      const [r] = await probe([{ op: 'read', path: REPO_FILE }]);
      const view = mechanism(report, MECHANISM.fsView);
      if (r!.ok) {
        assert.equal(view.enforced, false, 'a host file was readable, yet isolation() claims a confined view');
        assert.match(view.note ?? '', /can read every file/);
      } else if (sandbox === 'off') {
        assert.ok(rt === 'deno' || rt === 'node', `${rt} has no permission model, so only bubblewrap could have refused this`);
      }
      if (sandbox === 'auto' && view.enforced) assert.equal(r!.ok, false);
    });

    it('reports what this machine enforces for it', () => {
      assert.equal(report.runtime, rt);
      assert.equal(report.available, true);
      assert.ok(report.version);
      assert.equal(mechanism(report, MECHANISM.uid).enforced, true);
      assert.equal(mechanism(report, MECHANISM.env).enforced, true);
      const bwrapHere = existsSync('/usr/bin/bwrap');
      assert.equal(mechanism(report, MECHANISM.fsView).enforced, sandbox === 'auto' && bwrapHere);
      assert.equal(mechanism(report, MECHANISM.namespaces).enforced, sandbox === 'auto' && bwrapHere);
      assert.equal(mechanism(report, MECHANISM.network).enforced, false);
      for (const m of report.mechanisms) if (!m.enforced) assert.ok(m.note, `"${m.name}" is not enforced and does not say why`);
    });
  });
}
