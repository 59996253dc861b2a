// The attested-mode endpoints: promote (admin), and the public evidence of an attested project —
// its audit log with proofs, a fresh quote binding its state (and the caller's nonce), and the
// whole evidence bundle. Dev and missing projects answer the same 404. Nothing here ever carries a
// private key or an env value.
import type { Hono, Context } from 'hono';
import { ed25519 } from '@noble/curves/ed25519';
import { bytesToHex } from '@noble/hashes/utils';
import { badRequest, notFound, HttpError } from '../lib/http-error.ts';
import { buildAttestation, buildEvidenceBundle, daemonIdentity, normalizeNonce, type DaemonSelf } from '../attestation/evidence.ts';
import { base64Encode } from '../verify/note.ts';
import type { DaemonIdentity, Collateral } from '../verify/bundle.ts';
import type { AuditResponse } from '../verify/api-shapes.ts';
import type { Deployer } from '../projects/deployer.ts';
import type { ProjectStore } from '../projects/store.ts';
import type { AuditTrail } from '../projects/audit-trail.ts';
import type { ProjectRecord, StoredDeployment } from '../projects/model.ts';
import type { Tee } from '../daemon/tee.ts';
import { appKeyPath, deriveAppKeySeed } from '../attestation/app-broker-keys.ts';
import { RateLimiter } from './rate-limit.ts';
import { treeHash } from '../projects/tree-hash.ts';

export interface AttestedDeps {
  store: ProjectStore;
  deployer: Deployer;
  trail: AuditTrail;
  tee: Tee;
  self: DaemonSelf;
  view: (p: ProjectRecord) => Promise<Record<string, unknown>>;
  /** Requires the admin token (throws 401/403). */
  requireAdmin: (c: Context) => void;
  /** The caller's address as the ingress saw it. */
  remote: (c: Context) => string;
  collateral?: () => Promise<Collateral | null>;
}

const CORS = { 'access-control-allow-origin': '*', 'cache-control': 'no-store' };

function intParam(c: Context, name: string, max: number): number | undefined {
  const v = c.req.query(name);
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v) || Number(v) > max) throw badRequest(`invalid_${name}`, `'${name}' must be an integer from 0 to ${max}`, name);
  return Number(v);
}

