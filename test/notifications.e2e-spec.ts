import { NatsServer, RELAYED } from './support/nats-server';
import { WebhookReceiver } from './support/webhook-receiver';
import { ADMIN, startTestApp, type TestApp } from './support/test-app';
import { eventually } from './support/wait';

/** The notification's delivery state as GET /saga/:id shows it. */
interface NotificationView {
  notificationId: string;
  status: 'pending' | 'delivered' | 'failed';
  channels: string[];
  deliveredAt: string | null;
  error: string | null;
}

interface NotificationRow {
  notification_id: string;
  status: string;
  channels: string[];
  delivered_at: Date | null;
  error: string | null;
}

const PATTERNS = ['orchestration', 'choreography'] as const;

// A test may wait for a broker's restart and for webhook retries on a busy machine.
jest.setTimeout(120_000);

async function buy(t: TestApp, pattern: string): Promise<string> {
  const answer = await t.http
    .post('/purchase')
    .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1, pattern })
    .expect(200);
  expect(answer.body).toMatchObject({ success: true, status: 'completed' });
  return (answer.body as { transactionId: string }).transactionId;
}

async function shown(t: TestApp, id: string): Promise<NotificationView | undefined> {
  const answer = await t.http.get(`/saga/${id}`).expect(200);
  return (answer.body as { saga: { notification?: NotificationView } }).saga.notification;
}

async function row(t: TestApp, id: string): Promise<NotificationRow> {
  const { rows } = await t.db.query<NotificationRow>(
    `SELECT notification_id, status, channels, delivered_at, error FROM notifications
     WHERE transaction_id = $1`,
    [id],
  );
  expect(rows).toHaveLength(1);
  return rows[0];
}

/** Reads the saga until its notification shows `status`; then it must stay so. */
async function shownUntil(
  t: TestApp,
  id: string,
  status: NotificationView['status'],
): Promise<NotificationView> {
  const view = await eventually(
    async () => {
      const notification = await shown(t, id);
      return notification?.status === status ? notification : undefined;
    },
    // Generous: a broker's restart and the client's reconnection on a busy machine.
    60_000,
    `the notification of ${id} shown ${status}`,
  );
  for (let i = 0; i < 3; i++) expect((await shown(t, id))?.status).toBe(status);
  return view;
}

