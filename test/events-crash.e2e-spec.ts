import { Client } from 'pg';
import { NatsServer, RELAYED, StreamConsumer } from './support/nats-server';
import { freePort, startService, type ServiceProcess } from './support/service-process';
import { createTestDatabase, type TestDatabase } from './support/test-app';
import { eventually } from './support/wait';

/**
 * Integration events survive a service killed with kill -9 between the commit that wrote them
 * and their publication: they wait in PostgreSQL and go out once a service runs again.
 */
describe('Integration events across kill -9', () => {
  let database: TestDatabase;
  let db: Client;
  const services: ServiceProcess[] = [];
  const servers: NatsServer[] = [];
  const consumers: StreamConsumer[] = [];

  beforeEach(async () => {
    database = await createTestDatabase();
    db = new Client({ connectionString: database.url });
    await db.connect();
  });

  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.close()));
    await Promise.all(services.splice(0).map((service) => service.kill()));
    await Promise.all(servers.splice(0).map((server) => server.destroy()));
    await db.end();
    await database.drop();
  });

  const start = async (env: Record<string, string>) => {
    const service = await startService(database.url, { EVENTS_RELAY_POLL_MS: '200', ...env });
    services.push(service);
    return service;
  };

  const events = async () =>
    (
      await db.query<{ id: string; type: string; transaction_id: string; published: boolean }>(
        `SELECT e.id, e.type, e.transaction_id, ${RELAYED} AS published
         FROM integration_events e ORDER BY e.seq`,
      )
    ).rows;

  it('killed right after the commit that wrote them (crash-after:notification): none is lost', async () => {
    const nats = await NatsServer.start();
    servers.push(nats);
    const crashing = await start({ NATS_URL: nats.url, SAGA_FAULTS: 'crash-after:notification' });
    await crashing.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
      .catch(() => undefined);
    expect((await crashing.exited).signal).toBe('SIGKILL');
    const written = await events();
    expect(written.map((event) => [event.type, event.published])).toEqual([
      ['notification.requested', false],
      ['purchase.completed', false],
    ]);

    await start({ NATS_URL: nats.url });
    const consumer = await StreamConsumer.open(nats.url);
    consumers.push(consumer);
    await eventually(
      () => Promise.resolve(consumer.received.length >= 2 ? true : undefined),
      20_000,
      'the events on the stream',
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(consumer.received.map((message) => message.body.id)).toEqual(
      written.map((event) => event.id),
    );
  });

  it('killed while the broker is unreachable: purchases complete, and every event goes out once it is back', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const first = await start({ NATS_URL: url });
    const answers = await Promise.all(
      ['orchestration', 'choreography'].flatMap((pattern) =>
        ['item-potion', 'item-out-of-stock'].map((itemId) =>
          first.http.post('/purchase').send({ userId: 'user-123', itemId, quantity: 1, pattern }),
        ),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 409, 200, 409]);
    const health = await first.http.get('/health');
    expect(health.status).toBe(200);
    expect(health.body.details.events).toMatchObject({
      status: 'degraded',
      sinks: [{ name: 'nats', connected: false }],
    });
    await first.kill('SIGKILL');
    const written = await events();
    expect(written).toHaveLength(6);
    expect(written.every((event) => !event.published)).toBe(true);

    const nats = await NatsServer.start(port);
    servers.push(nats);
    await start({ NATS_URL: url });
    const consumer = await StreamConsumer.open(url);
    consumers.push(consumer);
    await eventually(
      () => Promise.resolve(consumer.received.length >= written.length ? true : undefined),
      20_000,
      'the events on the stream',
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const ids = consumer.received.map((message) => message.body.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(written.map((event) => event.id)));
    expect((await events()).every((event) => event.published)).toBe(true);
  });
});
