// The one shape all three Layer 1 runtimes reduce to before anything touches the engine: a set
// of services on per-instance networks, with project-scoped volumes. An image tenant is a plan of
// one service called `app`; a Dockerfile tenant is the same with a build; a compose file is
// translated key by key (compose/normalize.ts). What is in the plan is exactly what runs.

export type DependsCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';
export type RestartName = 'no' | 'always' | 'unless-stopped' | 'on-failure';

export interface BuildPlan {
  /** Folder inside the source, relative ('.' = the whole source). The build sees only this folder. */
  context: string;
  /** Dockerfile path relative to the context. */
  dockerfile: string;
  args: Record<string, string>;
  target: string | null;
}

export type MountPlan =
  | { type: 'volume'; volume: string; target: string; readOnly: boolean; noCopy: boolean }
  /** `source` is absolute and was checked lexically; the driver re-checks it on disk. */
  | { type: 'bind'; source: string; root: 'data' | 'source'; target: string; readOnly: boolean; field: string }
  | { type: 'tmpfs'; target: string; sizeBytes: number | null };

export interface HealthPlan {
  test: string[];
  intervalNs: number | null;
  timeoutNs: number | null;
  startPeriodNs: number | null;
  retries: number | null;
}

export interface ResourcePlan {
  memoryBytes: number;
  nanoCpus: number;
  pids: number;
}

export interface ServicePlan {
  name: string;
  /** The reference as written (null when the service is only built). */
  image: string | null;
  build: BuildPlan | null;
  /** The manifest key path that named the image/build, for errors (`image`, `services.web.image`). */
  field: string;
  command: string[] | null;
  entrypoint: string[] | null;
  /** Literal values (already interpolated); passthrough values are added when the container is created. */
  env: Record<string, string>;
  envFiles: Array<{ path: string; field: string }>;
  workingDir: string | null;
  user: string | null;
  hostname: string | null;
  labels: Record<string, string>;
  mounts: MountPlan[];
  readOnly: boolean;
  init: boolean;
  stopSignal: string | null;
  stopGraceS: number | null;
  restart: { name: RestartName; maxRetries: number };
  health: HealthPlan | null;
  healthDisabled: boolean;
  dependsOn: Array<{ service: string; condition: DependsCondition }>;
  /** Logical network names with the aliases this service has on them. Empty = no network (network_mode none). */
  networks: Array<{ name: string; aliases: string[] }>;
  networkNone: boolean;
  capAdd: string[];
  capDrop: string[];
  resources: ResourcePlan;
  shmSizeBytes: number | null;
  extraHosts: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  groupAdd: string[];
  ipc: 'private' | 'shareable';
  /** Ports the service says it listens on (informational; nothing is ever published to the host). */
  exposed: number[];
}

export interface EntryPlan {
  service: string;
  port: number;
  /** The path the daemon's readiness probe asks for; any answer below 500 counts as ready. */
  healthPath: string;
}

export interface DeploymentPlan {
  runtime: 'image' | 'dockerfile' | 'compose';
  services: ServicePlan[];
  /** Logical networks; every plan has at least `default`. */
  networks: Array<{ name: string; internal: boolean }>;
  /** Logical volume names (the engine names are project-scoped). */
  volumes: string[];
  entry: EntryPlan;
  /** start-first: the new set comes up beside the old (zero downtime); stop-first: for services that must not run twice on one volume. */
  update: 'start-first' | 'stop-first';
  /** Things we accepted but do not do (e.g. `ports` are never published), for the deploy response. */
  warnings: string[];
}

/** Dependency order (each service after everything it depends on). Throws on a cycle. */
export function startOrder(services: readonly ServicePlan[]): ServicePlan[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const out: ServicePlan[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (s: ServicePlan, trail: string[]): void => {
    const st = state.get(s.name);
    if (st === 'done') return;
    if (st === 'visiting') throw new Error(`depends_on cycle: ${[...trail, s.name].join(' -> ')}`);
    state.set(s.name, 'visiting');
    for (const d of s.dependsOn) {
      const dep = byName.get(d.service);
      if (dep) visit(dep, [...trail, s.name]);
    }
    state.set(s.name, 'done');
    out.push(s);
  };
  for (const s of [...services].sort((a, b) => a.name.localeCompare(b.name))) visit(s, []);
  return out;
}
