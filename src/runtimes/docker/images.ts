// Turning a plan's image references and builds into local image ids, and saying truthfully what
// each digest is: a registry digest (`repo@sha256:…`, verifiable against the registry) or only
// the local config id (`sha256:…`, what a build or an import yields; not reproducible elsewhere).
import path from 'node:path';
import { unprocessable } from '../../lib/http-error.ts';
import type { DockerEngine } from './engine/client.ts';
import { packContext } from './engine/build-context.ts';
import { ImageNotFoundError } from './engine/errors.ts';
import type { ImageInspect } from './engine/types.ts';
import { LABELS, type Names } from './names.ts';
import type { DeploymentPlan, ServicePlan } from './plan.ts';
import { parseImageRef, repoName } from './policy/image-ref.ts';
import { readSourceFile, unpinnedBaseImage } from './source-files.ts';
import type { Limits } from '../driver.ts';

export type DigestKind = 'repo-digest' | 'image-id';

export interface ResolvedImage {
  service: string;
  /** What the manifest named: the image reference, or `build:<context>/<dockerfile>`. */
  ref: string;
  /** The local image id the container is created from. */
  id: string;
  /** What the deployment record keeps: `repo@sha256:…` or `sha256:…`. */
  digest: string;
  digestKind: DigestKind;
  built: boolean;
}

export interface ResolveContext {
  engine: DockerEngine;
  names: Names;
  project: string;
  sourceDir: string | null;
  attested: boolean;
  limits: Limits;
  /** Pull images that are not present (never in tests: no registry). */
  pull: boolean;
  onOutput: (text: string) => void;
}

/** The digest to record for an image, and which kind it is. */
export function describeDigest(img: ImageInspect, ref: string | null): { digest: string; digestKind: DigestKind } {
  const parsed = ref ? parseImageRef(ref) : null;
  const repoDigests = img.RepoDigests ?? [];
  if (parsed?.digest) {
    return { digest: `${repoName(parsed)}@${parsed.digest}`, digestKind: 'repo-digest' };
  }
  if (repoDigests.length) {
    const want = parsed ? repoName(parsed) : null;
    const match = repoDigests.find((d) => d.split('@')[0] === want) ?? repoDigests[0]!;
    return { digest: match, digestKind: 'repo-digest' };
  }
  return { digest: img.Id, digestKind: 'image-id' };
}

async function resolveRef(svc: ServicePlan, ctx: ResolveContext): Promise<ResolvedImage> {
  const ref = svc.image!;
  let img = await ctx.engine.inspectImage(ref);
  if (!img) {
    if (!ctx.pull) throw new ImageNotFoundError(ref, 'it is not present in the engine and pulling is disabled', svc.field);
    ctx.onOutput(`pulling ${ref}\n`);
    await ctx.engine.pullImage(ref, { field: svc.field });
    img = await ctx.engine.inspectImage(ref);
    if (!img) throw new ImageNotFoundError(ref, 'the pull finished but the engine does not list the image', svc.field);
  }
  const parsed = parseImageRef(ref);
  if (parsed?.digest && !(img.RepoDigests ?? []).some((d) => d.endsWith(`@${parsed.digest}`))) {
    // An inspect by digest only matches through RepoDigests; anything else means the engine
    // answered for different bytes than the ones named.
    throw unprocessable('image_digest_mismatch', `the engine's image for ${ref} does not carry that registry digest`, svc.field);
  }
  return { service: svc.name, ref, id: img.Id, ...describeDigest(img, ref), built: false };
}

async function build(svc: ServicePlan, ctx: ResolveContext): Promise<ResolvedImage> {
  const b = svc.build!;
  if (!ctx.sourceDir) throw unprocessable('build_without_source', `'${svc.field}' needs a source folder to build from`, svc.field);
  const contextDir = path.resolve(ctx.sourceDir, b.context);
  const dfPath = path.posix.join(b.context, b.dockerfile);
  const text = await readSourceFile(ctx.sourceDir, dfPath, svc.field, 1024 * 1024);
  if (text === null) throw unprocessable('missing_dockerfile', `'${svc.field}': ${dfPath} is not in the source`, svc.field);
  if (ctx.attested) {
    const bad = unpinnedBaseImage(text);
    if (bad) {
      throw unprocessable('image_not_pinned', `'${svc.field}': ${dfPath} line ${bad.line} (${bad.text.slice(0, 120)}) must name its base image by registry digest (FROM name@sha256:…) in attested mode`, svc.field);
    }
  }
  ctx.onOutput(`building ${svc.name} from ${b.context}/${b.dockerfile}\n`);
  const context = await packContext(contextDir);
  const { id } = await ctx.engine.buildImage(context, {
    dockerfile: b.dockerfile,
    labels: { ...ctx.names.base(ctx.project), [LABELS.service]: svc.name },
    buildArgs: b.args,
    memoryBytes: Math.round(ctx.limits.memoryMb * 1024 * 1024),
    cpuPeriod: 100_000,
    cpuQuota: Math.round(ctx.limits.cpus * 100_000),
    onOutput: ctx.onOutput,
    field: svc.field,
    target: b.target ?? undefined,
  });
  // Tagged, so `docker image prune` never takes an image a retained deployment still needs.
  await ctx.engine.tagImage(id, ctx.names.buildRepo(ctx.project), ctx.names.buildTag(svc.name, id));
  return { service: svc.name, ref: `build:${b.context}/${b.dockerfile}`, id, digest: id, digestKind: 'image-id', built: true };
}

/** Resolves every service's image (builds shared by services with the same build are done once). */
export async function resolveImages(plan: DeploymentPlan, ctx: ResolveContext): Promise<ResolvedImage[]> {
  const out: ResolvedImage[] = [];
  const builds = new Map<string, ResolvedImage>();
  for (const svc of plan.services) {
    if (svc.build) {
      const key = JSON.stringify(svc.build);
      let r = builds.get(key);
      if (!r) {
        r = await build(svc, ctx);
        builds.set(key, r);
      }
      out.push({ ...r, service: svc.name });
    } else {
      out.push(await resolveRef(svc, ctx));
    }
  }
  return out;
}

/**
 * Before a start: the images recorded at prepare time must still be the local ones. A registry
 * image that went missing is pulled again by digest (same bytes, same id); a built one cannot be
 * rebuilt bit-for-bit, so that is an error that asks for a redeploy.
 */
export async function ensureRecordedImages(plan: DeploymentPlan, images: readonly ResolvedImage[], ctx: ResolveContext): Promise<Map<string, ResolvedImage>> {
  const byService = new Map(images.map((i) => [i.service, i]));
  for (const svc of plan.services) {
    const rec = byService.get(svc.name);
    if (!rec) throw unprocessable('image_missing', `no prepared image for service '${svc.name}'; prepare the deployment first`, svc.field);
    if (await ctx.engine.inspectImage(rec.id)) continue;
    if (rec.digestKind === 'repo-digest' && ctx.pull) {
      await ctx.engine.pullImage(rec.digest, { field: svc.field });
      const again = await ctx.engine.inspectImage(rec.digest);
      if (again?.Id === rec.id) continue;
    }
    throw unprocessable('image_missing', `the image ${rec.digest} of service '${svc.name}' is no longer in the engine; redeploy to ${rec.built ? 'rebuild' : 'pull'} it`, svc.field);
  }
  return byService;
}
