// Redeploys and rollbacks under continuous load lose no request, on both data planes; and after a
// daemon restart every project serves again on the deployment it had.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { testDaemon, type TestDaemon } from '../helpers/daemon.ts';
import { TestRepo } from '../helpers/git-repo.ts';
import { findNginx } from '../../src/ingress/nginx-plane.ts';

const version = (v: string) => ({
  'server.ts': `export default () => new Response(${JSON.stringify(v)});\n`,
});

/** Requests in a loop from several keep-alive clients until stopped; counts failures and versions seen. */
function load(url: string, clients = 6) {
  let running = true;
  let failures = 0;
  let total = 0;
  const seen = new Map<string, number>();
  const errors: string[] = [];
  const worker = async () => {
    const agent = new http.Agent({ keepAlive: true });
    while (running) {
      const r = await new Promise<{ status: number; body: string }>((resolve) => {
        http
          .get(url, { agent }, (res) => {
            let body = '';
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode!, body }));
            res.on('error', (e) => resolve({ status: 0, body: e.message }));
          })
          .on('error', (e) => resolve({ status: 0, body: e.message }));
      });
      total++;
      if (r.status !== 200) {
        failures++;
        if (errors.length < 5) errors.push(`${r.status} ${r.body.slice(0, 120)}`);
      } else seen.set(r.body, (seen.get(r.body) ?? 0) + 1);
    }
    agent.destroy();
  };
  const workers = Array.from({ length: clients }, worker);
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return { failures, total, seen, errors };
    },
  };
}

const planes: Array<'node' | 'nginx'> = findNginx() ? ['node', 'nginx'] : ['node'];

for (const plane of planes) {
  describe(`zero downtime (${plane} data plane)`, () => {
    let d: TestDaemon;
    let repo: TestRepo;
    before(async () => {
      d = await testDaemon({ dataPlane: plane });
      repo = new TestRepo(version('v1'));
    });
    after(async () => {
      await d.stop();
      repo.remove();
    });

    test('redeploy and rollback under continuous load: zero failed requests', async () => {
      const first = await d.deployGit({ name: 'live', source: repo.dir, ref: 'main' });
      assert.equal(first.status, 201, await first.clone().text());
      const l = load(`${d.url}/live/`);
      await new Promise((r) => setTimeout(r, 300));

      repo.commit(version('v2'));
      const re = await d.api('POST', '/_api/projects/live/redeploy');
      const reBody = await re.json();
      assert.equal(re.status, 200, JSON.stringify(reBody));
      assert.equal(reBody.changed, true);
      assert.equal(await (await fetch(`${d.url}/live/`)).text(), 'v2', 'once redeploy answers, new requests reach the new version');
      await new Promise((r) => setTimeout(r, 300));

      const same = await d.api('POST', '/_api/projects/live/redeploy');
      assert.equal((await same.json()).changed, false, 'nothing new to pull');

      const rb = await d.api('POST', '/_api/projects/live/rollback', {});
      assert.equal(rb.status, 200);
      assert.equal(await (await fetch(`${d.url}/live/`)).text(), 'v1');
      await new Promise((r) => setTimeout(r, 300));

      const deployments = (await (await d.api('GET', '/_api/projects/live/deployments')).json()) as Array<{ id: string; current: boolean }>;
      const v2 = deployments.find((x) => !x.current)!;
      const fwd = await d.api('POST', '/_api/projects/live/rollback', { deployment: v2.id });
      assert.equal(fwd.status, 200);
      assert.equal(await (await fetch(`${d.url}/live/`)).text(), 'v2');
      await new Promise((r) => setTimeout(r, 300));

      const { failures, total, seen, errors } = await l.stop();
      assert.equal(failures, 0, `${failures} of ${total} requests failed: ${errors.join(' | ')}`);
      assert.ok((seen.get('v1') ?? 0) > 0 && (seen.get('v2') ?? 0) > 0, `both versions served: ${[...seen]}`);
      assert.ok(total > 50, `only ${total} requests ran`);
    });

    test('after a restart every project serves again, on the deployment it had', async () => {
      await d.deployTar({ name: 'static-one' }, [{ name: 'index.html', content: 'static survives' }]);
      const before = (await (await d.api('GET', '/_api/projects/live')).json()).deployment_id;
      await d.restart();
      assert.equal(await (await fetch(`${d.url}/live/`)).text(), 'v2');
      assert.equal(await (await fetch(`${d.url}/static-one/`)).text(), 'static survives');
      const afterView = await (await d.api('GET', '/_api/projects/live')).json();
      assert.equal(afterView.deployment_id, before);
      assert.equal(afterView.status, 'running');
      // The retained history survives too: a rollback still works after the restart.
      assert.equal((await d.api('POST', '/_api/projects/live/rollback', {})).status, 200);
      assert.equal(await (await fetch(`${d.url}/live/`)).text(), 'v1');
    });
  });
}
