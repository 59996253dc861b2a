// How our engine objects are named and labelled. Names are built so they cannot collide across
// projects: the separator `_` never occurs in a namespace or a project name (DNS labels), so
// `<ns>_<project>_<rest>` splits one way only, and a tenant-chosen part can never reach into
// another project's (or the daemon's) names. Labels are what we search by; names are for people.
import { randomBytes } from 'node:crypto';
import { badRequest } from '../../lib/http-error.ts';

export const LABELS = {
  /** Present on everything we create. */
  managed: 'dstack-webhost.managed',
  /** Which daemon (or test run) made it: several may share one engine. */
  namespace: 'dstack-webhost.namespace',
  project: 'dstack-webhost.project',
  deployment: 'dstack-webhost.deployment',
  /** One started set of containers of a deployment (a deployment may run twice during a restart-in-place). */
  instance: 'dstack-webhost.instance',
  service: 'dstack-webhost.service',
  /** sha256 of the container's create body: adoption reuses a container only if it is unchanged. */
  config: 'dstack-webhost.config',
  /** `entry` on the service the ingress talks to. */
  role: 'dstack-webhost.role',
  /** The logical (manifest) name of a volume or network. */
  logical: 'dstack-webhost.name',
} as const;

/** Every label key under our prefix is ours: a tenant may not set them (compose `labels`). */
export const LABEL_PREFIX = 'dstack-webhost.';

const NAMESPACE = /^[a-z][a-z0-9-]{0,30}$/;
const PROJECT = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkNamespace(ns: string): string {
  if (!NAMESPACE.test(ns)) throw new Error(`docker namespace ${JSON.stringify(ns)} must match ${NAMESPACE}`);
  return ns;
}

/** The driver is a library: the lead validates names, but we never build an engine name from an unchecked one. */
export function checkProject(project: string): string {
  if (!PROJECT.test(project)) throw badRequest('invalid_name', `project name ${JSON.stringify(project)} is not a DNS label`, 'name');
  return project;
}

/** Compose service names and logical volume/network names: what the engine accepts in a name, bounded. */
export const LOGICAL_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

export function newInstanceId(deploymentId: string): string {
  const dep = deploymentId.replace(/[^a-zA-Z0-9]/g, '').slice(0, 12).toLowerCase() || 'dep';
  return `${dep}-${randomBytes(3).toString('hex')}`;
}

export class Names {
  readonly ns: string;
  constructor(ns: string) {
    this.ns = checkNamespace(ns);
  }

  container(project: string, instance: string, service: string): string {
    return `${this.ns}_${project}_${instance}_${service}`;
  }

  network(project: string, instance: string, logical: string): string {
    return `${this.ns}_${project}_${instance}_${logical}`;
  }

  /** Volumes outlive instances: scoped to the project only, so every deployment of it shares them. */
  volume(project: string, logical: string): string {
    return `${this.ns}_${project}_${logical}`;
  }

  /** Built images: `<ns>-build/<project>:<service>-<id12>`, tagged so `image prune` never drops them. */
  buildRepo(project: string): string {
    return `${this.ns}-build/${project}`;
  }

  buildTag(service: string, imageId: string): string {
    return `${service.toLowerCase().replace(/[^a-z0-9_.-]/g, '-')}-${imageId.replace(/^sha256:/, '').slice(0, 12)}`;
  }

  base(project?: string): Record<string, string> {
    return { [LABELS.managed]: 'true', [LABELS.namespace]: this.ns, ...(project ? { [LABELS.project]: project } : {}) };
  }

  /** Engine `filters` selecting our objects, narrowed by any extra labels. */
  filter(project?: string, extra: Record<string, string> = {}): { label: string[] } {
    const labels = { ...this.base(project), ...extra };
    return { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  }
}
