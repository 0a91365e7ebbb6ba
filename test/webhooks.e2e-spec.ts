import { RetentionService } from '../src/modules/retention/retention.service';
import { NatsServer, RELAYED, StreamConsumer } from './support/nats-server';
import { WebhookReceiver } from './support/webhook-receiver';
import { ADMIN, startTestApp, type TestApp } from './support/test-app';
import { eventually } from './support/wait';

const SCHEDULE_MS = 300;
const WEBHOOK_ENV = {
  WEBHOOKS_ENABLED: 'true',
  WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
  // Three retries 300 ms apart (±20 %), then failed; an attempt has 1 s.
  WEBHOOK_RETRY_SCHEDULE: `${SCHEDULE_MS}ms,${SCHEDULE_MS}ms,${SCHEDULE_MS}ms`,
  WEBHOOK_TIMEOUT_MS: '1000',
  WEBHOOK_POLL_MS: '100',
  WEBHOOK_ENDPOINT_CONCURRENCY: '2',
};

interface Webhook {
  id: string;
  url: string;
  events: string[];
  secret?: string;
  enabled: boolean;
}

interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  attemptLog: { attemptedAt: string; statusCode: number | null; error: string | null }[];
}

describe('Webhooks', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start(3000);
    t = await startTestApp(WEBHOOK_ENV);
    await t.db.query(`UPDATE users SET balance = 100000 WHERE user_id = 'user-123'`);
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  async function register(path: string, events: string[]): Promise<Webhook> {
    const answer = await t.http
      .post('/admin/webhooks')
      .set(ADMIN)
      .send({ url: receiver.url(path), events, description: `receiver ${path}` })
      .expect(201);
    const hook = answer.body as Webhook;
    receiver.secret(path, hook.secret ?? '');
    return hook;
  }

  async function deliveries(id: string, status?: string): Promise<Delivery[]> {
    const answer = await t.http
      .get(`/admin/webhooks/${id}/deliveries`)
      .query(status === undefined ? {} : { status })
      .set(ADMIN)
      .expect(200);
    return (answer.body as { deliveries: Delivery[] }).deliveries;
  }

  async function buy(itemId = 'item-potion'): Promise<string> {
    const answer = await t.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId, quantity: 1 })
      .expect(200);
    return (answer.body as { transactionId: string }).transactionId;
  }

  it('refuses every admin route without the admin token (401)', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const calls = [
      t.http
        .post('/admin/webhooks')
        .send({ url: receiver.url('/x'), events: ['purchase.completed'] }),
      t.http.get('/admin/webhooks'),
      t.http.get(`/admin/webhooks/${id}`),
      t.http.patch(`/admin/webhooks/${id}`).send({ enabled: false }),
      t.http.delete(`/admin/webhooks/${id}`),
      t.http.post(`/admin/webhooks/${id}/rotate-secret`),
      t.http.post(`/admin/webhooks/${id}/test`),
      t.http.get(`/admin/webhooks/${id}/deliveries`),
      t.http.post(`/admin/webhooks/${id}/resend-failed`),
      t.http.post(`/admin/webhook-deliveries/${id}/resend`),
      t.http.get('/admin/webhooks').set('Authorization', 'Bearer wrong-token-0123456789'),
    ];
    for (const answer of await Promise.all(calls)) {
      expect(answer.status).toBe(401);
      expect(answer.body.errorCode).toBe('UNAUTHORIZED');
    }
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM webhook_endpoints');
    expect(rows[0].n).toBe(0);
  });

  it('refuses bad input with 400 and an error code, and changes nothing', async () => {
    const hook = await register('/bad-input', ['purchase.completed']);
    const cases: [object, string][] = [
      [{ url: 'ftp://example.com/x', events: ['purchase.completed'] }, 'VALIDATION_FAILED'],
      [{ url: 'not a url', events: ['purchase.completed'] }, 'VALIDATION_FAILED'],
      [{ url: 'http://user:pw@example.com/', events: ['purchase.completed'] }, 'VALIDATION_FAILED'],
      [{ url: receiver.url('/y'), events: ['purchase.shipped'] }, 'UNKNOWN_EVENT_TYPE'],
      [{ url: receiver.url('/y'), events: [] }, 'VALIDATION_FAILED'],
      [{ url: receiver.url('/y') }, 'VALIDATION_FAILED'],
      [
        { url: receiver.url('/y'), events: ['purchase.completed'], secret: 'mine' },
        'VALIDATION_FAILED',
      ],
      [
        { url: receiver.url('/y'), events: ['purchase.completed'], description: 'a\u0000b' },
        'VALIDATION_FAILED',
      ],
    ];
    for (const [body, code] of cases) {
      const answer = await t.http.post('/admin/webhooks').set(ADMIN).send(body);
      expect({ body, status: answer.status, code: answer.body.errorCode }).toEqual({
        body,
        status: 400,
        code,
      });
    }
    const patches: [object, string][] = [
      [{}, 'VALIDATION_FAILED'],
      [{ events: ['nope'] }, 'UNKNOWN_EVENT_TYPE'],
      [{ url: 'javascript:alert(1)' }, 'VALIDATION_FAILED'],
      [{ enabled: 'yes' }, 'VALIDATION_FAILED'],
    ];
    for (const [body, code] of patches) {
      const answer = await t.http.patch(`/admin/webhooks/${hook.id}`).set(ADMIN).send(body);
      expect({ body, status: answer.status, code: answer.body.errorCode }).toEqual({
        body,
        status: 400,
        code,
      });
    }
    const bad = await t.http.get('/admin/webhooks/not-a-uuid').set(ADMIN);
    expect([bad.status, bad.body.errorCode]).toEqual([400, 'VALIDATION_FAILED']);
    const missing = await t.http
      .get('/admin/webhooks/00000000-0000-4000-8000-000000000000')
      .set(ADMIN);
    expect([missing.status, missing.body.errorCode]).toEqual([404, 'WEBHOOK_NOT_FOUND']);
    const noDelivery = await t.http
      .post('/admin/webhook-deliveries/00000000-0000-4000-8000-000000000000/resend')
      .set(ADMIN);
    expect([noDelivery.status, noDelivery.body.errorCode]).toEqual([
      404,
      'WEBHOOK_DELIVERY_NOT_FOUND',
    ]);
    // Nothing changed: the one endpoint, as registered.
    const listed = await t.http.get('/admin/webhooks').set(ADMIN).expect(200);
    expect(listed.body.enabled).toBe(true);
    expect(listed.body.eventTypes).toEqual([
      'purchase.completed',
      'purchase.compensated',
      'purchase.failed',
      'purchase.compensation_failed',
      'notification.requested',
    ]);
    expect(listed.body.webhooks).toHaveLength(1);
    expect(listed.body.webhooks[0]).toMatchObject({
      id: hook.id,
      url: receiver.url('/bad-input'),
      events: ['purchase.completed'],
      description: 'receiver /bad-input',
      enabled: true,
    });
    await t.http.delete(`/admin/webhooks/${hook.id}`).set(ADMIN).expect(204);
    const gone = await t.http.get(`/admin/webhooks/${hook.id}`).set(ADMIN);
    expect([gone.status, gone.body.errorCode]).toEqual([404, 'WEBHOOK_NOT_FOUND']);
  });

  it('shows the secret only on creation and rotation; rotation changes the signing key', async () => {
    const hook = await register('/rotate', ['purchase.completed']);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32,}=*$/);
    const got = await t.http.get(`/admin/webhooks/${hook.id}`).set(ADMIN).expect(200);
    expect(got.body).not.toHaveProperty('secret');
    const listed = await t.http.get('/admin/webhooks').set(ADMIN).expect(200);
    expect(JSON.stringify(listed.body)).not.toContain(hook.secret);
    const patched = await t.http
      .patch(`/admin/webhooks/${hook.id}`)
      .set(ADMIN)
      .send({ description: 'renamed' })
      .expect(200);
    expect(patched.body).not.toHaveProperty('secret');

    const rotated = await t.http
      .post(`/admin/webhooks/${hook.id}/rotate-secret`)
      .set(ADMIN)
      .expect(200);
    const secret = rotated.body.secret as string;
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(hook.secret);
    receiver.secret('/rotate', secret);

    const sent = await t.http.post(`/admin/webhooks/${hook.id}/test`).set(ADMIN).expect(202);
    const hit = await eventually(
      () => Promise.resolve(receiver.at('/rotate').find((h) => h.body.id === sent.body.eventId)),
      10_000,
      'the test event',
    );
    expect(hit.body.type).toBe('webhook.test');
    expect(hit.verified).toBe(true);
    expect(receiver.verify('/rotate', hit.raw, hit.headers, hook.secret)).toBe(false);
    // Nothing of either secret in the metrics.
    const metrics = await t.http.get('/metrics').expect(200);
    expect(metrics.text).not.toContain(secret.slice(6));
    expect(metrics.text).not.toContain((hook.secret ?? '').slice(6));
    await t.http.delete(`/admin/webhooks/${hook.id}`).set(ADMIN).expect(204);
  });

  it('delivers each subscribed event of a purchase, signed, with its id, body and trace', async () => {
    const hook = await register('/all', ['purchase.completed', 'notification.requested']);
    const onlyFailed = await register('/failed-only', ['purchase.failed']);
    const transactionId = await buy();
    const hits = await eventually(
      () => {
        const found = receiver.at('/all').filter((h) => h.body.transactionId === transactionId);
        return Promise.resolve(found.length === 2 ? found : undefined);
      },
      10_000,
      'both events of the purchase',
    );
    const { rows } = await t.db.query<{ id: string; type: string; trace_parent: string | null }>(
      'SELECT id, type, trace_parent FROM integration_events WHERE transaction_id = $1 ORDER BY seq',
      [transactionId],
    );
    expect(rows.map((row) => row.type)).toEqual(['notification.requested', 'purchase.completed']);
    expect(new Set(hits.map((h) => h.body.id))).toEqual(new Set(rows.map((row) => row.id)));
    for (const hit of hits) {
      const row = rows.find((r) => r.id === hit.body.id);
      expect(hit.verified).toBe(true);
      expect(hit.headers['webhook-id']).toBe(hit.body.id);
      expect(Number(hit.headers['webhook-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 60);
      expect(hit.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(hit.headers['content-type']).toBe('application/json');
      expect(hit.headers.traceparent).toBe(row?.trace_parent ?? undefined);
      expect(hit.body).toMatchObject({
        type: row?.type,
        transactionId,
        data: { userId: 'user-123', itemId: 'item-potion', quantity: 1, status: 'completed' },
      });
      expect(typeof hit.body.data.total).toBe('number');
    }
    await eventually(
      async () => {
        const listed = await deliveries(hook.id, 'delivered');
        return listed.length === 2 ? listed : undefined;
      },
      10_000,
      'both deliveries recorded as delivered',
    );
    // Not subscribed to these types: nothing queued for it.
    expect(await deliveries(onlyFailed.id)).toEqual([]);
    expect(receiver.at('/failed-only')).toEqual([]);
    await t.http.delete(`/admin/webhooks/${hook.id}`).set(ADMIN).expect(204);
    await t.http.delete(`/admin/webhooks/${onlyFailed.id}`).set(ADMIN).expect(204);
  });

  it('retries a failing receiver on the schedule, and delivers once it recovers', async () => {
    receiver.set('/flaky', 'fail');
    const hook = await register('/flaky', ['purchase.completed']);
    await buy();
    // Two failed attempts, then the receiver is back.
    await eventually(
      () => Promise.resolve(receiver.at('/flaky').length >= 2 ? true : undefined),
      10_000,
      'two failed attempts',
    );
    receiver.set('/flaky', 'ok');
    const [delivery] = await eventually(
      async () => {
        const listed = await deliveries(hook.id, 'delivered');
        return listed.length === 1 ? listed : undefined;
      },
      10_000,
      'the delivery delivered',
    );
    const codes = delivery.attemptLog.map((a) => a.statusCode);
    expect(codes.slice(0, 2)).toEqual([500, 500]);
    expect(codes.at(-1)).toBe(200);
    expect(delivery.attempts).toBe(codes.length);
    // Each retry waited its step of the schedule (300 ms, less at most 20 % of jitter).
    const times = delivery.attemptLog.map((a) => Date.parse(a.attemptedAt));
    for (let i = 1; i < times.length; i++) {
      expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(SCHEDULE_MS * 0.8 - 5);
    }
    // The same event each time, signed each time.
    const hits = receiver.at('/flaky');
    expect(new Set(hits.map((h) => h.body.id)).size).toBe(1);
    expect(hits.every((h) => h.verified)).toBe(true);
    // Healthy again: the failure streak is forgotten.
    const got = await t.http.get(`/admin/webhooks/${hook.id}`).set(ADMIN).expect(200);
    expect(got.body).toMatchObject({ failingSince: null, consecutiveFailures: 0, enabled: true });
    await t.http.delete(`/admin/webhooks/${hook.id}`).set(ADMIN).expect(204);
  });

  it('fails a delivery once the schedule is spent; an admin re-send delivers it after recovery', async () => {
    receiver.set('/down', 'fail');
    const hook = await register('/down', ['purchase.completed']);
    await buy();
    await buy();
    const failed = await eventually(
      async () => {
        const listed = await deliveries(hook.id, 'failed');
        return listed.length === 2 ? listed : undefined;
      },
      15_000,
      'both deliveries failed',
    );
    for (const delivery of failed) {
      // The first send and the three retries of the schedule.
      expect(delivery.attempts).toBe(4);
      expect(delivery.attemptLog.map((a) => a.statusCode)).toEqual([500, 500, 500, 500]);
    }
    const failing = await t.http.get(`/admin/webhooks/${hook.id}`).set(ADMIN).expect(200);
    expect(failing.body.failingSince).not.toBeNull();
    expect(failing.body.consecutiveFailures).toBe(8);
    const metrics = await t.http.get('/metrics').expect(200);
    expect(metrics.text).toContain(
      `webhook_attempts_total{endpoint="${hook.id}",result="http_error"} 8`,
    );

    receiver.set('/down', 'ok');
    const before = receiver.at('/down').length;
    await t.http.post(`/admin/webhook-deliveries/${failed[0].id}/resend`).set(ADMIN).expect(202);
    await eventually(
      async () => {
        const listed = await deliveries(hook.id, 'delivered');
        return listed.length === 1 ? listed : undefined;
      },
      10_000,
      'the re-sent delivery delivered',
    );
    expect(receiver.at('/down').length).toBe(before + 1);
    expect(receiver.at('/down').at(-1)?.body.id).toBe(failed[0].eventId);
    // And the rest of the endpoint's failed deliveries at once.
    const resent = await t.http
      .post(`/admin/webhooks/${hook.id}/resend-failed`)
      .set(ADMIN)
      .expect(202);
    expect(resent.body).toEqual({ resent: 1 });
    await eventually(
      async () => {
        const listed = await deliveries(hook.id, 'delivered');
        return listed.length === 2 ? listed : undefined;
      },
      10_000,
      'every delivery delivered',
    );
    expect(receiver.at('/down').every((h) => h.verified)).toBe(true);
    await t.http.delete(`/admin/webhooks/${hook.id}`).set(ADMIN).expect(204);
  });

  it('lets a slow endpoint hold back only its own deliveries', async () => {
    receiver.set('/slow', 'slow');
    const slow = await register('/slow', ['purchase.completed']);
    const fast = await register('/fast', ['purchase.completed']);
    // More events than the slow endpoint may have in flight (2), each taking past the timeout.
    const sagas: string[] = [];
    for (let i = 0; i < 6; i++) sagas.push(await buy());
    await eventually(
      () => Promise.resolve(receiver.at('/fast').length === 6 ? true : undefined),
      10_000,
      'every event at the fast endpoint',
    );
    // By then the slow one has had at most its concurrency's worth of first attempts, not all.
    expect(receiver.at('/slow').length).toBeGreaterThan(0);
    expect(receiver.at('/slow').length).toBeLessThanOrEqual(2);
    expect(receiver.maxOpen.get('/slow')).toBeLessThanOrEqual(2);
    expect(new Set(receiver.at('/fast').map((h) => h.body.transactionId))).toEqual(new Set(sagas));
    receiver.set('/slow', 'ok');
    await t.http
      .patch(`/admin/webhooks/${slow.id}`)
      .set(ADMIN)
      .send({ enabled: false })
      .expect(200);
    await t.http.delete(`/admin/webhooks/${slow.id}`).set(ADMIN).expect(204);
    await t.http.delete(`/admin/webhooks/${fast.id}`).set(ADMIN).expect(204);
  });

  it('a paused endpoint gets no deliveries; the relay metrics count the webhooks sink', async () => {
    const hook = await register('/paused', ['purchase.completed']);
    const paused = await t.http
      .patch(`/admin/webhooks/${hook.id}`)
      .set(ADMIN)
      .send({ enabled: false })
      .expect(200);
    expect(paused.body).toMatchObject({ enabled: false, disabledReason: 'disabled by an admin' });
    // An enabled endpoint on the same events shows when they have gone out.
    const witness = await register('/paused-witness', ['purchase.completed']);
    const transactionId = await buy();
    await eventually(
      () =>
        Promise.resolve(
          receiver.at('/paused-witness').find((h) => h.body.transactionId === transactionId),
        ),
      10_000,
      'the event sent to the enabled endpoint',
    );
    expect(await deliveries(hook.id)).toEqual([]);
    expect(receiver.at('/paused')).toEqual([]);
    const metrics = await t.http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/integration_events_published_total\{sink="webhooks"\} [1-9]/);
    await t.http.delete(`/admin/webhooks/${hook.id}`).set(ADMIN).expect(204);
    await t.http.delete(`/admin/webhooks/${witness.id}`).set(ADMIN).expect(204);
  });

  it('retention removes delivered deliveries past the outbox window, keeps failed ones', async () => {
    receiver.set('/retention-down', 'fail');
    const kept = await register('/retention-ok', ['purchase.completed']);
    const down = await register('/retention-down', ['purchase.completed']);
    await buy();
    await eventually(
      async () => {
        const ok = await deliveries(kept.id, 'delivered');
        const failed = await deliveries(down.id, 'failed');
        return ok.length === 1 && failed.length === 1 ? true : undefined;
      },
      15_000,
      'one delivery delivered, one failed',
    );
    // Two days on: past the outbox window (24 h).
    const outcome = await t.app
      .get(RetentionService)
      .run('test', new Date(Date.now() + 2 * 86_400_000));
    expect(outcome).toMatchObject({ kind: 'ran', run: { removed: { webhookDeliveries: 1 } } });
    expect(await deliveries(kept.id)).toEqual([]);
    expect(await deliveries(down.id, 'failed')).toHaveLength(1);
    const { rows } = await t.db.query<{ attempts: number }>(
      `SELECT count(*)::int AS attempts FROM webhook_attempts a
       JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = $1`,
      [down.id],
    );
    expect(rows[0].attempts).toBe(4);
    const { rows: orphans } = await t.db.query(
      'SELECT 1 FROM webhook_attempts a WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = a.delivery_id)',
    );
    expect(orphans).toEqual([]);
    await t.http.delete(`/admin/webhooks/${kept.id}`).set(ADMIN).expect(204);
    await t.http.delete(`/admin/webhooks/${down.id}`).set(ADMIN).expect(204);
  });
});

describe('Webhooks, an endpoint failing too long', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    t = await startTestApp({
      ...WEBHOOK_ENV,
      WEBHOOK_RETRY_SCHEDULE: '500ms,500ms,500ms',
      WEBHOOK_DISABLE_AFTER: '1s',
    });
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  it('is disabled after WEBHOOK_DISABLE_AFTER, and resumes when enabled again', async () => {
    receiver.set('/gone', 'fail');
    const answer = await t.http
      .post('/admin/webhooks')
      .set(ADMIN)
      .send({ url: receiver.url('/gone'), events: ['purchase.completed'] })
      .expect(201);
    const id = answer.body.id as string;
    receiver.secret('/gone', answer.body.secret as string);
    await t.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
      .expect(200);
    const disabled = await eventually(
      async () => {
        const got = await t.http.get(`/admin/webhooks/${id}`).set(ADMIN).expect(200);
        return got.body.enabled === false ? got.body : undefined;
      },
      10_000,
      'the endpoint disabled',
    );
    expect(disabled.disabledReason).toMatch(/^failing since /);
    expect(disabled.failingSince).not.toBeNull();
    const metrics = await t.http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/webhook_endpoints_disabled_total [1-9]/);

    receiver.set('/gone', 'ok');
    const enabled = await t.http
      .patch(`/admin/webhooks/${id}`)
      .set(ADMIN)
      .send({ enabled: true })
      .expect(200);
    expect(enabled.body).toMatchObject({
      enabled: true,
      disabledReason: null,
      failingSince: null,
      consecutiveFailures: 0,
    });
    await t.http.post(`/admin/webhooks/${id}/resend-failed`).set(ADMIN).expect(202);
    await eventually(
      () => Promise.resolve(receiver.at('/gone').some((h) => h.answered === 200) || undefined),
      10_000,
      'the delivery after recovery',
    );
    expect(receiver.at('/gone').every((h) => h.verified)).toBe(true);
  });
});

