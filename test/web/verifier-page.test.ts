// The public pages in real Chromium against a daemon with the simulator: the listing shows the
// promoted project (not the dev one); the verifier page runs every check in the browser and shows
// the SIMULATED banner; a redeploy is reported as exactly one change on the next visit; a tampered
// audit log fails log.entries with expected and actual; the page also works standalone against
// another origin and on the project's own origin. No page may log a CSP violation or an error.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { testDaemon, type TestDaemon } from '../helpers/daemon.ts';
import { TestRepo } from '../helpers/git-repo.ts';
import { browserMissing, launch, watchedPage, PHONE, SCREENSHOTS, type WatchedPage } from './browser.ts';

const missing = browserMissing();

/** Opens a verifier page and waits for the verification to finish. */
async function verifyAt(w: WatchedPage, url: string): Promise<void> {
  await w.page.goto(url);
  await w.page.waitForSelector('#results[aria-busy="false"]', { timeout: 60_000 });
}

async function statuses(w: WatchedPage): Promise<Map<string, string>> {
  const rows = await w.page.$$eval('li.check', (els) => els.map((e) => [(e as HTMLElement).dataset.checkId!, (e as HTMLElement).dataset.status!] as const));
  return new Map(rows);
}

function assertClean(w: WatchedPage): void {
  assert.deepEqual(w.problems, [], 'no CSP violation, console error or uncaught exception');
  assert.deepEqual(w.dialogs, [], 'no dialog');
}

