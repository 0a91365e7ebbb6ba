// First: tracing must be on before the application's modules are loaded.
import { tracing } from './support/in-memory-tracing';
import { NatsServer, StreamConsumer } from './support/nats-server';
import { startTestApp, type TestApp } from './support/test-app';
import { eventually } from './support/wait';

/** With tracing on, each integration event carries its purchase's trace (`traceparent`). */
describe('Integration events with tracing on', () => {
  let nats: NatsServer;
  let t: TestApp;
  let consumer: StreamConsumer;

  beforeAll(async () => {
    nats = await NatsServer.start();
    t = await startTestApp({ NATS_URL: nats.url, EVENTS_RELAY_POLL_MS: '200' });
    consumer = await StreamConsumer.open(nats.url);
  });

  afterAll(async () => {
    await consumer.close();
    await t.close();
    await nats.destroy();
    await tracing.shutdown();
  });

  it('sends the traceparent of the saga with each of its events', async () => {
    const answers = await Promise.all(
      ['orchestration', 'choreography'].map((pattern) =>
        t.http
          .post('/purchase')
          .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1, pattern }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    await eventually(
      () => Promise.resolve(consumer.received.length >= 4 ? true : undefined),
      20_000,
      'the four events on the stream',
    );
    const { rows } = await t.db.query<{ transaction_id: string; trace_parent: string }>(
      'SELECT transaction_id, trace_parent FROM saga_states',
    );
    expect(rows).toHaveLength(2);
    for (const { transaction_id, trace_parent } of rows) {
      expect(trace_parent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      const events = consumer.received.filter((m) => m.body.transactionId === transaction_id);
      expect(events.map((m) => m.traceparent)).toEqual([trace_parent, trace_parent]);
    }
  });
});
