// The project as the daemon keeps it, and the views it shows of it. Env values live only in the
// stored record (a root-only file); every view shows env names, never values.
import type { Limits, RuntimeName } from '../runtimes/driver.ts';
import type { DeploymentRecord } from '../verify/deployment.ts';
import type { Listen, Mode } from './manifest.ts';
import type { DockerFields, ResolvedImage } from '../runtimes/docker/index.ts';

/** What the developer asked for, kept so redeploy can repeat it. */
export interface ProjectSpec {
  source: string | undefined;
  ref: string | undefined;
  /** 'git' sources are re-fetched by redeploy; 'upload' sources are re-used as uploaded; 'none': an image named in the manifest. */
  sourceKind: 'git' | 'upload' | 'none';
  runtime: RuntimeName | undefined;
  entry: string | undefined;
  listen: Listen | undefined;
  limits: Partial<Limits> | undefined;
  claimedCommit: string | undefined;
  /** Layer 1 fields as asked for (checked again on every deploy and at promotion). */
  docker?: Record<string, unknown>;
  /** Layer 1 projects this project uses (env variable → project[:service:port]). */
  uses?: Record<string, string>;
}

export interface ProjectRecord {
  name: string;
  mode: Mode;
  created_at: string;
  updated_at: string;
  promoted_at: string | null;
  /** Incremented each time the name is re-created after a teardown; names the audit log incarnation. */
  incarnation: number;
  /** The project's own unprivileged identity. */
  uid: number;
  gid: number;
  spec: ProjectSpec;
  /** Secret values: never shown in any response, page or log. */
  env: Record<string, string>;
  /** Current deployment id. */
  current: string;
  /** Retained deployment ids, newest first (current included). */
  history: string[];
}

/** A stored deployment: the content-addressed record plus when and how it was made. */
export interface StoredDeployment {
  id: string;
  created_at: string;
  record: DeploymentRecord;
  /** Resolved runtime settings the daemon needs to run it (all public). */
  runtime: RuntimeName;
  entry: string;
  listen: Listen | undefined;
  limits: Limits;
  /** The uploader's claim of a commit for tarball deploys (never checked). */
  claimed_commit: string | null;
  /** Top-level entries the dependency install added (e.g. node_modules): outside the tree hash. */
  installed?: string[];
  /** Layer 1: the checked fields and the exact images prepare() resolved (what start() runs). */
  docker?: { fields: DockerFields; images: ResolvedImage[] };
  /** Layer 1 projects this deployment uses. */
  uses?: Record<string, string>;
}

/** The shape the API returns (admin and public views differ only in what the caller may see). */
export function projectView(p: ProjectRecord, d: StoredDeployment, status: string): Record<string, unknown> {
  const src = d.record.source;
  return {
    name: p.name,
    mode: p.mode,
    runtime: d.runtime,
    entry: d.entry,
    source: src.url ?? p.spec.source ?? null,
    source_kind: src.kind,
    ref: src.ref,
    commit_sha: src.commit_sha,
    claimed_commit_sha: d.claimed_commit,
    tree_hash: src.tree_hash,
    deployment_id: d.id,
    deployed_at: d.created_at,
    created_at: p.created_at,
    promoted_at: p.promoted_at,
    listen: d.listen ?? { port: 0, protocol: 'http' },
    limits: { memory_mb: d.limits.memoryMb, pids: d.limits.pids, cpus: d.limits.cpus },
    env_names: Object.keys(p.env).sort(),
    status,
  };
}
