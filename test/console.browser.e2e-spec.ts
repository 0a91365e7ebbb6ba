import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import {
  DESKTOP,
  PHONE,
  expectAccessible,
  launchBrowser,
  signIn,
  type Browser,
  sidewaysOverflow,
} from './support/browser';
import { startService, type ServiceProcess } from './support/service-process';
import { ADMIN, ADMIN_TOKEN, createTestDatabase, type TestDatabase } from './support/test-app';

/**
 * The operator console driven in a real browser: Debian's chromium (`.ci/run` installs it) run
 * headless by playwright-core, against the service started as `npm start` would. The
 * screenshots of the README are written by this test.
 */

/**
 * Where the screenshots go: a scratch folder, so that a test run leaves the tree as it was;
 * `CONSOLE_SCREENSHOTS_DIR=docs/console` refreshes the README's.
 */
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS_DIR ?? join(tmpdir(), 'console-screenshots');
const FAST_RETRIES = { STEP_MAX_ATTEMPTS: '2', STEP_RETRY_BASE_MS: '1', STEP_RETRY_MAX_MS: '5' };

async function purchase(
  service: ServiceProcess,
  path: string,
  body: object,
  status: number,
): Promise<string> {
  const res = await service.http.post(path).send(body).expect(status);
  return res.body.transactionId as string;
}

