// One headless Debian chromium per test file, driven by playwright-core (never a downloaded
// browser), with what every page test needs: the launch flags that work on these machines
// (research/environment.md §6), screenshots under test-output/screenshots/, and a record of
// everything the page should never do — CSP violations, uncaught errors, console errors, dialogs.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

/** Why browser tests cannot run here, or null when they can. */
export function browserMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (scripts/install-system-deps.sh installs Debian's chromium)`;
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors, CSP violation reports and uncaught exceptions, as text. */
  problems: string[];
  /** Every JavaScript dialog (alert, confirm, prompt) the page opened. */
  dialogs: string[];
  /** Requests the page made to other hosts than the allowed ones. */
  requests: string[];
  /** Saves test-output/screenshots/<name>.png: the whole page, or only what the viewport shows. */
  shot(name: string, opts?: { fullPage?: boolean }): Promise<string>;
}

export type Viewport = { width: number; height: number };
export const PHONE: Viewport = { width: 390, height: 844 };
export const DESKTOP: Viewport = { width: 1100, height: 900 };

/** A fresh context (its own storage) and page. Pass `context` to share localStorage between visits. */
export async function watchedPage(browser: Browser, opts: { viewport?: Viewport; context?: BrowserContext } = {}): Promise<WatchedPage> {
  const context = opts.context ?? (await browser.newContext({ viewport: opts.viewport ?? DESKTOP }));
  const page = await context.newPage();
  const problems: string[] = [];
  const dialogs: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on('request', (r) => requests.push(r.url()));
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    page,
    context,
    problems,
    dialogs,
    requests,
    async shot(name, opts = {}) {
      const file = path.join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: opts.fullPage ?? true });
      return file;
    },
  };
}