describe('Webhooks, private targets refused', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ ...WEBHOOK_ENV, WEBHOOK_ALLOW_PRIVATE_URLS: 'false' });
  });

  afterAll(async () => {
    await t.close();
  });

  it.each([
    'http://127.0.0.1:9/hook',
    'http://localhost:9/hook',
    'http://10.1.2.3/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]:9/hook',
    'http://[::ffff:127.0.0.1]/hook',
  ])('refuses %s with 400 WEBHOOK_URL_REFUSED', async (url) => {
    const answer = await t.http
      .post('/admin/webhooks')
      .set(ADMIN)
      .send({ url, events: ['purchase.completed'] });
    expect([answer.status, answer.body.errorCode]).toEqual([400, 'WEBHOOK_URL_REFUSED']);
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM webhook_endpoints');
    expect(rows[0].n).toBe(0);
  });

  it('refuses a private target at send time too, when the address changed since', async () => {
    // Registered while it was allowed (as if its name resolved elsewhere then).
    const { rows } = await t.db.query<{ id: string }>(
      `INSERT INTO webhook_endpoints (url, events, secret)
       VALUES ('http://127.0.0.1:9/hook', '{webhook.test}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')
       RETURNING id`,
    );
    const id = rows[0].id;
    await t.http.post(`/admin/webhooks/${id}/test`).set(ADMIN).expect(202);
    const listed = await eventually(
      async () => {
        const answer = await t.http.get(`/admin/webhooks/${id}/deliveries`).set(ADMIN).expect(200);
        const [delivery] = (answer.body as { deliveries: Delivery[] }).deliveries;
        return delivery !== undefined && delivery.attempts > 0 ? delivery : undefined;
      },
      10_000,
      'the refused attempt',
    );
    expect(listed.attemptLog[0]).toMatchObject({ statusCode: null });
    expect(listed.attemptLog[0].error).toMatch(/loopback, private or link-local/);
  });
});

