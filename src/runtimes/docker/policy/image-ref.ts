// Image references (`[registry/]path[:tag][@sha256:digest]`) and the attested-mode rule: an image
// must be pinned by registry digest, because a tag can be moved to other bytes at any time and
// the deployment record would then no longer say what runs.
import { badRequest, unprocessable } from '../../../lib/http-error.ts';

export interface ImageRef {
  /** Registry host (with port) when given, e.g. `ghcr.io`, `localhost:5000`. */
  registry: string | null;
  /** Repository path, e.g. `library/nginx`, `org/app`. */
  repository: string;
  tag: string | null;
  /** `sha256:<64 hex>` when pinned. */
  digest: string | null;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const REGISTRY = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

/** Parses a reference; null when it is not one the engine would accept. */
export function parseImageRef(ref: string): ImageRef | null {
  if (ref.length === 0 || ref.length > 512 || /\s/.test(ref)) return null;
  let rest = ref;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return null;
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return null;
  }
  const parts = rest.split('/');
  let registry: string | null = null;
  // The first component is a registry when it looks like a host (has '.' or ':' or is localhost).
  if (parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost')) {
    registry = parts.shift()!;
    if (!REGISTRY.test(registry)) return null;
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) return null;
  return { registry, repository: parts.join('/'), tag, digest };
}

/** A local content-addressed image id (`sha256:<64 hex>`), as the engine reports for built images. */
export function isImageId(ref: string): boolean {
  return DIGEST.test(ref);
}

/**
 * Validates an image reference from a manifest or compose file. In attested mode only
 * `name@sha256:…` passes: a tag alone is refused (422) naming `field`.
 */
export function checkImageRef(ref: unknown, field: string, attested: boolean): string {
  if (typeof ref !== 'string' || ref === '') throw badRequest('invalid_image', `'${field}' must be an image reference such as "org/app:1.2" or "org/app@sha256:…"`, field);
  const parsed = parseImageRef(ref);
  if (!parsed) throw badRequest('invalid_image', `'${field}' is not a valid image reference: ${JSON.stringify(ref.slice(0, 200))}`, field);
  if (attested && !parsed.digest) {
    throw unprocessable(
      'image_not_pinned',
      `'${field}' must be pinned by registry digest in attested mode (e.g. "${parsed.registry ? `${parsed.registry}/` : ''}${parsed.repository}@sha256:<digest>"); the floating ${parsed.tag ? `tag "${parsed.tag}"` : 'reference'} could change what runs`,
      field,
    );
  }
  return ref;
}

/** The repository part as the engine lists it in RepoDigests (`docker.io/library/` is shown short). */
export function repoName(ref: ImageRef): string {
  const repo = ref.registry ? `${ref.registry}/${ref.repository}` : ref.repository;
  return repo.replace(/^docker\.io\//, '').replace(/^library\//, '');
}
