// The parts of the Engine API's JSON we read or send (API 1.41+; field names are the engine's).

export type Labels = Record<string, string>;

export interface VersionInfo {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  Os: string;
  Arch: string;
  KernelVersion?: string;
}

export interface EngineInfo {
  ServerVersion: string;
  DefaultRuntime: string;
  Runtimes: Record<string, unknown>;
  SecurityOptions: string[];
  CgroupVersion?: string;
  CgroupDriver?: string;
  MemoryLimit: boolean;
  SwapLimit: boolean;
  CpuCfsQuota: boolean;
  PidsLimit: boolean;
  Driver: string;
  Name: string;
  Warnings?: string[] | null;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: string;
  Size: number;
  Config: { Labels?: Labels | null; ExposedPorts?: Record<string, unknown> | null; User?: string; Cmd?: string[] | null; Entrypoint?: string[] | null } | null;
}

export interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  Labels: Labels | null;
}

export interface HealthConfig {
  Test: string[];
  /** Nanoseconds. */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

export interface Mount {
  Type: 'volume' | 'bind' | 'tmpfs';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  VolumeOptions?: { NoCopy?: boolean };
  BindOptions?: { Propagation?: 'private' | 'rprivate' };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface HostConfig {
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  PidsLimit?: number;
  CapDrop?: string[];
  CapAdd?: string[];
  SecurityOpt?: string[];
  ReadonlyRootfs?: boolean;
  Privileged?: boolean;
  Runtime?: string;
  RestartPolicy?: { Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure'; MaximumRetryCount?: number };
  NetworkMode?: string;
  Mounts?: Mount[];
  Tmpfs?: Record<string, string>;
  Init?: boolean;
  IpcMode?: string;
  PidMode?: string;
  UTSMode?: string;
  UsernsMode?: string;
  CgroupnsMode?: 'private' | 'host';
  ShmSize?: number;
  LogConfig?: { Type: string; Config: Record<string, string> };
  PublishAllPorts?: boolean;
  PortBindings?: Record<string, unknown>;
  ExtraHosts?: string[];
  Dns?: string[];
  DnsSearch?: string[];
  DnsOptions?: string[];
  GroupAdd?: string[];
  OomScoreAdj?: number;
}

export interface EndpointConfig {
  Aliases?: string[];
}

export interface ContainerCreateBody {
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Hostname?: string;
  Labels?: Labels;
  StopSignal?: string;
  StopTimeout?: number;
  Healthcheck?: HealthConfig;
  ExposedPorts?: Record<string, Record<string, never>>;
  Tty?: boolean;
  OpenStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  HostConfig: HostConfig;
  NetworkingConfig?: { EndpointsConfig: Record<string, EndpointConfig> };
}

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  /** The container's main process on the host (0 when not running). */
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: 'starting' | 'healthy' | 'unhealthy' | 'none'; FailingStreak: number; Log?: Array<{ ExitCode: number; Output: string }> };
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  Image: string;
  RestartCount: number;
  State: ContainerState;
  Config: { Image: string; Labels: Labels | null; Env: string[] | null; Healthcheck?: HealthConfig };
  HostConfig: HostConfig;
  NetworkSettings: { Networks: Record<string, { IPAddress: string; NetworkID: string; Aliases: string[] | null; Gateway: string }> };
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Labels: Labels;
  State: string;
  Status: string;
}

export interface NetworkCreateBody {
  Name: string;
  Driver?: 'bridge';
  Internal?: boolean;
  Attachable?: boolean;
  CheckDuplicate?: boolean;
  Labels?: Labels;
  Options?: Record<string, string>;
}

export interface NetworkInspect {
  Id: string;
  Name: string;
  Driver: string;
  Internal: boolean;
  Labels: Labels | null;
  IPAM: { Config: Array<{ Subnet?: string; Gateway?: string }> | null };
  Containers: Record<string, { Name: string; IPv4Address: string }> | null;
}

export interface VolumeInspect {
  Name: string;
  Driver: string;
  Mountpoint: string;
  Labels: Labels | null;
  Options: Record<string, string> | null;
}

export interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  time: number;
  timeNano: number;
}

/** `filters` as the engine takes them: `{label: ["k=v"], name: [...]}`. */
export type Filters = Record<string, string[]>;
