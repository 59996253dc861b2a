// The one interface every runtime implements. The deploy pipeline asks a driver to prepare a
// deployment (dependency install) and to start instances; the ingress only ever sees the socket
// an instance listens on.

export type ProcessRuntime = 'deno' | 'node' | 'bun' | 'python';
export type RuntimeName = ProcessRuntime | 'static' | 'image' | 'dockerfile' | 'compose';

export const PROCESS_RUNTIMES: readonly ProcessRuntime[] = ['deno', 'node', 'bun', 'python'];
export const RUNTIMES: readonly RuntimeName[] = ['deno', 'node', 'bun', 'python', 'static', 'image', 'dockerfile', 'compose'];

export interface Limits {
  /** Memory ceiling in MiB (cgroup memory.limit_in_bytes). */
  memoryMb: number;
  /** Process/thread ceiling (cgroup pids.max). */
  pids: number;
  /** CPU share in cores (cgroup cpu quota), e.g. 0.5. */
  cpus: number;
}

export const DEFAULT_LIMITS: Limits = { memoryMb: 512, pids: 128, cpus: 1 };

/** Everything a driver needs to run one instance of one deployment. */
export interface InstanceSpec {
  project: string;
  deploymentId: string;
  runtime: ProcessRuntime;
  /** The deployment's source folder: immutable, readable only by this project's user. */
  sourceDir: string;
  /** Entry file, relative to sourceDir. */
  entry: string;
  /** The project's persistent writable folder (survives restarts and redeploys). */
  dataDir: string;
  /** A private folder for this instance: its socket, temp files, caches. Created by the driver. */
  runDir: string;
  /** The project's env: the only env the app sees (ctx.env and, for runtimes that have one, the process env). */
  env: Record<string, string>;
  /** The project's own unprivileged identity. */
  uid: number;
  gid: number;
  limits: Limits;
  /** Receives the app's stdout and stderr. */
  onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
}

export interface StartFailure extends Error {
  /** What the app printed before it failed (bounded). */
  output: string;
  exitCode: number | null;
}

export interface Instance {
  /** Unix socket the app's HTTP server listens on. Only the daemon can connect to it. */
  readonly socketPath: string;
  readonly pid: number | undefined;
  /** Resolves once the app answers HTTP on its socket; rejects with a StartFailure otherwise. */
  ready(timeoutMs: number): Promise<void>;
  /** Graceful stop: SIGTERM, then SIGKILL after graceMs. Resolves when the process is gone. */
  stop(graceMs: number): Promise<void>;
  /** Called once when the process exits on its own or is stopped. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}

/** What is actually enforced for a runtime on this machine, as /_api/substrate reports it. */
export interface IsolationReport {
  runtime: RuntimeName;
  available: boolean;
  /** e.g. "deno 2.9.6". */
  version: string | null;
  /** Each mechanism and whether it is in force here, with a plain-words note where it is not. */
  mechanisms: Array<{ name: string; enforced: boolean; note?: string }>;
}

export interface RuntimeDriver {
  readonly runtime: ProcessRuntime;
  /** Probe the machine once (binaries, bubblewrap, cgroups) and say what is enforced. */
  isolation(): Promise<IsolationReport>;
  /** Install dependencies the deployment asks for (e.g. npm for package.json), sandboxed. */
  prepare(spec: InstanceSpec): Promise<void>;
  start(spec: InstanceSpec): Promise<Instance>;
}
