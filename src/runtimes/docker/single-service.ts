// `image` and `dockerfile` tenants as a plan of one service, `app`, so they run through exactly
// the same container code (and hardening) as compose services.
import type { Limits } from '../driver.ts';
import type { DockerFields } from './manifest.ts';
import type { DeploymentPlan, ServicePlan } from './plan.ts';

export const SINGLE_SERVICE = 'app';

export function singleServicePlan(runtime: 'image' | 'dockerfile', fields: DockerFields, limits: Limits, env: Readonly<Record<string, string>>): DeploymentPlan {
  const port = fields.imagePort ?? 8080;
  const volumes = fields.volumes ?? [];
  const service: ServicePlan = {
    name: SINGLE_SERVICE,
    image: runtime === 'image' ? fields.image! : null,
    build: runtime === 'dockerfile' ? { context: '.', dockerfile: fields.dockerfile ?? 'Dockerfile', args: {}, target: null } : null,
    field: runtime === 'image' ? 'image' : 'dockerfile',
    command: null,
    entrypoint: null,
    env: { ...env },
    envFiles: [],
    workingDir: null,
    user: null,
    hostname: null,
    labels: {},
    mounts: [
      ...volumes.map((v) => ({ type: 'volume' as const, volume: v.name, target: v.mount, readOnly: false, noCopy: false })),
      // A read-only root still needs somewhere to write temporary files.
      ...(fields.readOnly && !volumes.some((v) => v.mount === '/tmp') ? [{ type: 'tmpfs' as const, target: '/tmp', sizeBytes: 64 * 1024 * 1024 }] : []),
    ],
    readOnly: fields.readOnly ?? false,
    init: false,
    stopSignal: null,
    stopGraceS: null,
    restart: { name: fields.restart ?? 'unless-stopped', maxRetries: fields.restart === 'on-failure' ? 5 : 0 },
    health: null,
    healthDisabled: false,
    dependsOn: [],
    networks: [{ name: 'default', aliases: [SINGLE_SERVICE] }],
    networkNone: false,
    capAdd: [],
    capDrop: [],
    resources: { memoryBytes: Math.round(limits.memoryMb * 1024 * 1024), nanoCpus: Math.round(limits.cpus * 1e9), pids: limits.pids },
    shmSizeBytes: null,
    extraHosts: [],
    dns: [],
    dnsSearch: [],
    dnsOptions: [],
    groupAdd: [],
    ipc: 'private',
    exposed: [port],
  };
  return {
    runtime,
    services: [service],
    networks: [{ name: 'default', internal: false }],
    volumes: [...new Set(volumes.map((v) => v.name))],
    entry: { service: SINGLE_SERVICE, port, healthPath: fields.healthPath ?? '/' },
    update: fields.update ?? 'start-first',
    warnings: [],
  };
}
