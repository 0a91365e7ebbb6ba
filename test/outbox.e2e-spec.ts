import { timeOrderedId } from '../src/common/time-ordered-id';
import { TransactionHost } from '../src/database/transaction-host';
import {
  OutboxRepository,
  type PendingEvent,
} from '../src/modules/saga/choreography/outbox.repository';
import type { SagaEventEnvelope } from '../src/modules/saga/choreography/saga-events';
import { startTestApp, TestApp } from './support/test-app';

/** Events of a saga no handler knows, so that only the test publishes or claims them. */
function envelopes(
  transactionId: string,
  n: number,
  startedAt = new Date().toISOString(),
): SagaEventEnvelope[] {
  return Array.from({ length: n }, (_, index) => ({
    eventId: timeOrderedId(),
    eventType: 'PurchaseCompleted',
    transactionId,
    causationId: null,
    occurredAt: new Date().toISOString(),
    saga: {
      context: {
        transactionId,
        pattern: 'choreography',
        userId: 'user-123',
        itemId: 'item-potion',
        quantity: 1,
        total: '20.00',
      },
      version: 4,
      status: 'completed',
      startedAt,
      completed: ['user_validation', 'item_grant', 'log_record', 'notification'],
      compensated: [],
    },
    data: { index },
  }));
}