describe('Notification delivery', () => {
  describe('with no channel configured', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp();
    });

    afterAll(async () => {
      await t.close();
    });

    it.each(PATTERNS)(
      'completes the purchase and records the notification failed, not delivered (%s)',
      async (pattern) => {
        const id = await buy(t, pattern);
        expect(await row(t, id)).toMatchObject({
          status: 'failed',
          channels: [],
          delivered_at: null,
          error: 'not delivered: no channel configured',
        });
        const notification = await shown(t, id);
        expect(notification).toEqual({
          notificationId: (await row(t, id)).notification_id,
          status: 'failed',
          channels: [],
          deliveredAt: null,
          error: 'not delivered: no channel configured',
        });
        // The console's saga detail shows the same.
        const detail = await t.http.get(`/admin/sagas/${id}`).set(ADMIN).expect(200);
        expect((detail.body as { saga: { notification?: unknown } }).saga.notification).toEqual(
          notification,
        );
        // Nothing is queued for delivery.
        const { rows } = await t.db.query('SELECT 1 FROM integration_events');
        expect(rows).toEqual([]);
      },
    );
  });

  describe('with NATS JetStream', () => {
    let nats: NatsServer;
    let t: TestApp;

    beforeAll(async () => {
      nats = await NatsServer.start();
      t = await startTestApp({ NATS_URL: nats.url, EVENTS_RELAY_POLL_MS: '100' });
    });

    afterAll(async () => {
      await t.close();
      await nats.destroy();
    });

    it.each(PATTERNS)(
      'shows the notification pending until JetStream acknowledged it, then delivered (%s)',
      async (pattern) => {
        // The broker is away: the purchase completes, its notification waits.
        await nats.stop();
        const id = await buy(t, pattern);
        const pending = await shown(t, id);
        expect(pending).toMatchObject({
          status: 'pending',
          channels: ['jetstream'],
          deliveredAt: null,
          error: null,
        });
        expect((await row(t, id)).status).toBe('pending');
        const { rows: before } = await t.db.query<{ version: number }>(
          'SELECT version FROM saga_states WHERE transaction_id = $1',
          [id],
        );

        await nats.start();
        const delivered = await shownUntil(t, id, 'delivered');
        expect(delivered.notificationId).toBe(pending?.notificationId);
        expect(delivered.error).toBeNull();
        expect(new Date(delivered.deliveredAt ?? '').getTime()).not.toBeNaN();
        const stored = await row(t, id);
        expect(stored.status).toBe('delivered');
        expect(stored.delivered_at).not.toBeNull();
        // The completed saga's row is untouched: the view moved with the notification's revision
        // (the cached pending view was dropped, as the answer above shows).
        const { rows: after } = await t.db.query<{ version: number; status: string }>(
          'SELECT version, status FROM saga_states WHERE transaction_id = $1',
          [id],
        );
        expect(after).toEqual([{ version: before[0].version, status: 'completed' }]);
        const { rows: revision } = await t.db.query<{ revision: number }>(
          `SELECT revision FROM notifications WHERE transaction_id = $1`,
          [id],
        );
        expect(revision).toEqual([{ revision: 1 }]);
        const published = await t.db.query(
          `SELECT 1 FROM integration_events e
           WHERE e.transaction_id = $1 AND e.type = 'notification.requested' AND ${RELAYED}`,
          [id],
        );
        expect(published.rows).toHaveLength(1);
      },
    );
  });

  describe('with webhooks', () => {
    const SCHEDULE_MS = 300;
    let t: TestApp;
    let receiver: WebhookReceiver;

    beforeAll(async () => {
      receiver = await WebhookReceiver.start();
      t = await startTestApp({
        WEBHOOKS_ENABLED: 'true',
        WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
        // Two retries 300 ms apart (±20 %), then failed.
        WEBHOOK_RETRY_SCHEDULE: `${SCHEDULE_MS}ms,${SCHEDULE_MS}ms`,
        WEBHOOK_TIMEOUT_MS: '1000',
        WEBHOOK_POLL_MS: '100',
      });
      await t.db.query(`UPDATE users SET balance = 100000 WHERE user_id = 'user-123'`);
    });

    afterAll(async () => {
      await t.close();
      await receiver.close();
    });

    async function register(path: string, events: string[]): Promise<string> {
      const answer = await t.http
        .post('/admin/webhooks')
        .set(ADMIN)
        .send({ url: receiver.url(path), events })
        .expect(201);
      const hook = answer.body as { id: string; secret: string };
      receiver.secret(path, hook.secret);
      return hook.id;
    }

    async function unregister(id: string): Promise<void> {
      await t.http.delete(`/admin/webhooks/${id}`).set(ADMIN).expect(204);
    }

    it('fails the notification when no endpoint is subscribed to notification.requested', async () => {
      const other = await register('/outcomes', ['purchase.completed']);
      const id = await buy(t, 'orchestration');
      const failed = await shownUntil(t, id, 'failed');
      expect(failed).toMatchObject({
        channels: ['webhooks'],
        deliveredAt: null,
        error: 'not delivered: no enabled webhook endpoint is subscribed to notification.requested',
      });
      // The endpoint subscribed to the outcome still got it.
      await eventually(
        () =>
          Promise.resolve(
            receiver.at('/outcomes').some((hook) => hook.body.transactionId === id)
              ? true
              : undefined,
          ),
        20_000,
        'the purchase.completed webhook',
      );
      await unregister(other);
    });

    it.each(PATTERNS)(
      'delivers the notification at a 2xx of a subscribed endpoint (%s)',
      async (pattern) => {
        const hook = await register(`/ok-${pattern}`, ['notification.requested']);
        const id = await buy(t, pattern);
        const delivered = await shownUntil(t, id, 'delivered');
        expect(delivered).toMatchObject({ channels: ['webhooks'], error: null });
        const received = receiver
          .at(`/ok-${pattern}`)
          .filter((one) => one.body.transactionId === id);
        expect(received).toHaveLength(1);
        expect(received[0]).toMatchObject({ verified: true, answered: 200 });
        expect(received[0].body.data.notificationId).toBe(delivered.notificationId);
        expect((await row(t, id)).status).toBe('delivered');
        await unregister(hook);
      },
    );

    it('fails the notification once every delivery failed; a re-send that succeeds delivers it', async () => {
      const down = await register('/down', ['notification.requested']);
      const alsoDown = await register('/down-too', ['notification.requested']);
      receiver.set('/down', 'fail');
      receiver.set('/down-too', 'fail');
      const id = await buy(t, 'orchestration');
      const failed = await shownUntil(t, id, 'failed');
      expect(failed.error).toMatch(/^not delivered: every webhook delivery failed/);
      expect(failed.deliveredAt).toBeNull();
      // Both endpoints were tried to the end of the schedule (first attempt and two retries).
      for (const path of ['/down', '/down-too']) {
        const tried = receiver.at(path).filter((one) => one.body.transactionId === id);
        expect(tried).toHaveLength(3);
      }

      const answer = await t.http
        .get(`/admin/webhooks/${down}/deliveries`)
        .query({ status: 'failed' })
        .set(ADMIN)
        .expect(200);
      const deliveries = (answer.body as { deliveries: { id: string; eventType: string }[] })
        .deliveries;
      const delivery = deliveries.find((one) => one.eventType === 'notification.requested');
      expect(delivery).toBeDefined();
      receiver.set('/down', 'ok');
      await t.http
        .post(`/admin/webhook-deliveries/${delivery?.id ?? ''}/resend`)
        .set(ADMIN)
        .expect(202);
      const delivered = await shownUntil(t, id, 'delivered');
      expect(delivered.error).toBeNull();
      expect(delivered.notificationId).toBe(failed.notificationId);
      expect(await row(t, id)).toMatchObject({ status: 'delivered', error: null });
      await unregister(down);
      await unregister(alsoDown);
    });
  });
});