describe('Webhooks off (the default)', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Private targets allowed only so that registering does not depend on this host's DNS.
    t = await startTestApp({ WEBHOOK_ALLOW_PRIVATE_URLS: 'true' });
  });

  afterAll(async () => {
    await t.close();
  });

  it('writes no integration event on the purchase path, and refuses to send tests', async () => {
    await t.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
      .expect(200);
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM integration_events');
    expect(rows[0].n).toBe(0);
    const created = await t.http
      .post('/admin/webhooks')
      .set(ADMIN)
      .send({ url: 'http://127.0.0.1:9/hook', events: ['purchase.completed'] })
      .expect(201);
    // Endpoints may be registered ahead; nothing is sent until WEBHOOKS_ENABLED.
    const test = await t.http.post(`/admin/webhooks/${created.body.id}/test`).set(ADMIN);
    expect([test.status, test.body.errorCode]).toEqual([409, 'WEBHOOKS_DISABLED']);
    // The list says so, for the console to show.
    const listed = await t.http.get('/admin/webhooks').set(ADMIN).expect(200);
    expect(listed.body).toMatchObject({ enabled: false, webhooks: [{ id: created.body.id }] });
    const { rows: queued } = await t.db.query('SELECT count(*)::int AS n FROM webhook_deliveries');
    expect(queued[0].n).toBe(0);
  });
});

