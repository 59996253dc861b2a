// The first check of a bundle: is it an EvidenceBundle at all? A bundle comes from the network, so
// every field the later checks read is type-checked here; after a pass they can rely on the types
// and only judge the values. Pure.
import { BUNDLE_SCHEMA, type EvidenceBundle } from './bundle.ts';
import { fail, pass, type Check } from './check.ts';
import { deploymentRefProblem } from './log-entry.ts';

const ID = 'bundle.schema';
const TITLE = 'Evidence bundle format';

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Shape {
  readonly problems: string[] = [];
  obj(v: unknown, path: string): Obj | null {
    if (isObject(v)) return v;
    this.problems.push(`${path} is not an object`);
    return null;
  }
  str(o: Obj, key: string, path: string, nullable = false): void {
    const v = o[key];
    if (typeof v === 'string' || (nullable && v === null)) return;
    this.problems.push(`${path}.${key} is not a string${nullable ? ' or null' : ''}`);
  }
  strings(o: Obj, key: string, path: string): void {
    const v = o[key];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.problems.push(`${path}.${key} is not an array of strings`);
  }
}

function closedLog(s: Shape, v: unknown, path: string): void {
  const o = s.obj(v, path);
  if (!o) return;
  for (const k of ['origin', 'public_key', 'checkpoint']) s.str(o, k, path);
  s.strings(o, 'entries', path);
}

/** Returns the bundle typed when its shape is right, with the check that says so either way. */
export function checkBundleShape(value: unknown): { check: Check; bundle: EvidenceBundle | null } {
  if (!isObject(value)) return { check: fail(ID, TITLE, 'The document is not a JSON object.'), bundle: null };
  if (value.schema !== BUNDLE_SCHEMA) {
    return {
      check: fail(ID, TITLE, 'The document is not an evidence bundle of a version this verifier reads.', { expected: BUNDLE_SCHEMA, actual: JSON.stringify(value.schema ?? null) }),
      bundle: null,
    };
  }
  const s = new Shape();
  s.str(value, 'generated_at', 'bundle');
  const d = s.obj(value.daemon, 'daemon');
  if (d) {
    for (const k of ['version', 'app_id', 'instance_id', 'compose_hash', 'app_compose', 'os_image_hash', 'key_provider_info', 'vm_config']) s.str(d, k, 'daemon');
    s.str(d, 'commit', 'daemon', true);
    if (d.tee !== 'tdx' && d.tee !== 'simulated') s.problems.push('daemon.tee is neither "tdx" nor "simulated"');
    if (!Array.isArray(d.event_log)) s.problems.push('daemon.event_log is not an array');
    if (d.simulator_root_ca !== undefined) s.str(d, 'simulator_root_ca', 'daemon');
  }
  s.obj(value.project, 'project');
  s.obj(value.deployment, 'deployment');
  const log = s.obj(value.log, 'log');
  if (log) {
    closedLog(s, log, 'log');
    if (!Array.isArray(log.previous)) s.problems.push('log.previous is not an array');
    else log.previous.forEach((p, i) => closedLog(s, p, `log.previous[${i}]`));
  }
  const a = s.obj(value.attestation, 'attestation');
  if (a) {
    for (const k of ['quote', 'event_log', 'report_data', 'vm_config']) s.str(a, k, 'attestation');
    if (a.collateral !== null && !isObject(a.collateral)) s.problems.push('attestation.collateral is not an object or null');
    const p = s.obj(a.preimage, 'attestation.preimage');
    if (p) {
      s.str(p, 'v', 'preimage');
      s.str(p, 'project', 'preimage');
      s.str(p, 'app_key', 'preimage', true);
      s.str(p, 'nonce', 'preimage', true);
      const ref = deploymentRefProblem(p.deployment);
      if (ref) s.problems.push(`preimage.deployment ${ref}`);
      const pl = s.obj(p.log, 'preimage.log');
      if (pl) {
        for (const k of ['origin', 'root_hash', 'public_key']) s.str(pl, k, 'preimage.log');
        if (!Number.isSafeInteger(pl.size) || (pl.size as number) < 0) s.problems.push('preimage.log.size is not a non-negative integer');
      }
    }
  }
  if (s.problems.length) {
    const shown = s.problems.slice(0, 5).join('; ') + (s.problems.length > 5 ? `; and ${s.problems.length - 5} more` : '');
    return { check: fail(ID, TITLE, `The bundle is malformed: ${shown}.`, { expected: BUNDLE_SCHEMA }), bundle: null };
  }
  return { check: pass(ID, TITLE, `A ${BUNDLE_SCHEMA} document with every field the checks read.`, { expected: BUNDLE_SCHEMA, actual: BUNDLE_SCHEMA }), bundle: value as unknown as EvidenceBundle };
}
