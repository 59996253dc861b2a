// The daemon's configuration: environment variables, with flags that mirror them (a flag wins).
// Every value is checked here, so a bad setting stops start-up with one clear line.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from './token.ts';

export interface DaemonConfig {
  port: number;
  host: string;
  stateDir: string;
  /** TEE_DAEMON_TOKEN from the environment (or --token-file); undefined → local default. */
  tokenFromEnv: string | undefined;
  /** `<name>.<baseDomain>` reaches a project on its own origin. */
  baseDomain: string;
  trustProxy: boolean;
  production: boolean;
  uploadLimitBytes: number;
  readyTimeoutMs: number;
  drainTimeoutMs: number;
  upstreamTimeoutMs: number;
  /** Guest agent endpoint (socket path or URL). Undefined → the built-in simulator. */
  dstackEndpoint: string | undefined;
  /** 'nginx' proxies apps through nginx under the daemon's control; 'node' proxies in-process; 'auto' picks nginx when installed. */
  dataPlane: 'auto' | 'node' | 'nginx';
  /**
   * Labels and names every Docker object of this daemon. Two daemons sharing one engine need
   * different namespaces: each removes containers of projects it does not know.
   */
  dockerNamespace: string;
  /** Where the daemon fetches PCCS collateral for its evidence on real hardware. */
  pccsUrl: string;
}

const DSTACK_SOCKETS = ['/var/run/dstack.sock', '/run/dstack.sock', '/var/run/dstack/dstack.sock', '/run/dstack/dstack.sock'];

function int(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got '${value}'`);
  return n;
}

function bool(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
}

function dockerNamespace(value: string | undefined): string {
  if (value === undefined || value === '') return 'webhost';
  if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(value)) throw new ConfigError(`WEBHOST_DOCKER_NAMESPACE must be lowercase letters, digits and '-', at most 31 characters`);
  return value;
}

function dataPlane(value: string | undefined): DaemonConfig['dataPlane'] {
  if (value === undefined || value === '') return 'auto';
  if (value === 'auto' || value === 'node' || value === 'nginx') return value;
  throw new ConfigError(`data plane must be auto, nginx or node, got '${value}'`);
}

export const SERVE_USAGE = `usage: webhost serve [options]

options (each mirrors an environment variable):
  --port N            INGRESS_PORT         ingress and API port (default 8080)
  --host ADDR         WEBHOST_HOST         address to bind (default 0.0.0.0)
  --state-dir DIR     WEBHOST_STATE_DIR    state folder (default ./.webhost)
  --token-file FILE   TEE_DAEMON_TOKEN     admin token (the variable holds the token itself)
  --base-domain D     WEBHOST_BASE_DOMAIN  projects at <name>.D (default localhost)
  --trust-proxy       WEBHOST_TRUST_PROXY  keep X-Forwarded-* from a proxy in front
  --production        WEBHOST_PRODUCTION   require TEE_DAEMON_TOKEN (also implied by a dstack socket)
  --dstack ENDPOINT   DSTACK_SIMULATOR_ENDPOINT  guest agent socket or URL (default: real socket if present, else the built-in simulator)
  --data-plane P      WEBHOST_DATA_PLANE   auto (nginx when installed) | nginx | node`;

export async function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Promise<DaemonConfig> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'state-dir': { type: 'string' },
        'token-file': { type: 'string' },
        'base-domain': { type: 'string' },
        'trust-proxy': { type: 'boolean' },
        production: { type: 'boolean' },
        dstack: { type: 'string' },
        'data-plane': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  let tokenFromEnv = env.TEE_DAEMON_TOKEN;
  if (flags['token-file']) {
    const { readFile } = await import('node:fs/promises');
    tokenFromEnv = (await readFile(flags['token-file'], 'utf8').catch(() => {
      throw new ConfigError(`cannot read --token-file ${flags['token-file']}`);
    })).trim();
  }
  const realSocket = DSTACK_SOCKETS.find((p) => existsSync(p));
  const dstackEndpoint = flags.dstack ?? env.DSTACK_SIMULATOR_ENDPOINT ?? realSocket;
  const baseDomain = (flags['base-domain'] ?? env.WEBHOST_BASE_DOMAIN ?? 'localhost').toLowerCase();
  if (baseDomain && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(baseDomain)) throw new ConfigError(`base domain '${baseDomain}' is not a valid host name`);
  return {
    port: int('INGRESS_PORT', flags.port ?? env.INGRESS_PORT, 8080, 0, 65535),
    host: flags.host ?? env.WEBHOST_HOST ?? '0.0.0.0',
    stateDir: path.resolve(flags['state-dir'] ?? env.WEBHOST_STATE_DIR ?? '.webhost'),
    tokenFromEnv,
    baseDomain,
    trustProxy: flags['trust-proxy'] ?? bool(env.WEBHOST_TRUST_PROXY),
    production: flags.production ?? (bool(env.WEBHOST_PRODUCTION) || realSocket !== undefined),
    uploadLimitBytes: int('WEBHOST_MAX_UPLOAD_MB', env.WEBHOST_MAX_UPLOAD_MB, 100, 1, 4096) * 1024 * 1024,
    readyTimeoutMs: int('WEBHOST_READY_TIMEOUT_MS', env.WEBHOST_READY_TIMEOUT_MS, 20_000, 100, 600_000),
    drainTimeoutMs: int('WEBHOST_DRAIN_TIMEOUT_MS', env.WEBHOST_DRAIN_TIMEOUT_MS, 30_000, 0, 600_000),
    upstreamTimeoutMs: int('WEBHOST_UPSTREAM_TIMEOUT_MS', env.WEBHOST_UPSTREAM_TIMEOUT_MS, 120_000, 100, 3_600_000),
    dstackEndpoint,
    dataPlane: dataPlane(flags['data-plane'] ?? env.WEBHOST_DATA_PLANE),
    dockerNamespace: dockerNamespace(env.WEBHOST_DOCKER_NAMESPACE),
    pccsUrl: env.WEBHOST_PCCS_URL || 'https://pccs.phala.network',
  };
}
