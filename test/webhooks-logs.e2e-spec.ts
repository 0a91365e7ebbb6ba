import { ServiceProcess, startService } from './support/service-process';
import { ADMIN, createTestDatabase, type TestDatabase } from './support/test-app';
import { eventually } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';

describe('Webhooks in the logs and metrics (the built service, LOG_LEVEL=debug)', () => {
  let database: TestDatabase;
  let service: ServiceProcess;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    database = await createTestDatabase();
    service = await startService(database.url, {
      LOG_LEVEL: 'debug',
      WEBHOOKS_ENABLED: 'true',
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
      WEBHOOK_RETRY_SCHEDULE: '100ms',
      WEBHOOK_POLL_MS: '100',
    });
  });

  afterAll(async () => {
    await service?.kill('SIGTERM');
    await database?.drop();
    await receiver?.close();
  });

  it('never print a secret or an endpoint URL (it may carry a token)', async () => {
    receiver.set('/logged?token=url-token-0123456789', 'fail');
    const created = await service.http
      .post('/admin/webhooks')
      .set(ADMIN)
      .send({
        url: receiver.url('/logged?token=url-token-0123456789'),
        events: ['purchase.completed'],
      })
      .expect(201);
    const id = created.body.id as string;
    const rotated = await service.http
      .post(`/admin/webhooks/${id}/rotate-secret`)
      .set(ADMIN)
      .expect(200);
    await service.http.post(`/admin/webhooks/${id}/test`).set(ADMIN).expect(202);
    await service.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
      .expect(200);
    // Both deliveries failed for good (one retry): the failures are logged by then.
    await eventually(
      () => Promise.resolve(service.output().match(/failed for good/g)?.length === 2 || undefined),
      10_000,
      'both failures logged',
    );
    const metrics = await service.http.get('/metrics').expect(200);
    for (const text of [service.output(), metrics.text]) {
      expect(text).toContain(id);
      for (const secret of [created.body.secret as string, rotated.body.secret as string]) {
        expect(text).not.toContain(secret.slice('whsec_'.length));
      }
      expect(text).not.toContain('url-token-0123456789');
    }
  });
});
