// The composition root: builds the store, runtimes, runner, deploy pipeline, API and ingress from
// a config, brings every project back on the deployment it had, and shuts down gracefully.
import path from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { ProjectStore } from '../projects/store.ts';
import { AppLogs } from '../projects/app-logs.ts';
import { Runner } from '../projects/runner.ts';
import { Deployer, type ProjectEvent } from '../projects/deployer.ts';
import { envDigester } from '../projects/env-digest.ts';
import { DEFAULT_ARCHIVE_LIMITS } from '../projects/tarball.ts';
import { RouteTable } from '../ingress/route-table.ts';
import { Ingress } from '../ingress/server.ts';
import { AccessLog } from '../ingress/access-log.ts';
import { NginxPlane, findNginx } from '../ingress/nginx-plane.ts';
import { ConfigError } from './token.ts';
import { createApi } from '../api/app.ts';
import { mountPages } from '../web/index.ts';
import { tokenChecker } from '../api/auth.ts';
import { createProcessDrivers } from '../runtimes/index.ts';
import type { IsolationReport } from '../runtimes/driver.ts';
import { resolveToken, type TokenResult } from './token.ts';
import type { DaemonConfig } from './config.ts';
import { daemonVersion } from './version.ts';
import { connectTee, KEY_PATHS, type Tee } from './tee.ts';
import { AuditLogs } from '../auditlog/index.ts';
import { AuditTrail } from '../projects/audit-trail.ts';
import { deploymentRef } from '../verify/deployment.ts';
import { DEFAULT_SOCKET_PATHS } from '../attestation/guest-agent-client.ts';

export interface Daemon {
  port: number;
  token: TokenResult;
  store: ProjectStore;
  close(): Promise<void>;
}

export interface DaemonHooks {
  /** Where the daemon's own log lines go (default stderr). */
  log?: (msg: string) => void;
  /** Where access-log lines go (default stdout). */
  access?: (text: string) => void;
}

