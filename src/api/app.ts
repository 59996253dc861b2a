// The daemon's HTTP API (`/_api/…`) and its own pages, as one Hono app on web-standard
// Request/Response. Admin routes need the bearer token; the public ones show attested projects
// only, and answer a dev project exactly as they answer a missing one (404).
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { HttpError, notFound, badRequest } from '../lib/http-error.ts';
import { errorResponse } from './errors.ts';
import { readJson, readUpload } from './request-body.ts';
import type { TokenCheck } from './auth.ts';
import { parseDeployManifest, parseEnv } from '../projects/manifest.ts';
import { validateName } from '../projects/names.ts';
import { projectView, type ProjectRecord } from '../projects/model.ts';
import type { Deployer } from '../projects/deployer.ts';
import type { ProjectStore } from '../projects/store.ts';
import type { Runner } from '../projects/runner.ts';
import type { AppLogs, LogLine } from '../projects/app-logs.ts';
import { attestedRoutes, type AttestedDeps } from './attested-routes.ts';

export interface ApiDeps {
  deployer: Deployer;
  store: ProjectStore;
  runner: Runner;
  logs: AppLogs;
  checkToken: TokenCheck;
  substrate: () => Promise<Record<string, unknown>>;
  uploadLimitBytes: number;
  log: (msg: string) => void;
  /** Attested mode (promote and the public evidence), when the daemon has a TEE. */
  attested?: Omit<AttestedDeps, 'view' | 'requireAdmin' | 'remote' | 'store' | 'deployer'>;
  /** The latest audit-log entry of an attested project (for the listing), when there is one. */
  lastChange?: (name: string) => Promise<{ time: string; action: string } | null>;
  /** The daemon's pages, mounted before the API routes so `/` can answer browsers with HTML. */
  pages?: (app: Hono) => void;
}

type Env = { Variables: { admin: boolean } };

const PUBLIC_CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, OPTIONS',
  'access-control-allow-headers': '*',
  'access-control-max-age': '86400',
};