describe('listing and verifier pages in Chromium', { skip: missing ?? false }, () => {
  let d: TestDaemon;
  let repo: TestRepo;
  let browser: Browser;
  /** One browser profile for the relying party's visits: its localStorage is their memory. */
  let visitor: BrowserContext;
  let port: string;

  before(async () => {
    d = await testDaemon();
    port = new URL(d.url).port;
    repo = new TestRepo({ 'server.ts': 'export default () => new Response("notary v1");\n' });
    assert.equal((await d.deployGit({ name: 'notary', source: repo.dir, ref: 'main', env: { API_SECRET: 'env-value-never-shown' } })).status, 201);
    assert.equal((await d.api('POST', '/_api/projects/notary/promote')).status, 200);
    assert.equal((await d.deployGit({ name: 'sketch', source: repo.dir, ref: 'main' })).status, 201);
    browser = await launch();
    visitor = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
    repo?.remove();
  });

  test('the listing shows the promoted project, not the dev one, under the SIMULATED identity', async () => {
    const w = await watchedPage(browser);
    await w.page.goto(`${d.url}/`);
    await w.page.waitForSelector('#projects');
    assert.equal(await w.page.locator('li.project[data-project="notary"]').count(), 1);
    assert.equal(await w.page.locator('li.project[data-project="sketch"]').count(), 0);
    assert.doesNotMatch((await w.page.textContent('main')) ?? '', /sketch/);
    const card = w.page.locator('li.project[data-project="notary"]');
    const text = (await card.textContent()) ?? '';
    assert.match(text, new RegExp(`@${repo.head().slice(0, 7)}`), 'source at commit');
    assert.match(text, /Promoted\s*\d{4}-\d{2}-\d{2}/);
    assert.match(text, /Last change\s*promote/);
    assert.equal(await card.locator('a.button').getAttribute('href'), '/notary/.well-known/tee-attestation');
    assert.equal(await w.page.locator('#identity [data-tee="simulated"]').count(), 1);
    assert.ok(await w.page.locator('#identity #simulated-banner').isVisible());
    assert.match((await w.page.textContent('#identity')) ?? '', /compose-hash\s*[0-9a-f]{64}/);
    await w.shot('listing');
    const phone = await watchedPage(browser, { viewport: PHONE });
    await phone.page.goto(`${d.url}/`);
    await phone.page.waitForSelector('#projects');
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow}px)`);
    await phone.shot('listing-phone');
    assertClean(w);
    assertClean(phone);
    await w.context.close();
    await phone.context.close();
  });

  test('the verifier page runs every check in the browser: all pass, SIMULATED banner on top', async () => {
    const w = await watchedPage(browser, { context: visitor });
    await verifyAt(w, `${d.url}/notary/.well-known/tee-attestation`);
    const s = await statuses(w);
    assert.ok(s.size >= 35, `every check is shown (${s.size})`);
    assert.deepEqual([...s].filter(([, st]) => st === 'fail'), []);
    for (const id of ['quote.signature', 'dcap.qvl', 'tcb.status', 'binding.report-data', 'binding.nonce', 'rtmr.3', 'boot.identity', 'compose.hash', 'deployment.record', 'log.checkpoint', 'log.entries', 'log.current-deployment', 'log.previous']) {
      assert.equal(s.get(id), 'pass', id);
    }
    assert.equal(s.get('dcap.trust-root'), 'warn', 'trusted only as the simulator');
    for (const [id, st] of s) if (st === 'skip') assert.ok(((await w.page.textContent(`li.check[data-check-id="${id}"] .check-summary`)) ?? '').length > 20, `${id} says why it was skipped`);
    // The banner cannot be missed: first thing in the results, visible, an alert.
    const banner = w.page.locator('#results > #simulated-banner');
    assert.ok(await banner.isVisible());
    assert.equal(await w.page.evaluate(() => document.querySelector('#results')!.firstElementChild!.id), 'simulated-banner');
    assert.equal(await banner.getAttribute('role'), 'alert');
    assert.match((await banner.textContent()) ?? '', /SIMULATED TEE — not hardware evidence/);
    const headline = (await w.page.textContent('#summary-headline')) ?? '';
    assert.match(headline, /^SIMULATED TEE, not hardware evidence: the code running here is .+@[0-9a-f]{7}/);
    assert.match(headline, /first visit/);
    assert.match((await w.page.textContent('#changes h2')) ?? '', /first visit/i);
    // The source is a local path: the page says plainly why source.tree is skipped here.
    assert.match((await w.page.textContent('li.check[data-check-id="source.tree"] .check-note')) ?? '', /not on a git host whose API this page can ask/);
    assert.equal(await w.page.textContent('#cli-command'), `webhost verify 'http://127.0.0.1:${port}/notary/' --allow-simulator`);
    // The raw bundle is there, folded, and is the one verified (its nonce is the one sent).
    assert.equal(await w.page.locator('#raw-bundle').getAttribute('open'), null);
    const raw = JSON.parse((await w.page.textContent('#raw-bundle pre')) ?? '{}') as { attestation: { preimage: { nonce: string } } };
    assert.match(raw.attestation.preimage.nonce, /^[0-9a-f]{64}$/);
    assert.equal((await w.page.textContent('li.check[data-check-id="binding.nonce"] dd')) ?? '', raw.attestation.preimage.nonce);
    assert.doesNotMatch((await w.page.content()) ?? '', /env-value-never-shown/);
    // The browser remembers the checkpoint, per log origin.
    const seen = JSON.parse((await w.page.evaluate(() => localStorage.getItem('dstack-webhost.seen.v1'))) ?? '{}') as { logs: Record<string, { size: number }> };
    assert.deepEqual(Object.values(seen.logs).map((l) => l.size), [1]);
    assert.ok(w.requests.some((u) => /\/_api\/verification\/notary\?nonce=[0-9a-f]{64}$/.test(u)), 'fetched with a fresh nonce');
    await w.shot('verifier-pass');
    await w.page.setViewportSize(PHONE);
    const overflow = await w.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow}px)`);
    await w.page.evaluate(() => window.scrollTo(0, 0));
    await w.shot('verifier-phone', { fullPage: false });
    assertClean(w);
    await w.page.close();
  });

  test('after a redeploy, the next visit reports exactly one change since the last visit', async () => {
    const v2 = repo.commit({ 'server.ts': 'export default () => new Response("notary v2");\n' }, 'v2');
    assert.equal((await d.api('POST', '/_api/projects/notary/redeploy')).status, 200);
    const w = await watchedPage(browser, { context: visitor });
    await verifyAt(w, `${d.url}/notary/.well-known/tee-attestation`);
    const s = await statuses(w);
    assert.deepEqual([...s].filter(([, st]) => st === 'fail'), []);
    assert.equal(s.get('log.consistency'), 'pass', 'append-only against the checkpoint seen on the first visit');
    assert.match((await w.page.textContent('#changes h2')) ?? '', /^1 change since your last visit on \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
    const changes = w.page.locator('#changes li.change');
    assert.equal(await changes.count(), 1);
    assert.equal(await changes.first().getAttribute('data-action'), 'redeploy');
    assert.match((await changes.first().textContent()) ?? '', new RegExp(v2.slice(0, 12)));
    const headline = (await w.page.textContent('#summary-headline')) ?? '';
    assert.match(headline, new RegExp(`@${v2.slice(0, 7)}`));
    assert.match(headline, /1 change since your last visit on/);
    await w.shot('verifier-one-change');
    await w.shot('verifier-one-change-top', { fullPage: false });
    assertClean(w);
    // A third look with nothing new in between says so.
    await verifyAt(w, `${d.url}/notary/.well-known/tee-attestation`);
    assert.match((await w.page.textContent('#summary-headline')) ?? '', /nothing changed since you last looked on/);
    assert.equal(await w.page.locator('#changes li.change').count(), 0);
    await w.page.close();
  });

  test('standalone, against another origin: typed in, verified through the CORS-open endpoints', async () => {
    // localhost and 127.0.0.1 are different origins: the page on one checks the daemon on the other.
    const w = await watchedPage(browser);
    await w.page.goto(`http://localhost:${port}/_webhost/verify`);
    await w.page.locator('#app-url').focus();
    await w.page.keyboard.type(`http://127.0.0.1:${port}/notary/`);
    await w.page.keyboard.press('Enter');
    await w.page.waitForSelector('#results[aria-busy="false"]', { timeout: 60_000 });
    const s = await statuses(w);
    assert.deepEqual([...s].filter(([, st]) => st === 'fail'), []);
    assert.equal(s.get('binding.nonce'), 'pass');
    assert.ok(w.requests.some((u) => u.startsWith(`http://127.0.0.1:${port}/_api/verification/notary?nonce=`)));
    assert.ok(await w.page.locator('#simulated-banner').isVisible());
    await w.shot('verifier-standalone');
    assertClean(w);
    await w.context.close();
  });

  test("on the project's own origin, the page fetches the evidence from the daemon's origin", async () => {
    const w = await watchedPage(browser);
    await verifyAt(w, `http://notary.localhost:${port}/.well-known/tee-attestation`);
    const s = await statuses(w);
    assert.deepEqual([...s].filter(([, st]) => st === 'fail'), []);
    assert.ok(w.requests.some((u) => u.startsWith(`http://localhost:${port}/_api/verification/notary?nonce=`)), w.requests.join('\n'));
    assertClean(w);
    await w.context.close();
  });

  test('a dev project has no verifier page: it looks like a missing one, said plainly', async () => {
    const w = await watchedPage(browser);
    await verifyAt(w, `${d.url}/sketch/.well-known/tee-attestation`);
    assert.equal(await w.page.getAttribute('#results', 'data-verdict'), 'error');
    assert.match((await w.page.textContent('#summary-headline')) ?? '', /has no attested project named sketch .*Nothing was checked\.$/);
    assert.equal(await w.page.locator('li.check').count(), 0);
    assert.deepEqual(w.problems.filter((p) => !/status of 404/.test(p)), []);
    await w.context.close();
  });

  test('an audit log edited on disk: the page shows log.entries failing, with expected and actual', async () => {
    const auditRoot = path.join(d.stateDir, 'audit', 'notary');
    const logDir = path.join(auditRoot, readdirSync(auditRoot).find((n) => !n.startsWith('.'))!);
    const file = path.join(logDir, 'entries.jsonl');
    const original = readFileSync(file, 'utf8');
    const w = await watchedPage(browser, { context: visitor });
    await w.page.goto(`${d.url}/_webhost/verify`);
    const remembered = await w.page.evaluate(() => localStorage.getItem('dstack-webhost.seen.v1'));
    assert.ok(remembered);
    await w.page.goto('about:blank'); // nothing of the daemon's left loading while it is down
    w.problems.length = 0;
    await d.stop();
    writeFileSync(file, original.replace('"action":"promote"', '"action":"deploy"'));
    await d.restart();
    try {
      await verifyAt(w, `${d.url}/notary/.well-known/tee-attestation`);
      const entries = w.page.locator('li.check[data-check-id="log.entries"]');
      assert.equal(await entries.getAttribute('data-status'), 'fail');
      const expected = (await entries.locator('.values .expected dd').textContent()) ?? '';
      const actual = (await entries.locator('.values .actual dd').textContent()) ?? '';
      assert.match(expected, /^size 2, root \S+=$/);
      assert.match(actual, /^size 2, root \S+=$/);
      assert.notEqual(expected, actual);
      assert.ok(await entries.locator('.values').isVisible(), 'expected and actual are in view, not folded');
      const headline = (await w.page.textContent('#summary-headline')) ?? '';
      assert.match(headline, /^NOT VERIFIED: .*\(log\.entries\)/);
      assert.equal(await w.page.locator('#summary').getAttribute('class'), 'summary verdict-failed');
      assert.match((await w.page.textContent('#changes')) ?? '', /not shown/);
      await w.shot('verifier-tampered');
      await entries.screenshot({ path: path.join(SCREENSHOTS, 'verifier-tampered-check.png') });
      assert.ok(await w.page.locator('#results > #simulated-banner').isVisible(), 'the banner stays when checks fail');
      // A failed report is never remembered as the next baseline.
      assert.equal(await w.page.evaluate(() => localStorage.getItem('dstack-webhost.seen.v1')), remembered);
      // The audit endpoint refuses proofs of a damaged log (503), which the browser logs; nothing else.
      assert.deepEqual(w.problems.filter((p) => !/status of 503/.test(p)), []);
      assert.match((await w.page.textContent('li.check[data-check-id="log.consistency"] .check-note')) ?? '', /No consistency proof/);
      await w.page.close();
    } finally {
      await d.stop();
      writeFileSync(file, original);
      await d.restart();
    }
  });
});