export async function startDaemon(config: DaemonConfig, hooks: DaemonHooks = {}): Promise<Daemon> {
  const log = hooks.log ?? ((msg: string) => process.stderr.write(`[webhost] ${msg}\n`));
  const store = new ProjectStore(config.stateDir);
  await store.open();
  const token = await resolveToken(config.tokenFromEnv, config.stateDir, config.production);
  const logs = new AppLogs(path.join(config.stateDir, 'logs'));
  await logs.open();

  // The TEE first: every key below is derived through it.
  const tee: Tee = await connectTee({
    endpoint: config.dstackEndpoint,
    simulated: !(config.dstackEndpoint && DEFAULT_SOCKET_PATHS.includes(config.dstackEndpoint)),
    stateDir: config.stateDir,
  });
  const trail = new AuditTrail(
    new AuditLogs(path.join(config.stateDir, 'audit'), {
      host: config.baseDomain || 'localhost',
      seedFor: (origin) => tee.deriveKey(KEY_PATHS.auditLog(origin), 'audit-log-checkpoint'),
    }),
  );

  const drivers = await createProcessDrivers({ stateDir: config.stateDir });
  const routes = new RouteTable();
  const access = hooks.access ?? ((text: string) => void process.stdout.write(text));
  const accessLog = new AccessLog(access);

  const nginxBinary = config.dataPlane === 'node' ? undefined : findNginx();
  if (config.dataPlane === 'nginx' && !nginxBinary) throw new ConfigError('the nginx data plane was asked for, but nginx is not installed');
  const nginx = nginxBinary
    ? new NginxPlane({
        binary: nginxBinary,
        prefix: path.join(config.stateDir, 'nginx'),
        port: config.port,
        host: config.host,
        baseDomain: config.baseDomain,
        daemonSocket: path.join(config.stateDir, 'daemon.sock'),
        trustProxy: config.trustProxy,
        upstreamTimeoutMs: config.upstreamTimeoutMs,
        routes,
        workers: 1,
        access,
        log,
      })
    : undefined;
  const runner = new Runner({
    store,
    routes,
    logs,
    drivers,
    readyTimeoutMs: config.readyTimeoutMs,
    drainTimeoutMs: config.drainTimeoutMs,
    applyRoutes: nginx ? () => nginx.apply(config.drainTimeoutMs) : undefined,
  });

  let ingress: Ingress | undefined;
  const deployer = new Deployer({
    store,
    runner,
    logs,
    envDigest: envDigester(await tee.deriveKey(KEY_PATHS.envDigest, 'env-digest')),
    audit: trail,
    archiveLimits: DEFAULT_ARCHIVE_LIMITS,
    portAvailable: async (port, name) => routes.projectForPort(port) === name || ingress!.portAvailable(port),
    ingressPort: config.port,
    onEvent: async (e: ProjectEvent) => log(`${e.action} ${e.project.name}${e.deployment ? ` → ${e.deployment.id.slice(0, 12)}` : ''}`),
  });

  const version = await daemonVersion();
  const info = await tee.client.info();
  const substrate = async (): Promise<Record<string, unknown>> => {
    const reports: IsolationReport[] = await Promise.all([...drivers.values()].map((d) => d.isolation()));
    return {
      daemon: { name: 'dstack-webhost', ...version },
      tee: tee.kind === 'simulated' ? 'SIMULATED (no TEE: the built-in dstack simulator signs quotes with its own development PKI)' : 'tdx',
      tee_kind: tee.kind,
      app_id: info.app_id,
      instance_id: info.instance_id,
      compose_hash: info.compose_hash,
      app_compose: info.tcb_info?.app_compose ?? null,
      data_plane: nginx ? 'nginx' : 'node',
      base_domain: config.baseDomain,
      runtimes: [
        ...reports,
        { runtime: 'static', available: true, version: null, mechanisms: [{ name: 'served by the daemon, confined to the deployment folder (no link leaves it)', enforced: true }] },
        ...['image', 'dockerfile', 'compose'].map((r) => ({
          runtime: r,
          available: false,
          version: null,
          mechanisms: [{ name: 'docker', enforced: false, note: 'the Docker driver is not enabled on this daemon' }],
        })),
      ],
    };
  };

  const api = createApi({
    deployer,
    store,
    runner,
    logs,
    checkToken: tokenChecker(token.token),
    substrate,
    uploadLimitBytes: config.uploadLimitBytes,
    log,
    pages: (app) => mountPages(app, { log }),
    attested: {
      trail,
      tee,
      self: { version: version.version, commit: version.commit, tee: tee.kind, simulatorRootCa: tee.simulatorRootCa },
      collateral: tee.simulator ? async () => tee.simulator!.collateral() : undefined,
    },
  });
  const listener = getRequestListener(api.fetch);
  ingress = new Ingress({
    routes,
    daemon: (req, res) => void listener(req, res),
    baseDomain: config.baseDomain,
    accessLog,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    trustProxy: config.trustProxy,
    host: config.host,
    ownsPorts: !nginx,
  });
  let port = config.port;
  if (nginx) {
    await ingress.listenInternal(path.join(config.stateDir, 'daemon.sock'));
    await nginx.start();
  } else {
    port = await ingress.listen(config.port);
  }

  // Bring every project back on the deployment it had, in parallel; the ingress answers 503 for
  // a project until its instance is ready.
  await Promise.all(
    store.list().map(async (p) => {
      runner.markUnavailable(p.name, 'the app is starting');
      try {
        const d = await deployer.currentDeployment(p);
        await runner.activate(p, d);
        // A log that fails its integrity check stays as it is: the app keeps serving, and its
        // evidence endpoints (and so every verifier) report the problem.
        await trail.reconcile(p, deploymentRef(d.record)).catch((err: Error) => log(`audit log of ${p.name}: ${err.message}`));
      } catch (err) {
        runner.markUnavailable(p.name, 'the app could not be started after a restart');
        logs.system(p.name, `could not start after a restart: ${(err as Error).message}`);
        log(`project ${p.name} could not be started: ${(err as Error).message}`);
      }
    }),
  );

  let closing: Promise<void> | undefined;
  return {
    port,
    token,
    store,
    close() {
      closing ??= (async () => {
        await nginx?.stop();
        await ingress!.close();
        await runner.stopAll();
        await trail.logs.release();
        await tee.close();
      })();
      return closing;
    },
  };
}
