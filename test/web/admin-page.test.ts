// The admin page in real Chromium, driven through clicks and keys only: sign in (a refused token
// is not echoed; the good one lives in sessionStorage and never in the page), deploy from a git
// repository made here, promote, redeploy, roll back to a chosen earlier deployment, follow the
// live log, delete behind a typed confirmation. No secret value ever reaches the DOM.
import test, { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Locator } from 'playwright-core';
import { testDaemon, TEST_TOKEN, type TestDaemon } from '../helpers/daemon.ts';
import { TestRepo } from '../helpers/git-repo.ts';
import { browserMissing, launch, watchedPage, PHONE, type WatchedPage } from './browser.ts';

const missing = browserMissing();
const SECRET = 'super-secret-value-8c1f';

interface Deployment {
  id: string;
  current: boolean;
}

describe('admin page in Chromium', { skip: missing ?? false }, () => {
  let d: TestDaemon;
  let repo: TestRepo;
  let browser: Browser;
  let w: WatchedPage;

  const card = (name: string): Locator => w.page.locator(`article.project[data-project="${name}"]`);
  const deployments = async (name: string): Promise<Deployment[]> => (await (await d.api('GET', `/_api/projects/${name}/deployments`)).json()) as Deployment[];
  /** Clicks the dialog's confirm button and waits for the page to report the outcome. */
  const confirmDialog = async (button: string): Promise<void> => {
    const dialog = w.page.locator('dialog.confirm[open]');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: button, exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
  };
  const settled = () => w.page.waitForSelector('#admin-body[aria-busy="false"]');
  /** Everything the page holds: markup and the current values of its fields. */
  const pageText = () => w.page.evaluate(() => document.documentElement.outerHTML + [...document.querySelectorAll('input')].map((i) => i.value).join('\n'));

  before(async () => {
    d = await testDaemon();
    repo = new TestRepo({ 'server.ts': 'export default (req) => { console.log("served " + new URL(req.url).pathname); return new Response("shop v1"); };\n' });
    browser = await launch();
    w = await watchedPage(browser);
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
    repo?.remove();
  });

  test('sign in: a wrong token is refused without being echoed; the right one is kept for the tab only', async () => {
    await w.page.goto(`${d.url}/_webhost/admin`);
    await w.page.locator('#token').fill('wrong-token-0123456789abcdef0123456789');
    await w.page.keyboard.press('Enter');
    await w.page.getByText('The daemon refused this token.').waitFor();
    assert.doesNotMatch(await pageText(), /wrong-token/);
    // The browser logs the refused request itself; that is the only thing it may log.
    assert.deepEqual(w.problems.filter((p) => !/status of 403/.test(p)), []);
    w.problems.length = 0;
    await w.page.locator('#token').fill(TEST_TOKEN);
    await w.page.keyboard.press('Enter');
    await w.page.locator('#deploy-form').waitFor();
    assert.equal(await w.page.evaluate(() => sessionStorage.getItem('dstack-webhost.admin-token')), TEST_TOKEN);
    assert.equal(await w.page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
    assert.doesNotMatch(await pageText(), new RegExp(TEST_TOKEN), 'the token is never written into the page');
    // A reload in the same tab stays signed in; a new tab (new session) does not.
    await w.page.reload();
    await w.page.locator('#deploy-form').waitFor();
    const other = await browser.newContext();
    const tab = await other.newPage();
    await tab.goto(`${d.url}/_webhost/admin`);
    await tab.locator('#token').waitFor();
    await other.close();
    await w.shot('admin-signed-in');
  });

  test('deploy from a git URL through the form; the env value is sent once and never shown', async () => {
    await w.page.locator('#deploy-name').fill('shop');
    await w.page.locator('#deploy-source').fill(repo.dir);
    await w.page.locator('#deploy-ref').fill('main');
    await w.page.locator('#deploy-add-env').click();
    await w.page.locator('.env-row .env-name').fill('SHOP_KEY');
    await w.page.locator('.env-row .env-value').fill(SECRET);
    assert.equal(await w.page.locator('.env-row .env-value').getAttribute('type'), 'password');
    await w.page.locator('#deploy-submit').click();
    await card('shop').waitFor({ timeout: 60_000 });
    assert.match((await w.page.textContent('#deploy-status')) ?? '', /Deployed shop/);
    assert.equal(await card('shop').getAttribute('data-mode'), 'dev');
    assert.match((await card('shop').textContent()) ?? '', /Env names\s*SHOP_KEY/);
    assert.equal(await w.page.locator('.env-row').count(), 0, 'the env rows are cleared');
    assert.doesNotMatch(await pageText(), new RegExp(SECRET));
    assert.equal((await deployments('shop')).length, 1);
    await w.shot('admin-deployed');
  });

  test('promote through the dialog', async () => {
    await card('shop').locator('[data-action="promote"]').click();
    await w.shot('admin-promote-dialog', { fullPage: false });
    await confirmDialog('Promote');
    await settled();
    await w.page.locator('article.project[data-project="shop"][data-mode="attested"]').waitFor();
    const view = (await (await d.api('GET', '/_api/projects/shop')).json()) as { mode: string };
    assert.equal(view.mode, 'attested');
    assert.equal(await card('shop').locator('a', { hasText: 'Verifier page' }).getAttribute('href'), '/shop/.well-known/tee-attestation');
  });

  test('redeploy, then roll back to the chosen earlier deployment', async () => {
    const [first] = await deployments('shop');
    repo.commit({ 'server.ts': 'export default (req) => { console.log("served " + new URL(req.url).pathname); return new Response("shop v2"); };\n' }, 'v2');
    await card('shop').locator('[data-action="redeploy"]').click();
    await confirmDialog('Redeploy');
    await settled();
    await card('shop').locator('tbody tr').nth(1).waitFor();
    const two = await deployments('shop');
    assert.equal(two.length, 2);
    const current = two.find((x) => x.current)!;
    assert.notEqual(current.id, first!.id);
    assert.equal(await (await fetch(`${d.url}/shop/`)).text(), 'shop v2');
    // Roll back to the first one, picked from the table.
    await card('shop').locator(`tr[data-deployment="${first!.id}"] button[data-rollback-to]`).click();
    await w.shot('admin-rollback-dialog', { fullPage: false });
    await confirmDialog('Roll back');
    await settled();
    await w.page.locator(`article.project[data-project="shop"] tr.current[data-deployment="${first!.id}"]`).waitFor();
    assert.equal((await deployments('shop')).find((x) => x.current)!.id, first!.id);
    assert.equal(await (await fetch(`${d.url}/shop/`)).text(), 'shop v1');
    assert.match((await w.page.textContent('#admin-status')) ?? '', new RegExp(`now runs deployment ${first!.id.slice(0, 12)}`));
    // The public log says so too.
    const audit = (await (await fetch(`${d.url}/_api/projects/shop/audit`)).json()) as { entries: string[] };
    assert.deepEqual(audit.entries.map((e) => (JSON.parse(e) as { action: string }).action), ['promote', 'redeploy', 'rollback']);
    await w.shot('admin-rolled-back');
  });

  test('the live log tail streams what the app prints', async () => {
    await card('shop').locator('[data-action="logs"]').click();
    await card('shop').locator('.log-tail').waitFor();
    await w.page.waitForFunction(() => document.querySelector('[data-project="shop"] .log-tail [role="status"]')?.textContent === 'following');
    await fetch(`${d.url}/shop/live-line-7f3a`);
    await card('shop').locator('.log-line', { hasText: 'served /live-line-7f3a' }).waitFor({ timeout: 15_000 });
    await w.shot('admin-log');
    await card('shop').locator('[data-action="logs"]').click();
    assert.equal(await card('shop').locator('.log-tail').count(), 0);
  });

  test('usable on a phone, and by keyboard: delete behind a typed confirmation', async () => {
    await w.page.setViewportSize(PHONE);
    const overflow = await w.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow}px)`);
    await w.shot('admin-phone', { fullPage: false });
    const del = card('shop').locator('[data-action="delete"]');
    const dialog = w.page.locator('dialog.confirm[open]');
    // Escape cancels without acting.
    await del.focus();
    await w.page.keyboard.press('Enter');
    await dialog.waitFor();
    await w.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await d.api('GET', '/_api/projects/shop')).status, 200);
    await del.focus();
    await w.page.keyboard.press('Enter');
    await dialog.waitFor();
    assert.equal(await w.page.evaluate(() => document.activeElement?.id), 'confirm-typed', 'focus moves into the dialog');
    assert.ok(await dialog.getByRole('button', { name: 'Delete', exact: true }).isDisabled(), 'disabled until the name is typed');
    await w.page.keyboard.type('shop');
    await w.shot('admin-delete-dialog', { fullPage: false });
    await w.page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await settled();
    await card('shop').waitFor({ state: 'detached' });
    assert.equal((await d.api('GET', '/_api/projects/shop')).status, 404);
    assert.deepEqual(w.problems, []);
    assert.deepEqual(w.dialogs, [], 'confirmations are the page\'s own <dialog>, never a browser dialog');
  });
});