describe('Webhooks beside NATS: neither holds the other back', () => {
  let nats: NatsServer;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    nats = await NatsServer.start();
    receiver = await WebhookReceiver.start();
  });

  afterAll(async () => {
    await receiver.close();
    await nats.destroy();
  });

  async function registerAt(t: TestApp, path: string): Promise<string> {
    const answer = await t.http
      .post('/admin/webhooks')
      .set(ADMIN)
      .send({ url: receiver.url(path), events: ['purchase.completed'] })
      .expect(201);
    receiver.secret(path, answer.body.secret as string);
    return answer.body.id as string;
  }

  async function buyAt(t: TestApp): Promise<string> {
    const answer = await t.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
      .expect(200);
    return answer.body.transactionId as string;
  }

  it('delivers webhooks while the broker is unreachable', async () => {
    // Nothing listens there: the relay waits, the webhooks go on.
    const t = await startTestApp({ ...WEBHOOK_ENV, NATS_URL: 'nats://127.0.0.1:9' });
    try {
      await registerAt(t, '/beside-down-broker');
      const transactionId = await buyAt(t);
      const hit = await eventually(
        () =>
          Promise.resolve(
            receiver.at('/beside-down-broker').find((h) => h.body.transactionId === transactionId),
          ),
        10_000,
        'the webhook while NATS is down',
      );
      expect(hit.verified).toBe(true);
      // Recorded once the attempt is back: the event stays unpublished to the broker.
      const rows = await eventually(
        async () => {
          const found = await t.db.query<{ published: boolean; status: string | null }>(
            `SELECT ${RELAYED} AS published, d.status
             FROM integration_events e LEFT JOIN webhook_deliveries d ON d.event_id = e.id
             WHERE e.transaction_id = $1 AND e.type = 'purchase.completed'`,
            [transactionId],
          );
          return found.rows[0]?.status === 'delivered' ? found.rows : undefined;
        },
        10_000,
        'the delivery recorded',
      );
      expect(rows).toEqual([{ published: false, status: 'delivered' }]);
    } finally {
      await t.close();
    }
  });

  it('publishes to NATS while a webhook endpoint keeps failing', async () => {
    const t = await startTestApp({ ...WEBHOOK_ENV, NATS_URL: nats.url });
    const consumer = await StreamConsumer.open(nats.url);
    try {
      receiver.set('/beside-down-receiver', 'fail');
      const id = await registerAt(t, '/beside-down-receiver');
      const transactionId = await buyAt(t);
      // The webhook fails, again and again; the stream has the event all the same.
      await eventually(
        () =>
          Promise.resolve(
            receiver.at('/beside-down-receiver').length >= 2 &&
              consumer.received.some(
                (m) =>
                  m.body.transactionId === transactionId && m.body.type === 'purchase.completed',
              )
              ? true
              : undefined,
          ),
        10_000,
        'the event on the stream while the endpoint fails',
      );
      const answer = await t.http.get(`/admin/webhooks/${id}/deliveries`).set(ADMIN).expect(200);
      const [delivery] = (answer.body as { deliveries: Delivery[] }).deliveries;
      expect(delivery.status).not.toBe('delivered');
      expect(receiver.at('/beside-down-receiver').every((h) => h.answered === 500)).toBe(true);
    } finally {
      await consumer.close();
      await t.close();
    }
  });
});

