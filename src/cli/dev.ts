// `webhost dev <folder>`: runs a handler on this machine with the contract it gets when deployed —
// the same runtime resolution, shims, ctx and sandbox — served at http://localhost:<port>/ (an
// origin of its own, no prefix), and reloaded when a file changes: the new version starts, and
// traffic moves only once it answers; a version that fails to start leaves the old one serving.
import { watch } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CliError } from './cli-error.ts';
import { RouteTable, Upstream } from '../ingress/route-table.ts';
import { Ingress } from '../ingress/server.ts';
import { AccessLog } from '../ingress/access-log.ts';
import { createProcessDrivers } from '../runtimes/index.ts';
import { ensureOwnedDir, whyUnreachable } from '../runtimes/tenant-dirs.ts';
import { Supervisor } from '../runtimes/supervisor.ts';
import { DEFAULT_LIMITS, type ProcessRuntime, type RuntimeName } from '../runtimes/driver.ts';
import { readRepoManifest, resolveRuntime } from '../projects/resolve-runtime.ts';
import { parseEnv, parseRuntime } from '../projects/manifest.ts';
import { HttpError } from '../lib/http-error.ts';
import { AppBroker } from '../attestation/app-broker.ts';
import { AppSigner } from '../attestation/app-broker-keys.ts';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';

export const DEV_USAGE = `usage: webhost dev <folder> [options]

Runs the app in <folder> locally with the handler contract it gets when deployed, at
http://localhost:<port>/, reloading it when a file changes.

  --port N           port to serve on (default 3000)
  --runtime R        deno | node | bun | python | static (default: as a deploy detects it)
  --entry FILE       entry file (default per runtime)
  --env KEY=VALUE    an env variable (repeatable); --env-file FILE reads KEY=VALUE lines
  --data DIR         the app's ctx.dataDir (default .webhost/dev/<folder name>/data)`;

/** The uid a dev app runs as when this command runs as root (a daemon's tenants start at 200000). */
const DEV_UID = 299_999;
const IGNORED = /(^|\/)(\.git|node_modules|\.webhost[^/]*|__pycache__)(\/|$)/;

