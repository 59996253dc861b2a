// Static sites, served by the daemon. Every file of the folder is served (not only index.html),
// folders serve their index.html, and nothing outside the folder is ever reached: the decoded path
// is confined, and the real path (after any link) must still be inside the real root.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.wav': 'audio/wav',
};

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Resolves a request path (already stripped of the project prefix) to a file under root, or null. */
export async function resolveStatic(root: string, urlPath: string): Promise<{ file: string; redirect?: undefined } | { redirect: string } | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..')) return null;
  const rel = segments.filter((s) => s !== '' && s !== '.').join('/');
  const realRoot = await realpath(root);
  let candidate = path.join(realRoot, rel);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    return null;
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return null;
  let st = await stat(real);
  if (st.isDirectory()) {
    if (!urlPath.endsWith('/')) return { redirect: `${urlPath.split('/').pop() || ''}/` };
    candidate = path.join(real, 'index.html');
    try {
      real = await realpath(candidate);
    } catch {
      return null;
    }
    if (!real.startsWith(realRoot + path.sep)) return null;
    st = await stat(real);
  }
  return st.isFile() ? { file: real } : null;
}

export async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, urlPath: string, query: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, 'method not allowed\n');
  }
  const found = await resolveStatic(root, urlPath).catch(() => null);
  if (!found) return send(res, 404, 'not found\n');
  if ('redirect' in found && found.redirect !== undefined) {
    res.writeHead(301, { location: found.redirect + query, 'content-length': 0 });
    return void res.end();
  }
  const file = (found as { file: string }).file;
  const st = await stat(file);
  const etag = `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const headers: Record<string, string | number> = {
    'content-type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'last-modified': st.mtime.toUTCString(),
    etag,
    'x-content-type-options': 'nosniff',
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    return void res.end();
  }
  headers['content-length'] = st.size;
  res.writeHead(200, headers);
  if (req.method === 'HEAD') return void res.end();
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
