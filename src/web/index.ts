// The pages people look at: the public listing at `/`, the verifier page of an attested project
// (`/<name>/.well-known/tee-attestation`, which the ingress hands us as `/_webhost/verify/<name>`,
// also standalone at `/_webhost/verify?url=<app url>`), and the admin page (`/_webhost/admin`).
// Mounted on the daemon's Hono app before the API, so `/` can answer browsers with HTML.
//
// Every page is a static shell plus a bundle (assets.ts) that reads the same public, CORS-open
// endpoints any other client reads: the pages hold no privileged path into the daemon, and the
// verifier page runs unchanged when hosted elsewhere.
import type { Context, Hono } from 'hono';
import { pageAssets, ASSET_NAMES, type Asset } from './assets.ts';
import { pageHeaders, verifierConnectSources, type PagePolicy } from './csp.ts';
import { prefersHtml } from './negotiate.ts';
import { renderShell, type Shell } from './shell.ts';
import { isProjectName } from '../verify/endpoints.ts';

export interface PagesDeps {
  log: (msg: string) => void;
}

const ASSET_PREFIX = '/_webhost/assets/';

const LISTING: Shell = {
  style: `${ASSET_PREFIX}pages.css`,
  icon: `${ASSET_PREFIX}icon.svg`,
  title: 'Attested apps · dstack-webhost',
  heading: 'Attested apps on this daemon',
  script: `${ASSET_PREFIX}listing.js`,
  noscript: 'This listing is built by a script from the public JSON. Without scripts, read it with: curl -H "Accept: application/json" on this address.',
};

const ADMIN: Shell = {
  style: `${ASSET_PREFIX}pages.css`,
  icon: `${ASSET_PREFIX}icon.svg`,
  title: 'Admin · dstack-webhost',
  heading: 'Admin',
  script: `${ASSET_PREFIX}admin.js`,
  noscript: 'The admin page needs scripts. The CLI (webhost ls, deploy, promote, rollback, rm) does the same without a browser.',
};

/**
 * The listing and admin pages load their assets from /_webhost/assets/. The verifier page's are named relative to the page itself (`?asset=…`): on a project's own
 * origin (`<name>.<domain>` or its own port) the ingress hands the daemon only the exact
 * `/.well-known/tee-attestation` path, so `/_webhost/assets/` there would reach the app instead.
 */
const VERIFIER: Shell = {
  title: 'Verifier · dstack-webhost',
  heading: 'Verifying…',
  script: '?asset=verify.js',
  style: '?asset=pages.css',
  icon: '?asset=icon.svg',
  noscript: 'This page checks the evidence in your browser and needs scripts for it. Without them, run: webhost verify <app url>.',
};

const LISTING_POLICY: PagePolicy = { connect: ["'self'"], formAction: 'none' };
const ADMIN_POLICY: PagePolicy = { connect: ["'self'"], formAction: 'none' };

const UNAVAILABLE = 'The pages of this daemon are not available (their scripts could not be built; the daemon log says why). The JSON API works: curl -H "Accept: application/json" on this address; webhost verify <app url> checks an app.';

export function mountPages(app: Hono, deps: PagesDeps): void {
  let lastProblem = '';
  /** The built assets, or null (logged once per reason) when they cannot be built here, e.g. without esbuild. */
  const assets = async (): Promise<Map<string, Asset> | null> => {
    try {
      return await pageAssets();
    } catch (err) {
      const problem = (err as Error).message;
      if (problem !== lastProblem) deps.log(`pages: could not build the page assets: ${problem}`);
      lastProblem = problem;
      return null;
    }
  };
  /** A page's shell, once its script exists: a shell whose script 503s would spin forever. */
  const page = async (c: Context, shell: Shell, policy: PagePolicy, cache: 'no-cache' | 'no-store'): Promise<Response> => {
    if (!(await assets())) return c.text(UNAVAILABLE, 503);
    return c.body(renderShell(shell), 200, pageHeaders(policy, cache));
  };

  const serveAsset = async (c: Context, name: string): Promise<Response> => {
    if (!ASSET_NAMES.includes(name)) return c.json({ error: 'not found', code: 'not_found' }, 404);
    const a = (await assets())?.get(name);
    if (!a) return c.json({ error: 'the page assets could not be built on this daemon', code: 'assets_unavailable' }, 503);
    const headers: Record<string, string> = { 'content-type': a.type, etag: a.etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', vary: 'Accept-Encoding' };
    if (c.req.header('if-none-match') === a.etag) return c.body(null, 304, headers);
    if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) return c.body(a.gzip as Uint8Array<ArrayBuffer>, 200, { ...headers, 'content-encoding': 'gzip' });
    return c.body(a.body as Uint8Array<ArrayBuffer>, 200, headers);
  };

  // `/`: the HTML listing for browsers; any other caller (and a browser, when the pages cannot be
  // built here) falls through to the API's JSON.
  app.use('/', async (c, next) => {
    if ((c.req.method === 'GET' || c.req.method === 'HEAD') && prefersHtml(c.req.header('accept')) && (await assets())) {
      return c.body(renderShell(LISTING), 200, { ...pageHeaders(LISTING_POLICY, 'no-cache'), vary: 'Accept' });
    }
    await next();
    c.res.headers.append('vary', 'Accept');
  });

  app.get(`${ASSET_PREFIX}:file`, (c) => serveAsset(c, c.req.param('file')));

  const verifier = (c: Context, name?: string): Response | Promise<Response> => {
    const asset = c.req.query('asset');
    if (asset !== undefined) return serveAsset(c, asset);
    const connect = verifierConnectSources({ name, host: c.req.header('host'), query: (k) => c.req.query(k) });
    return page(c, VERIFIER, { connect, formAction: 'self' }, 'no-cache');
  };
  app.get('/_webhost/verify', (c) => verifier(c));
  app.get('/_webhost/verify/:name', (c) => {
    const name = c.req.param('name');
    if (!isProjectName(name)) return c.json({ error: 'not a project name', code: 'not_found' }, 404);
    return verifier(c, name);
  });

  app.get('/_webhost/admin', (c) => page(c, ADMIN, ADMIN_POLICY, 'no-store'));
}
