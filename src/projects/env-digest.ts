// A keyed digest of a project's env values: it changes whenever a value changes, so a deployment
// record (and the audit log) shows that the env changed, but it reveals nothing about the values.
// The key is a daemon secret; in a TEE it is derived through dstack GetKey, so it is stable across
// restarts and never leaves the CVM.
import { createHmac } from 'node:crypto';
import { canonicalJson } from '../verify/deployment.ts';

export type EnvDigester = (env: Record<string, string>) => string;

export function envDigester(key: Uint8Array): EnvDigester {
  return (env) => 'hmac-sha256:' + createHmac('sha256', key).update(canonicalJson(env)).digest('hex');
}
