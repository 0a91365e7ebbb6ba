import { Injectable } from '@nestjs/common';
import type { SagaPattern } from '../../../config/configuration';
import { TransactionHost } from '../../../database/transaction-host';
import {
  eventFromStored,
  storedEventOf,
  type SagaEventEnvelope,
  type StoredSagaEvent,
} from './saga-events';
import { registeredPairs } from '../core/definition/saga-definitions';
import { contextOf } from '../core/saga-record';

/** The pending row of the events one statement wrote: they are acknowledged together. */
export interface PendingBatch {
  /** The row's id (its first event's). */
  id: string;
  /** How many of its events are being published. */
  size: number;
}

/** An event written to the outbox, as its dispatcher needs it: its row's id and the event. */
export interface PendingEvent {
  id: string;
  event_type: string;
  payload: SagaEventEnvelope;
  /** The pending row that lists it. */
  batch: PendingBatch;
}

/**
 * An event claimed again. Its payload is undefined when its saga has no row to rebuild it from
 * (deleted by hand): no participant could act on it.
 */
export type ClaimedEvent = Omit<PendingEvent, 'payload'> & {
  payload: SagaEventEnvelope | undefined;
};

/** An event as the outbox holds it. */
export interface OutboxRow {
  id: string;
  event_id: string;
  event_type: string;
  aggregate_id: string;
  payload: StoredSagaEvent;
  created_at: Date;
  /** Published: no pending row lists the event any more. */
  dispatched: boolean;
}

/**
 * The transactional outbox: `outbox_events` holds each event, written once (what it adds to its
 * saga's row: see StoredSagaEvent); `outbox_pending` holds a narrow row per write whose events
 * are not all published yet (their ids, the lease, the attempts), deleted once they are.
 */
@Injectable()
export class OutboxRepository {
  constructor(private readonly tx: TransactionHost) {}

  /**
   * Writes events in the current transaction, pending in one row leased to their writer for
   * `leaseMs`. Only the rows' ids are read back: answers the events given, in their order.
   */
  async insert(
    events: SagaEventEnvelope[],
    owner: string,
    leaseMs: number,
  ): Promise<PendingEvent[]> {
    if (events.length === 0) return [];
    const rows = await this.tx.query<{ id: string; event_id: string; batch_id: string }>(
      `WITH inserted AS (
         INSERT INTO outbox_events (event_id, event_type, aggregate_id, payload)
         SELECT e.event_id, e.event_type, e.aggregate_id, e.payload
         FROM jsonb_to_recordset($1::jsonb) AS e(ord int, event_id uuid, event_type varchar, aggregate_id varchar, payload jsonb)
         ORDER BY e.ord
         RETURNING id, event_id
       ),
       leased AS (
         INSERT INTO outbox_pending (id, event_ids, lease_owner, lease_expires_at)
         SELECT min(id), array_agg(id ORDER BY id), $2, now() + $3::int * interval '1 millisecond'
         FROM inserted
         RETURNING id
       )
       SELECT i.id, i.event_id, l.id AS batch_id FROM inserted i CROSS JOIN leased l`,
      [
        JSON.stringify(
          events.map((e, ord) => ({
            ord,
            event_id: e.eventId,
            event_type: e.eventType,
            aggregate_id: e.transactionId,
            payload: storedEventOf(e),
          })),
        ),
        owner,
        leaseMs,
      ],
    );
    const [first] = rows;
    if (first === undefined) throw new Error('The outbox insert wrote no event');
    const batch: PendingBatch = { id: first.batch_id, size: events.length };
    const idOf = new Map(rows.map((row) => [row.event_id, row.id]));
    return events.map((payload) => {
      const id = idOf.get(payload.eventId);
      // The insert writes every event or fails.
      if (id === undefined) throw new Error(`Outbox event ${payload.eventId} was not written`);
      return { id, event_type: payload.eventType, payload, batch };
    });
  }

