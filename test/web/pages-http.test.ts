// The pages over plain HTTP, without a browser: `/` answers browsers with HTML and every other
// caller with the JSON it always had; every page carries a strict CSP whose connect-src names
// exactly what that page fetches; the shells hold no inline code and no data; the bundles are
// served by the daemon itself, on the daemon's origin and on a project's own origin.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { testDaemon, TEST_TOKEN, type TestDaemon } from '../helpers/daemon.ts';
import { TestRepo } from '../helpers/git-repo.ts';
import { findNginx } from '../../src/ingress/nginx-plane.ts';

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A GET with any Host header (fetch will not set one). */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
}

function directives(csp: string | undefined): Map<string, string> {
  assert.ok(csp, 'a Content-Security-Policy header');
  return new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k!, v.join(' ')]));
}

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

describe('pages over HTTP', () => {
  let d: TestDaemon;
  let repo: TestRepo;
  let port: string;

  before(async () => {
    d = await testDaemon();
    port = new URL(d.url).port;
    repo = new TestRepo({ 'server.ts': 'export default () => new Response("app itself");\n' });
    assert.equal((await d.deployGit({ name: 'notary', source: repo.dir, ref: 'main' })).status, 201);
    assert.equal((await d.api('POST', '/_api/projects/notary/promote')).status, 200);
    assert.equal((await d.deployGit({ name: 'sketch', source: repo.dir, ref: 'main' })).status, 201);
  });
  after(async () => {
    await d.stop();
    repo.remove();
  });

  test('/ keeps its JSON for callers that do not prefer HTML', async () => {
    for (const accept of [undefined, '*/*', 'application/json', 'application/json, text/html', 'text/html;q=0.5, application/json', 'text/plain']) {
      const res = await fetch(`${d.url}/`, { headers: accept === undefined ? {} : { accept } });
      assert.equal(res.status, 200, String(accept));
      assert.match(res.headers.get('content-type') ?? '', /application\/json/, String(accept));
      assert.match(res.headers.get('vary') ?? '', /accept/i);
      const body = (await res.json()) as { projects: Record<string, { mode: string }> };
      assert.deepEqual(Object.keys(body.projects), ['notary'], 'public JSON lists attested projects only');
    }
    // The admin still sees every project through the JSON root.
    const admin = (await (await fetch(`${d.url}/`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).json()) as { projects: Record<string, unknown> };
    assert.deepEqual(Object.keys(admin.projects).sort(), ['notary', 'sketch']);
  });

  test('/ answers a browser with the HTML listing and a strict CSP', async () => {
    for (const accept of [BROWSER_ACCEPT, 'text/html']) {
      const res = await fetch(`${d.url}/`, { headers: { accept } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(res.headers.get('vary') ?? '', /accept/i);
      const csp = directives(res.headers.get('content-security-policy') ?? undefined);
      assert.equal(csp.get('default-src'), "'none'");
      assert.equal(csp.get('script-src'), "'self'");
      assert.equal(csp.get('style-src'), "'self'");
      assert.equal(csp.get('connect-src'), "'self'");
      assert.equal(csp.get('form-action'), "'none'");
      assert.equal(csp.get('frame-ancestors'), "'none'");
      assert.equal(csp.get('base-uri'), "'none'");
      assert.equal(csp.get('require-trusted-types-for'), "'script'");
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const html = await res.text();
      assert.doesNotMatch(html, /notary|sketch/, 'the shell carries no data: the script reads the public JSON');
    }
  });

  test('no page has inline script, inline style, event-handler attributes or any unsafe CSP source', async () => {
    const pages = ['/', '/_webhost/admin', '/_webhost/verify', '/_webhost/verify/notary', '/notary/.well-known/tee-attestation'];
    for (const p of pages) {
      const res = await fetch(`${d.url}${p}`, { headers: { accept: BROWSER_ACCEPT } });
      assert.equal(res.status, 200, p);
      const html = await res.text();
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.doesNotMatch(csp, /unsafe|data:|\*/, `${p}: ${csp}`);
      for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
        assert.match(m[1]!, /\ssrc="/, `${p}: every script has a src`);
        assert.equal(m[2]!.trim(), '', `${p}: no inline script`);
      }
      assert.doesNotMatch(html, /<style\b|\sstyle=|\son[a-z]+=/i, `${p}: no inline style or handler`);
      assert.doesNotMatch(html, new RegExp(TEST_TOKEN), p);
    }
    const admin = await fetch(`${d.url}/_webhost/admin`);
    assert.equal(admin.headers.get('cache-control'), 'no-store');
  });

  test('the bundles are served by the daemon, with revalidation and gzip', async () => {
    for (const [name, type] of [['listing.js', /javascript/], ['verify.js', /javascript/], ['admin.js', /javascript/], ['pages.css', /text\/css/], ['icon.svg', /svg/]] as const) {
      const res = await fetch(`${d.url}/_webhost/assets/${name}`);
      assert.equal(res.status, 200, name);
      assert.match(res.headers.get('content-type') ?? '', type, name);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const etag = res.headers.get('etag');
      assert.ok(etag, name);
      assert.ok((await res.arrayBuffer()).byteLength > 100, name);
      assert.equal((await fetch(`${d.url}/_webhost/assets/${name}`, { headers: { 'if-none-match': etag } })).status, 304, name);
    }
    const gz = await rawGet(`${d.url}/_webhost/assets/verify.js`, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    const plain = await rawGet(`${d.url}/_webhost/assets/verify.js`);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.ok(gz.body.length < plain.body.length / 2, `gzip ${gz.body.length} vs ${plain.body.length}`);
    // The verifier library itself is in the page's bundle: the checks run in the browser.
    assert.match(plain.body.toString(), /dstack-webhost\/v1:/);
    assert.equal((await fetch(`${d.url}/_webhost/assets/nope.js`)).status, 404);
  });

  test('the verifier page: on the daemon origin it fetches the same origin (and the git host API)', async () => {
    for (const p of ['/notary/.well-known/tee-attestation', '/_webhost/verify/notary']) {
      const res = await rawGet(`${d.url}${p}`, { accept: BROWSER_ACCEPT });
      assert.equal(res.status, 200, p);
      assert.equal(directives(res.headers['content-security-policy'] as string).get('connect-src'), "'self' https://api.github.com", p);
      assert.equal(directives(res.headers['content-security-policy'] as string).get('form-action'), "'self'", p);
    }
    // Its assets are named relative to the page, because on a project's own origin only that exact path reaches the daemon.
    const html = (await rawGet(`${d.url}/notary/.well-known/tee-attestation`)).body.toString();
    assert.match(html, /src="\?asset=verify\.js"/);
    const asset = await rawGet(`${d.url}/notary/.well-known/tee-attestation?asset=verify.js`);
    assert.equal(asset.status, 200);
    assert.match(String(asset.headers['content-type']), /javascript/);
  });

  test("the verifier page on a project's own origin fetches the daemon's origin, and only that", async () => {
    const own = { host: `notary.localhost:${port}`, accept: BROWSER_ACCEPT };
    const res = await rawGet(`${d.url}/.well-known/tee-attestation`, own);
    assert.equal(res.status, 200);
    assert.equal(directives(res.headers['content-security-policy'] as string).get('connect-src'), `localhost:${port} https://api.github.com`);
    const asset = await rawGet(`${d.url}/.well-known/tee-attestation?asset=pages.css`, own);
    assert.equal(asset.status, 200);
    assert.match(String(asset.headers['content-type']), /text\/css/);
    // Anything else on that origin is the app's.
    assert.equal((await rawGet(`${d.url}/`, own)).body.toString(), 'app itself');
  });

  test('the standalone verifier fetches exactly the origin it was given, and nothing without one', async () => {
    const csp = async (q: string, headers: Record<string, string> = {}) => directives((await rawGet(`${d.url}/_webhost/verify${q}`, headers)).headers['content-security-policy'] as string).get('connect-src');
    assert.equal(await csp(''), "'none'");
    assert.equal(await csp('?url=not-a-url'), "'none'");
    assert.equal(await csp(`?url=${encodeURIComponent('https://apps.example.org:8443/notary/')}`), 'https://apps.example.org:8443 https://api.github.com');
    assert.equal(await csp(`?url=${encodeURIComponent('https://notary.apps.example.org/')}`), 'https://apps.example.org https://api.github.com');
    assert.equal(
      await csp(`?url=${encodeURIComponent('https://h.example/notary/')}&pccs=${encodeURIComponent('https://pccs.example.net/sgx/certification/v4/')}&rpc=${encodeURIComponent('https://rpc.example.io/v1/KEY')}`),
      'https://h.example https://api.github.com https://pccs.example.net https://rpc.example.io',
    );
    // Nothing but scheme, host and port ever reaches the header.
    assert.equal(await csp(`?url=${encodeURIComponent("https://h.example/notary/';script-src *")}&rpc=${encodeURIComponent('javascript:alert(1)')}`), 'https://h.example https://api.github.com');
    // A Host header that is no host name: refused by the server, or at least kept out of the policy.
    for (const host of ['notary.x; script-src *', "notary.a_b'c"]) {
      const injected = await rawGet(`${d.url}/_webhost/verify/notary`, { host });
      if (injected.status === 400) continue;
      assert.equal(directives(injected.headers['content-security-policy'] as string).get('connect-src'), "'self' https://api.github.com", host);
    }
    assert.equal((await rawGet(`${d.url}/_webhost/verify/Not_A_Name`)).status, 404);
  });
});

describe('pages behind the nginx data plane', { skip: findNginx() ? false : 'nginx is not installed' }, () => {
  let d: TestDaemon;
  let repo: TestRepo;

  before(async () => {
    d = await testDaemon({ dataPlane: 'nginx' });
    repo = new TestRepo({ 'server.ts': 'export default () => new Response("app itself");\n' });
    assert.equal((await d.deployGit({ name: 'notary', source: repo.dir, ref: 'main', mode: 'attested' })).status, 201);
  });
  after(async () => {
    await d.stop();
    repo.remove();
  });

  test('the listing, the verifier page and its assets reach the daemon, on its origin and the project\'s own', async () => {
    const port = new URL(d.url).port;
    const listing = await rawGet(`${d.url}/`, { accept: BROWSER_ACCEPT });
    assert.match(String(listing.headers['content-type']), /text\/html/);
    assert.match(String(listing.headers['content-security-policy']), /trusted-types 'none'/);
    assert.deepEqual(Object.keys((JSON.parse((await rawGet(`${d.url}/`)).body.toString()) as { projects: object }).projects), ['notary']);
    for (const [url, host, connect] of [
      [`${d.url}/notary/.well-known/tee-attestation`, undefined, "'self' https://api.github.com"],
      [`${d.url}/.well-known/tee-attestation`, `notary.localhost:${port}`, `localhost:${port} https://api.github.com`],
    ] as const) {
      const headers: Record<string, string> = host ? { host } : {};
      const page = await rawGet(url, { ...headers, accept: BROWSER_ACCEPT });
      assert.equal(page.status, 200, url);
      assert.equal(directives(page.headers['content-security-policy'] as string).get('connect-src'), connect);
      const js = await rawGet(`${url}?asset=verify.js`, headers);
      assert.equal(js.status, 200);
      assert.match(String(js.headers['content-type']), /javascript/);
    }
  });
});
