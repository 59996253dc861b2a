// The deploy manifest: what a developer asks for (API body, multipart `manifest` part, or the
// repo's project.json), validated field by field so every bad input is a 400 naming its field.
import { badRequest } from '../lib/http-error.ts';
import { RUNTIMES, DEFAULT_LIMITS, type Limits, type RuntimeName } from '../runtimes/driver.ts';
import { validateName } from './names.ts';
import { DOCKER_MANIFEST_FIELDS } from '../runtimes/docker/index.ts';

export type Mode = 'dev' | 'attested';

export interface Listen {
  port: number;
  protocol: 'http';
}

/** A validated deploy request. Optional fields fall back to the repo's project.json, then to autodetect. */
export interface DeployManifest {
  name: string;
  /** Git URL or path (JSON deploys); a free-form label for uploads. */
  source: string | undefined;
  ref: string | undefined;
  runtime: RuntimeName | undefined;
  entry: string | undefined;
  mode: Mode | undefined;
  env: Record<string, string> | undefined;
  listen: Listen | undefined;
  limits: Partial<Limits> | undefined;
  /** A commit the uploader says the tarball came from; recorded as a claim, never as commit_sha. */
  claimedCommit: string | undefined;
  /** Layer 1 fields (image, image_port, volumes, compose, ...), checked once the runtime is known. */
  docker: Record<string, unknown>;
  /** Layer 1 projects this project uses: env variable name → `<project>` or `<project>:<service>:<port>`. */
  uses: Record<string, string> | undefined;
}

/** The subset a repository's project.json may set. */
export type RepoManifest = Pick<DeployManifest, 'runtime' | 'entry' | 'mode' | 'env' | 'listen' | 'limits' | 'uses'>;

const KNOWN_FIELDS = new Set(['name', 'source', 'ref', 'runtime', 'entry', 'mode', 'env', 'listen', 'limits', 'commit_sha', 'uses', ...DOCKER_MANIFEST_FIELDS]);
/** Accepted for compatibility with the reference daemon and ignored: every tenant is isolated, ports are per-socket. */
const LEGACY_FIELDS = new Set(['port', 'isolation', 'container_id']);
const REPO_FIELDS = new Set(['runtime', 'entry', 'mode', 'env', 'listen', 'limits', 'name', 'description', 'uses']);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_ENV_BYTES = 64 * 1024;
const MAX_ENV_VARS = 256;
const MAX_FIELD = 4096;

export const DEFAULT_ENTRY: Record<string, string> = {
  deno: 'server.ts',
  bun: 'index.ts',
  node: 'index.js',
  python: 'app.py',
  static: '.',
};

function asObject(value: unknown, what: string, field?: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('invalid_manifest', `${what} must be a JSON object`, field);
  }
  return value as Record<string, unknown>;
}

function optionalString(obj: Record<string, unknown>, field: string, prefix = ''): string | undefined {
  const v = obj[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw badRequest('invalid_field', `'${prefix}${field}' must be a string`, prefix + field);
  if (v.length > MAX_FIELD) throw badRequest('invalid_field', `'${prefix}${field}' is too long`, prefix + field);
  if (v.includes('\0')) throw badRequest('invalid_field', `'${prefix}${field}' contains a NUL byte`, prefix + field);
  return v;
}

export function parseRuntime(value: unknown, field = 'runtime'): RuntimeName | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !(RUNTIMES as readonly string[]).includes(value)) {
    throw badRequest('unknown_runtime', `'${field}' must be one of ${RUNTIMES.join(', ')}; got ${JSON.stringify(value)}`, field);
  }
  return value as RuntimeName;
}

/** A relative path inside the source: no absolute paths, no `..`, no backslashes. */
export function parseEntry(value: string | undefined, field = 'entry'): string | undefined {
  if (value === undefined) return undefined;
  const parts = value.split('/');
  if (value.startsWith('/') || value.includes('\\') || parts.some((p) => p === '..')) {
    throw badRequest('invalid_entry', `'${field}' must be a relative path inside the source, without '..'`, field);
  }
  const clean = parts.filter((p) => p !== '' && p !== '.').join('/');
  return clean === '' ? '.' : clean;
}

function parseMode(value: unknown, field: string): Mode | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (value !== 'dev' && value !== 'attested') throw badRequest('invalid_mode', `'${field}' must be 'dev' or 'attested'`, field);
  return value;
}