  /**
   * Claims up to `limit` writes whose events wait with an expired lease (their writer died or
   * gave up), oldest first, and answers their events, each rebuilt whole with its saga's row.
   * SKIP LOCKED and the new lease keep two dispatchers off the same rows. A write with an event
   * of a saga whose definition version this build lacks is left, whole, to an instance that has
   * it (its writer's build had every version it wrote events for).
   */
  async claimStale(owner: string, leaseMs: number, limit: number): Promise<ClaimedEvent[]> {
    const registered = registeredPairs();
    const rows = await this.tx.query<{
      batch_id: string;
      id: string;
      event_id: string;
      event_type: string;
      aggregate_id: string;
      payload: StoredSagaEvent;
      transaction_id: string | null;
      pattern: SagaPattern;
      user_id: string;
      item_id: string;
      quantity: number;
      price: string | null;
      created_at: Date;
      trace_parent: string | null;
    }>(
      `WITH claimed AS (
         UPDATE outbox_pending SET lease_owner = $1,
           lease_expires_at = now() + $2::int * interval '1 millisecond', attempts = attempts + 1
         WHERE id IN (
           SELECT id FROM outbox_pending p
           WHERE available_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())
             AND NOT EXISTS (
               SELECT 1 FROM unnest(p.event_ids) AS u(id)
               JOIN outbox_events e ON e.id = u.id
               JOIN saga_states s ON s.transaction_id = e.aggregate_id
               WHERE (s.definition_name, s.definition_version) NOT IN (
                 SELECT * FROM unnest($4::varchar[], $5::int[])))
           ORDER BY id LIMIT $3
           FOR UPDATE SKIP LOCKED)
         RETURNING id, event_ids
       )
       SELECT c.id AS batch_id, e.id, e.event_id, e.event_type, e.aggregate_id, e.payload,
              s.transaction_id, s.pattern, s.user_id, s.item_id, s.quantity, s.price, s.created_at,
              s.trace_parent
       FROM claimed c CROSS JOIN LATERAL unnest(c.event_ids) AS u(id)
       JOIN outbox_events e ON e.id = u.id
       LEFT JOIN saga_states s ON s.transaction_id = e.aggregate_id
       ORDER BY c.id, e.id`,
      [owner, leaseMs, limit, registered.names, registered.versions],
    );
    const batches = new Map<string, PendingBatch>();
    for (const { batch_id: id } of rows) {
      const batch = batches.get(id);
      if (batch === undefined) batches.set(id, { id, size: 1 });
      else batch.size++;
    }
    return rows.map((row) => {
      const { transaction_id: transactionId, price } = row;
      // No saga row (or one refused before it was priced, which raises no event).
      const saga =
        transactionId === null || price === null
          ? undefined
          : {
              context: contextOf({ ...row, transaction_id: transactionId, price }),
              startedAt: row.created_at,
            };
      return {
        id: row.id,
        event_type: row.event_type,
        payload: eventFromStored(row, row.payload, saga),
        batch: batches.get(row.batch_id) as PendingBatch,
      };
    });
  }

  /** Expires the leases `owner` holds on pending writes, for the next sweep; answers how many. */
  async expireLeasesOf(owner: string): Promise<number> {
    const row = await this.tx.one<{ n: number }>(
      `WITH expired AS (
         UPDATE outbox_pending SET lease_expires_at = NULL, available_at = LEAST(available_at, now())
         WHERE lease_owner = $1 AND lease_expires_at IS NOT NULL
         RETURNING 1)
       SELECT count(*)::int AS n FROM expired`,
      [owner],
    );
    return row?.n ?? 0;
  }

  /** Deletes the pending rows of writes whose events are all published. */
  async markDispatched(batchIds: string[]): Promise<void> {
    await this.tx.query('DELETE FROM outbox_pending WHERE id = ANY($1::bigint[])', [batchIds]);
  }

  /**
   * Leaves only `eventIds` pending in a write's row (those not handled), to be retried after a
   * pause by any dispatcher.
   */
  async release(batchId: string, eventIds: string[], delayMs: number): Promise<void> {
    await this.tx.query(
      `UPDATE outbox_pending SET event_ids = $2::bigint[], lease_owner = NULL,
         lease_expires_at = NULL, available_at = now() + $3::int * interval '1 millisecond'
       WHERE id = $1`,
      [batchId, eventIds, delayMs],
    );
  }

  listByAggregate(transactionId: string): Promise<OutboxRow[]> {
    return this.tx.query<OutboxRow>(
      `SELECT e.id, e.event_id, e.event_type, e.aggregate_id, e.payload, e.created_at,
              NOT EXISTS (SELECT 1 FROM outbox_pending p
                          WHERE p.id <= e.id AND e.id = ANY (p.event_ids)) AS dispatched
       FROM outbox_events e
       WHERE e.aggregate_id = $1
       ORDER BY e.id`,
      [transactionId],
    );
  }

  /** Events not yet published. */
  async countPending(): Promise<number> {
    const row = await this.tx.one<{ n: string }>(
      'SELECT COALESCE(sum(cardinality(event_ids)), 0)::text AS n FROM outbox_pending',
    );
    return Number(row?.n ?? 0);
  }
}