describe('Operator console in a browser', () => {
  let database: TestDatabase;
  let db: Client;
  let service: ServiceProcess;
  let readOnly: ServiceProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let compensationFailed: string;
  let compensated: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    database = await createTestDatabase();
    db = new Client({ connectionString: database.url });
    await db.connect();

    // A compensation that gives up: the saga ends failed with COMPENSATION_FAILED.
    const broken = await startService(database.url, {
      ...FAST_RETRIES,
      SAGA_FAULTS: 'fail:compensation:user_validation',
    });
    compensationFailed = await purchase(
      broken,
      '/purchase',
      { userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 },
      503,
    );
    await broken.kill('SIGTERM');

    // Traced (to its own output), so that each saga has a trace for the detail to show.
    service = await startService(database.url, {
      ...FAST_RETRIES,
      OTEL_TRACES_EXPORTER: 'console',
    });
    compensated = await purchase(
      service,
      '/purchase',
      { userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 },
      409,
    );
    for (const itemId of ['item-sword', 'item-potion', 'item-sword']) {
      await purchase(service, '/purchase', { userId: 'user-123', itemId, quantity: 1 }, 200);
    }
    await purchase(
      service,
      '/purchase/choreography',
      { userId: 'user-456', itemId: 'item-potion', quantity: 2 },
      200,
    );
    await purchase(
      service,
      '/purchase',
      { userId: 'user-456', itemId: 'item-sword', quantity: 1 },
      409,
    );
    // Open long past SAGA_TIMEOUT_MS, its lease held elsewhere: stuck, and one to compensate.
    await db.query(
      `INSERT INTO saga_states (transaction_id, pattern, status, current_step, user_id, item_id,
         quantity, price, lease_owner, lease_expires_at, created_at, updated_at)
       VALUES ('TXN_stuck_console', 'orchestration', 'in_progress', 'user_validation', 'user-456',
         'item-potion', 1, 20.00, 'another-instance', now() + interval '1 day',
         now() - interval '1 hour', now() - interval '1 hour')`,
    );
    readOnly = await startService(database.url, { ...FAST_RETRIES, CONSOLE_READ_ONLY: 'true' });

    browser = await launchBrowser();
    context = browser.context;
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await readOnly?.kill('SIGTERM');
    await service?.kill('SIGTERM');
    await db?.end();
    await database?.drop();
  });

  it('shows only the login form and refuses a wrong token', async () => {
    await page.goto(`${service.url}/console/#/sagas?status=completed`);
    await page.getByRole('heading', { name: 'Saga console' }).waitFor();
    await expectAccessible(page, 'sign-in');
    expect(await page.locator('table').count()).toBe(0);
    expect(await page.getByRole('navigation', { name: 'Console' }).count()).toBe(0);

    // Keyboard: the token field, then the button.
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement?.id')).toBe('token');
    await page.keyboard.type('not-the-admin-token-0123');
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement?.textContent?.trim()')).toBe(
      'Sign in',
    );
    await page.keyboard.press('Enter');

    await expect(page.getByRole('alert').textContent()).resolves.toContain(
      'This token is not valid',
    );
    expect(await page.locator('table').count()).toBe(0);
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
  });

  it('signs in and lists the sagas, newest first', async () => {
    await signIn(page, service.url, ADMIN_TOKEN);
    await page.getByRole('heading', { name: 'Sagas' }).waitFor();
    const rows = page.locator('table.sagas tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(8);
    expect(await rows.last().textContent()).toContain('TXN_stuck_console');
    await page.screenshot({ path: join(SCREENSHOTS, 'list.png'), fullPage: true });
    await expectAccessible(page, 'list');
  });

  it('filters the list and keeps the filters in the URL', async () => {
    await page.getByLabel('Status').selectOption('compensated');
    await page.getByLabel('User').fill('user-123');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/status=compensated/);
    expect(page.url()).toContain('userId=user-123');
    const rows = page.locator('table.sagas tbody tr');
    await page.getByText('1 saga matches').waitFor();
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain(compensated);

    // The URL alone reproduces the view (in this tab, still signed in).
    const shared = page.url();
    await page.goto('about:blank');
    await page.goto(shared);
    await page.getByText('1 saga matches').waitFor();
    expect(await page.getByLabel('Status').inputValue()).toBe('compensated');

    // A filter the API refuses is shown, not a blank page.
    await page.goto(`${service.url}/console/#/sagas?itemId=bad%20item`);
    await expect(page.getByRole('alert').textContent()).resolves.toContain(
      'itemId must be 1-50 letters',
    );
  });

  it('opens a compensated saga and shows its timeline, compensations marked', async () => {
    await page.goto(`${service.url}/console/#/sagas?status=compensated&userId=user-123`);
    await page.getByRole('link', { name: compensated }).click();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    const runs = page.locator('table.timeline tbody tr');
    expect(await runs.count()).toBe(3);
    const texts = await runs.allTextContents();
    expect(texts[0]).toMatch(/→ step\s*user_validation[\s\S]*success/);
    expect(texts[1]).toMatch(/→ step\s*item_grant[\s\S]*failed[\s\S]*INSUFFICIENT_STOCK/);
    expect(texts[2]).toMatch(/↺ compensation\s*user_validation[\s\S]*success/);
    expect(await runs.nth(2).getAttribute('class')).toContain('compensation');
    expect(await page.locator('rect.bar.compensation').count()).toBe(1);
    // The definition version the saga runs.
    const definition = page.locator('.facts div', { hasText: 'Definition' }).locator('dd');
    expect((await definition.textContent())?.trim()).toBe('purchase v1');
    // The purchase's trace, to look it up in the tracing backend.
    expect(await page.getByTestId('trace-id').textContent()).toMatch(/^[0-9a-f]{32}$/);
    // The user's figures now, and a way to their other sagas.
    await page.getByRole('link', { name: 'Other sagas of user-123' }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'detail.png'), fullPage: true });
    await expectAccessible(page, 'detail');
  });

  it('shows the outbox events of a choreographed saga', async () => {
    await page.goto(`${service.url}/console/#/sagas?pattern=choreography`);
    await page.locator('table.sagas tbody tr a').first().click();
    await page.getByRole('heading', { name: 'Outbox events' }).waitFor();
    const events = await page.locator('table.events tbody tr').allTextContents();
    expect(events[0]).toContain('PurchaseInitiated');
    expect(events.join(' ')).toContain('PurchaseCompleted');
  });

  it('re-drives a saga whose compensation failed, with a reason, and lists the audit entry', async () => {
    await page.goto(`${service.url}/console/#/sagas?status=compensation_failed`);
    await page.getByRole('link', { name: compensationFailed }).click();
    await page.getByRole('button', { name: 'Re-drive compensation…' }).click();
    // The reason is required: an empty one is not sent.
    await page.getByRole('button', { name: 'Confirm: Re-drive compensation' }).click();
    expect(await page.getByRole('status').count()).toBe(0);
    await page.getByLabel('Reason (required)').fill('Refund fault fixed in the wallet service');
    await page.getByRole('button', { name: 'Confirm: Re-drive compensation' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain(
      'Compensation run; saga is compensated',
    );
    await page.locator('h1 .badge', { hasText: 'compensated' }).waitFor();
    const compensations = await page
      .locator('table.timeline tbody tr.compensation')
      .allTextContents();
    expect(compensations).toHaveLength(2);
    expect(compensations[0]).toMatch(/1 of 2[\s\S]*failed/);
    expect(compensations[1]).toMatch(/2 of 2[\s\S]*success/);
    const audit = await page.locator('table.audit tbody tr').allTextContents();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatch(/admin[\s\S]*re-drive[\s\S]*Refund fault fixed[\s\S]*succeeded/);

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.locator('table.audit tbody tr').first().waitFor();
    const logged = await page.locator('table.audit tbody tr').allTextContents();
    expect(logged[0]).toContain(compensationFailed);
    expect(logged[0]).toContain('Refund fault fixed in the wallet service');
    await expectAccessible(page, 'audit log');
  });

  it('shows the live overview as charts', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByText('Purchases / s').waitFor();
    expect(await page.locator('figure.chart').count()).toBe(4);
    expect(await page.locator('figure.chart svg[role=img]').count()).toBe(4);
    const compensatedFigure = page
      .locator('.figures div', { hasText: 'Compensated' })
      .locator('dd');
    expect(Number(await compensatedFigure.textContent())).toBeGreaterThanOrEqual(2);
    await page.screenshot({ path: join(SCREENSHOTS, 'overview.png'), fullPage: true });
    await expectAccessible(page, 'overview');
  });

  it('moves the open sagas of a definition version this instance lacks, from the overview, audited', async () => {
    // Left by an instance of a build with version 42, its lease run out.
    await db.query(
      `INSERT INTO saga_states (transaction_id, pattern, status, user_id, item_id, quantity, price,
         lease_owner, lease_expires_at, definition_name, definition_version, definition_hash)
       VALUES ('TXN_console_v42', 'orchestration', 'pending', 'user-123', 'item-potion', 1, 20.00,
         'other-build', now() - interval '1 minute', 'purchase', 42, $1)`,
      ['c'.repeat(64)],
    );
    // Its detail says so, and offers no action this instance could not take.
    await page.goto(`${service.url}/console/#/saga/TXN_console_v42`);
    await page.getByText('not driven by this instance').waitFor();
    expect(await page.getByRole('button', { name: /Compensate/ }).count()).toBe(0);
    await page.getByRole('link', { name: "move its version's sagas" }).click();
    await page.getByRole('heading', { name: 'Move the sagas of purchase v42' }).waitFor();
    const stranded = await page
      .locator('table.versions tbody tr', { hasText: 'purchase v42' })
      .textContent();
    expect(stranded).toMatch(/purchase v42\s+1\s+no/);
    await expectAccessible(page, 'overview with a version to move');

    // The reason is required: an empty one is not sent.
    await page.getByRole('button', { name: 'Move 1 saga(s)' }).click();
    expect(await page.getByRole('status').count()).toBe(0);
    await page.getByLabel('Reason (required)').fill('Release 42 rolled back');
    await page.getByRole('button', { name: 'Move 1 saga(s)' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain(
      '1 open saga(s) moved from purchase@42 to purchase@1',
    );
    expect(
      await page.getByRole('heading', { name: 'Move the sagas of purchase v42' }).count(),
    ).toBe(0);
    const moved = await db.query(
      `SELECT definition_version FROM saga_states WHERE transaction_id = 'TXN_console_v42'`,
    );
    expect(moved.rows).toEqual([{ definition_version: 1 }]);
    const audit = await db.query(
      `SELECT actor, action, reason, outcome FROM admin_audit_log WHERE action = 'move-version'`,
    );
    expect(audit.rows).toEqual([
      {
        actor: 'admin',
        action: 'move-version',
        reason: 'Release 42 rolled back',
        outcome: 'succeeded',
      },
    ]);
  });

  it('fits a phone width without the page scrolling sideways', async () => {
    await page.setViewportSize(PHONE);
    for (const route of ['#/sagas', `#/saga/${compensated}`, '#/overview']) {
      const { overflow, widest } = await sidewaysOverflow(page, `${service.url}/console/${route}`);
      expect({ route, overflow, widest }).toEqual({ route, overflow: 0, widest: [] });
      await expectAccessible(page, `phone ${route}`);
    }
    await page.goto(`${service.url}/console/#/saga/${compensated}`);
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'phone-detail.png'), fullPage: false });
    await page.setViewportSize(DESKTOP);
  });

  it('in read-only mode hides the action, and the API refuses it', async () => {
    const ro = await context.newPage();
    try {
      await signIn(ro, readOnly.url, ADMIN_TOKEN);
      await ro.locator('.badge.readonly').waitFor();
      await ro.goto(`${readOnly.url}/console/#/saga/TXN_stuck_console`);
      await ro.getByText('Read-only console: actions are not available.').waitFor();
      expect(await ro.getByRole('button', { name: /Compensate/ }).count()).toBe(0);

      // The same saga offers the action where the console is not read-only.
      await page.goto(`${service.url}/console/#/saga/TXN_stuck_console`);
      await page.getByRole('button', { name: 'Compensate…' }).waitFor();

      const refused = await readOnly.http
        .post('/admin/sagas/TXN_stuck_console/compensate')
        .set(ADMIN)
        .send({ reason: 'Trying from a read-only console' })
        .expect(403);
      expect(refused.body.errorCode).toBe('CONSOLE_READ_ONLY');
      const { rows } = await db.query(
        `SELECT status FROM saga_states WHERE transaction_id = 'TXN_stuck_console'`,
      );
      expect(rows).toEqual([{ status: 'in_progress' }]);
    } finally {
      await ro.close();
    }
  });
});
