import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM } from '../setup/ensure-chromium';

export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

/** axe-core, evaluated in the page (not a script tag, which the console's CSP refuses). */
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Debian's chromium, headless, in a profile of its own that `close` removes. */
export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Debian's chromium (`.ci/run` installs it) run headless by playwright-core, with a fresh
 * profile, so that nothing of an earlier run (storage, cache) is reused.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; npm test does as root)`,
    );
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'console-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: DESKTOP,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** The WCAG 2.1 A and AA rules axe checks (labels, names, contrast of 4.5:1...) all hold. */
export async function expectAccessible(page: Page, view: string): Promise<void> {
  await page.evaluate(AXE);
  const violations = await page.evaluate<string[]>(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
       .then((result) => result.violations.map((v) =>
         v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')))`,
  );
  expect({ view, violations }).toEqual({ view, violations: [] });
}

export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/console/`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * Opens a console route and measures how far the page reaches past the viewport's width: the
 * document's overflow, and the first elements past the edge (tables scroll inside their own
 * box, so they are left out).
 */
export async function sidewaysOverflow(
  page: Page,
  url: string,
): Promise<{ overflow: number; widest: string[] }> {
  await page.goto(url);
  await page.locator('main h1').first().waitFor();
  await page.locator('[aria-busy=true]').waitFor({ state: 'detached' });
  // Browser-side expressions.
  const overflow = await page.evaluate<number>(
    'document.documentElement.scrollWidth - window.innerWidth',
  );
  const widest = await page.evaluate<string[]>(
    `[...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .filter((e) => e.closest('.table-wrap') === null)
      .map((e) => e.tagName + '.' + e.className)
      .slice(0, 5)`,
  );
  return { overflow, widest };
}
