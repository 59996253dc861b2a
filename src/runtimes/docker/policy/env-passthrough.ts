// `env_passthrough`: names of the DAEMON's environment variables a tenant receives (how an
// operator hands a CVM-level secret, e.g. from dstack's encrypted env, to one Layer 1 app). The
// reference forwarded anything, including TEE_DAEMON_TOKEN. Here:
// - the daemon's own variables are never forwarded (hard denylist, no override);
// - names that look like secrets (TOKEN, SECRET, KEY, PASSWORD, ...) are forwarded only when the
//   operator allowlists them by exact name (DAEMON_ENV_PASSTHROUGH_ALLOW=NAME,NAME);
// - values are read when a container is created and never stored or logged by us (the record
//   keeps names only).
import { badRequest } from '../../../lib/http-error.ts';

/** Never forwarded, whatever the allowlist says: the daemon's credentials and configuration. */
export const HARD_DENY: readonly RegExp[] = [/^TEE_DAEMON_TOKEN$/, /^TEE_DAEMON_/, /^WEBHOST_/, /^DSTACK_/, /^DAEMON_/, /^DOCKER_/];

/** Looks like a secret: forwarded only when allowlisted by name. */
export const SECRET_LIKE = /TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|AUTH/i;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const MAX_PASSTHROUGH = 64;

/** The operator's allowlist from the daemon's environment (comma or space separated names). */
export function passthroughAllowFromEnv(env: NodeJS.ProcessEnv = process.env): Set<string> {
  return new Set((env.DAEMON_ENV_PASSTHROUGH_ALLOW ?? '').split(/[\s,]+/).filter(Boolean));
}

/** Why a name may not be forwarded, or null when it may. */
export function passthroughRefusal(name: string, allow: ReadonlySet<string>): string | null {
  if (!ENV_NAME.test(name)) return 'is not a valid environment variable name';
  if (HARD_DENY.some((re) => re.test(name))) return "is one of the daemon's own variables and is never forwarded";
  if (SECRET_LIKE.test(name) && !allow.has(name)) {
    return 'looks like a secret; the daemon operator must allow it by name (DAEMON_ENV_PASSTHROUGH_ALLOW) before a tenant can receive it';
  }
  return null;
}

/** Validates the manifest field; throws a 400 naming the offending entry (`env_passthrough[i]`). */
export function parseEnvPassthrough(value: unknown, allow: ReadonlySet<string>, field = 'env_passthrough'): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw badRequest('invalid_env_passthrough', `'${field}' must be a list of variable names`, field);
  if (value.length > MAX_PASSTHROUGH) throw badRequest('invalid_env_passthrough', `'${field}' names more than ${MAX_PASSTHROUGH} variables`, field);
  const out: string[] = [];
  value.forEach((name, i) => {
    const f = `${field}[${i}]`;
    if (typeof name !== 'string') throw badRequest('invalid_env_passthrough', `'${f}' must be a string`, f);
    const why = passthroughRefusal(name, allow);
    if (why) throw badRequest('env_passthrough_refused', `'${f}' (${JSON.stringify(name.slice(0, 64))}) ${why}`, f);
    if (!out.includes(name)) out.push(name);
  });
  return out;
}

/**
 * The values to forward, read now from `source` (the daemon's env). Re-checks every name, so an
 * allowlist that shrank since the deploy takes effect. Unset names are skipped, as in the reference.
 */
export function resolvePassthrough(names: readonly string[], source: NodeJS.ProcessEnv, allow: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const why = passthroughRefusal(name, allow);
    if (why) throw badRequest('env_passthrough_refused', `env_passthrough ${JSON.stringify(name)} ${why}`, 'env_passthrough');
    const v = source[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}
