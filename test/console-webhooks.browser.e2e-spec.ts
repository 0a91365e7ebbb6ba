import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { Client } from 'pg';
import {
  DESKTOP,
  PHONE,
  expectAccessible,
  launchBrowser,
  signIn,
  type Browser,
  sidewaysOverflow,
} from './support/browser';
import { NatsServer } from './support/nats-server';
import { startService, type ServiceProcess } from './support/service-process';
import { ADMIN_TOKEN, createTestDatabase, type TestDatabase } from './support/test-app';
import { WebhookReceiver } from './support/webhook-receiver';

/**
 * The console's webhooks page in a real browser, against the service as `npm start` runs it,
 * with a NATS server and a webhook receiver of the test's own.
 */

const WEBHOOK_ENV = {
  WEBHOOKS_ENABLED: 'true',
  WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
  // Two retries 300 ms apart (±20 %), then failed; an attempt has 1 s.
  WEBHOOK_RETRY_SCHEDULE: '300ms,300ms',
  WEBHOOK_TIMEOUT_MS: '1000',
  WEBHOOK_POLL_MS: '100',
  EVENTS_RELAY_POLL_MS: '200',
};
const PATH = '/console-hooks';
/** As in console.browser.e2e-spec.ts: `CONSOLE_SCREENSHOTS_DIR=docs/console` refreshes the README's. */
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS_DIR ?? join(tmpdir(), 'console-screenshots');

