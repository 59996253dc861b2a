// A deployment record and its content address. The daemon computes these when it deploys; the
// verifier recomputes them from the bundle, so both must use this one pure function.
import canonicalize from 'canonicalize';
import { sha256 } from '@noble/hashes/sha256';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';
import type { DeploymentRef } from './bundle.ts';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface DeploymentSource {
  /** git: cloned by the daemon; tarball: uploaded; image: a registry image only; inline: manifest-only (e.g. inline compose). */
  kind: 'git' | 'tarball' | 'image' | 'inline';
  url: string | null;
  ref: string | null;
  /** Only when the daemon checked it (git). */
  commit_sha: string | null;
  tree_hash: string | null;
}

/** The immutable, content-addressed description of one deployment. Never holds env values. */
export interface DeploymentRecord {
  v: 1;
  project: string;
  source: DeploymentSource;
  /** How the deployment runs: runtime, entry, env names and keyed digest, listen, limits, ... */
  manifest: { [key: string]: JsonValue };
  image_digests: string[];
}

export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('value cannot be canonicalized');
  return text;
}

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

export function manifestDigest(record: DeploymentRecord): string {
  return sha256Hex(canonicalJson(record.manifest));
}

export function deploymentId(record: DeploymentRecord): string {
  return sha256Hex(canonicalJson(record));
}

export function deploymentRef(record: DeploymentRecord): DeploymentRef {
  return {
    id: deploymentId(record),
    tree_hash: record.source.tree_hash,
    commit_sha: record.source.commit_sha,
    manifest_digest: manifestDigest(record),
    image_digests: [...record.image_digests].sort(),
  };
}