export function parseEnv(value: unknown, field = 'env'): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  const obj = asObject(value, `'${field}'`, field);
  const names = Object.keys(obj);
  if (names.length > MAX_ENV_VARS) throw badRequest('invalid_env', `'${field}' has more than ${MAX_ENV_VARS} variables`, field);
  let bytes = 0;
  const env: Record<string, string> = {};
  for (const name of names) {
    // The message names the variable, never its value: values are secrets.
    if (!ENV_NAME.test(name)) throw badRequest('invalid_env', `env variable name ${JSON.stringify(name.slice(0, 64))} is not a valid identifier`, `${field}.${name}`);
    const v = obj[name];
    if (typeof v !== 'string') throw badRequest('invalid_env', `env variable ${name} must be a string`, `${field}.${name}`);
    if (v.includes('\0')) throw badRequest('invalid_env', `env variable ${name} contains a NUL byte`, `${field}.${name}`);
    bytes += name.length + Buffer.byteLength(v);
    env[name] = v;
  }
  if (bytes > MAX_ENV_BYTES) throw badRequest('invalid_env', `'${field}' is larger than ${MAX_ENV_BYTES} bytes`, field);
  return env;
}

function parseListen(value: unknown, field: string): Listen | undefined {
  if (value === undefined || value === null) return undefined;
  const obj = asObject(value, `'${field}'`, field);
  const protocol = obj.protocol ?? 'http';
  if (protocol !== 'http') throw badRequest('invalid_listen', `'${field}.protocol' must be 'http'`, `${field}.protocol`);
  const port = obj.port;
  if (port === undefined || port === 0 || port === null) return undefined; // 0 = no port of its own (the default)
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1024 || port > 65535) {
    throw badRequest('invalid_listen', `'${field}.port' must be an integer from 1024 to 65535`, `${field}.port`);
  }
  return { port, protocol: 'http' };
}

const LIMIT_BOUNDS: Record<string, { key: keyof Limits; min: number; max: number; integer: boolean }> = {
  memory_mb: { key: 'memoryMb', min: 16, max: 65536, integer: true },
  pids: { key: 'pids', min: 8, max: 32768, integer: true },
  cpus: { key: 'cpus', min: 0.05, max: 64, integer: false },
};

function parseLimits(value: unknown, field: string): Partial<Limits> | undefined {
  if (value === undefined || value === null) return undefined;
  const obj = asObject(value, `'${field}'`, field);
  const out: Partial<Limits> = {};
  for (const [k, v] of Object.entries(obj)) {
    const b = LIMIT_BOUNDS[k];
    if (!b) throw badRequest('invalid_limits', `'${field}.${k}' is not a known limit (memory_mb, pids, cpus)`, `${field}.${k}`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < b.min || v > b.max || (b.integer && !Number.isInteger(v))) {
      throw badRequest('invalid_limits', `'${field}.${k}' must be ${b.integer ? 'an integer' : 'a number'} from ${b.min} to ${b.max}`, `${field}.${k}`);
    }
    out[b.key] = v;
  }
  return out;
}

/** A git URL or local path. Refuses what git would read as an option, and transports other than the usual ones. */
export function parseGitSource(value: string, field = 'source'): string {
  if (value.startsWith('-')) throw badRequest('invalid_source', `'${field}' must not start with '-'`, field);
  if (/\s/.test(value)) throw badRequest('invalid_source', `'${field}' must not contain whitespace`, field);
  if (/^[a-z][a-z0-9+.-]*::/i.test(value)) throw badRequest('invalid_source', `'${field}' uses a git remote helper, which is not allowed`, field);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme && !['https', 'http', 'git', 'ssh', 'file'].includes(scheme)) {
    throw badRequest('invalid_source', `'${field}' scheme ${scheme}:// is not supported (https, http, git, ssh, file)`, field);
  }
  return value;
}