describe('Webhooks, two instances on one database', () => {
  let a: TestApp;
  let b: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    // Each request takes 300 ms: enough for both instances to have some in flight at once.
    receiver = await WebhookReceiver.start(300);
    a = await startTestApp({ ...WEBHOOK_ENV, INSTANCE_ID: 'webhooks-a' });
    b = await startTestApp({ ...WEBHOOK_ENV, INSTANCE_ID: 'webhooks-b' }, a.database);
    await a.db.query(`UPDATE users SET balance = 100000 WHERE user_id = 'user-123'`);
  });

  afterAll(async () => {
    await b.stop();
    await a.close();
    await receiver.close();
  });

  it('deliver each event once between them, never more than the per-endpoint limit at once', async () => {
    receiver.set('/shared', 'slow');
    const answer = await a.http
      .post('/admin/webhooks')
      .set(ADMIN)
      .send({ url: receiver.url('/shared'), events: ['purchase.completed'] })
      .expect(201);
    receiver.secret('/shared', answer.body.secret as string);
    const buys = Array.from({ length: 12 }, (_, i) =>
      (i % 2 === 0 ? a : b).http
        .post('/purchase')
        .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
        .expect(200),
    );
    await Promise.all(buys);
    const hits = await eventually(
      () =>
        Promise.resolve(receiver.at('/shared').length >= 12 ? receiver.at('/shared') : undefined),
      15_000,
      'twelve deliveries',
    );
    // Give a duplicate, if any, the time to show.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const ids = receiver.at('/shared').map((h) => h.body.id);
    expect(new Set(ids).size).toBe(12);
    expect(ids).toHaveLength(12);
    expect(hits.every((h) => h.verified)).toBe(true);
    expect(receiver.maxOpen.get('/shared')).toBeLessThanOrEqual(2);
    const { rows } = await a.db.query<{ owner: string }>(
      'SELECT DISTINCT lease_owner AS owner FROM webhook_deliveries WHERE lease_owner IS NOT NULL',
    );
    expect(rows).toEqual([]);
  });
});