export async function devCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        port: { type: 'string', default: '3000' },
        runtime: { type: 'string' },
        entry: { type: 'string' },
        env: { type: 'string', multiple: true },
        'env-file': { type: 'string' },
        data: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new CliError(`${(err as Error).message} (see 'webhost dev --help')`, 2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(DEV_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new CliError('expected one folder (webhost dev <folder>)', 2);
  const folder = path.resolve(positionals[0]!);
  if (!(await stat(folder).then((s) => s.isDirectory(), () => false))) throw new CliError(`${folder} is not a folder`, 2);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliError('--port must be a port number', 2);

  let runtime: RuntimeName;
  let entry: string;
  let env: Record<string, string>;
  try {
    const repo = await readRepoManifest(folder);
    ({ runtime, entry } = await resolveRuntime({ runtime: parseRuntime(values.runtime, '--runtime'), entry: values.entry }, repo, folder, false));
    const fromFile = values['env-file'] ? await readFile(values['env-file'], 'utf8') : '';
    const pairs = [...fromFile.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#')), ...(values.env ?? [])];
    env = { ...(repo?.env ?? {}), ...(parseEnv(Object.fromEntries(pairs.map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1)])), '--env') ?? {}) };
  } catch (err) {
    if (err instanceof HttpError) throw new CliError(err.message, 2);
    throw err;
  }
  if (runtime === 'image' || runtime === 'dockerfile' || runtime === 'compose') throw new CliError(`webhost dev runs Layer 2 apps; ${runtime} needs a daemon with Docker`, 2);

  const name = path.basename(folder).toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '') || 'dev';
  const stateDir = path.resolve('.webhost', 'dev', name);
  const dataDir = path.resolve(values.data ?? path.join(stateDir, 'data'));
  const root = process.getuid?.() === 0;
  const uid = root ? DEV_UID : process.getuid!();
  const gid = root ? DEV_UID : process.getgid!();
  const unreachable = await whyUnreachable(folder, uid, gid);
  if (unreachable) {
    throw new CliError(`the app would run as uid ${uid}, which cannot read ${folder}: ${unreachable}; make the folder readable, or run webhost dev as a regular user`);
  }
  await mkdir(stateDir, { recursive: true, mode: 0o711 });
  await ensureOwnedDir(dataDir, uid, gid);

  const routes = new RouteTable();
  const ingress = new Ingress({
    routes,
    daemon: (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found","code":"not_found"}');
    },
    baseDomain: '',
    accessLog: new AccessLog((text) => {
      for (const line of text.trim().split('\n')) {
        const e = JSON.parse(line) as { method: string; path: string; status: number; duration_ms: number };
        process.stderr.write(`  ${e.method} ${e.path} → ${e.status} (${e.duration_ms} ms)\n`);
      }
    }),
    upstreamTimeoutMs: 120_000,
    trustProxy: false,
    host: '127.0.0.1',
    ownsPorts: true,
  });

  const drivers = await createProcessDrivers({ stateDir });
  let current: Supervisor | null = null;
  let currentBroker: AppBroker | null = null;
  let generation = 0;
  // ctx.sign and ctx.receipt work with a development key kept in the state folder (no TEE here, so
  // not the key a daemon derives; its receipts verify against no bundle); ctx.quote says why not.
  const devSeed = await devAppKeySeed(stateDir);

  const start = async (): Promise<void> => {
    if (runtime === 'static') {
      routes.set(name, { kind: 'static', project: name, root: path.join(folder, entry) });
      return;
    }
    const driver = drivers.get(runtime as ProcessRuntime)!;
    const runDir = path.join(stateDir, 'run', `g${++generation}`);
    await ensureOwnedDir(runDir, uid, gid);
    const broker = await AppBroker.open({
      runDir,
      uid,
      gid,
      project: name,
      deploymentId: `dev-${generation}`,
      deployment: null,
      seed: async () => devSeed,
      getQuote: null,
      attested: () => false,
      notAttestedMessage: 'webhost dev has no TEE, so there is no quote: deploy the project to a daemon and promote it',
    });
    const supervisor = new Supervisor(driver, {
      project: name,
      deploymentId: `dev-${generation}`,
      runtime: runtime as ProcessRuntime,
      sourceDir: folder,
      entry,
      dataDir,
      runDir,
      env,
      uid,
      gid,
      limits: DEFAULT_LIMITS,
      onOutput: (stream, chunk) => (stream === 'stderr' ? process.stderr : process.stdout).write(chunk),
    }, { onEvent: (text) => process.stderr.write(`[dev] ${text}\n`) });
    try {
      await supervisor.start(20_000);
    } catch (err) {
      await supervisor.stop(0).catch(() => undefined);
      await broker.close();
      process.stderr.write(`[dev] the app did not start: ${(err as Error).message}\n${(err as { output?: string }).output ?? ''}`);
      if (!current) throw new CliError('the app did not start (fix it and run webhost dev again)');
      process.stderr.write('[dev] still serving the previous version\n');
      return;
    }
    const old = current;
    const oldBroker = currentBroker;
    current = supervisor;
    currentBroker = broker;
    const prev = routes.set(name, { kind: 'proxy', project: name, upstream: new Upstream(supervisor.socketPath) });
    if (prev?.kind === 'proxy') await prev.upstream.drain(5_000);
    await old?.stop(2_000);
    await oldBroker?.close();
  };

  await start();
  // Watch before serving, so no change made after the first answer can be missed.
  let timer: NodeJS.Timeout | undefined;
  let reloading = Promise.resolve();
  const watcher = watch(folder, { recursive: true }, (_event, file) => {
    if (file && IGNORED.test(String(file))) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      process.stderr.write(`[dev] ${file ?? 'a file'} changed: reloading\n`);
      reloading = reloading.then(start).catch((err: Error) => void process.stderr.write(`[dev] ${err.message}\n`));
    }, 150);
  });

  routes.setPort(name, port);
  await new Promise((r) => setTimeout(r, 50));
  const bound = ingress.portError(port);
  if (bound) throw new CliError(`cannot listen on port ${port}: ${bound}`);
  process.stderr.write(`[dev] serving ${folder} (${runtime}, ${entry}) at http://localhost:${port}/ — reloads when a file changes; Ctrl-C stops\n`);
  process.stderr.write(`[dev] ctx.sign and ctx.receipt use a development key (public key ${new AppSigner(devSeed).publicKey}, kept in ${stateDir}), not a TEE-derived app key; ctx.quote is refused\n`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  watcher.close();
  await reloading;
  // (TypeScript cannot see that start() assigned them.)
  await (current as Supervisor | null)?.stop(2_000);
  await (currentBroker as AppBroker | null)?.close();
  await ingress.close();
  routes.remove(name);
  return 0;
}

/** The development app key's seed: 32 random bytes kept (0600) in the dev state folder across runs. */
async function devAppKeySeed(stateDir: string): Promise<Uint8Array> {
  const file = path.join(stateDir, 'dev-app-key');
  const existing = await readFile(file).catch(() => null);
  if (existing?.length === 32) return new Uint8Array(existing);
  const seed = randomBytes(32);
  await writeFile(file, seed, { mode: 0o600 });
  return new Uint8Array(seed);
}