export function createApi(deps: ApiDeps): Hono<Env> {
  const app = new Hono<Env>({ strict: false });
  app.onError((err, c) => errorResponse(err, c, deps.log));
  app.notFound((c) => c.json({ error: 'not found', code: 'not_found' }, 404));

  /** Who is calling: `admin` is true only with the right token. A wrong token is refused outright. */
  const identify: MiddlewareHandler<Env> = async (c, next) => {
    const auth = c.req.header('authorization');
    const r = auth === undefined ? 'missing' : deps.checkToken(auth);
    if (r === 'invalid') throw new HttpError(403, 'invalid_token', 'invalid token');
    c.set('admin', r === 'ok');
    await next();
  };
  const requireAdmin = (c: Context) => {
    const r = deps.checkToken(c.req.header('authorization'));
    if (r === 'missing') throw new HttpError(401, 'missing_token', 'missing token: send Authorization: Bearer <TEE_DAEMON_TOKEN>');
    if (r === 'invalid') throw new HttpError(403, 'invalid_token', 'invalid token');
  };
  const adminOnly: MiddlewareHandler<Env> = async (c, next) => {
    requireAdmin(c);
    c.set('admin', true);
    await next();
  };

  const view = async (p: ProjectRecord) => projectView(p, await deps.deployer.currentDeployment(p), deps.runner.status(p.name));
  /** The project for a public caller: attested only; otherwise the same 404 as a missing one. */
  const visible = (c: Context<Env>, name: string): ProjectRecord => {
    const p = deps.store.get(name);
    if (!p || (!c.get('admin') && p.mode !== 'attested')) throw notFound();
    return p;
  };

  deps.pages?.(app as unknown as Hono);
  app.options('/_api/*', (c) => c.body(null, 204, PUBLIC_CORS));
  app.get('/_api/health', (c) => c.json({ ok: true }));
  app.get('/_api/substrate', async (c) => c.json(await deps.substrate(), 200, PUBLIC_CORS));

  app.get('/_api/projects', adminOnly, async (c) => c.json(await Promise.all(deps.store.list().map(view))));

  app.post('/_api/projects', adminOnly, async (c) => {
    const type = c.req.header('content-type') ?? '';
    let result;
    if (type.startsWith('multipart/form-data')) {
      const upload = await readUpload(c, deps.uploadLimitBytes);
      result = await deps.deployer.deploy(parseDeployManifest(upload.manifest), upload.files);
    } else if (type === '' || type.startsWith('application/json')) {
      result = await deps.deployer.deploy(parseDeployManifest(await readJson(c)));
    } else {
      throw new HttpError(415, 'unsupported_media_type', 'send application/json (git deploy) or multipart/form-data (manifest + files)', 'content-type');
    }
    return c.json({ ...(await view(result.project)), changed: result.changed }, 201);
  });

  app.get('/_api/projects/:name', identify, async (c) => {
    const p = visible(c, c.req.param('name'));
    return c.json(await view(p), 200, c.get('admin') ? {} : PUBLIC_CORS);
  });

  app.delete('/_api/projects/:name', adminOnly, async (c) => {
    await deps.deployer.remove(validateName(c.req.param('name')));
    return c.json({ ok: true });
  });

  app.post('/_api/projects/:name/redeploy', adminOnly, async (c) => {
    const r = await deps.deployer.redeploy(validateName(c.req.param('name')));
    return c.json({ ...(await view(r.project)), changed: r.changed });
  });

  app.post('/_api/projects/:name/rollback', adminOnly, async (c) => {
    const body = (await readJson(c, 64 * 1024, true)) as Record<string, unknown>;
    const to = body.deployment;
    if (to !== undefined && (typeof to !== 'string' || !/^[0-9a-f]{64}$/.test(to))) {
      throw badRequest('invalid_field', "'deployment' must be a deployment id (64 hex)", 'deployment');
    }
    const r = await deps.deployer.rollback(validateName(c.req.param('name')), to as string | undefined);
    return c.json({ ...(await view(r.project)), changed: r.changed });
  });

  // Replaces the env (names and values); the response, like every other, shows names only.
  app.put('/_api/projects/:name/env', adminOnly, async (c) => {
    const body = (await readJson(c, 128 * 1024)) as Record<string, unknown>;
    const env = parseEnv(body.env ?? undefined) ?? (() => {
      throw badRequest('missing_field', "'env' is required: an object of variable names to values", 'env');
    })();
    const r = await deps.deployer.setEnv(validateName(c.req.param('name')), env);
    return c.json({ ...(await view(r.project)), changed: r.changed });
  });

  app.get('/_api/projects/:name/deployments', adminOnly, async (c) => {
    const p = deps.deployer.require(c.req.param('name'));
    const rows = [];
    for (const id of p.history) {
      const d = await deps.store.loadDeployment(p.name, id);
      if (!d) continue;
      rows.push({ id, current: id === p.current, created_at: d.created_at, runtime: d.runtime, entry: d.entry, ...d.record.source, env_names: d.record.manifest.env_names });
    }
    return c.json(rows);
  });

  app.get('/_api/projects/:name/logs', adminOnly, async (c) => {
    const p = deps.deployer.require(c.req.param('name'));
    const tail = Math.min(Math.max(Number(c.req.query('tail') ?? 200) || 200, 1), 2000);
    const asJson = c.req.query('format') === 'json';
    const fmt = (l: LogLine) => (asJson ? JSON.stringify(l) : `${l.time} [${l.stream}] ${l.text}`) + '\n';
    const initial = (await deps.logs.tail(p.name, tail)).map(fmt).join('');
    const headers = { 'content-type': asJson ? 'application/x-ndjson' : 'text/plain; charset=utf-8', 'cache-control': 'no-store' };
    if (c.req.query('follow') !== '1') return c.body(initial, 200, headers);
    const enc = new TextEncoder();
    let unsubscribe = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        ctrl.enqueue(enc.encode(initial));
        unsubscribe = deps.logs.subscribe(p.name, (l) => ctrl.enqueue(enc.encode(fmt(l))));
      },
      cancel() {
        unsubscribe();
      },
    });
    return c.body(stream, 200, { ...headers, 'x-accel-buffering': 'no' });
  });

  // The root: the public listing (attested projects); the admin sees every project.
  app.get('/', identify, async (c) => {
    const projects: Record<string, unknown> = {};
    for (const p of deps.store.list()) {
      if (!c.get('admin') && p.mode !== 'attested') continue;
      const v = await view(p);
      const last = p.mode === 'attested' ? await deps.lastChange?.(p.name).catch(() => null) : null;
      projects[p.name] = { runtime: v.runtime, mode: v.mode, source: v.source, commit_sha: v.commit_sha, tree_hash: v.tree_hash, promoted_at: v.promoted_at, last_change: last ?? null };
    }
    return c.json({ projects }, 200, PUBLIC_CORS);
  });

  if (deps.attested) {
    attestedRoutes(app as unknown as Hono, {
      ...deps.attested,
      store: deps.store,
      deployer: deps.deployer,
      view,
      requireAdmin,
      // Set by the ingress for every request it hands the daemon; a client cannot choose it.
      remote: (c) => c.req.header('x-webhost-remote') ?? '',
    });
  } else {
    app.post('/_api/projects/:name/promote', adminOnly, () => {
      throw new HttpError(422, 'attestation_unavailable', 'attested mode is not available on this daemon');
    });
  }
  return app;
}
