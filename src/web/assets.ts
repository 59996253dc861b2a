// The pages' scripts and stylesheet, bundled with esbuild from src/web/client/ into memory on first
// use and kept for the life of the process (one build shared by every daemon in it). No CDN, no
// files written: what the browser runs is built from this checkout's sources, the verifier library
// included, exactly as the CLI runs it.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Uint8Array;
  /** The same bytes gzipped once at build (the verifier bundle shrinks to about a third: phones). */
  gzip: Uint8Array;
  type: string;
  etag: string;
}

/** Served file name → entry point under src/web/client. */
const ENTRIES: Record<string, string> = {
  'listing.js': 'listing.ts',
  'verify.js': 'verify-page.ts',
  'admin.js': 'admin.ts',
  'pages.css': 'pages.css',
};
export const ASSET_NAMES = [...Object.keys(ENTRIES), 'icon.svg'];

// A plain shield, drawn here so the pages need no image file and no data: URL.
const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path fill="#1d4ed8" d="M16 2 4 7v8c0 7.5 5.1 13.6 12 15 6.9-1.4 12-7.5 12-15V7z"/><path fill="#fff" d="m14 21-5-5 2-2 3 3 7-7 2 2z"/></svg>`;

const clientDir = fileURLToPath(new URL('./client/', import.meta.url));

function asset(body: Uint8Array, type: string): Asset {
  return { body, gzip: gzipSync(body, { level: 9 }), type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

async function build(): Promise<Map<string, Asset>> {
  // Loaded when first needed: the daemon starts (and serves its API) even where esbuild is absent.
  const esbuild = await import('esbuild');
  const entryPoints = Object.fromEntries(Object.entries(ENTRIES).map(([out, src]) => [out.replace(/\.(js|css)$/, ''), path.join(clientDir, src)]));
  const result = await esbuild.build({
    entryPoints,
    absWorkingDir: path.resolve(clientDir, '../../..'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    minify: true,
    legalComments: 'none',
    charset: 'utf8',
    write: false,
    outdir: 'out',
    logLevel: 'silent',
  });
  const out = new Map<string, Asset>();
  for (const f of result.outputFiles) {
    const name = path.basename(f.path);
    out.set(name, asset(f.contents, name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8'));
  }
  out.set('icon.svg', asset(new TextEncoder().encode(ICON), 'image/svg+xml'));
  for (const name of ASSET_NAMES) if (!out.has(name)) throw new Error(`the page bundle did not produce ${name}`);
  return out;
}

let built: Promise<Map<string, Asset>> | undefined;

/** The built assets (built once; a failed build is retried on the next call). */
export function pageAssets(): Promise<Map<string, Asset>> {
  built ??= build().catch((err: unknown) => {
    built = undefined;
    throw err;
  });
  return built;
}