describe('Transactional outbox: pending rows per write', () => {
  let t: TestApp;
  let tx: TransactionHost;
  let outbox: OutboxRepository;

  beforeAll(async () => {
    // The app's own sweep stays out of the way: only the test claims.
    t = await startTestApp({ OUTBOX_POLL_MS: '600000' });
    tx = t.app.get(TransactionHost, { strict: false });
    outbox = t.app.get(OutboxRepository, { strict: false });
  });

  afterAll(async () => {
    await t.close();
  });

  // Each test starts with nothing pending, even after one that failed half-way.
  afterEach(async () => {
    await t.db.query('DELETE FROM outbox_pending');
  });

  const write = (transactionId: string, n: number): Promise<PendingEvent[]> =>
    tx.run(() => outbox.insert(envelopes(transactionId, n), 'writer', 60_000));

  /** The saga row of `transactionId` (as `envelopes` describe it); answers when it started. */
  const recordSaga = async (transactionId: string): Promise<string> => {
    const { rows } = await t.db.query<{ created_at: Date }>(
      `INSERT INTO saga_states (transaction_id, pattern, status, user_id, item_id, quantity, price,
         version)
       VALUES ($1, 'choreography', 'completed', 'user-123', 'item-potion', 1, 20, 4)
       RETURNING created_at`,
      [transactionId],
    );
    return rows[0].created_at.toISOString();
  };

  /** Makes a write's events claimable at once, as if their writer had died. */
  const abandon = (events: PendingEvent[]): Promise<void> =>
    outbox.release(
      events[0].batch.id,
      events.map((event) => event.id),
      0,
    );

  const dispatched = async (transactionId: string): Promise<boolean[]> =>
    (await outbox.listByAggregate(transactionId)).map((row) => row.dispatched);

  it("keeps a write's events pending in one row, and acknowledges them as one", async () => {
    const id = 'TXN_outbox_one_row';
    const events = await write(id, 3);
    const ids = events.map((event) => event.id);
    expect(new Set(events.map((event) => event.batch)).size).toBe(1);
    const [{ batch }] = events;
    expect(batch).toEqual({ id: ids[0], size: 3 });

    const rows = await t.db.query<{ id: string; event_ids: string[]; lease_owner: string }>(
      'SELECT id, event_ids, lease_owner FROM outbox_pending',
    );
    expect(rows.rows).toEqual([{ id: ids[0], event_ids: ids, lease_owner: 'writer' }]);
    expect(await dispatched(id)).toEqual([false, false, false]);
    expect(await outbox.countPending()).toBe(3);

    await outbox.markDispatched([batch.id]);
    expect(await dispatched(id)).toEqual([true, true, true]);
    expect(await outbox.countPending()).toBe(0);
  });

  it('releases only the events left to handle, which one sweep then claims', async () => {
    const id = 'TXN_outbox_release';
    const events = await tx.run(async () =>
      outbox.insert(envelopes(id, 3, await recordSaga(id)), 'writer', 60_000),
    );
    const [{ batch }, second, third] = events;

    await outbox.release(batch.id, [second.id, third.id], 0);
    expect(await dispatched(id)).toEqual([true, false, false]);
    expect(await outbox.countPending()).toBe(2);

    const claimed = await outbox.claimStale('sweeper', 60_000, 10);
    expect(claimed.map((event) => [event.id, event.payload])).toEqual([
      [second.id, second.payload],
      [third.id, third.payload],
    ]);
    expect(claimed.map((event) => event.batch)).toEqual([
      { id: batch.id, size: 2 },
      { id: batch.id, size: 2 },
    ]);
    expect(claimed[0].batch).toBe(claimed[1].batch);
    // Leased to the sweeper now: nobody claims them again before the lease runs out.
    expect(await outbox.claimStale('another', 60_000, 10)).toEqual([]);
    const row = await t.db.query<{ lease_owner: string; attempts: number }>(
      'SELECT lease_owner, attempts FROM outbox_pending WHERE id = $1',
      [batch.id],
    );
    expect(row.rows).toEqual([{ lease_owner: 'sweeper', attempts: 1 }]);

    await outbox.markDispatched([batch.id]);
    expect(await dispatched(id)).toEqual([true, true, true]);
  });

  it("stores what an event adds to its saga's row, and claims it back whole", async () => {
    const id = 'TXN_outbox_stored';
    const events = await tx.run(async () =>
      outbox.insert(envelopes(id, 2, await recordSaga(id)), 'writer', 60_000),
    );
    const stored = await t.db.query<{ payload: unknown }>(
      'SELECT payload FROM outbox_events WHERE aggregate_id = $1 ORDER BY id',
      [id],
    );
    // The id, type and saga id are the row's columns; the purchase and its start, the saga's row.
    expect(stored.rows.map((row) => row.payload)).toEqual(
      events.map(({ payload }) => ({
        causationId: null,
        occurredAt: payload.occurredAt,
        saga: {
          version: 4,
          status: 'completed',
          completed: ['user_validation', 'item_grant', 'log_record', 'notification'],
          compensated: [],
        },
        data: payload.data,
      })),
    );

    await abandon(events);
    const claimed = await outbox.claimStale('sweeper', 60_000, 10);
    expect(claimed.map((event) => event.payload)).toEqual(events.map((event) => event.payload));
    await outbox.markDispatched([events[0].batch.id]);
  });

  it('claims an event stored whole (as events once were) without its saga row, and none of a saga with no row', async () => {
    const [whole] = envelopes('TXN_outbox_whole', 1);
    const written = await t.db.query<{ id: string }>(
      `WITH event AS (
         INSERT INTO outbox_events (event_id, event_type, aggregate_id, payload)
         VALUES ($1, $2, $3, $4) RETURNING id
       )
       INSERT INTO outbox_pending (id, event_ids) SELECT id, ARRAY[id] FROM event RETURNING id`,
      [whole.eventId, whole.eventType, whole.transactionId, JSON.stringify(whole)],
    );
    const orphan = await write('TXN_outbox_orphan', 1);
    await abandon(orphan);

    const claimed = await outbox.claimStale('sweeper', 60_000, 10);
    expect(claimed.map((event) => [event.id, event.payload])).toEqual([
      [written.rows[0].id, whole],
      [orphan[0].id, undefined],
    ]);
    await outbox.markDispatched([written.rows[0].id, orphan[0].batch.id]);
  });

  it('gives each write its own row, even within one transaction', async () => {
    const [first, second] = await tx.run(async () => [
      await outbox.insert(envelopes('TXN_outbox_a', 1), 'writer', 60_000),
      await outbox.insert(envelopes('TXN_outbox_b', 2), 'writer', 60_000),
    ]);
    expect(first[0].batch).toEqual({ id: first[0].id, size: 1 });
    expect(second[0].batch).toEqual({ id: second[0].id, size: 2 });
    expect(await outbox.countPending()).toBe(3);
    await outbox.markDispatched([first[0].batch.id]);
    expect(await dispatched('TXN_outbox_a')).toEqual([true]);
    expect(await dispatched('TXN_outbox_b')).toEqual([false, false]);
    await outbox.markDispatched([second[0].batch.id]);
  });
});
