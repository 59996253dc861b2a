// A ServicePlan → the engine's container create body, with the confinement every tenant gets:
// all capabilities dropped but a short list, no-new-privileges, the engine's default seccomp
// profile (never overridden), private IPC/cgroup namespaces, memory/CPU/PID limits with swap off,
// bounded logs, nothing published to the host, and the operator's OCI runtime.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../verify/deployment.ts';
import type { ContainerCreateBody, HostConfig, Mount } from './engine/types.ts';
import { LABELS, type Names } from './names.ts';
import type { ServicePlan } from './plan.ts';
import { DEFAULT_CAPS, LOG_CONFIG, SECURITY_OPT } from './policy/hardening.ts';

export interface BodyContext {
  names: Names;
  project: string;
  deploymentId: string;
  instanceId: string;
  /** Local image id to create from. */
  imageId: string;
  /** The OCI runtime to ask for, or null for the engine's default. */
  runtime: string | null;
  /** The final environment (env files, environment, passthrough), values included. */
  env: Readonly<Record<string, string>>;
  isEntry: boolean;
}

/** The capabilities a service ends up with: the defaults plus its additions, minus its drops. */
export function effectiveCaps(svc: ServicePlan): string[] {
  const base = svc.capDrop.includes('ALL') ? [] : DEFAULT_CAPS.filter((c) => !svc.capDrop.includes(c));
  return [...new Set([...base, ...svc.capAdd])].sort();
}

function mounts(svc: ServicePlan, ctx: BodyContext): Mount[] {
  return svc.mounts.map((m): Mount => {
    if (m.type === 'volume') {
      // An empty name is an anonymous volume: it lives and dies with the container.
      return {
        Type: 'volume',
        ...(m.volume ? { Source: ctx.names.volume(ctx.project, m.volume) } : {}),
        Target: m.target,
        ReadOnly: m.readOnly,
        ...(m.noCopy ? { VolumeOptions: { NoCopy: true } } : {}),
      };
    }
    if (m.type === 'bind') return { Type: 'bind', Source: m.source, Target: m.target, ReadOnly: m.readOnly, BindOptions: { Propagation: 'rprivate' } };
    return { Type: 'tmpfs', Target: m.target, ...(m.sizeBytes ? { TmpfsOptions: { SizeBytes: m.sizeBytes } } : {}) };
  });
}

export function containerBody(svc: ServicePlan, ctx: BodyContext): ContainerCreateBody {
  const firstNet = svc.networks[0];
  const hostConfig: HostConfig = {
    Memory: svc.resources.memoryBytes,
    MemorySwap: svc.resources.memoryBytes, // equal to Memory: no swap
    NanoCpus: svc.resources.nanoCpus,
    PidsLimit: svc.resources.pids,
    CapDrop: ['ALL'],
    CapAdd: effectiveCaps(svc),
    SecurityOpt: [...SECURITY_OPT],
    ReadonlyRootfs: svc.readOnly,
    Privileged: false,
    ...(ctx.runtime ? { Runtime: ctx.runtime } : {}),
    RestartPolicy: svc.restart.name === 'on-failure' ? { Name: 'on-failure', MaximumRetryCount: svc.restart.maxRetries || 5 } : { Name: svc.restart.name },
    NetworkMode: firstNet ? ctx.names.network(ctx.project, ctx.instanceId, firstNet.name) : 'none',
    Mounts: mounts(svc, ctx),
    Init: svc.init,
    IpcMode: svc.ipc,
    CgroupnsMode: 'private',
    ...(svc.shmSizeBytes ? { ShmSize: svc.shmSizeBytes } : {}),
    LogConfig: LOG_CONFIG,
    PublishAllPorts: false,
    PortBindings: {},
    ExtraHosts: svc.extraHosts,
    Dns: svc.dns,
    DnsSearch: svc.dnsSearch,
    DnsOptions: svc.dnsOptions,
    GroupAdd: svc.groupAdd,
  };
  const labels: Record<string, string> = {
    ...svc.labels,
    ...ctx.names.base(ctx.project),
    [LABELS.deployment]: ctx.deploymentId,
    [LABELS.instance]: ctx.instanceId,
    [LABELS.service]: svc.name,
    ...(ctx.isEntry ? { [LABELS.role]: 'entry' } : {}),
  };
  const env = Object.keys(ctx.env)
    .sort()
    .map((k) => `${k}=${ctx.env[k]}`);
  return {
    Image: ctx.imageId,
    ...(svc.command ? { Cmd: svc.command } : {}),
    ...(svc.entrypoint ? { Entrypoint: svc.entrypoint.length ? svc.entrypoint : [''] } : {}),
    Env: env,
    ...(svc.workingDir ? { WorkingDir: svc.workingDir } : {}),
    ...(svc.user ? { User: svc.user } : {}),
    ...(svc.hostname ? { Hostname: svc.hostname } : {}),
    Labels: labels,
    ...(svc.stopSignal ? { StopSignal: svc.stopSignal } : {}),
    ...(svc.stopGraceS !== null ? { StopTimeout: svc.stopGraceS } : {}),
    ...(svc.healthDisabled
      ? { Healthcheck: { Test: ['NONE'] } }
      : svc.health
        ? {
            Healthcheck: {
              Test: svc.health.test,
              ...(svc.health.intervalNs !== null ? { Interval: svc.health.intervalNs } : {}),
              ...(svc.health.timeoutNs !== null ? { Timeout: svc.health.timeoutNs } : {}),
              ...(svc.health.startPeriodNs !== null ? { StartPeriod: svc.health.startPeriodNs } : {}),
              ...(svc.health.retries !== null ? { Retries: svc.health.retries } : {}),
            },
          }
        : {}),
    ExposedPorts: Object.fromEntries(svc.exposed.map((p) => [`${p}/tcp`, {}])),
    Tty: false,
    OpenStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: hostConfig,
    NetworkingConfig: firstNet
      ? { EndpointsConfig: { [ctx.names.network(ctx.project, ctx.instanceId, firstNet.name)]: { Aliases: firstNet.aliases } } }
      : { EndpointsConfig: {} },
  };
}

/**
 * A digest of everything that decides how the container runs, independent of which instance it
 * belongs to: two containers with the same hash are interchangeable, so an adopted container is
 * one we would have created ourselves. (It covers env values; anyone who can read the label can
 * read the container's env anyway.)
 */
export function configHash(svc: ServicePlan, ctx: BodyContext): string {
  const body = containerBody(svc, { ...ctx, instanceId: '<instance>' });
  const networks = svc.networks.map((n) => ({ name: n.name, aliases: n.aliases }));
  return createHash('sha256').update(canonicalJson({ body, networks })).digest('hex');
}
