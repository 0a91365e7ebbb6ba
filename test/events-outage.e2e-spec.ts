import { NatsServer, StreamConsumer } from './support/nats-server';
import { ADMIN, startTestApp, type TestApp } from './support/test-app';
import { eventually } from './support/wait';

/** How long the broker stays down under load (the relay's backoff and reconnect span it). */
const OUTAGE_MS = 12_000;
const CLIENTS = 6;

/**
 * The broker down under purchase load: purchases keep completing, the events wait in
 * PostgreSQL, and once it is back every one of them reaches the stream, none twice.
 */
describe('Integration events across a NATS outage under load', () => {
  let nats: NatsServer;
  let t: TestApp;
  let consumer: StreamConsumer;

  beforeAll(async () => {
    nats = await NatsServer.start();
    t = await startTestApp({ NATS_URL: nats.url, EVENTS_RELAY_POLL_MS: '200' });
    await t.db.query(
      `UPDATE users SET balance = 1000000, purchase_limit = 0 WHERE user_id = 'user-123'`,
    );
    await t.db.query(`UPDATE items SET stock = 1000000 WHERE item_id = 'item-potion'`);
    consumer = await StreamConsumer.open(nats.url);
  });

  afterAll(async () => {
    await consumer.close();
    await t.close();
    await nats.destroy();
  });

  it(`keeps purchases completing while NATS is down for ${OUTAGE_MS / 1000} s, then delivers every event once`, async () => {
    const statuses: number[] = [];
    let running = true;
    const client = async (n: number) => {
      const pattern = n % 2 === 0 ? 'orchestration' : 'choreography';
      while (running) {
        const answer = await t.http
          .post('/purchase')
          .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1, pattern });
        statuses.push(answer.status);
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
    await new Promise((resolve) => setTimeout(resolve, 1500));

    await nats.stop();
    const duringOutage = statuses.length;
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
    const health = await t.http.get('/health');
    expect(health.status).toBe(200);
    expect(health.body.details.events).toMatchObject({ status: 'degraded' });
    const relay = await t.http.get('/admin/relay').set(ADMIN);
    expect(relay.body.sinks).toEqual([expect.objectContaining({ name: 'nats', connected: false })]);
    expect(relay.body.backlog).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
    const completedInOutage = statuses.length - duringOutage;

    await nats.start();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    running = false;
    await load;

    // Every purchase completed, the outage or not.
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(completedInOutage).toBeGreaterThan(0);

    const { rows } = await t.db.query<{ id: string; transaction_id: string }>(
      'SELECT id, transaction_id FROM integration_events ORDER BY seq',
    );
    expect(rows).toHaveLength(statuses.length * 2);
    await eventually(
      () => Promise.resolve(consumer.received.length >= rows.length ? true : undefined),
      60_000,
      `${rows.length} events on the stream`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // The stream holds each event once: an id re-sent after the outage was dropped by its
    // Nats-Msg-Id. The consumer may see a message again (an acknowledgement lost when the server
    // was killed is redelivered: at least once), never another copy of it.
    expect(await consumer.storedMessages()).toBe(rows.length);
    const copies = new Map<string, Set<number>>();
    for (const message of consumer.received) {
      copies.set(
        message.body.id,
        (copies.get(message.body.id) ?? new Set()).add(message.streamSeq),
      );
    }
    expect([...copies.values()].filter((seqs) => seqs.size > 1)).toEqual([]);
    expect(new Set(copies.keys())).toEqual(new Set(rows.map((row) => row.id)));
    const redelivered = consumer.received.filter((message) => message.redelivered).length;
    // Each saga's notification.requested came before its purchase.completed.
    const position = new Map<string, number>(
      consumer.received.map((message) => [message.body.id, message.streamSeq]),
    );
    const bySaga = new Map<string, string[]>();
    for (const row of rows) {
      bySaga.set(row.transaction_id, [...(bySaga.get(row.transaction_id) ?? []), row.id]);
    }
    for (const [first, second] of bySaga.values()) {
      expect(position.get(first)!).toBeLessThan(position.get(second)!);
    }
    process.stdout.write(
      `outage: ${statuses.length} purchases, ${completedInOutage} during ${OUTAGE_MS} ms without NATS; ${rows.length} events stored once (${redelivered} redelivered to the consumer)\n`,
    );
  }, 120_000);
});
