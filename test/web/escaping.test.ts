// Markup planted in everything a project's owner (or its app) controls that the pages show — the
// source path, the branch name, the commit message, app log lines, a deploy error — is rendered as
// text on the listing, the verifier page and the admin page: no element is created from it, no
// handler runs, no dialog opens. Env names cannot carry markup (the API refuses them); env values
// carry it and are never shown at all.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { testDaemon, TEST_TOKEN, type TestDaemon } from '../helpers/daemon.ts';
import { git, TestRepo } from '../helpers/git-repo.ts';
import { tempDir } from '../helpers/tmp.ts';
import { browserMissing, launch, watchedPage, type WatchedPage } from './browser.ts';

const missing = browserMissing();
const IMG = '<img src=x onerror=alert(1)>';
const SVG = '"><svg onload=alert(2)>';
const BRANCH = 'x<img/src=x/onerror=alert(3)>';
/** Sources may not contain whitespace: slashes separate the attributes (and make nested folders). */
const PATH_IMG = '<img/src=x/onerror=alert(4)>';

/** Nothing the payloads would create exists, and the page shows them as text. */
async function assertInert(w: WatchedPage, mustShow: string[]): Promise<void> {
  const found = await w.page.evaluate(() => ({
    img: document.querySelectorAll('img').length,
    svg: document.querySelectorAll('svg').length,
    handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length,
    text: document.body.innerText + '\n' + [...document.querySelectorAll('pre, code')].map((e) => e.textContent).join('\n'),
  }));
  assert.equal(found.img, 0, 'no <img> element');
  assert.equal(found.svg, 0, 'no <svg> element');
  assert.equal(found.handlers, 0, 'no event-handler attribute');
  for (const s of mustShow) assert.ok(found.text.includes(s), `shown as text: ${s}`);
  assert.deepEqual(w.dialogs, [], 'no dialog fired');
  assert.deepEqual(w.problems, [], 'no CSP violation or error');
}

describe('planted markup is rendered as text', { skip: missing ?? false }, () => {
  let d: TestDaemon;
  let repo: TestRepo;
  let browser: Browser;

  before(async () => {
    d = await testDaemon();
    // The repository lives in a folder named like markup: it is the project's source "URL".
    const parent = path.join(tempDir('xss-'), PATH_IMG);
    mkdirSync(parent, { recursive: true });
    repo = new TestRepo({ 'server.ts': `export default () => { console.log(${JSON.stringify(`log ${IMG} ${SVG}`)}); return new Response("ok"); };\n` }, parent);
    repo.commit({ 'README': 'x' }, `commit message ${IMG} ${SVG}`);
    git(repo.dir, 'branch', BRANCH);
    const res = await d.deployGit({ name: 'planted', source: repo.dir, ref: BRANCH, mode: 'attested', env: { PLANTED_VALUE: `value ${IMG}` } });
    assert.equal(res.status, 201, await res.clone().text());
    const bad = await d.deployGit({ name: 'planted2', source: repo.dir, ref: BRANCH, env: { [IMG]: 'x' } });
    assert.equal(bad.status, 400, 'env names cannot carry markup');
    await fetch(`${d.url}/planted/`); // one log line with both payloads
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
    repo?.remove();
  });

  test('on the listing', async () => {
    const w = await watchedPage(browser);
    await w.page.goto(`${d.url}/`);
    await w.page.waitForSelector('li.project[data-project="planted"]');
    await assertInert(w, [PATH_IMG]);
    await w.shot('escaping-listing');
    await w.context.close();
  });

  test('on the verifier page (headline, facts, check summaries, raw bundle)', async () => {
    const w = await watchedPage(browser);
    await w.page.goto(`${d.url}/planted/.well-known/tee-attestation`);
    await w.page.waitForSelector('#results[aria-busy="false"]', { timeout: 60_000 });
    await w.page.locator('#raw-bundle summary').click();
    assert.ok(((await w.page.textContent('#summary-headline')) ?? '').includes(PATH_IMG), 'the source path, in the headline, as text');
    assert.ok(((await w.page.textContent('#what-runs')) ?? '').includes(BRANCH), 'the branch, as text');
    assert.equal(await w.page.locator('li.check[data-status="fail"]').count(), 0);
    await assertInert(w, [PATH_IMG, BRANCH]);
    assert.doesNotMatch(await w.page.content(), /value <img|value &lt;img/, 'an env value never reaches the page');
    await w.shot('escaping-verifier');
    await w.context.close();
  });

  test('on the admin page (project facts, live log, a deploy error)', async () => {
    const w = await watchedPage(browser);
    await w.page.goto(`${d.url}/_webhost/admin`);
    await w.page.locator('#token').fill(TEST_TOKEN);
    await w.page.keyboard.press('Enter');
    const card = w.page.locator('article.project[data-project="planted"]');
    await card.waitFor();
    await card.locator('[data-action="logs"]').click();
    await card.locator('.log-line', { hasText: 'log <img' }).waitFor({ timeout: 15_000 });
    // A deploy whose error message repeats a planted ref.
    const badRef = 'nope<img/src=x/onerror=alert(5)>';
    await w.page.locator('#deploy-name').fill('broken');
    await w.page.locator('#deploy-source').fill(repo.dir);
    await w.page.locator('#deploy-ref').fill(badRef);
    await w.page.locator('#deploy-submit').click();
    await w.page.waitForFunction(() => /Deploy failed/.test(document.querySelector('#deploy-status')?.textContent ?? ''));
    assert.ok(((await w.page.textContent('#deploy-status')) ?? '').includes(badRef), (await w.page.textContent('#deploy-status')) ?? '');
    w.problems.splice(0, w.problems.length, ...w.problems.filter((p) => !/status of 422/.test(p))); // the refused deploy itself
    await assertInert(w, [IMG, SVG, PATH_IMG, BRANCH]);
    assert.doesNotMatch(await w.page.content(), /value <img|value &lt;img/);
    await w.shot('escaping-admin');
    await card.locator('[data-action="logs"]').click();
    await w.context.close();
  });
});
