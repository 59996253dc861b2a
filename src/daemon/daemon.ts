// The composition root: builds the store, runtimes, runner, deploy pipeline, API and ingress from
// a config, brings every project back on the deployment it had, and shuts down gracefully.
import path from 'node:path';
import { createHash } from 'node:crypto';
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
import { createDockerDriver, passthroughAllowFromEnv, type DockerDriver } from '../runtimes/docker/index.ts';
import { Netfilter } from '../runtimes/netfilter.ts';
import { ServiceLinks } from '../projects/service-links.ts';
import { FIRST_TENANT_ID } from '../projects/store.ts';
import type { IsolationReport } from '../runtimes/driver.ts';
import type { StoredDeployment } from '../projects/model.ts';
import { resolveToken, type TokenResult } from './token.ts';
import type { DaemonConfig } from './config.ts';
import { daemonVersion } from './version.ts';
import { connectTee, KEY_PATHS, type Tee } from './tee.ts';
import { AuditLogs } from '../auditlog/index.ts';
import { AuditTrail } from '../projects/audit-trail.ts';
import { deploymentRef } from '../verify/deployment.ts';
import { DEFAULT_SOCKET_PATHS } from '../attestation/guest-agent-client.ts';
import { openInstanceBroker } from '../attestation/app-broker.ts';

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
    pccsUrl: config.pccsUrl,
    log,
  });
  // Log origins start with the CVM's app-id, so two daemons (or a daemon and a wiped-and-restarted
  // one with another identity) never name their logs alike: a verifier remembers logs by origin.
  const identity = await tee.client.info();
  const trail = new AuditTrail(
    new AuditLogs(path.join(config.stateDir, 'audit'), {
      host: `${identity.app_id.slice(0, 16)}.${config.baseDomain || 'localhost'}`,
      seedFor: (origin) => tee.deriveKey(KEY_PATHS.auditLog(origin), 'audit-log-checkpoint'),
    }),
  );

  // Layer 2 apps reach Layer 1 services only through relays they declared; packet rules (by the
  // tenant's uid) keep them from other relays, every container network and this machine's own
  // services, and keep anyone from reaching a port a tenant bound.
  const netfilter = new Netfilter(`${FIRST_TENANT_ID}-${FIRST_TENANT_ID + 99_999}`, createHash('sha256').update(config.stateDir).digest('hex'));
  const links = new ServiceLinks(netfilter);
  await netfilter.apply([]).catch((err: Error) => log(`packet rules: ${err.message}`));
  const drivers = await createProcessDrivers({ stateDir: config.stateDir, network: () => netfilter.networkMechanism() });
  // Layer 1 is there when a Docker engine answers; otherwise those runtimes are refused, and the
  // substrate says why.
  const dockerCandidate = createDockerDriver({ namespace: config.dockerNamespace });
  const dockerState = await dockerCandidate.isolation();
  const docker: DockerDriver | undefined = dockerState.available ? dockerCandidate : undefined;
  if (!docker) dockerCandidate.close();
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
    docker,
    links,
    // App keys for handlers: each process instance gets the key broker in its runDir (ctx.sign,
    // ctx.receipt, ctx.quote). A broker that cannot open leaves the app running without one.
    instanceServices: (p, d, runDir) =>
      openInstanceBroker({ tee, project: p, deployment: d, runDir, attested: () => store.get(p.name)?.mode === 'attested', log }).catch((err: Error) => {
        logs.system(p.name, `the app-key broker could not start (ctx.sign and ctx.quote will fail): ${err.message}`);
        return { close: async () => undefined };
      }),
  });

  let ingress: Ingress | undefined;
  const deployer = new Deployer({
    store,
    runner,
    logs,
    envDigest: envDigester(await tee.deriveKey(KEY_PATHS.envDigest, 'env-digest')),
    audit: trail,
    docker,
    passthroughAllow: passthroughAllowFromEnv(),
    archiveLimits: DEFAULT_ARCHIVE_LIMITS,
    portAvailable: async (port, name) => routes.projectForPort(port) === name || ingress!.portAvailable(port),
    ingressPort: config.port,
    onEvent: async (e: ProjectEvent) => log(`${e.action} ${e.project.name}${e.deployment ? ` → ${e.deployment.id.slice(0, 12)}` : ''}`),
  });

  const version = await daemonVersion();
  // What is enforced changes rarely (a package installed, the engine restarted): probe at most
  // every 30 seconds rather than on every request of this public endpoint.
  let substrateCache: { at: number; value: Promise<Record<string, unknown>> } | undefined;
  const substrate = (): Promise<Record<string, unknown>> => {
    if (!substrateCache || Date.now() - substrateCache.at > 30_000) {
      substrateCache = { at: Date.now(), value: probeSubstrate() };
      substrateCache.value.catch(() => (substrateCache = undefined));
    }
    return substrateCache.value;
  };
  const probeSubstrate = async (): Promise<Record<string, unknown>> => {
    const reports: IsolationReport[] = await Promise.all([...drivers.values()].map((d) => d.isolation()));
    const layer1 = docker ? await docker.isolation() : dockerState;
    return {
      daemon: { name: 'dstack-webhost', ...version },
      tee: tee.kind === 'simulated' ? 'SIMULATED (no TEE: the built-in dstack simulator signs quotes with its own development PKI)' : 'tdx',
      tee_kind: tee.kind,
      app_id: identity.app_id,
      instance_id: identity.instance_id,
      compose_hash: identity.compose_hash,
      app_compose: identity.tcb_info?.app_compose ?? null,
      data_plane: nginx ? 'nginx' : 'node',
      base_domain: config.baseDomain,
      runtimes: [
        ...reports,
        { runtime: 'static', available: true, version: null, mechanisms: [{ name: 'served by the daemon, confined to the deployment folder (no link leaves it)', enforced: true }] },
        ...layer1.reports,
      ],
      layer2_to_layer1: { mechanism: 'loopback relays per declared use; packet rules by tenant uid', ...netfilter.status() },
      container_runtime: { configured: layer1.configuredRuntime ?? null, effective: layer1.effectiveRuntime ?? null, engine: layer1.engine ?? null, error: layer1.error ?? null },
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
    lastChange: async (name) => {
      const entry = (await trail.logs.current(name))?.entries().at(-1);
      if (!entry) return null;
      const e = JSON.parse(entry) as { time: string; action: string };
      return { time: e.time, action: e.action };
    },
    attested: {
      trail,
      tee,
      self: { version: version.version, commit: version.commit, tee: tee.kind, simulatorRootCa: tee.simulatorRootCa },
      collateral: () => tee.collateral(),
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

  // Bring every project back on the deployment it had, in parallel: Layer 1 projects first, since
  // Layer 2 apps may use their services. The ingress answers 503 for a project until it is ready.
  const recover = async (p: (typeof all)[number], d: StoredDeployment) => {
    try {
      await runner.activate(p, d, { adopt: true });
      // A log that fails its integrity check stays as it is: the app keeps serving, and its
      // evidence endpoints (and so every verifier) report the problem.
      await trail.reconcile(p, deploymentRef(d.record)).catch((err: Error) => log(`audit log of ${p.name}: ${err.message}`));
    } catch (err) {
      runner.markUnavailable(p.name, 'the app could not be started after a restart');
      logs.system(p.name, `could not start after a restart: ${(err as Error).message}`);
      log(`project ${p.name} could not be started: ${(err as Error).message}`);
    }
  };
  const all = store.list();
  const current = new Map<string, StoredDeployment>();
  for (const p of all) {
    runner.markUnavailable(p.name, 'the app is starting');
    const d = await store.loadDeployment(p.name, p.current);
    if (d) current.set(p.name, d);
    else log(`project ${p.name}: its current deployment is missing on disk`);
  }
  const layer1 = all.filter((p) => current.get(p.name)?.docker);
  await Promise.all(layer1.map((p) => recover(p, current.get(p.name)!)));
  await Promise.all(all.filter((p) => current.has(p.name) && !layer1.includes(p)).map((p) => recover(p, current.get(p.name)!)));

  // Containers of projects this daemon no longer knows (deleted while it was down, or a lost
  // state folder) are stopped; their volumes stay until an operator removes them.
  if (docker) {
    for (const inst of await docker.instances().catch(() => [])) {
      if (!store.get(inst.project)) await docker.cleanup(inst.project, []).catch(() => undefined);
    }
  }

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
        await links.close();
        await tee.close();
        docker?.close();
      })();
      return closing;
    },
  };
}
