// Reading request bodies with limits: JSON for git deploys and actions, multipart (`manifest` +
// `files`) for uploads. Oversized or malformed bodies are 4xx naming the problem.
import type { Context } from 'hono';
import { badRequest, HttpError } from '../lib/http-error.ts';

/** Reads the body, refusing more than `limit` bytes whatever Content-Length claims. */
async function readLimited(c: Context, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(c.req.header('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const body = c.req.raw.body;
  if (!body) return new Uint8Array(new ArrayBuffer(0));
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const out = new Uint8Array(new ArrayBuffer(size));
  let off = 0;
  for (const ch of chunks) {
    out.set(ch, off);
    off += ch.length;
  }
  return out;
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'payload_too_large', `the request body is larger than ${Math.round(limit / 1024 / 1024)} MiB`, 'body');
}

export async function readJson(c: Context, limit = 1024 * 1024, optional = false): Promise<unknown> {
  const bytes = await readLimited(c, limit);
  if (bytes.length === 0) {
    if (optional) return {};
    throw badRequest('invalid_json', 'the request body must be a JSON object', 'body');
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw badRequest('invalid_json', `the request body is not valid JSON: ${(err as Error).message}`, 'body');
  }
}

export interface Upload {
  manifest: unknown;
  files: Blob;
}

/** A multipart deploy: part `manifest` (JSON text) and part `files` (tar or tar.gz). */
export async function readUpload(c: Context, limit: number): Promise<Upload> {
  const bytes = await readLimited(c, limit);
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'content-type': c.req.header('content-type') ?? '' } }).formData();
  } catch {
    throw badRequest('invalid_multipart', 'the multipart body could not be parsed', 'body');
  }
  const manifestPart = form.get('manifest');
  if (manifestPart === null) throw badRequest('missing_field', "missing 'manifest' field (JSON text)", 'manifest');
  const files = form.get('files');
  if (files === null) throw badRequest('missing_field', "missing 'files' field (a tar or tar.gz archive)", 'files');
  if (typeof files === 'string') throw badRequest('invalid_field', "'files' must be a file part", 'files');
  const text = typeof manifestPart === 'string' ? manifestPart : await manifestPart.text();
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (err) {
    throw badRequest('invalid_json', `manifest is not valid JSON: ${(err as Error).message}`, 'manifest');
  }
  return { manifest, files };
}
