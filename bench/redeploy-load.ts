// Failed requests while a project is redeployed and rolled back under load (target: 0), on both
// data planes, with wrk as the client. Baseline in the same run: the same load with no redeploy.
// Usage: node --import tsx bench/redeploy-load.ts [--duration 8] [--connections 20]   (needs wrk)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { testDaemon } from '../test/helpers/daemon.ts';
import { TestRepo } from '../test/helpers/git-repo.ts';
import { findNginx } from '../src/ingress/nginx-plane.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { duration: { type: 'string', default: '8' }, connections: { type: 'string', default: '20' } } });

interface WrkResult {
  requests: number;
  rps: number;
  errors: number;
  detail: string;
}

async function wrk(url: string): Promise<WrkResult> {
  const { stdout } = await run('wrk', ['-t1', `-c${values.connections}`, `-d${values.duration}s`, url]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { requests, rps, errors: socketErrors + non2xx, detail: `${sock?.[0] ?? 'no socket errors'}; non-2xx ${non2xx}` };
}

const planes = (findNginx() ? ['node', 'nginx'] : ['node']) as Array<'node' | 'nginx'>;
console.log(`\nredeploy-under-load bench — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, wrk -t1 -c${values.connections} -d${values.duration}s, ${new Date().toISOString()}\n`);
console.log('plane   run                         requests    req/s   failed   detail');
for (const plane of planes) {
  const repo = new TestRepo({ 'server.ts': 'export default () => new Response("v1");\n' });
  const d = await testDaemon({ dataPlane: plane });
  await d.deployGit({ name: 'live', source: repo.dir, ref: 'main' });
  repo.commit({ 'server.ts': 'export default () => new Response("v2");\n' });
  const url = `${d.url}/live/`;
  const quiet = await wrk(url);
  const loaded = wrk(url);
  let swaps = 0;
  const deadline = Date.now() + Number(values.duration) * 1000 - 1500;
  await new Promise((r) => setTimeout(r, 700));
  while (Date.now() < deadline) {
    const res = swaps % 2 === 0 ? await d.api('POST', '/_api/projects/live/redeploy') : await d.api('POST', '/_api/projects/live/rollback', {});
    if (res.status !== 200) throw new Error(`swap ${swaps}: ${res.status} ${await res.text()}`);
    swaps++;
    await new Promise((r) => setTimeout(r, 400));
  }
  const busy = await loaded;
  for (const [label, r] of [['no redeploy (baseline)', quiet], [`${swaps} redeploys/rollbacks`, busy]] as const) {
    console.log(`${plane.padEnd(7)} ${label.padEnd(27)} ${String(r.requests).padStart(8)} ${r.rps.toFixed(0).padStart(8)} ${String(r.errors).padStart(8)}   ${r.detail}`);
  }
  await d.stop();
  repo.remove();
}
process.exit(0);