describe('Operator console: webhooks and the relay, in a browser', () => {
  let database: TestDatabase;
  let db: Client;
  let nats: NatsServer;
  let receiver: WebhookReceiver;
  let service: ServiceProcess;
  let off: ServiceProcess;
  let browser: Browser;
  let page: Page;
  let secret: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    database = await createTestDatabase();
    db = new Client({ connectionString: database.url });
    await db.connect();
    await db.query(`UPDATE users SET balance = 100000 WHERE user_id = 'user-123'`);
    nats = await NatsServer.start();
    receiver = await WebhookReceiver.start();
    service = await startService(database.url, { ...WEBHOOK_ENV, NATS_URL: nats.url });
    // The defaults: no webhooks, no broker.
    off = await startService(database.url, { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' });
    browser = await launchBrowser();
    page = await browser.context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await off?.kill('SIGTERM');
    await service?.kill('SIGTERM');
    await receiver?.close();
    await nats?.destroy();
    await db?.end();
    await database?.drop();
  });

  async function buy(): Promise<string> {
    const answer = await service.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
      .expect(200);
    return answer.body.transactionId as string;
  }

  /** The deliveries' rows of the endpoint page, of one status. */
  const rows = (status: string): Locator =>
    page.locator('table.deliveries tbody tr[data-delivery]', {
      has: page.locator(`.badge.status-${status}`),
    });

  const figure = (label: string): Locator =>
    page.getByTestId('relay').locator('.figures div', { hasText: label }).locator('dd');

  it('shows the relay to the broker connected, and no endpoint yet', async () => {
    await signIn(page, service.url, ADMIN_TOKEN);
    await page.getByRole('heading', { name: 'Sagas' }).waitFor();
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await page.getByText('No endpoint is registered.').waitFor();
    await figure('Sink nats').waitFor();
    expect(await figure('Relay').textContent()).toContain('on');
    expect(await figure('Sink nats').textContent()).toContain('connected');
    expect(await figure('Sink nats').textContent()).not.toContain('disconnected');
    expect(Number(await figure('Backlog').textContent())).toBe(0);
    expect(await figure('Lag').textContent()).toContain('0 s');
    expect(Number(await figure('Published by this instance').textContent())).toBe(0);
    expect(await page.getByTestId('webhooks-off').count()).toBe(0);
    await expectAccessible(page, 'webhooks, empty');
  });

  it('shows the errorCode of a refused registration, and asks for an event type', async () => {
    await page.getByLabel('URL').fill('http://user:secret@example.com/hooks');
    await page.getByRole('button', { name: 'Register endpoint' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain(
      'Choose at least one event type',
    );
    await page.getByLabel('purchase.completed').check();
    await page.getByRole('button', { name: 'Register endpoint' }).click();
    await page.getByRole('alert').filter({ hasText: 'VALIDATION_FAILED' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('Not registered');
    const { rows: endpoints } = await db.query('SELECT count(*)::int AS n FROM webhook_endpoints');
    expect(endpoints[0].n).toBe(0);
  });

  it('registers an endpoint and shows its secret this once', async () => {
    await page.getByLabel('URL').fill(receiver.url(PATH));
    await page.getByLabel('purchase.completed').check();
    // Shown as text, never as markup.
    await page.getByLabel('Description (optional)').fill('<b>orders</b> <img src=x>');
    await page.getByRole('button', { name: 'Register endpoint' }).click();
    const shown = page.getByTestId('webhook-secret');
    await shown.waitFor();
    secret = (await shown.textContent()) ?? '';
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    receiver.secret(PATH, secret);
    const { rows: stored } = await db.query('SELECT secret FROM webhook_endpoints');
    expect(stored).toEqual([{ secret }]);

    const row = page.locator('table.webhooks tbody tr');
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    const text = await row.first().textContent();
    expect(text).toContain(receiver.url(PATH));
    expect(text).toContain('<b>orders</b> <img src=x>');
    expect(text).toContain('purchase.completed');
    expect(text).toContain('enabled');
    expect(text).toContain('healthy');
    expect(await page.locator('table.webhooks b, table.webhooks img').count()).toBe(0);
    await expectAccessible(page, 'webhooks, secret shown');

    await page.getByRole('button', { name: 'I have stored it: hide' }).click();
    expect(await page.getByTestId('webhook-secret').count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
    // Nor is it shown again.
    await page.reload();
    await page.locator('table.webhooks tbody tr').first().waitFor();
    expect(await page.content()).not.toContain(secret);
  });

  it("delivers a purchase's event and shows the delivery with its attempt", async () => {
    const transactionId = await buy();
    await page.getByRole('link', { name: receiver.url(PATH) }).click();
    await page.getByRole('heading', { name: /Webhook endpoint/ }).waitFor();
    expect(await page.content()).not.toContain(secret);
    // The page polls: the delivery shows up delivered.
    const delivered = rows('delivered').filter({ hasText: 'purchase.completed' });
    await delivered.first().waitFor();
    expect(await delivered.count()).toBe(1);
    const cells = await delivered.first().locator('td').allTextContents();
    expect(cells[3].trim()).toBe('1');
    expect(cells[5]).toContain('HTTP 200');
    await delivered.first().getByText('1 attempt').click();
    const attempt = await delivered.first().locator('table.attempts tbody tr').allTextContents();
    expect(attempt).toHaveLength(1);
    expect(attempt[0]).toMatch(/200[\s\S]*ms[\s\S]*ok/);

    const hooks = receiver.at(PATH);
    expect(hooks).toHaveLength(1);
    expect(hooks[0].verified).toBe(true);
    expect(hooks[0].body).toMatchObject({ type: 'purchase.completed', transactionId });
    expect(cells[1]).toContain(hooks[0].body.id);
    await expectAccessible(page, 'webhook endpoint');
  });

  it('shows a failing receiver, and re-sends the failed delivery once it is back', async () => {
    receiver.set(PATH, 'fail');
    await buy();
    const failed = rows('failed');
    await failed.first().waitFor();
    const deliveryId = await failed.first().getAttribute('data-delivery');
    const cells = await failed.first().locator('td').allTextContents();
    expect(cells[3].trim()).toBe('3');
    expect(cells[5]).toContain('HTTP 500');
    await failed.first().getByText('3 attempts').click();
    const attempts = await failed.first().locator('table.attempts tbody tr').allTextContents();
    expect(attempts).toHaveLength(3);
    for (const attempt of attempts) expect(attempt).toMatch(/500[\s\S]*receiver is down/);
    await page.locator('dd', { hasText: 'failing since' }).waitFor();
    expect(await page.locator('dd', { hasText: 'failing since' }).textContent()).toContain(
      '3 consecutive failures',
    );

    receiver.set(PATH, 'ok');
    const row = page.locator(`tr[data-delivery="${deliveryId}"]`);
    await row.getByRole('button', { name: 'Re-send' }).click();
    await page.getByRole('status').filter({ hasText: 'queued again' }).waitFor();
    await row.locator('.badge.status-delivered').waitFor();
    expect(await row.locator('td').nth(3).textContent()).toContain('1');
    await page.locator('dd', { hasText: 'healthy' }).waitFor();
    const last = receiver.at(PATH).at(-1);
    expect(last?.answered).toBe(200);
    expect(last?.verified).toBe(true);
    expect(await rows('failed').count()).toBe(0);
  });

  it('re-sends all failed deliveries of the endpoint', async () => {
    receiver.set(PATH, 'fail');
    await buy();
    await buy();
    await page.getByRole('button', { name: 'Refresh' }).click();
    await rows('failed').nth(1).waitFor();
    receiver.set(PATH, 'ok');
    await page.getByRole('button', { name: 'Re-send all failed' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: '2 failed deliveries queued again' })
      .waitFor();
    await page.getByRole('button', { name: 'Refresh' }).click();
    const delivered = rows('delivered');
    await delivered.nth(3).waitFor();
    expect(await delivered.count()).toBe(4);
    expect(await rows('failed').count()).toBe(0);
    expect(await rows('pending').count()).toBe(0);
    // The one delivered after its failures, its attempts open, for the README.
    await page
      .locator('table.deliveries summary', { hasText: /[2-9] attempts/ })
      .first()
      .click();
    await page.screenshot({ path: join(SCREENSHOTS, 'webhook.png'), fullPage: true });
  });

  it('sends a test event, disables and enables, and rotates the secret', async () => {
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('status').filter({ hasText: 'Test event' }).waitFor();
    await rows('delivered').filter({ hasText: 'webhook.test' }).waitFor();
    expect(receiver.at(PATH).at(-1)?.body.type).toBe('webhook.test');

    await page.getByRole('button', { name: 'Disable' }).click();
    await page.locator('h1 .badge.status-disabled').waitFor();
    expect(await page.locator('h1').textContent()).toContain('disabled by an admin');
    const { rows: disabled } = await db.query('SELECT enabled FROM webhook_endpoints');
    expect(disabled).toEqual([{ enabled: false }]);
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.locator('h1 .badge.status-enabled').waitFor();

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('heading', { name: /New signing secret/ }).waitFor();
    const rotated = (await page.getByTestId('webhook-secret').textContent()) ?? '';
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    const { rows: stored } = await db.query('SELECT secret FROM webhook_endpoints');
    expect(stored).toEqual([{ secret: rotated }]);
    await page.getByRole('button', { name: 'I have stored it: hide' }).click();
    expect(await page.content()).not.toContain(rotated);
  });

  it('shows the events published by this instance, refreshed as it polls', async () => {
    await page.getByRole('link', { name: 'Webhooks', exact: true }).first().click();
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await figure('Published by this instance').waitFor();
    // Five purchases settled: their events reach the broker; the page shows it without a reload.
    await page
      .getByTestId('relay')
      .locator('.figures div', { hasText: /Published by this instance\s*[1-9]/ })
      .waitFor();
    expect(Number(await figure('Published by this instance').textContent())).toBeGreaterThan(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'webhooks.png'), fullPage: true });
  });

  it('fits a phone width without the page scrolling sideways', async () => {
    const { rows: endpoints } = await db.query<{ id: string }>('SELECT id FROM webhook_endpoints');
    await page.setViewportSize(PHONE);
    try {
      for (const route of ['#/webhooks', `#/webhook/${endpoints[0].id}`]) {
        const { overflow, widest } = await sidewaysOverflow(
          page,
          `${service.url}/console/${route}`,
        );
        expect({ route, overflow, widest }).toEqual({ route, overflow: 0, widest: [] });
      }
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  });

  it('deletes an endpoint only once confirmed', async () => {
    await page.goto(`${service.url}/console/#/webhooks`);
    await page.getByRole('link', { name: receiver.url(PATH) }).click();
    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.getByRole('heading', { name: 'Delete this endpoint?' }).waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect(await page.getByRole('heading', { name: 'Delete this endpoint?' }).count()).toBe(0);
    const { rows: kept } = await db.query('SELECT count(*)::int AS n FROM webhook_endpoints');
    expect(kept[0].n).toBe(1);

    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.getByRole('button', { name: 'Confirm: delete endpoint' }).click();
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'deleted' }).waitFor();
    await page.getByText('No endpoint is registered.').waitFor();
    const { rows: gone } = await db.query('SELECT count(*)::int AS n FROM webhook_endpoints');
    expect(gone[0].n).toBe(0);
  });

  it('says plainly when webhooks and the relay are off', async () => {
    const other = await browser.context.newPage();
    try {
      await signIn(other, off.url, ADMIN_TOKEN);
      await other.getByRole('heading', { name: 'Sagas' }).waitFor();
      await other.goto(`${off.url}/console/#/webhooks`);
      await other.getByTestId('webhooks-off').waitFor();
      expect(await other.getByTestId('webhooks-off').textContent()).toContain('WEBHOOKS_ENABLED');
      await other.getByTestId('relay').getByText('No broker is configured').waitFor();
      expect(await other.getByRole('alert').count()).toBe(0);

      // Endpoints may still be registered; sending is not offered.
      await other.getByLabel('URL').fill('http://127.0.0.1:9/idle');
      await other.getByLabel('purchase.failed').check();
      await other.getByRole('button', { name: 'Register endpoint' }).click();
      await other.getByTestId('webhook-secret').waitFor();
      await other.getByRole('link', { name: 'http://127.0.0.1:9/idle' }).click();
      await other.getByText('No delivery yet.').waitFor();
      expect(await other.getByRole('button', { name: 'Send test event' }).isDisabled()).toBe(true);
      expect(await other.getByRole('button', { name: 'Re-send all failed' }).isDisabled()).toBe(
        true,
      );
      await other.getByTestId('webhooks-off').waitFor();
      await expectAccessible(other, 'webhooks off');
    } finally {
      await other.close();
    }
  });
});
