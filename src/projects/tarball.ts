// Safe extraction of an uploaded source archive (tar or tar.gz). Every member is checked before it
// touches the disk: no absolute paths, no '..', no links out of the folder or paths through links,
// no devices, fifos or hard links, no .git, no duplicates, and bounded size and entry count. On any
// refusal the partial folder is removed, so nothing changes on disk.
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { mkdir, rm, symlink, chmod } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import tar from 'tar-stream';
import { badRequest, HttpError } from '../lib/http-error.ts';
import { safeRelativePath, checkLinkTarget } from './source-paths.ts';

export interface ArchiveLimits {
  maxEntries: number;
  /** Total bytes of all files once extracted. */
  maxBytes: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = { maxEntries: 20_000, maxBytes: 512 * 1024 * 1024 };

export interface ExtractResult {
  entries: number;
  bytes: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Counts bytes as they stream and aborts once the limit is passed. */
function limitBytes(limit: { remaining: number }) {
  return async function* (source: AsyncIterable<Buffer | string>) {
    for await (const chunk of source) {
      limit.remaining -= chunk.length;
      if (limit.remaining < 0) throw badRequest('archive_too_large', 'the archive unpacks to more than the size limit', 'files');
      yield chunk;
    }
  };
}

function refuse(type: string, name: string): HttpError {
  return badRequest('unsafe_archive', `archive member ${JSON.stringify(name)} is a ${type}, which is not allowed`, 'files');
}

/** Extracts `archive` into `dest` (created here; must not exist). */
export async function extractArchive(archive: Blob, dest: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<ExtractResult> {
  const head = new Uint8Array(await archive.slice(0, 262).arrayBuffer());
  const gzip = head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  if (!gzip && !(head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar') && !looksLikeV7Tar(head)) {
    throw badRequest('invalid_archive', "'files' must be a tar or tar.gz archive", 'files');
  }
  await mkdir(dest, { recursive: false, mode: 0o755 });
  try {
    return await extractInto(archive, gzip, dest, limits);
  } catch (err) {
    await rm(dest, { recursive: true, force: true });
    if (err instanceof HttpError) throw err;
    throw badRequest('invalid_archive', `could not read the archive: ${(err as Error).message}`, 'files');
  }
}

/** Old-style tar without the ustar magic: accept when the first header's checksum is right. */
function looksLikeV7Tar(head: Uint8Array): boolean {
  if (head.length < 512) return false;
  const stored = parseInt(new TextDecoder().decode(head.subarray(148, 156)).replace(/\0.*$/, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : head[i]!;
  return Number.isFinite(stored) && stored === sum;
}

async function extractInto(archive: Blob, gzip: boolean, dest: string, limits: ArchiveLimits): Promise<ExtractResult> {
  const extract = tar.extract();
  const input = Readable.fromWeb(archive.stream() as import('node:stream/web').ReadableStream<Uint8Array>);
  const feeding = pipeline(gzip ? [input, createGunzip(), extract] : [input, extract] as never);
  const budget = { remaining: limits.maxBytes };
  const seen = new Set<string>();
  const links = new Set<string>();
  let entries = 0;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      if (++entries > limits.maxEntries) throw badRequest('archive_too_large', `the archive has more than ${limits.maxEntries} entries`, 'files');
      const rel = safeRelativePath(h.name);
      if (rel === '') {
        entry.resume();
        continue; // the archive's own top folder ("./")
      }
      if (seen.has(rel) && h.type !== 'directory') throw badRequest('unsafe_archive', `archive member ${JSON.stringify(h.name)} appears twice`, 'files');
      const parts = rel.split('/');
      for (let i = 1; i < parts.length; i++) {
        if (links.has(parts.slice(0, i).join('/'))) {
          throw badRequest('unsafe_archive', `archive member ${JSON.stringify(h.name)} goes through a link`, 'files');
        }
      }
      seen.add(rel);
      const target = path.join(dest, rel);
      switch (h.type) {
        case 'directory':
          await mkdir(target, { recursive: true, mode: 0o755 });
          entry.resume();
          break;
        case 'file':
        case 'contiguous-file': {
          await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
          await pipeline(entry as unknown as NodeJS.ReadableStream, limitBytes(budget), createWriteStream(target, { flags: 'wx', mode: 0o644 }));
          await chmod(target, (h.mode ?? 0o644) & 0o100 ? 0o755 : 0o644);
          break;
        }
        case 'symlink': {
          checkLinkTarget(rel, h.linkname ?? '');
          await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
          await symlink(h.linkname!, target);
          links.add(rel);
          entry.resume();
          break;
        }
        case 'link':
          throw refuse('hard link', h.name);
        case 'character-device':
        case 'block-device':
          throw refuse('device file', h.name);
        case 'fifo':
          throw refuse('fifo', h.name);
        default:
          throw refuse(String(h.type), h.name);
      }
    }
    await feeding;
  } catch (err) {
    extract.destroy();
    await feeding.catch(() => undefined);
    throw err;
  }
  return { entries, bytes: limits.maxBytes - budget.remaining };
}
