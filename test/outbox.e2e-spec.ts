import { timeOrderedId } from '../src/common/time-ordered-id';
import { TransactionHost } from '../src/database/transaction-host';
import {
  OutboxRepository,
  type PendingEvent,
} from '../src/modules/saga/choreography/outbox.repository';
import type { SagaEventEnvelope } from '../src/modules/saga/choreography/saga-events';
import { startTestApp, TestApp } from './support/test-app';

/** Events of a saga no handler knows, so that only the test publishes or claims them. */
function envelopes(transactionId: string, n: number): SagaEventEnvelope[] {
  return Array.from({ length: n }, () => ({
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
      startedAt: new Date().toISOString(),
      completed: ['user_validation', 'item_grant', 'log_record', 'notification'],
      compensated: [],
    },
    data: {},
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

  const write = (transactionId: string, n: number): Promise<PendingEvent[]> =>
    tx.run(() => outbox.insert(envelopes(transactionId, n), 'writer', 60_000));

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
    const events = await write(id, 3);
    const [{ batch }, second, third] = events;

    await outbox.release(batch.id, [second.id, third.id], 0);
    expect(await dispatched(id)).toEqual([true, false, false]);
    expect(await outbox.countPending()).toBe(2);

    const claimed = await outbox.claimStale('sweeper', 60_000, 10);
    expect(claimed.map((event) => [event.id, event.payload.eventId])).toEqual([
      [second.id, second.payload.eventId],
      [third.id, third.payload.eventId],
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