export function attestedRoutes(app: Hono, d: AttestedDeps): void {
  const nonceLimiter = new RateLimiter({ capacity: 10, refillPerSecond: 0.5 });
  let identity: Promise<DaemonIdentity> | undefined;
  const appKeys = new Map<string, string>();
  /** Un-nonced quotes are the same for the same state: built once per (deployment, log size). */
  const cached = new Map<string, { key: string; bundle: Promise<unknown> }>();

  const attested = (name: string): ProjectRecord => {
    const p = d.store.get(name);
    if (!p || p.mode !== 'attested') throw notFound();
    return p;
  };

  /** The public half of the project's app key, derived in the TEE from its name and code. */
  const appKey = async (p: ProjectRecord, dep: StoredDeployment): Promise<string> => {
    const id = appKeyPath(p.name, dep);
    let key = appKeys.get(id);
    if (!key) {
      key = bytesToHex(ed25519.getPublicKey(await deriveAppKeySeed(d.tee, p.name, dep)));
      appKeys.set(id, key);
    }
    return key;
  };

  /**
   * The tree hash of the deployed files as they are on disk now: the quote binds this, so files
   * changed behind the daemon's back cannot hide. A fresh (nonced) request always re-measures; the
   * cached un-nonced one re-measures at most every few seconds.
   */
  const measurements = new Map<string, { at: number; tree: Promise<string> }>();
  const measure = (p: ProjectRecord, dep: StoredDeployment, fresh: boolean): Promise<string> => {
    const key = `${p.name}/${dep.id}`;
    const m = measurements.get(key);
    if (!fresh && m && Date.now() - m.at < 3_000) return m.tree;
    const tree = treeHash(d.store.sourceDir(p.name, dep.id), new Set(dep.installed ?? []));
    measurements.set(key, { at: Date.now(), tree });
    tree.catch(() => measurements.delete(key));
    return tree;
  };

  /** Everything needed to attest the project's current state, read under its lock (one snapshot). */
  const state = (name: string, fresh: boolean) =>
    d.deployer.withLock(name, async () => {
      const p = attested(name);
      const dep = await d.deployer.currentDeployment(p);
      const current = await d.trail.logs.currentEvidence(name);
      if (!current) throw new HttpError(503, 'attestation_unavailable', 'the audit log of this project is not available');
      const measuredTreeHash = dep.record.source.tree_hash === null ? undefined : await measure(p, dep, fresh);
      return { p, dep, log: current.log, evidence: current.evidence, view: await d.view(p), key: await appKey(p, dep), measuredTreeHash };
    });

  const nonceOf = (c: Context): string | null => {
    const nonce = normalizeNonce(c.req.query('nonce'));
    if (nonce !== null && !nonceLimiter.take(d.remote(c))) {
      throw new HttpError(429, 'rate_limited', 'too many fresh quotes requested; retry in a few seconds, or omit the nonce for the cached quote');
    }
    return nonce;
  };

  app.post('/_api/projects/:name/promote', async (c) => {
    d.requireAdmin(c);
    const p = await d.deployer.promote(c.req.param('name'));
    return c.json(await d.view(p));
  });

  app.get('/_api/projects/:name/audit', async (c) => {
    const { evidence, log } = await state(c.req.param('name'), false);
    const size = evidence.entries.length;
    const m = intParam(c, 'consistency', size);
    const i = intParam(c, 'inclusion', Math.max(size - 1, 0));
    if (i !== undefined && size === 0) throw badRequest('invalid_inclusion', 'the log is empty', 'inclusion');
    const body: AuditResponse = { origin: evidence.origin, public_key: evidence.public_key, size, checkpoint: evidence.checkpoint, entries: evidence.entries };
    if ((m !== undefined || i !== undefined) && !log) {
      throw new HttpError(503, 'audit_log_damaged', 'the audit log on disk fails its integrity check, so no proof can be made; its entries are served as stored');
    }
    if (m !== undefined) body.consistency_proof = log!.consistencyProof(m, size).map(base64Encode);
    if (i !== undefined) body.inclusion_proof = log!.inclusionProof(i, size).map(base64Encode);
    return c.json(body, 200, CORS);
  });

  app.get('/_api/attest/:name', async (c) => {
    const nonce = nonceOf(c);
    const s = await state(c.req.param('name'), nonce !== null);
    const body = await buildAttestation({ agent: d.tee.client, project: { ...s.view, app_key: s.key }, deployment: s.dep.record, log: { evidence: () => s.evidence }, appKey: s.key, nonce, measuredTreeHash: s.measuredTreeHash });
    return c.json(body, 200, CORS);
  });

  app.get('/_api/verification/:name', async (c) => {
    const nonce = nonceOf(c);
    const name = c.req.param('name');
    const s = await state(name, nonce !== null);
    identity ??= daemonIdentity(d.tee.client, d.self).catch((e) => {
      identity = undefined;
      throw e;
    });
    const build = async () =>
      buildEvidenceBundle({
        agent: d.tee.client,
        daemon: d.self,
        identity: await identity!,
        project: { ...s.view, app_key: s.key },
        deployment: s.dep.record,
        log: { evidence: () => s.evidence },
        previous: await d.trail.logs.previous(name),
        appKey: s.key,
        nonce,
        measuredTreeHash: s.measuredTreeHash,
        collateral: d.collateral,
      });
    if (nonce) return c.json(await build(), 200, CORS);
    const key = `${s.dep.id}:${s.measuredTreeHash}:${s.evidence.entries.length}:${s.evidence.checkpoint}`;
    let entry = cached.get(name);
    if (entry?.key !== key) {
      entry = { key, bundle: build() };
      cached.set(name, entry);
      entry.bundle.catch(() => cached.delete(name));
    }
    return c.json((await entry.bundle) as object, 200, CORS);
  });
}