/** Branch, tag or full commit SHA. Never something git could parse as an option or a revision expression. */
export function parseRef(value: string | undefined, field = 'ref'): string | undefined {
  if (value === undefined) return undefined;
  if (value.startsWith('-') || /[\s~^:?*[\\]|\.\.|@\{|\/\/|\.lock$|^\/|\/$/.test(value) || value.length > 255) {
    throw badRequest('invalid_ref', `'${field}' must be a branch, a tag or a full commit SHA`, field);
  }
  return value;
}

export function parseDeployManifest(input: unknown): DeployManifest {
  const obj = asObject(input, 'the deploy manifest');
  for (const key of Object.keys(obj)) {
    if (!KNOWN_FIELDS.has(key) && !LEGACY_FIELDS.has(key)) {
      throw badRequest('unknown_field', `unknown field '${key}' in the deploy manifest`, key);
    }
  }
  const source = optionalString(obj, 'source');
  const claimed = optionalString(obj, 'commit_sha');
  if (claimed !== undefined && !/^[0-9a-f]{4,64}$/i.test(claimed)) throw badRequest('invalid_field', `'commit_sha' must be hex`, 'commit_sha');
  return {
    name: validateName(obj.name),
    source,
    ref: parseRef(optionalString(obj, 'ref')),
    runtime: parseRuntime(obj.runtime),
    entry: parseEntry(optionalString(obj, 'entry')),
    mode: parseMode(obj.mode, 'mode'),
    env: parseEnv(obj.env),
    listen: parseListen(obj.listen, 'listen'),
    limits: parseLimits(obj.limits, 'limits'),
    claimedCommit: claimed?.toLowerCase(),
    docker: Object.fromEntries(DOCKER_MANIFEST_FIELDS.filter((k) => obj[k] !== undefined && obj[k] !== null).map((k) => [k, obj[k]])),
    uses: parseUses(obj.uses, 'uses'),
  };
}

const USE_TARGET = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?::([a-zA-Z0-9][a-zA-Z0-9_.-]*):(\d{1,5}))?$/;

/** `uses`: env variable name → the Layer 1 project (optionally `:<service>:<port>`) it reaches there. */
export function parseUses(value: unknown, field = 'uses'): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  const obj = asObject(value, `'${field}'`, field);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (!ENV_NAME.test(k)) throw badRequest('invalid_uses', `'${field}.${k}' must be an env variable name`, `${field}.${k}`);
    if (typeof v !== 'string' || !USE_TARGET.test(v)) {
      throw badRequest('invalid_uses', `'${field}.${k}' must name a project, optionally as <project>:<service>:<port>`, `${field}.${k}`);
    }
    out[k] = v;
  }
  return out;
}

/** A repository's project.json. Errors name the file, so the developer knows where to look. */
export function parseRepoManifest(input: unknown): RepoManifest {
  const obj = asObject(input, 'project.json');
  for (const key of Object.keys(obj)) {
    if (!REPO_FIELDS.has(key) && !LEGACY_FIELDS.has(key)) {
      throw badRequest('unknown_field', `unknown field '${key}' in project.json`, `project.json:${key}`);
    }
  }
  return {
    runtime: parseRuntime(obj.runtime, 'project.json:runtime'),
    entry: parseEntry(optionalString(obj, 'entry', 'project.json:'), 'project.json:entry'),
    mode: parseMode(obj.mode, 'project.json:mode'),
    env: parseEnv(obj.env, 'project.json:env'),
    listen: parseListen(obj.listen, 'project.json:listen'),
    limits: parseLimits(obj.limits, 'project.json:limits'),
    uses: parseUses(obj.uses, 'project.json:uses'),
  };
}

/** The first match wins, in the reference daemon's order. */
const AUTODETECT: Array<[string, RuntimeName]> = [
  ['server.ts', 'deno'],
  ['index.ts', 'bun'],
  ['index.js', 'node'],
  ['index.mjs', 'node'],
  ['app.py', 'python'],
  ['index.html', 'static'],
  ['Dockerfile', 'dockerfile'],
  ['docker-compose.yaml', 'compose'],
  ['docker-compose.yml', 'compose'],
  ['compose.yaml', 'compose'],
  ['compose.yml', 'compose'],
];

/** Picks the runtime and entry from the files present. Static sites serve their whole folder. */
export function autodetect(has: (file: string) => boolean): { runtime: RuntimeName; entry: string } | undefined {
  for (const [file, runtime] of AUTODETECT) {
    if (has(file)) return { runtime, entry: runtime === 'static' ? '.' : runtime === 'compose' ? '' : file };
  }
  return undefined;
}

/** The entry a runtime gets when none is named: the first of its autodetect files present, else its default. */
export function defaultEntry(runtime: RuntimeName, has: (file: string) => boolean): string | undefined {
  for (const [file, r] of AUTODETECT) if (r === runtime && has(file)) return runtime === 'static' ? '.' : runtime === 'compose' ? '' : file;
  return DEFAULT_ENTRY[runtime];
}

export function resolveLimits(...layers: Array<Partial<Limits> | undefined>): Limits {
  return Object.assign({}, DEFAULT_LIMITS, ...layers.filter(Boolean)) as Limits;
}
