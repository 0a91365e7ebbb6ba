import { RetentionService } from '../src/modules/retention/retention.service';
import { schemaErrors } from './support/event-schemas';
import { NatsServer, RELAYED, StreamConsumer, type Received } from './support/nats-server';
import { ADMIN, startTestApp, type TestApp } from './support/test-app';
import { eventually } from './support/wait';

interface EventRow {
  id: string;
  type: string;
  transaction_id: string;
  seq: string;
}

/** What a saga that ended so raises, in order. */
function expectedTypes(status: string, errorCode: string | null): string[] {
  if (status === 'completed') return ['notification.requested', 'purchase.completed'];
  if (status === 'compensated') return ['purchase.compensated'];
  if (status === 'failed' && errorCode === 'COMPENSATION_FAILED') {
    return ['purchase.compensation_failed'];
  }
  if (status === 'failed') return ['purchase.failed'];
  throw new Error(`unexpected status ${status}`);
}

async function eventRows(t: TestApp): Promise<EventRow[]> {
  const { rows } = await t.db.query<EventRow>(
    'SELECT id, type, transaction_id, seq::text AS seq FROM integration_events e ORDER BY e.seq',
  );
  return rows;
}

/** Every event of `rows` arrived once, with its subject, id header, a valid body, in order. */
function expectDeliveredOnce(received: Received[], rows: EventRow[]): void {
  const ids = received.map((message) => message.body.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(new Set(ids)).toEqual(new Set(rows.map((row) => row.id)));
  for (const message of received) {
    expect(message.subject).toBe(`saga.${message.body.type}`);
    expect(message.msgId).toBe(message.body.id);
    expect(schemaErrors(message.body)).toEqual([]);
  }
  // Per saga, the stream holds its events in the order they were written.
  const bySaga = new Map<string, string[]>();
  for (const row of rows)
    bySaga.set(row.transaction_id, [...(bySaga.get(row.transaction_id) ?? []), row.id]);
  const streamOrder = new Map<string, string[]>();
  for (const message of [...received].sort((a, b) => a.streamSeq - b.streamSeq)) {
    const id = message.body.transactionId;
    streamOrder.set(id, [...(streamOrder.get(id) ?? []), message.body.id]);
  }
  expect(streamOrder).toEqual(bySaga);
}

describe('Integration events to NATS JetStream', () => {
  let nats: NatsServer;

  beforeAll(async () => {
    nats = await NatsServer.start();
  });

  afterAll(async () => {
    await nats.destroy();
  });

  describe('with a mix of outcomes in both patterns', () => {
    let plain: TestApp;
    let faulty: TestApp;
    let consumer: StreamConsumer;

    beforeAll(async () => {
      plain = await startTestApp({ NATS_URL: nats.url, EVENTS_RELAY_POLL_MS: '200' });
      // Every compensation of user_validation fails here: the purchase ends COMPENSATION_FAILED.
      faulty = await startTestApp({
        NATS_URL: nats.url,
        EVENTS_RELAY_POLL_MS: '200',
        SAGA_FAULTS: 'fail:compensation:user_validation',
        STEP_RETRY_BASE_MS: '1',
        STEP_RETRY_MAX_MS: '2',
      });
      // Enough for every purchase at once: each outcome below is the one its body asks for.
      await plain.db.query(`UPDATE users SET balance = 100000 WHERE user_id = 'user-123'`);
      consumer = await StreamConsumer.open(nats.url);
    });

    afterAll(async () => {
      await consumer.close();
      await plain.close();
      await faulty.close();
    });

    it('delivers each event exactly once by id, on its subject, valid, in order per saga', async () => {
      const buy = (t: TestApp, pattern: string, userId: string, itemId: string) =>
        t.http.post('/purchase').send({ userId, itemId, quantity: 1, pattern });
      const answers = await Promise.all(
        ['orchestration', 'choreography'].flatMap((pattern) => [
          buy(plain, pattern, 'user-123', 'item-potion'),
          buy(plain, pattern, 'user-123', 'item-potion'),
          buy(plain, pattern, 'user-123', 'item-sword'),
          buy(plain, pattern, 'user-123', 'item-out-of-stock'),
          buy(plain, pattern, 'user-suspended', 'item-potion'),
          buy(faulty, pattern, 'user-123', 'item-out-of-stock'),
          // Refused as it is recorded (never priced: total null).
          buy(plain, pattern, 'user-123', 'item-unknown'),
        ]),
      );
      expect(answers.map((answer) => answer.status)).toEqual([
        ...[200, 200, 200, 409, 409, 503, 404],
        ...[200, 200, 200, 409, 409, 503, 404],
      ]);

      const rows = [...(await eventRows(plain)), ...(await eventRows(faulty))];
      // Each saga wrote what its outcome raises, in order.
      for (const t of [plain, faulty]) {
        const { rows: sagas } = await t.db.query<{
          transaction_id: string;
          status: string;
          error_code: string | null;
        }>('SELECT transaction_id, status, error_code FROM saga_states');
        for (const saga of sagas) {
          expect(
            rows.filter((row) => row.transaction_id === saga.transaction_id).map((row) => row.type),
          ).toEqual(expectedTypes(saga.status, saga.error_code));
        }
      }
      expect(new Set(rows.map((row) => row.type))).toEqual(
        new Set([
          'notification.requested',
          'purchase.completed',
          'purchase.compensated',
          'purchase.failed',
          'purchase.compensation_failed',
        ]),
      );

      await eventually(
        () => Promise.resolve(consumer.received.length >= rows.length ? true : undefined),
        20_000,
        `${rows.length} events on the stream`,
      );
      // Anything sent twice would show up by now.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expectDeliveredOnce(consumer.received, rows);

      const completed = consumer.received.find((m) => m.body.type === 'purchase.completed');
      expect(completed?.body.data).toMatchObject({
        userId: 'user-123',
        quantity: 1,
        status: 'completed',
      });
      const failed = consumer.received.filter((m) => m.body.type === 'purchase.failed');
      expect(failed.map((m) => m.body.data)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            userId: 'user-suspended',
            status: 'failed',
            error: expect.objectContaining({ code: 'USER_NOT_ACTIVE' }),
          }),
          expect.objectContaining({
            itemId: 'item-unknown',
            total: null,
            error: expect.objectContaining({ code: 'ITEM_NOT_FOUND' }),
          }),
        ]),
      );

      const { rows: unpublished } = await plain.db.query(
        `SELECT 1 FROM integration_events e WHERE NOT ${RELAYED}`,
      );
      expect(unpublished).toHaveLength(0);
      const relay = await plain.http.get('/admin/relay').set(ADMIN);
      expect(relay.status).toBe(200);
      expect(relay.body).toMatchObject({
        enabled: true,
        sinks: [{ name: 'nats', connected: true }],
        backlog: 0,
      });
      const health = await plain.http.get('/health');
      expect(health.body.details.events).toMatchObject({ status: 'up' });
      const metrics = await plain.http.get('/metrics');
      expect(metrics.text).toMatch(/integration_events_published_total\{sink="nats"\} [1-9]/);
      expect(metrics.text).toMatch(/integration_events_backlog 0/);
    });
  });

  describe('relayed by two instances sharing one database', () => {
    let own: NatsServer;
    let a: TestApp;
    let b: TestApp;
    let consumer: StreamConsumer;

    beforeAll(async () => {
      // A server of its own: a second stream on saga.> would overlap the first.
      own = await NatsServer.start();
      // Small claims, so that the two instances' claims interleave.
      const env = { NATS_URL: own.url, EVENTS_RELAY_POLL_MS: '50', EVENTS_RELAY_BATCH: '3' };
      a = await startTestApp({ ...env, INSTANCE_ID: 'relay-a' });
      b = await startTestApp({ ...env, INSTANCE_ID: 'relay-b' }, a.database);
      await a.db.query(`UPDATE users SET balance = 100000 WHERE user_id = 'user-123'`);
      consumer = await StreamConsumer.open(own.url);
    });

    afterAll(async () => {
      await consumer.close();
      await b.stop();
      await a.close();
      await own.destroy();
    });

    it('publishes every event once, each saga in order', async () => {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, n) =>
          (n % 2 === 0 ? a : b).http.post('/purchase').send({
            userId: 'user-123',
            itemId: n % 5 === 0 ? 'item-out-of-stock' : 'item-potion',
            quantity: 1,
            pattern: n % 4 < 2 ? 'orchestration' : 'choreography',
          }),
        ),
      );
      expect(answers.filter((answer) => answer.status >= 500)).toEqual([]);
      const rows = await eventRows(a);
      await eventually(
        () => Promise.resolve(consumer.received.length >= rows.length ? true : undefined),
        20_000,
        `${rows.length} events on the stream`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expectDeliveredOnce(consumer.received, rows);
      const [stateA, stateB] = await Promise.all(
        [a, b].map(async (t) => (await t.http.get('/admin/relay').set(ADMIN)).body as never),
      );
      expect(
        (stateA as { published: number }).published + (stateB as { published: number }).published,
      ).toBe(rows.length);
    });
  });

  describe('under the retention policy', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({ NATS_URL: nats.url, EVENTS_RELAY_POLL_MS: '200' });
    });

    afterAll(async () => {
      await t.close();
    });

    it('removes published events past RETENTION_OUTBOX, keeps unpublished ones and their sagas', async () => {
      for (const pattern of ['orchestration', 'choreography']) {
        const answer = await t.http
          .post('/purchase')
          .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1, pattern });
        expect(answer.status).toBe(200);
      }
      await eventually(
        async () => {
          const { rows } = await t.db.query(
            `SELECT 1 FROM integration_events e WHERE NOT ${RELAYED}`,
          );
          return rows.length === 0 ? true : undefined;
        },
        20_000,
        'the events published',
      );
      // One saga's event still waits (as if the broker had been away since): the relay's
      // cursor is held elsewhere, so this instance relays nothing more.
      const { rows: sagas } = await t.db.query<{ transaction_id: string }>(
        'SELECT transaction_id FROM saga_states ORDER BY created_at',
      );
      const waiting = sagas[0].transaction_id;
      await t.db.query(
        `UPDATE relay_cursors SET owner = 'elsewhere', expires_at = now() + interval '1 hour'`,
      );
      await t.db.query(
        `INSERT INTO integration_events (type, transaction_id, data)
         VALUES ('purchase.completed', $1, '{}')`,
        [waiting],
      );
      const retention = t.app.get(RetentionService);
      // Two days on: past the outbox window (24 h), within the sagas' (30 d).
      const later = await retention.run('test', new Date(Date.now() + 2 * 86_400_000));
      expect(later).toMatchObject({ kind: 'ran', run: { removed: { integrationEventsAlone: 4 } } });
      expect((await eventRows(t)).map((row) => row.transaction_id)).toEqual([waiting]);
      // Past the sagas' window: the saga whose event waits stays, the other goes with its rows.
      const much = await retention.run('test', new Date(Date.now() + 40 * 86_400_000));
      expect(much).toMatchObject({ kind: 'ran', run: { removed: { sagas: 1 } } });
      const { rows: left } = await t.db.query<{ transaction_id: string }>(
        'SELECT transaction_id FROM saga_states',
      );
      expect(left).toEqual([{ transaction_id: waiting }]);
      expect(await eventRows(t)).toHaveLength(1);
    });
  });

  describe('with NATS_URL unset', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp();
    });

    afterAll(async () => {
      await t.close();
    });

    it('writes no integration event and reports no broker', async () => {
      for (const pattern of ['orchestration', 'choreography']) {
        for (const itemId of ['item-potion', 'item-out-of-stock']) {
          await t.http.post('/purchase').send({ userId: 'user-123', itemId, quantity: 1, pattern });
        }
      }
      await t.http
        .post('/purchase')
        .send({ userId: 'user-suspended', itemId: 'item-potion', quantity: 1 });
      expect(await eventRows(t)).toEqual([]);
      const health = await t.http.get('/health');
      expect(health.status).toBe(200);
      expect(health.body.details.events).toBeUndefined();
      const relay = await t.http.get('/admin/relay').set(ADMIN);
      expect(relay.body).toEqual({
        enabled: false,
        sinks: [],
        backlog: 0,
        lagSeconds: 0,
        published: 0,
      });
    });
  });
});
